//! Harness for end-to-end tests through a real Envoy with the built `pci_guard.wasm`.
//!
//! Each test starts its own Envoy through [`Harness`] on free loopback ports, with a config
//! template from `envoy/`, a policy and an upstream it controls ([`Upstream`]), then reads the
//! access log ([`Envoy::audit_events`]). Every process started here is killed on drop, so a
//! failing test leaves nothing running.
//!
//! The client ([`request`]) speaks raw HTTP/1.1 on purpose: tests send paths and headers
//! exactly as written (`//`, `%2F`, dot segments), which ordinary clients would normalise.
//!
//! Modules: [`envoy`] (the Envoy process: starting, readiness, stats, config rendering),
//! [`client`] (the raw HTTP/1.1 client), [`upstream`] (the HTTP/1.1 upstream), [`audit`]
//! (audit lines, checked against the published schema), [`procfs`] (a process's memory and
//! CPU time), [`files`] (workspace paths, scratch directories); [`grpc`], [`als`] and [`otlp`]
//! for gRPC upstreams and the access-log receivers; [`tokens`] for test tokens; [`runtime`]
//! for the build of pci-guard Envoy runs (the wasm plugin or the dynamic module,
//! [`Harness::runtime`], [`with_runtimes!`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod als;
pub mod audit;
pub mod client;
pub mod envoy;
pub mod files;
pub mod grpc;
pub mod otlp;
pub mod procfs;
pub mod runtime;
pub mod tokens;
pub mod upstream;

pub use audit::{collected_at_least, parse_audit_line};
pub use client::{request, Response};
pub use envoy::{
    envoy_bin, free_port, policy_scalar, render, validate, wasm_path, Envoy, Harness, StartFailure,
};
pub use files::{replace_file, root, TempDir};
pub use runtime::{dynamic_module_dir, to_dynamic, Runtime};
pub use upstream::{Framing, Handler, Received, Reply, Upstream};
