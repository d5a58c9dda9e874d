//! Everything the plugin asks of its host, behind one trait: the wasm build implements it
//! with proxy-wasm hostcalls (`filter/src/wasm/host.rs`), the dynamic module with Envoy's
//! dynamic-module callbacks (`filter/dynamic/src/host/`), the unit tests with a fake that
//! records every call (`fake.rs`). No other plugin module calls the host.
//!
//! Calls never panic: a refused call is `None`/`false`/`Err`, and each caller decides how to
//! fail closed. Calls that act on "the current stream" act on the stream whose callback is
//! running, or the one [`Host::set_effective_context`] chose.

use pci_guard_core::identity::signature::SignatureVerifier;
pub use pci_guard_core::judge::HeaderEdit;
use std::time::Duration;

/// What a stream callback tells the host to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Stop iterating: the host keeps what it has (headers, or the body buffered so far).
    Pause,
}

/// The header maps of a stream the plugin reads or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Map {
    RequestHeaders,
    ResponseHeaders,
    ResponseTrailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

pub trait Host: Clone {
    // The VM.
    /// Host wall-clock time in Unix milliseconds (0 if the host will not say).
    fn now_ms(&self) -> u64;
    fn log(&self, level: Level, msg: &str);
    fn plugin_configuration(&self) -> Option<Vec<u8>>;
    /// The VM's environment (`vm_config.environment_variables`).
    fn env(&self, name: &str) -> Option<String>;
    fn set_tick_period(&self, period: Duration);
    /// The signature checker: the host's crypto where it has it, pure Rust otherwise.
    fn verifier(&self) -> Box<dyn SignatureVerifier>;

    /// The root context has finished what it did after `on_done` returned false.
    fn done(&self);

    // Metrics.
    fn define_counter(&self, name: &str) -> Option<u32>;
    fn increment_counter(&self, id: u32, by: u64);
    fn define_gauge(&self, name: &str) -> Option<u32>;
    fn set_gauge(&self, id: u32, value: u64);

    // Shared data (proxy-wasm: one map per VM id, process-wide, compare-and-swap by `cas`);
    // used by `keys::SharedDataLease`. A host without it answers `None`/false.
    fn shared_data(&self, key: &str) -> Option<(Option<Vec<u8>>, Option<u32>)>;
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> bool;

    // Calls out.
    /// Starts an HTTP call; the answer comes to the root context with the returned token.
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Option<u32>;
    /// The `:status` of the call answer being delivered.
    fn http_call_status(&self) -> Option<String>;
    fn http_call_body(&self, size: usize) -> Option<Vec<u8>>;
    /// A header of the call answer being delivered (lower-case name).
    fn http_call_header(&self, _name: &str) -> Option<String> {
        None
    }

    // The current stream.
    /// Makes `context_id` the current stream (from the root context); false if it is gone.
    fn set_effective_context(&self, context_id: u32) -> bool;
    fn resume_request(&self);
    /// A header map of the current stream, read in one call.
    fn map(&self, map: Map) -> Vec<(String, String)>;
    /// Changes a header map of the current stream; false if the host refused.
    fn edit(&self, map: Map, edit: &HeaderEdit) -> bool;
    /// A stream property's raw bytes (`xds.route_metadata`, `source.address`, …).
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    fn set_property(&self, path: &[&str], value: &[u8]) -> bool;
    fn send_http_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool;
    fn send_grpc_response(&self, status: u32, message: &str, metadata: &[(&str, &[u8])]) -> bool;
    /// `len` bytes of the buffered request body from `start`, appended to `into`, as
    /// [`Host::read_response_body`] does. False if the host refused.
    fn read_request_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool;
    /// `len` bytes of the buffered response body from `start`, appended to `into` (a buffer
    /// the caller reuses). The wasm host copies them out of Envoy into the VM (and hands its
    /// copy over whole when `into` is empty); the dynamic module copies from Envoy's slices
    /// without allocating. False if the host refused.
    fn read_response_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool;
    /// Replaces `len` bytes of the buffered response body from `start` with `data`. A write
    /// of the same length the dynamic module makes in place, in Envoy's slices.
    fn set_response_body(&self, start: usize, len: usize, data: &[u8]) -> bool;
    fn reset_response(&self);

    /// The current stream now waits for its provider's first keys. A host whose roots tick
    /// on their own (proxy-wasm: a timer per VM) has nothing to do; one without a timer per
    /// worker (the dynamic module) arranges for the stream's root to tick when keys may have
    /// come or the wait may be over.
    fn on_stream_waiting(&self) {}

    /// A property as UTF-8 text, `None` when absent or empty.
    fn property_str(&self, path: &[&str]) -> Option<String> {
        String::from_utf8(self.property(path)?)
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// A property holding a little-endian integer (`response.code`, `response.grpc_status`).
    fn property_u64(&self, path: &[&str]) -> Option<u64> {
        let bytes = self.property(path)?;
        let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        Some(u64::from_le_bytes(arr))
    }
}
