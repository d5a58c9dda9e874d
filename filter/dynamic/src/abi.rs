//! Our bindings to Envoy's dynamic-module ABI: exactly the types, callbacks and event hooks
//! pci-guard uses, declared with the names and types of Envoy 1.40's published header
//! (`source/extensions/dynamic_modules/abi/abi.h` at v1.40.0), nothing generated or copied.
//!
//! Envoy's ABI policy (the header's preamble): a released name, parameter list, struct layout
//! and enum numbering never change; a changed signature is a new `_v2` function beside the old
//! one. So an Envoy is compatible exactly when it exports every callback we call. The version
//! string the module returns from `envoy_dynamic_module_on_program_init` is, since 1.38, a
//! diagnostic: Envoy logs "matched" or a warning, and loads anyway. pci-guard is stricter: it
//! resolves every callback below by name when it is loaded ([`Callbacks::resolve`]) and, if
//! this Envoy lacks one, refuses to load with a message naming it and the Envoy it was built
//! for. (Linked directly, a missing callback would only fail at its first call, mid-request.)
//!
//! C enums are declared as `u32`: a value Envoy adds later can then never be an invalid Rust
//! enum. The event hooks themselves are in `hooks/`.

#![allow(non_camel_case_types, unsafe_code)]

use std::ffi::{c_char, c_void, CStr};

/// `ENVOY_DYNAMIC_MODULES_ABI_VERSION` of Envoy 1.40's header: what the module tells Envoy at
/// load time (Envoy logs "Dynamic module ABI version v0.2.0 matched.").
pub const ABI_VERSION: &CStr = c"v0.2.0";
/// The Envoy release these bindings were read from, for messages.
pub const ENVOY_RELEASE: &str = "1.40";

// ----------------------------------- types -----------------------------------

pub type envoy_dynamic_module_type_abi_version_module_ptr = *const c_char;
pub type envoy_dynamic_module_type_buffer_module_ptr = *const c_char;
pub type envoy_dynamic_module_type_buffer_envoy_ptr = *const c_char;
pub type envoy_dynamic_module_type_http_filter_config_envoy_ptr = *mut c_void;
pub type envoy_dynamic_module_type_http_filter_config_module_ptr = *const c_void;
pub type envoy_dynamic_module_type_http_filter_per_route_config_module_ptr = *const c_void;
pub type envoy_dynamic_module_type_http_filter_envoy_ptr = *mut c_void;
pub type envoy_dynamic_module_type_http_filter_module_ptr = *const c_void;
pub type envoy_dynamic_module_type_http_filter_scheduler_module_ptr = *mut c_void;
pub type envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr = *mut c_void;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_envoy_buffer {
    pub ptr: envoy_dynamic_module_type_buffer_envoy_ptr,
    pub length: usize,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_module_buffer {
    pub ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub length: usize,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_module_http_header {
    pub key_ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub key_length: usize,
    pub value_ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub value_length: usize,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_envoy_http_header {
    pub key_ptr: envoy_dynamic_module_type_buffer_envoy_ptr,
    pub key_length: usize,
    pub value_ptr: envoy_dynamic_module_type_buffer_envoy_ptr,
    pub value_length: usize,
}

impl envoy_dynamic_module_type_envoy_http_header {
    /// Name and value, read lossily (header bytes need not be UTF-8; never panicked on).
    ///
    /// # Safety
    /// Envoy filled `self` in this event hook and has not invalidated it since.
    pub unsafe fn pair(&self) -> (String, String) {
        let key = envoy_dynamic_module_type_envoy_buffer {
            ptr: self.key_ptr,
            length: self.key_length,
        };
        let value = envoy_dynamic_module_type_envoy_buffer {
            ptr: self.value_ptr,
            length: self.value_length,
        };
        // SAFETY: the caller's contract, for both buffers.
        let (k, v) = unsafe { (key.bytes(), value.bytes()) };
        (
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        )
    }
}

impl envoy_dynamic_module_type_module_buffer {
    /// Borrows `bytes` for one call (Envoy copies what it keeps).
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr().cast(),
            length: bytes.len(),
        }
    }

    pub const NULL: Self = Self {
        ptr: std::ptr::null(),
        length: 0,
    };
}

impl envoy_dynamic_module_type_envoy_buffer {
    pub const NULL: Self = Self {
        ptr: std::ptr::null(),
        length: 0,
    };

    /// The bytes, valid until the event hook returns (or a setter is called).
    ///
    /// # Safety
    /// Envoy filled `self` in this event hook and has not invalidated it since.
    pub unsafe fn bytes<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.length == 0 {
            return &[];
        }
        // SAFETY: Envoy describes `length` live bytes at `ptr` (the caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.length) }
    }
}

