//! [`Host`] on the proxy-wasm ABI (wasm32 only).
//!
//! A panic kills the VM for every stream it serves, so nothing here may panic: request-path
//! calls go through [`super::abi`], which returns every host status, and the few calls left
//! to the SDK's `hostcalls` (the HTTP callout it must route, metrics, shared data, the tick)
//! run at start and on the timer. Failures become `None`/`false`/`Err`, and each caller decides
//! how to fail closed.

use super::abi;
use super::wire;
use pci_guard_core::identity::error::CryptoError;
use pci_guard_core::identity::signature::{
    FallbackVerifier, HostVerifier, PureVerifier, SignatureVerifier,
};
use pci_guard_plugin::{HeaderEdit, Host, Level, Map};
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

/// Envoy's `verify_signature` foreign function: `args` → result bytes.
/// The ABI's number for a header map.
fn kind(map: Map) -> u32 {
    match map {
        Map::RequestHeaders => abi::REQUEST_HEADERS,
        Map::ResponseHeaders => abi::RESPONSE_HEADERS,
        Map::ResponseTrailers => abi::RESPONSE_TRAILERS,
    }
}

fn call_verify_signature(args: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match abi::call_foreign_function("verify_signature", args) {
        // Status OK with no data decodes as "could not check": the fallback runs.
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) | Err(_) => Err(CryptoError::HostCall),
    }
}

impl Host for WasmHost {
    fn now_ms(&self) -> u64 {
        abi::now_ns().map_or(0, |ns| ns / 1_000_000)
    }

    fn log(&self, level: Level, msg: &str) {
        // The ABI's levels: info 2, warn 3, error 4.
        let level = match level {
            Level::Info => 2,
            Level::Warn => 3,
            Level::Error => 4,
        };
        abi::log(level, msg);
    }

    fn plugin_configuration(&self) -> Option<Vec<u8>> {
        abi::buffer(abi::PLUGIN_CONFIGURATION, 0, usize::MAX)
            .ok()
            .filter(|b| !b.is_empty())
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn set_tick_period(&self, period: Duration) {
        let _ = hostcalls::set_tick_period(period);
    }

    /// RS* and ES256/384 through Envoy's crypto (many times faster than pure Rust in the VM);
    /// PS*, EdDSA, HS* and any host failure in pure Rust.
    fn verifier(&self) -> Box<dyn SignatureVerifier> {
        Box::new(FallbackVerifier::new(
            HostVerifier::new(call_verify_signature),
            PureVerifier,
        ))
    }

    fn done(&self) {
        let _ = hostcalls::done();
    }

    fn define_gauge(&self, name: &str) -> Option<u32> {
        hostcalls::define_metric(MetricType::Gauge, name).ok()
    }

    fn set_gauge(&self, id: u32, value: u64) {
        let _ = hostcalls::record_metric(id, value);
    }

    fn define_counter(&self, name: &str) -> Option<u32> {
        hostcalls::define_metric(MetricType::Counter, name).ok()
    }

    fn increment_counter(&self, id: u32, by: u64) {
        let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
    }

    fn shared_data(&self, key: &str) -> Option<(Option<Vec<u8>>, Option<u32>)> {
        hostcalls::get_shared_data(key).ok()
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        hostcalls::set_shared_data(key, Some(value), cas).is_ok()
    }

    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Option<u32> {
        hostcalls::dispatch_http_call(cluster, headers.to_vec(), None, vec![], timeout).ok()
    }

    fn http_call_status(&self) -> Option<String> {
        abi::map_value(abi::HTTP_CALL_RESPONSE_HEADERS, ":status")
            .ok()
            .flatten()
    }

    fn http_call_header(&self, name: &str) -> Option<String> {
        abi::map_value(abi::HTTP_CALL_RESPONSE_HEADERS, name)
            .ok()
            .flatten()
    }

    fn http_call_body(&self, size: usize) -> Option<Vec<u8>> {
        abi::buffer(abi::HTTP_CALL_RESPONSE_BODY, 0, size).ok()
    }

    fn set_effective_context(&self, context_id: u32) -> bool {
        abi::set_effective_context(context_id).is_ok()
    }

    fn resume_request(&self) {
        let _ = abi::continue_stream(abi::STREAM_REQUEST);
    }

    fn map(&self, map: Map) -> Vec<(String, String)> {
        abi::map(kind(map)).unwrap_or_default()
    }

    fn edit(&self, map: Map, edit: &HeaderEdit) -> bool {
        let k = kind(map);
        match edit {
            HeaderEdit::Set { name, value } => abi::set_map_value(k, name, Some(value)),
            HeaderEdit::Remove { name } => abi::set_map_value(k, name, None),
            HeaderEdit::Add { name, value } => abi::add_map_value(k, name, value),
        }
        .is_ok()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        abi::property(path).ok().flatten()
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> bool {
        abi::set_property(path, value).is_ok()
    }

    fn send_http_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        let h = wire::write_map(headers);
        abi::send_local_response(u32::from(status), body, &h, -1).is_ok()
    }

    /// A trailers-only gRPC answer: HTTP 200 with `grpc-status` and the message.
    fn send_grpc_response(&self, status: u32, message: &str, metadata: &[(&str, &[u8])]) -> bool {
        let m = wire::write_map(metadata);
        let code = i32::try_from(status).unwrap_or(2); // 2: UNKNOWN
        abi::send_local_response(200, message.as_bytes(), &m, code).is_ok()
    }

    fn read_request_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        read_into(abi::REQUEST_BODY, start, len, into)
    }

    fn read_response_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        read_into(abi::RESPONSE_BODY, start, len, into)
    }

    fn set_response_body(&self, start: usize, len: usize, data: &[u8]) -> bool {
        abi::set_buffer(abi::RESPONSE_BODY, start, len, data).is_ok()
    }

    fn reset_response(&self) {
        let _ = abi::close_stream(abi::STREAM_RESPONSE);
    }
}

/// `len` bytes of body buffer `kind` from `start`, appended to `into`. The host's copy is
/// already a fresh vector: taken whole when nothing comes before.
fn read_into(kind: u32, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
    let Ok(bytes) = abi::buffer(kind, start, len) else {
        return false;
    };
    if into.is_empty() {
        *into = bytes;
    } else {
        into.extend_from_slice(&bytes);
    }
    true
}
