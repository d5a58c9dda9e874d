//! The host, without panics.
//!
//! The SDK's trait methods `unwrap()` every host status, and a panic kills the VM for every
//! stream it serves. These wrappers call the hostcalls directly and turn failures into
//! `None`/`false`, so each caller decides how to fail closed.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, GrpcStatusCode, LogLevel, MapType};
use std::time::UNIX_EPOCH;

pub fn log(level: LogLevel, msg: &str) {
    let _ = hostcalls::log(level, msg);
}

/// Host wall-clock time in Unix milliseconds (0 if the host will not say).
pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn plugin_configuration() -> Option<Vec<u8>> {
    hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
}

/// One request header (the stream reads the whole map once instead; the test-only fault
/// switch still asks for its marker this way).
#[cfg(feature = "fault-injection")]
pub fn request_header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpRequestHeaders, name)
        .ok()
        .flatten()
}

pub fn request_headers() -> Vec<(String, String)> {
    hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default()
}

/// Sets (or with `None` removes) a request header; false if the host refused.
pub fn set_request_header(name: &str, value: Option<&str>) -> bool {
    hostcalls::set_map_value(MapType::HttpRequestHeaders, name, value).is_ok()
}

pub fn response_headers() -> Vec<(String, String)> {
    hostcalls::get_map(MapType::HttpResponseHeaders).unwrap_or_default()
}

/// Sets (or with `None` removes) a response header; false if the host refused.
pub fn set_response_header(name: &str, value: Option<&str>) -> bool {
    hostcalls::set_map_value(MapType::HttpResponseHeaders, name, value).is_ok()
}

/// A property as UTF-8 text (`xds.route_name`, `source.address`, …).
pub fn property_str(path: &[&str]) -> Option<String> {
    let bytes = hostcalls::get_property(path.to_vec()).ok().flatten()?;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

/// A property's raw bytes (`xds.route_metadata` is a serialized protobuf).
pub fn property_bytes(path: &[&str]) -> Option<Vec<u8>> {
    hostcalls::get_property(path.to_vec()).ok().flatten()
}

/// A property holding a little-endian integer (`response.code`, `response.grpc_status`).
pub fn property_u64(path: &[&str]) -> Option<u64> {
    let bytes = hostcalls::get_property(path.to_vec()).ok().flatten()?;
    let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(arr))
}

pub fn set_property(path: &[&str], value: &[u8]) -> bool {
    hostcalls::set_property(path.to_vec(), Some(value)).is_ok()
}

pub fn send_http_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
    hostcalls::send_http_response(u32::from(status), headers.to_vec(), Some(body)).is_ok()
}

pub fn send_grpc_response(status: u32, message: &str, metadata: &[(&str, &[u8])]) -> bool {
    hostcalls::send_grpc_response(grpc_code(status), Some(message), metadata.to_vec()).is_ok()
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
