//! [`Host`] on proxy-wasm hostcalls (wasm32 only).
//!
//! The SDK's trait methods `unwrap()` every host status, and a panic kills the VM for every
//! stream it serves. These call the hostcalls directly and turn failures into
//! `None`/`false`/`Err`, so each caller decides how to fail closed.

use super::host::{Host, Level};
use pci_guard_core::identity::error::CryptoError;
use pci_guard_core::identity::signature::{
    FallbackVerifier, HostVerifier, PureVerifier, SignatureVerifier,
};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, GrpcStatusCode, LogLevel, MapType, MetricType};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

/// Envoy's `verify_signature` foreign function: `args` → result bytes.
fn call_verify_signature(args: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match hostcalls::call_foreign_function("verify_signature", Some(args)) {
        Ok(Some(bytes)) => Ok(bytes),
        // Status OK with no data decodes as "could not check": the fallback runs.
        Ok(None) => Ok(Vec::new()),
        Err(_) => Err(CryptoError::HostCall),
    }
}

impl Host for WasmHost {
    fn now_ms(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn log(&self, level: Level, msg: &str) {
        let level = match level {
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let _ = hostcalls::log(level, msg);
    }

    fn plugin_configuration(&self) -> Option<Vec<u8>> {
        hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
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

    fn define_counter(&self, name: &str) -> Option<u32> {
        hostcalls::define_metric(MetricType::Counter, name).ok()
    }

    fn increment_counter(&self, id: u32, by: u64) {
        let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
    }

    fn shared_data(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), ()> {
        hostcalls::get_shared_data(key).map_err(|_| ())
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
        hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
    }

    fn http_call_body(&self, size: usize) -> Option<Vec<u8>> {
        hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)
            .ok()
            .flatten()
    }

    fn set_effective_context(&self, context_id: u32) -> bool {
        hostcalls::set_effective_context(context_id).is_ok()
    }

    fn resume_request(&self) {
        let _ = hostcalls::resume_http_request();
    }

    fn request_headers(&self) -> Vec<(String, String)> {
        hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default()
    }

    fn set_request_header(&self, name: &str, value: Option<&str>) -> bool {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, value).is_ok()
    }

    fn response_headers(&self) -> Vec<(String, String)> {
        hostcalls::get_map(MapType::HttpResponseHeaders).unwrap_or_default()
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> bool {
        hostcalls::set_map_value(MapType::HttpResponseHeaders, name, value).is_ok()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path.to_vec()).ok().flatten()
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> bool {
        hostcalls::set_property(path.to_vec(), Some(value)).is_ok()
    }

    fn send_http_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        hostcalls::send_http_response(u32::from(status), headers.to_vec(), Some(body)).is_ok()
    }

    fn send_grpc_response(&self, status: u32, message: &str, metadata: &[(&str, &[u8])]) -> bool {
        hostcalls::send_grpc_response(grpc_code(status), Some(message), metadata.to_vec()).is_ok()
    }

    fn response_body(&self, start: usize, len: usize) -> Result<Vec<u8>, ()> {
        match hostcalls::get_buffer(BufferType::HttpResponseBody, start, len) {
            Ok(b) => Ok(b.unwrap_or_default()),
            Err(_) => Err(()),
        }
    }

    fn set_response_body(&self, start: usize, len: usize, data: &[u8]) -> bool {
        hostcalls::set_buffer(BufferType::HttpResponseBody, start, len, data).is_ok()
    }

    fn reset_response(&self) {
        let _ = hostcalls::reset_http_response();
    }
}

fn grpc_code(status: u32) -> GrpcStatusCode {
    use GrpcStatusCode::*;
    match status {
        0 => Ok,
        3 => InvalidArgument,
        7 => PermissionDenied,
        13 => Internal,
        14 => Unavailable,
        16 => Unauthenticated,
        _ => Unknown,
    }
}
