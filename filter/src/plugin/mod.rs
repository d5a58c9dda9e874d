//! The plugin: Envoy's callbacks turned into calls to the core, and the core's answers
//! carried out through the host.
//!
//! A request, in the order the files take it:
//! [`wasm`] (Envoy's callback) → [`root`] (`Stream`, the HTTP context) → [`stream`]
//! (`on_request_headers`: headers and properties read once → `judge::request` → local reply
//! or header edits) → [`stream`] (`on_response_headers` → `judge::response`) → [`body`] (the
//! body scanned as it streams) → [`stream`] (`on_log` → `judge::log` → filter state, which
//! Envoy's access loggers write). Beside it: [`vm`] (one policy's state), [`vm_audit`] (the
//! VM's audit chain and the records it writes about itself through self-requests),
//! [`jwks_fetch`] (remote key sets), [`metrics`] (counters and gauges), [`host`] (every host
//! call, behind a trait).
//!
//! Everything but [`wasm`] and [`wasm_host`] compiles natively too, and is unit-tested there
//! with a fake host ([`fake`]).

mod body;
mod host;
mod jwks_fetch;
mod metrics;
mod root;
mod stream;
mod vm;
mod vm_audit;
mod wire;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
mod wasm_host;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_operations;
