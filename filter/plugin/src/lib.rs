//! The plugin: Envoy's callbacks turned into calls to the core, and the core's answers
//! carried out through the host. Both runtimes build from this crate: the proxy-wasm build
//! (`pci-guard`, `filter/src/wasm/`) and the Envoy dynamic module (`pci-guard-dynamic`,
//! `filter/dynamic/`). Each is a thin layer that implements [`Host`] and forwards Envoy's
//! callbacks to [`Root`] and [`Stream`]; nothing here knows which one runs it.
//!
//! A request, in the order the files take it:
//! the runtime's glue (Envoy's callback) → [`root`] (`Stream`, the HTTP context) → [`stream`]
//! (`on_request_headers`: headers and properties read once → `judge::request` → local reply
//! or header edits) → [`stream`] (`on_response_headers` → `judge::response`) → [`body`] (the
//! body scanned as it streams) → [`stream`] (`on_log` → `judge::log` → filter state, which
//! Envoy's access loggers write). Beside it: [`vm`] (one policy's state), [`vm_audit`] (the
//! VM's audit chain and the records it writes about itself), [`jwks_fetch`] (remote key
//! sets) and [`keys`] (how they are shared between the roots of a process), [`metrics`]
//! (counters and gauges), [`host`] (every host call, behind a trait).
//!
//! Where the runtimes differ, the difference sits behind [`Host`] or [`keys::KeyShare`]:
//! how body bytes are read (copied out of the wasm VM's host, or visited in place in Envoy's
//! buffer), how key sets reach every worker (a shared-data lease, or one fetcher per process),
//! how a paused request is woken. The unit tests drive everything natively with a fake host
//! (`fake.rs`, `tests.rs`).

pub mod body;
pub mod grants_fetch;
pub mod host;
pub mod jwks_fetch;
pub mod keys;
pub mod metrics;
pub mod root;
pub mod stream;
pub mod vm;
pub mod vm_audit;

pub use host::{Action, HeaderEdit, Host, Level, Map};
pub use root::{Root, Stream, TICK};

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_grants;
#[cfg(test)]
mod tests_operations;