pub type envoy_dynamic_module_type_http_header_type = u32;
pub const HEADER_REQUEST: u32 = 0; // ..._RequestHeader
pub const HEADER_RESPONSE: u32 = 2; // ..._ResponseHeader
pub const HEADER_RESPONSE_TRAILER: u32 = 3; // ..._ResponseTrailer

pub type envoy_dynamic_module_type_http_body_type = u32;
pub const BODY_RECEIVED_REQUEST: u32 = 0; // ..._ReceivedRequestBody
pub const BODY_BUFFERED_REQUEST: u32 = 1; // ..._BufferedRequestBody
pub const BODY_RECEIVED_RESPONSE: u32 = 2; // ..._ReceivedResponseBody
pub const BODY_BUFFERED_RESPONSE: u32 = 3; // ..._BufferedResponseBody

pub type envoy_dynamic_module_type_log_level = u32;
pub const LOG_INFO: u32 = 2;
pub const LOG_WARN: u32 = 3;
pub const LOG_ERROR: u32 = 4;

pub type envoy_dynamic_module_type_metrics_result = u32;
pub const METRICS_SUCCESS: u32 = 0;

pub type envoy_dynamic_module_type_http_callout_init_result = u32;
pub const CALLOUT_INIT_SUCCESS: u32 = 0;
pub type envoy_dynamic_module_type_http_callout_result = u32;
pub const CALLOUT_SUCCESS: u32 = 0;
pub type envoy_dynamic_module_type_http_stream_reset_reason = u32;

pub type envoy_dynamic_module_type_attribute_id = u32;
pub const ATTR_REQUEST_PATH: u32 = 0;
pub const ATTR_REQUEST_METHOD: u32 = 4;
pub const ATTR_REQUEST_PROTOCOL: u32 = 10;
pub const ATTR_RESPONSE_CODE: u32 = 15;
pub const ATTR_RESPONSE_CODE_DETAILS: u32 = 16;
pub const ATTR_RESPONSE_GRPC_STATUS: u32 = 18;
pub const ATTR_SOURCE_ADDRESS: u32 = 24;
pub const ATTR_CONNECTION_URI_SAN_PEER_CERTIFICATE: u32 = 37;
pub const ATTR_XDS_ROUTE_NAME: u32 = 61;

pub type envoy_dynamic_module_type_metadata_source = u32;
pub const METADATA_ROUTE: u32 = 1; // ..._Route

pub type envoy_dynamic_module_type_on_http_filter_request_headers_status = u32;
pub type envoy_dynamic_module_type_on_http_filter_request_body_status = u32;
pub type envoy_dynamic_module_type_on_http_filter_request_trailers_status = u32;
pub type envoy_dynamic_module_type_on_http_filter_response_headers_status = u32;
pub type envoy_dynamic_module_type_on_http_filter_response_body_status = u32;
pub type envoy_dynamic_module_type_on_http_filter_response_trailers_status = u32;
pub type envoy_dynamic_module_type_on_http_filter_local_reply_status = u32;
/// `..._headers_status_Continue`, `..._body_status_Continue`, `..._trailers_status_Continue`.
pub const STATUS_CONTINUE: u32 = 0;
/// `..._headers_status_StopAllIterationAndWatermark`: nothing of the stream moves on (its
/// body is kept, with flow control) until the filter continues it.
pub const HEADERS_STOP_ALL: u32 = 4;
/// `..._body_status_StopIterationAndBuffer`.
pub const BODY_STOP_AND_BUFFER: u32 = 1;
/// `..._body_status_StopIterationNoBuffer`.
pub const BODY_STOP_NO_BUFFER: u32 = 3;
/// `..._trailers_status_StopIteration`.
pub const TRAILERS_STOP: u32 = 1;

pub type envoy_dynamic_module_type_http_filter_stream_reset_reason = u32;
pub const RESET_LOCAL: u32 = 0; // ..._LocalReset

// --------------------------------- callbacks ---------------------------------

