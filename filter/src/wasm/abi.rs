//! The proxy-wasm ABI (0.2.1) calls the plugin makes on request paths, declared here instead
//! of taken from the SDK's `hostcalls`: those panic on any status they do not expect and on
//! header bytes that are not UTF-8, and a panic kills the VM for every stream it serves (one
//! request with a Latin-1 header value did, and the panic message carried the header's bytes
//! into Envoy's log). Every call here returns the host's status instead.
//!
//! Memory the host returns was allocated through the SDK's `proxy_on_memory_allocate` (a
//! boxed `[u8]` of exactly the returned size), so it is taken back as a `Vec` of that length
//! and capacity, as the SDK itself does.
//!
//! The SDK still dispatches Envoy's callbacks to the contexts, and makes the calls whose
//! answers it must route (`proxy_http_call` registers the callout it answers) or that only
//! run at start and on the timer.

#![allow(unsafe_code)]

use super::wire;
use std::ptr::{null, null_mut};

/// A host status other than OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

pub const REQUEST_HEADERS: u32 = 0;
pub const RESPONSE_HEADERS: u32 = 2;
pub const RESPONSE_TRAILERS: u32 = 3;
pub const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
pub const REQUEST_BODY: u32 = 0;
pub const RESPONSE_BODY: u32 = 1;
pub const HTTP_CALL_RESPONSE_BODY: u32 = 4;
pub const PLUGIN_CONFIGURATION: u32 = 7;
pub const STREAM_REQUEST: u32 = 0;
pub const STREAM_RESPONSE: u32 = 1;

// The types are the ABI's (u32 enums), declared as integers so that a status the host adds
// later cannot be an invalid enum value on our side.
#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, data: *const u8, size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        kind: u32,
        start: usize,
        max: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        kind: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(kind: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        kind: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        kind: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(kind: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_add_header_map_value(
        kind: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_continue_stream(kind: u32) -> u32;
    fn proxy_close_stream(kind: u32) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
}

fn status(s: u32) -> Result<(), Status> {
    if s == OK {
        Ok(())
    } else {
        Err(Status(s))
    }
}

/// Takes ownership of bytes the host returned.
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated `size` bytes at `data` through `proxy_on_memory_allocate`
    // (a `Box<[u8]>` of length `size`) and handed them over; nothing else owns them.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Runs a call that returns host-allocated bytes: `Ok(None)` for NOT_FOUND.
fn returned(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Result<Option<Vec<u8>>, Status> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    match call(&mut data, &mut size) {
        OK => Ok(Some(take(data, size))),
        NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

pub fn log(level: u32, msg: &str) {
    // SAFETY: the pointer and length describe `msg`, which outlives the call.
    unsafe {
        proxy_log(level, msg.as_ptr(), msg.len());
    }
}

pub fn now_ns() -> Result<u64, Status> {
    let mut t = 0u64;
    // SAFETY: `t` is a valid place for the host to write one u64.
    status(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

pub fn buffer(kind: u32, start: usize, max: usize) -> Result<Vec<u8>, Status> {
    // SAFETY: the out-pointers are valid for the host to write; returned memory is taken.
    returned(|d, s| unsafe { proxy_get_buffer_bytes(kind, start, max, d, s) })
        .map(Option::unwrap_or_default)
}

pub fn set_buffer(kind: u32, start: usize, size: usize, data: &[u8]) -> Result<(), Status> {
    // SAFETY: the pointer and length describe `data`, which outlives the call.
    status(unsafe { proxy_set_buffer_bytes(kind, start, size, data.as_ptr(), data.len()) })
}

/// A header map; a buffer that is not a well-formed map reads as a failure, never a panic.
pub fn map(kind: u32) -> Result<Vec<(String, String)>, Status> {
    // SAFETY: the out-pointers are valid for the host to write; returned memory is taken.
    let bytes = returned(|d, s| unsafe { proxy_get_header_map_pairs(kind, d, s) })?;
    wire::read_map(&bytes.unwrap_or_default()).ok_or(Status(NOT_FOUND))
}

pub fn map_value(kind: u32, key: &str) -> Result<Option<String>, Status> {
    // SAFETY: `key` outlives the call; the out-pointers are valid; returned memory is taken.
    let bytes = returned(|d, s| unsafe {
        proxy_get_header_map_value(kind, key.as_ptr(), key.len(), d, s)
    })?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

pub fn set_map_value(kind: u32, key: &str, value: Option<&str>) -> Result<(), Status> {
    // SAFETY: `key` and `value` outlive the call.
    status(unsafe {
        match value {
            Some(v) => {
                proxy_replace_header_map_value(kind, key.as_ptr(), key.len(), v.as_ptr(), v.len())
            }
            None => proxy_remove_header_map_value(kind, key.as_ptr(), key.len()),
        }
    })
}

pub fn add_map_value(kind: u32, key: &str, value: &str) -> Result<(), Status> {
    // SAFETY: `key` and `value` outlive the call.
    status(unsafe {
        proxy_add_header_map_value(kind, key.as_ptr(), key.len(), value.as_ptr(), value.len())
    })
}

pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let p = wire::write_path(path);
    // SAFETY: `p` outlives the call; the out-pointers are valid; returned memory is taken.
    returned(|d, s| unsafe { proxy_get_property(p.as_ptr(), p.len(), d, s) })
}

pub fn set_property(path: &[&str], value: &[u8]) -> Result<(), Status> {
    let p = wire::write_path(path);
    // SAFETY: `p` and `value` outlive the call.
    status(unsafe { proxy_set_property(p.as_ptr(), p.len(), value.as_ptr(), value.len()) })
}

pub fn continue_stream(kind: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    status(unsafe { proxy_continue_stream(kind) })
}

pub fn close_stream(kind: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    status(unsafe { proxy_close_stream(kind) })
}

/// A local reply; `grpc_status` -1 for a plain HTTP one.
pub fn send_local_response(
    status_code: u32,
    body: &[u8],
    headers: &[u8],
    grpc_status: i32,
) -> Result<(), Status> {
    // SAFETY: `body` and `headers` outlive the call; no details string is passed.
    status(unsafe {
        proxy_send_local_response(
            status_code,
            null(),
            0,
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            grpc_status,
        )
    })
}

pub fn set_effective_context(context_id: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    status(unsafe { proxy_set_effective_context(context_id) })
}

pub fn call_foreign_function(name: &str, args: &[u8]) -> Result<Option<Vec<u8>>, Status> {
    // SAFETY: `name` and `args` outlive the call; the out-pointers are valid; returned memory
    // is taken.
    returned(|d, s| unsafe {
        proxy_call_foreign_function(name.as_ptr(), name.len(), args.as_ptr(), args.len(), d, s)
    })
}
