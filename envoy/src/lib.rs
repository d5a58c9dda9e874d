//! Harness for end-to-end tests through a real Envoy with the built `pci_guard.wasm`.
//!
//! Each test starts its own Envoy through [`Harness`] on free loopback ports, with a config
//! template (`envoy/tests/templates/`: the shipped configs in `envoy/` run as they are), a
//! policy and an upstream it controls ([`Upstream`]), then reads the access log
//! ([`Envoy::audit_events`]). Every process started here is killed on drop, so a
//! failing test leaves nothing running.
//!
//! The client ([`request`]) speaks raw HTTP/1.1 on purpose: tests send paths and headers
//! exactly as written (`//`, `%2F`, dot segments), which ordinary clients would normalise.
//!
//! Modules: [`envoy`] (the Envoy process: starting, readiness, stats, config rendering),
//! [`client`] (the raw HTTP/1.1 client), [`upstream`] (the HTTP/1.1 upstream), [`audit`]
//! (audit lines, checked against the published schema), [`procfs`] (a process's memory and
//! CPU time), [`files`] (workspace paths, scratch directories); [`grpc`], [`als`] and [`otlp`]
//! for gRPC upstreams and the access-log receivers; [`tokens`] for test tokens; [`cli`] for
//! the `pci-guard` command (`audit verify` over what Envoy wrote); [`runtime`] for the build
//! of pci-guard Envoy runs (the wasm plugin or the dynamic module, [`Harness::runtime`],
//! [`with_runtimes!`]).
//!
//! Envoy runs one worker unless a test asks for more ([`Harness::workers`]);
//! [`with_workers!`] runs a test case once with one worker and once with two (Istio's
//! default), each worker with its own wasm VM, key cache and audit chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod als;
pub mod audit;
pub mod cli;
pub mod client;
pub mod envoy;
pub mod files;
pub mod grpc;
pub mod otlp;
pub mod procfs;
pub mod runtime;
pub mod tokens;
pub mod upstream;

pub use audit::{
    collected_at_least, is_vm_record, parse_audit_line, pci_guard_audit, request_events_at_least,
    request_lines, with_vm_env,
};
pub use cli::{audit_verify, pci_guard_bin};
pub use client::{h2_get, request, Response};
pub use envoy::{
    envoy_bin, free_port, policy_scalar, render, template_path, validate, validate_file, wasm_path,
    Envoy, Harness, StartFailure, TEMPLATES,
};
pub use files::{replace_file, root, TempDir};
pub use runtime::{dynamic_module_dir, to_dynamic, Runtime};
pub use upstream::{Framing, Handler, Received, Reply, Upstream};

/// Turns each `fn case(workers: u32)` named here into two tests, `case::one_worker` and
/// `case::two_workers`, so every case runs with Envoy's `--concurrency` at 1 and at 2.
///
/// ```ignore
/// fn public_route_is_served(workers: u32) {
///     let envoy = Harness::new("pci-guard.yaml", POLICY, up.port).workers(workers).start();
///     // …
/// }
/// with_workers!(public_route_is_served);
/// ```
#[macro_export]
macro_rules! with_workers {
    ($($case:ident),+ $(,)?) => {
        $(
            mod $case {
                #[test]
                fn one_worker() {
                    super::$case(1)
                }
                #[test]
                fn two_workers() {
                    super::$case(2)
                }
            }
        )+
    };
}