/// Declares the callbacks pci-guard calls: one field per callback, named and typed as in the
/// header, and their resolution by name.
macro_rules! callbacks {
    ($( $name:ident : fn($($arg:ty),* $(,)?) $(-> $ret:ty)? ; )*) => {
        /// Envoy's callbacks, resolved once when the module loads.
        pub struct Callbacks {
            $( pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
        }

        impl Callbacks {
            /// Looks every callback up with `lookup` (a symbol name to its address, null when
            /// absent); the error is the name of the first one missing.
            pub fn resolve(lookup: impl Fn(&CStr) -> *mut c_void) -> Result<Self, &'static str> {
                Ok(Self { $( $name: {
                    let name = CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes())
                        .map_err(|_| stringify!($name))?;
                    let p = lookup(name);
                    if p.is_null() {
                        return Err(stringify!($name));
                    }
                    // SAFETY: `p` is the address of the Envoy function of this name, whose C
                    // signature the header fixes (released signatures never change) and the
                    // field's type restates.
                    unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(p)
                    }
                }, )* })
            }

            /// The names of every callback, as the module resolves them.
            pub const NAMES: &'static [&'static str] = &[$( stringify!($name) ),*];
        }
    };
}

use envoy_dynamic_module_type_envoy_buffer as EnvoyBuffer;
use envoy_dynamic_module_type_envoy_http_header as EnvoyHeader;
use envoy_dynamic_module_type_http_filter_config_envoy_ptr as ConfigPtr;
use envoy_dynamic_module_type_http_filter_envoy_ptr as FilterPtr;
use envoy_dynamic_module_type_module_buffer as ModuleBuffer;
use envoy_dynamic_module_type_module_http_header as ModuleHeader;

callbacks! {
    envoy_dynamic_module_callback_log: fn(envoy_dynamic_module_type_log_level, ModuleBuffer);
    envoy_dynamic_module_callback_is_validation_mode: fn() -> bool;
    envoy_dynamic_module_callback_http_filter_config_define_counter:
        fn(ConfigPtr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize)
            -> envoy_dynamic_module_type_metrics_result;
    envoy_dynamic_module_callback_http_filter_config_increment_counter:
        fn(ConfigPtr, usize, *mut ModuleBuffer, usize, u64) -> envoy_dynamic_module_type_metrics_result;
    envoy_dynamic_module_callback_http_filter_config_define_gauge:
        fn(ConfigPtr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize)
            -> envoy_dynamic_module_type_metrics_result;
    envoy_dynamic_module_callback_http_filter_config_set_gauge:
        fn(ConfigPtr, usize, *mut ModuleBuffer, usize, u64) -> envoy_dynamic_module_type_metrics_result;
    envoy_dynamic_module_callback_http_filter_config_scheduler_new:
        fn(ConfigPtr) -> envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr;
    envoy_dynamic_module_callback_http_filter_config_scheduler_delete:
        fn(envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr);
    envoy_dynamic_module_callback_http_filter_config_scheduler_commit:
        fn(envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr, u64);
    envoy_dynamic_module_callback_http_filter_config_http_callout:
        fn(ConfigPtr, *mut u64, ModuleBuffer, *mut ModuleHeader, usize, ModuleBuffer, u64)
            -> envoy_dynamic_module_type_http_callout_init_result;
    envoy_dynamic_module_callback_http_get_headers_size:
        fn(FilterPtr, envoy_dynamic_module_type_http_header_type) -> usize;
    envoy_dynamic_module_callback_http_get_headers:
        fn(FilterPtr, envoy_dynamic_module_type_http_header_type, *mut EnvoyHeader) -> bool;
    envoy_dynamic_module_callback_http_set_header:
        fn(FilterPtr, envoy_dynamic_module_type_http_header_type, ModuleBuffer, ModuleBuffer) -> bool;
    envoy_dynamic_module_callback_http_add_header:
        fn(FilterPtr, envoy_dynamic_module_type_http_header_type, ModuleBuffer, ModuleBuffer) -> bool;
    envoy_dynamic_module_callback_http_send_response:
        fn(FilterPtr, u32, *mut ModuleHeader, usize, ModuleBuffer, ModuleBuffer);
    envoy_dynamic_module_callback_http_get_body_chunks_size:
        fn(FilterPtr, envoy_dynamic_module_type_http_body_type) -> usize;
    envoy_dynamic_module_callback_http_get_body_chunks:
        fn(FilterPtr, envoy_dynamic_module_type_http_body_type, *mut EnvoyBuffer) -> bool;
    envoy_dynamic_module_callback_http_get_body_size:
        fn(FilterPtr, envoy_dynamic_module_type_http_body_type) -> usize;
    envoy_dynamic_module_callback_http_append_body:
        fn(FilterPtr, envoy_dynamic_module_type_http_body_type, ModuleBuffer) -> bool;
    envoy_dynamic_module_callback_http_drain_body:
        fn(FilterPtr, envoy_dynamic_module_type_http_body_type, usize) -> bool;
    envoy_dynamic_module_callback_http_received_buffered_request_body: fn(FilterPtr) -> bool;
    envoy_dynamic_module_callback_http_received_buffered_response_body: fn(FilterPtr) -> bool;
    envoy_dynamic_module_callback_http_get_metadata_string:
        fn(FilterPtr, envoy_dynamic_module_type_metadata_source, ModuleBuffer, ModuleBuffer, *mut EnvoyBuffer)
            -> bool;
    envoy_dynamic_module_callback_http_set_filter_state_bytes:
        fn(FilterPtr, ModuleBuffer, ModuleBuffer) -> bool;
    envoy_dynamic_module_callback_http_filter_get_attribute_string:
        fn(FilterPtr, envoy_dynamic_module_type_attribute_id, *mut EnvoyBuffer) -> bool;
    envoy_dynamic_module_callback_http_filter_get_attribute_int:
        fn(FilterPtr, envoy_dynamic_module_type_attribute_id, *mut u64) -> bool;
    envoy_dynamic_module_callback_http_filter_continue_decoding: fn(FilterPtr);
    envoy_dynamic_module_callback_http_filter_scheduler_new:
        fn(FilterPtr) -> envoy_dynamic_module_type_http_filter_scheduler_module_ptr;
    envoy_dynamic_module_callback_http_filter_scheduler_commit:
        fn(envoy_dynamic_module_type_http_filter_scheduler_module_ptr, u64);
    envoy_dynamic_module_callback_http_filter_scheduler_delete:
        fn(envoy_dynamic_module_type_http_filter_scheduler_module_ptr);
    envoy_dynamic_module_callback_http_filter_reset_stream:
        fn(FilterPtr, envoy_dynamic_module_type_http_filter_stream_reset_reason, ModuleBuffer);
}

