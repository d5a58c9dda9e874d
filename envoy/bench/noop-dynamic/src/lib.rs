//! Does nothing: the event hooks an HTTP filter module must export (the names and types of
//! Envoy 1.40's `abi.h`), each answering Continue. No callback into Envoy.

use std::ffi::{c_char, c_void};

/// `envoy_dynamic_module_type_envoy_buffer` (a pointer and a length), as passed by value.
#[repr(C)]
pub struct Buffer {
    ptr: *const c_char,
    len: usize,
}

static ANY: u8 = 0;

/// A non-null pointer for the config and the filters (null would refuse them).
fn some() -> *const c_void {
    std::ptr::addr_of!(ANY).cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    c"v0.2.0".as_ptr()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    _: *mut c_void,
    _: Buffer,
    _: Buffer,
) -> *const c_void {
    some()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_new(
    _: Buffer,
    _: Buffer,
) -> *const c_void {
    std::ptr::null()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    _: *const c_void,
    _: *mut c_void,
) -> *const c_void {
    some()
}

/// Hooks whose answer is Continue (0): headers with `end_of_stream`, bodies, trailers.
macro_rules! continue_hooks {
    ($($name:ident($($arg:ty),*);)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name(_: *mut c_void, _: *const c_void $(, _: $arg)*) -> u32 {
            0
        }
    )*};
}

continue_hooks! {
    envoy_dynamic_module_on_http_filter_request_headers(bool);
    envoy_dynamic_module_on_http_filter_request_body(bool);
    envoy_dynamic_module_on_http_filter_request_trailers();
    envoy_dynamic_module_on_http_filter_response_headers(bool);
    envoy_dynamic_module_on_http_filter_response_body(bool);
    envoy_dynamic_module_on_http_filter_response_trailers();
    envoy_dynamic_module_on_http_filter_local_reply(u32, Buffer, bool);
}

/// Hooks with nothing to answer.
macro_rules! empty_hooks {
    ($($name:ident($($arg:ty),*);)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($(_: $arg),*) {}
    )*};
}

empty_hooks! {
    envoy_dynamic_module_on_http_filter_config_destroy(*const c_void);
    envoy_dynamic_module_on_http_filter_per_route_config_destroy(*const c_void);
    envoy_dynamic_module_on_http_filter_stream_complete(*mut c_void, *const c_void);
    envoy_dynamic_module_on_http_filter_destroy(*const c_void);
    envoy_dynamic_module_on_http_filter_http_callout_done(
        *mut c_void, *const c_void, u64, u32, *mut c_void, usize, *mut c_void, usize);
    envoy_dynamic_module_on_http_filter_http_stream_headers(
        *mut c_void, *const c_void, u64, *mut c_void, usize, bool);
    envoy_dynamic_module_on_http_filter_http_stream_data(
        *mut c_void, *const c_void, u64, *const c_void, usize, bool);
    envoy_dynamic_module_on_http_filter_http_stream_trailers(
        *mut c_void, *const c_void, u64, *mut c_void, usize);
    envoy_dynamic_module_on_http_filter_http_stream_complete(*mut c_void, *const c_void, u64);
    envoy_dynamic_module_on_http_filter_http_stream_reset(*mut c_void, *const c_void, u64, u32);
    envoy_dynamic_module_on_http_filter_scheduled(*mut c_void, *const c_void, u64);
    envoy_dynamic_module_on_http_filter_config_scheduled(*mut c_void, *const c_void, u64);
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
        *mut c_void, *const c_void);
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
        *mut c_void, *const c_void);
}