/// Looks a symbol up in the process's global scope (Envoy exports its callbacks there).
pub fn process_symbol(name: &CStr) -> *mut c_void {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the loaded objects, and dlsym
    // has no other precondition.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

static CALLBACKS: std::sync::OnceLock<Callbacks> = std::sync::OnceLock::new();

/// Resolves the callbacks once; the error says what this Envoy lacks.
pub fn init() -> Result<&'static Callbacks, String> {
    if let Some(cb) = CALLBACKS.get() {
        return Ok(cb);
    }
    match Callbacks::resolve(process_symbol) {
        Ok(cb) => Ok(CALLBACKS.get_or_init(|| cb)),
        Err(missing) => Err(incompatible(missing)),
    }
}

/// Why the module refuses to load into this Envoy.
pub fn incompatible(missing: &str) -> String {
    format!(
        "pci-guard: this Envoy does not export {missing}, which the module calls: \
         libpci_guard_dynamic.so is built for Envoy {ENVOY_RELEASE} (dynamic-module ABI {}) \
         and later; run it with Envoy {ENVOY_RELEASE}+, or use the wasm build (pci_guard.wasm)",
        ABI_VERSION.to_string_lossy()
    )
}

/// The callbacks; `None` only before the module was initialised (then every hook fails closed).
pub fn cb() -> Option<&'static Callbacks> {
    CALLBACKS.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_callback_is_named_with_the_envoy_the_module_needs() {
        let Err(missing) = Callbacks::resolve(|_| std::ptr::null_mut()) else {
            panic!("resolved without any symbol");
        };
        assert_eq!(missing, "envoy_dynamic_module_callback_log");
        let msg = incompatible(missing);
        assert!(msg.contains("envoy_dynamic_module_callback_log"), "{msg}");
        assert!(msg.contains("Envoy 1.40"), "{msg}");
        assert!(msg.contains("v0.2.0"), "{msg}");
    }

    #[test]
    fn every_callback_is_looked_up_by_its_header_name() {
        let asked = std::cell::RefCell::new(Vec::new());
        // A fake address for each name: resolution succeeds once all are present.
        let _ = Callbacks::resolve(|name| {
            asked.borrow_mut().push(name.to_string_lossy().into_owned());
            std::ptr::NonNull::<u8>::dangling().as_ptr().cast()
        })
        .map(|_| ())
        .map_err(|m| panic!("{m}"));
        let asked = asked.into_inner();
        assert_eq!(asked, Callbacks::NAMES);
        assert!(asked
            .iter()
            .all(|n| n.starts_with("envoy_dynamic_module_callback_")));
    }

    #[test]
    fn the_test_process_is_not_envoy() {
        // No Envoy here: loading into this process must be refused, not crash later.
        assert!(init().is_err());
        assert!(cb().is_none());
    }
}
