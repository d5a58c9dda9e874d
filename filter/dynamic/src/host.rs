//! [`Host`] on Envoy's dynamic-module callbacks ([`crate::abi`]).
//!
//! One `DynamicHost` per root: on the main thread (the config's key fetcher) or on a worker
//! (serving that worker's streams). Calls that act on "the current stream" act on the filter
//! whose event hook runs ([`DynamicHost::enter`]) or the one the root chose
//! ([`Host::set_effective_context`]).
//!
//! Differences from the proxy-wasm host, each for a reason:
//! - **Actions that re-enter Envoy's filter chain are deferred** until the plugin's call
//!   returns ([`DynamicHost::run_deferred`]): a local reply, continuing a paused request,
//!   resetting a stream. Envoy runs them synchronously (a local reply sent from the request
//!   headers hook calls this filter's response headers hook before it returns), and the
//!   plugin's state is borrowed while it decides. Envoy's wasm host defers them the same way.
//! - **Bodies are Envoy's slices**: what the plugin sees as one buffer is the body Envoy
//!   buffered for this filter (after a pause) followed by the chunk just received, read without
//!   an intermediate copy per slice and, when the length stays, written back in place.
//! - **Properties** are Envoy's attributes, route metadata and filter state; the audit event
//!   goes to filter state under the key the wasm build gets (`wasm.pci_guard_audit`), so every
//!   access-log config works with either runtime.
//! - **Signatures** are checked natively (RustCrypto), **time** is the system clock, the
//!   **environment** is the Envoy process's.

#![allow(unsafe_code)]

use crate::abi::{self, *};
use crate::shared::{lock, EnvoyPtr, Shared};
use pci_guard_core::identity::signature::{PureVerifier, SignatureVerifier};
use pci_guard_plugin::{HeaderEdit, Host, Level, Map};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The filter-state key the audit event goes to: the wasm build's, so that the same
/// `%FILTER_STATE(wasm.pci_guard_audit:PLAIN)%` and `filter_state_objects_to_log` work.
pub const FILTER_STATE_PREFIX: &str = "wasm.";

/// An action that re-enters Envoy's filter chain, run when the plugin's call has returned.
enum Deferred {
    Reply {
        filter: EnvoyPtr,
        status: u32,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    Continue(EnvoyPtr),
    Reset(EnvoyPtr),
}

/// The answer of the key fetch being delivered (main thread).
struct Answer {
    status: Option<String>,
    body: Vec<u8>,
}

struct State {
    shared: Arc<Shared>,
    main: bool,
    current: Cell<*mut c_void>,
    /// Context id → filter, for streams the root resumes.
    streams: RefCell<HashMap<u32, EnvoyPtr>>,
    /// Filter address → its wake-up scheduler, for streams waiting for first keys.
    waiting: RefCell<HashMap<usize, EnvoyPtr>>,
    deferred: RefCell<Vec<Deferred>>,
    answer: RefCell<Option<Answer>>,
    /// Envoy's callout ids → the root's call tokens (main thread).
    calls: RefCell<HashMap<u64, u32>>,
    next_token: Cell<u32>,
}

#[derive(Clone)]
pub struct DynamicHost(Rc<State>);

impl DynamicHost {
    fn new(shared: Arc<Shared>, main: bool) -> Self {
        Self(Rc::new(State {
            shared,
            main,
            current: Cell::new(std::ptr::null_mut()),
            streams: RefCell::default(),
            waiting: RefCell::default(),
            deferred: RefCell::default(),
            answer: RefCell::default(),
            calls: RefCell::default(),
            next_token: Cell::new(1),
        }))
    }

    /// The host of the main thread's root: defines counters, fetches keys.
    pub fn main(shared: Arc<Shared>) -> Self {
        Self::new(shared, true)
    }

    /// The host of a worker's root.
    pub fn worker(shared: Arc<Shared>) -> Self {
        Self::new(shared, false)
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.0.shared
    }

    /// The stream `context_id` is `filter`, from now until [`DynamicHost::forget`].
    pub fn register(&self, context_id: u32, filter: *mut c_void) {
        self.0
            .streams
            .borrow_mut()
            .insert(context_id, EnvoyPtr(filter));
    }

    /// Makes `filter` the current stream (its event hook runs).
    pub fn enter(&self, filter: *mut c_void) {
        self.0.current.set(filter);
    }

    /// The stream ended: no call may reach its filter again; its wake-up scheduler goes.
    pub fn forget(&self, context_id: u32, filter: *mut c_void) {
        self.0.streams.borrow_mut().remove(&context_id);
        if self.0.current.get() == filter {
            self.0.current.set(std::ptr::null_mut());
        }
        let Some(s) = self.0.waiting.borrow_mut().remove(&(filter as usize)) else {
            return;
        };
        lock(&self.0.shared.waiters).retain(|(f, _)| *f != filter as usize);
        if let Some(cb) = abi::cb() {
            // SAFETY: created by scheduler_new for this filter and no longer listed, so no
            // other thread can commit to it any more.
            unsafe { (cb.envoy_dynamic_module_callback_http_filter_scheduler_delete)(s.0) };
        }
    }

    /// Runs the actions the plugin asked for during its call, now that it has returned.
    pub fn run_deferred(&self) {
        let Some(cb) = abi::cb() else { return };
        loop {
            let actions = std::mem::take(&mut *self.0.deferred.borrow_mut());
            if actions.is_empty() {
                return;
            }
            for a in actions {
                match a {
                    Deferred::Reply {
                        filter,
                        status,
                        headers,
                        body,
                    } => {
                        let mut h: Vec<envoy_dynamic_module_type_module_http_header> = headers
                            .iter()
                            .map(|(n, v)| envoy_dynamic_module_type_module_http_header {
                                key_ptr: n.as_ptr().cast(),
                                key_length: n.len(),
                                value_ptr: v.as_ptr().cast(),
                                value_length: v.len(),
                            })
                            .collect();
                        // SAFETY: `filter` is live (deferred within its own hook); the header
                        // and body buffers outlive the call, which copies them.
                        unsafe {
                            (cb.envoy_dynamic_module_callback_http_send_response)(
                                filter.0,
                                status,
                                h.as_mut_ptr(),
                                h.len(),
                                envoy_dynamic_module_type_module_buffer::of(&body),
                                envoy_dynamic_module_type_module_buffer::of(b"pci_guard"),
                            )
                        }
                    }
                    // SAFETY: as above: the filter is live.
                    Deferred::Continue(f) => unsafe {
                        (cb.envoy_dynamic_module_callback_http_filter_continue_decoding)(f.0)
                    },
                    // SAFETY: as above: the filter is live.
                    Deferred::Reset(f) => unsafe {
                        (cb.envoy_dynamic_module_callback_http_filter_reset_stream)(
                            f.0,
                            RESET_LOCAL,
                            envoy_dynamic_module_type_module_buffer::of(b"pci_guard_body_refused"),
                        )
                    },
                }
            }
        }
    }

    /// Main thread: a key fetch answered (`status` none when it failed); returns the root's
    /// token for it.
    pub fn deliver(&self, callout: u64, status: Option<String>, body: Vec<u8>) -> Option<u32> {
        *self.0.answer.borrow_mut() = Some(Answer { status, body });
        self.0.calls.borrow_mut().remove(&callout)
    }

    pub fn delivered(&self) {
        *self.0.answer.borrow_mut() = None;
    }

    fn filter(&self) -> Option<*mut c_void> {
        let f = self.0.current.get();
        (!f.is_null()).then_some(f)
    }

    fn attr_string(&self, id: u32) -> Option<Vec<u8>> {
        let (cb, f) = (abi::cb()?, self.filter()?);
        let mut out = envoy_dynamic_module_type_envoy_buffer::NULL;
        // SAFETY: `f` is the live current filter; `out` is a valid place for the result.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_get_attribute_string)(f, id, &mut out)
        };
        // SAFETY: Envoy filled `out` in this hook.
        ok.then(|| unsafe { out.bytes() }.to_vec())
    }

    fn attr_int(&self, id: u32) -> Option<Vec<u8>> {
        let (cb, f) = (abi::cb()?, self.filter()?);
        let mut v = 0u64;
        // SAFETY: `f` is the live current filter; `v` is a valid place for the result.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_get_attribute_int)(f, id, &mut v)
        };
        ok.then(|| v.to_le_bytes().to_vec())
    }

    /// `filter_metadata.pci_guard.route` of the matched route, as the serialized `Metadata`
    /// the core reads for `xds.route_metadata` (only that field: it is all the core reads).
    fn route_metadata(&self) -> Option<Vec<u8>> {
        let (cb, f) = (abi::cb()?, self.filter()?);
        let mut out = envoy_dynamic_module_type_envoy_buffer::NULL;
        // SAFETY: `f` is the live current filter; the key buffers outlive the call.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_get_metadata_string)(
                f,
                METADATA_ROUTE,
                envoy_dynamic_module_type_module_buffer::of(b"pci_guard"),
                envoy_dynamic_module_type_module_buffer::of(b"route"),
                &mut out,
            )
        };
        // SAFETY: Envoy filled `out` in this hook.
        ok.then(|| route_metadata(unsafe { out.bytes() }))
    }

    /// The response body's parts as the plugin sees them: what Envoy buffered for this filter
    /// (after a pause), then the chunk just received. When the chunk received is itself the
    /// buffered body (an earlier filter buffered it), it is the only part.
    fn body_parts(&self, cb: &Callbacks, f: *mut c_void) -> Vec<u32> {
        // SAFETY: `f` is the live current filter.
        let same =
            unsafe { (cb.envoy_dynamic_module_callback_http_received_buffered_response_body)(f) };
        if same {
            vec![BODY_RECEIVED_RESPONSE]
        } else {
            vec![BODY_BUFFERED_RESPONSE, BODY_RECEIVED_RESPONSE]
        }
    }

    /// The slices of one body part (valid until the hook returns or the body changes).
    fn slices(
        cb: &Callbacks,
        f: *mut c_void,
        part: u32,
    ) -> Vec<envoy_dynamic_module_type_envoy_buffer> {
        // SAFETY: `f` is the live current filter.
        let n = unsafe { (cb.envoy_dynamic_module_callback_http_get_body_chunks_size)(f, part) };
        if n == 0 {
            return Vec::new();
        }
        let mut v = vec![envoy_dynamic_module_type_envoy_buffer::NULL; n];
        // SAFETY: `v` has room for the `n` slices Envoy reported.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_get_body_chunks)(f, part, v.as_mut_ptr())
        };
        if ok {
            v
        } else {
            Vec::new()
        }
    }

    /// The size the current stream's body callback sees: buffered plus received.
    pub fn response_body_size(&self) -> usize {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return 0;
        };
        self.body_parts(cb, f)
            .into_iter()
            // SAFETY: `f` is the live current filter.
            .map(|p| unsafe { (cb.envoy_dynamic_module_callback_http_get_body_size)(f, p) })
            .sum()
    }

    fn callback_buffer(s: &str) -> envoy_dynamic_module_type_module_buffer {
        envoy_dynamic_module_type_module_buffer::of(s.as_bytes())
    }
}

/// Serializes `Metadata { filter_metadata: { "pci_guard": Struct { fields: { "route":
/// Value { string_value } } } } }` (proto3 wire format).
pub fn route_metadata(route: &[u8]) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
        out.push((number << 3) | 2);
        let mut n = bytes.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(bytes);
    }
    let mut value = Vec::new();
    field(&mut value, 3, route); // Value.string_value
    let mut entry = Vec::new();
    field(&mut entry, 1, b"route");
    field(&mut entry, 2, &value);
    let mut fields = Vec::new();
    field(&mut fields, 1, &entry); // Struct.fields
    let mut ns = Vec::new();
    field(&mut ns, 1, b"pci_guard");
    field(&mut ns, 2, &fields);
    let mut out = Vec::new();
    field(&mut out, 1, &ns); // Metadata.filter_metadata
    out
}

fn header_type(map: Map) -> u32 {
    match map {
        Map::RequestHeaders => HEADER_REQUEST,
        Map::ResponseHeaders => HEADER_RESPONSE,
        Map::ResponseTrailers => HEADER_RESPONSE_TRAILER,
    }
}

/// The HTTP status Envoy maps to gRPC `code` (its local replies to gRPC callers), so the code
/// comes out right even where `grpc-status` is not taken from our headers.
fn http_for_grpc(code: u32) -> u32 {
    match code {
        16 => 401,
        7 => 403,
        12 => 404,
        14 => 503,
        13 => 400,
        _ => 500,
    }
}

impl Host for DynamicHost {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn log(&self, level: Level, msg: &str) {
        let Some(cb) = abi::cb() else {
            eprintln!("{msg}");
            return;
        };
        let level = match level {
            Level::Info => LOG_INFO,
            Level::Warn => LOG_WARN,
            Level::Error => LOG_ERROR,
        };
        // SAFETY: the message buffer outlives the call.
        unsafe { (cb.envoy_dynamic_module_callback_log)(level, Self::callback_buffer(msg)) }
    }

    fn plugin_configuration(&self) -> Option<Vec<u8>> {
        Some(self.0.shared.config.clone()).filter(|c| !c.is_empty())
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    /// The main thread's timer is the config's ticker thread; workers tick at stream ends.
    fn set_tick_period(&self, _period: Duration) {}

    /// Every algorithm natively, with RustCrypto: no host crypto needed.
    fn verifier(&self) -> Box<dyn SignatureVerifier> {
        Box::new(PureVerifier)
    }

    /// Counters are defined once, on the main thread, when the config loads; a worker's root
    /// gets the same ids by name.
    fn define_counter(&self, name: &str) -> Option<u32> {
        let shared = &self.0.shared;
        if !self.0.main {
            return lock(&shared.counters)
                .get(name)
                .and_then(|&id| u32::try_from(id).ok());
        }
        let cb = abi::cb()?;
        let mut id = 0usize;
        // SAFETY: the config pointer is live (we are in its config hook); the name outlives
        // the call; no labels.
        let r = unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_config_define_counter)(
                shared.config_envoy.0,
                Self::callback_buffer(name),
                std::ptr::null_mut(),
                0,
                &mut id,
            )
        };
        if r != METRICS_SUCCESS {
            return None;
        }
        lock(&shared.counters).insert(name.to_string(), id);
        u32::try_from(id).ok()
    }

    fn increment_counter(&self, id: u32, by: u64) {
        let shared = &self.0.shared;
        let Some(cb) = abi::cb() else { return };
        if !shared.alive() {
            return;
        }
        // SAFETY: the config is alive (a stream of it runs, or its own hook); Envoy's counters
        // are atomic, so any thread may add.
        unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_config_increment_counter)(
                shared.config_envoy.0,
                id as usize,
                std::ptr::null_mut(),
                0,
                by,
            )
        };
    }

    fn shared_data(&self, _key: &str) -> Option<(Option<Vec<u8>>, Option<u32>)> {
        None
    }

    fn set_shared_data(&self, _key: &str, _value: &[u8], _cas: Option<u32>) -> bool {
        false
    }

    /// A config-level callout (main thread only: workers never claim a fetch).
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Option<u32> {
        let cb = abi::cb()?;
        if !self.0.main {
            return None;
        }
        let mut h: Vec<envoy_dynamic_module_type_module_http_header> = headers
            .iter()
            .map(|(n, v)| envoy_dynamic_module_type_module_http_header {
                key_ptr: n.as_ptr().cast(),
                key_length: n.len(),
                value_ptr: v.as_ptr().cast(),
                value_length: v.len(),
            })
            .collect();
        let mut callout = 0u64;
        // SAFETY: the config is live (its hook runs); every buffer outlives the call.
        let r = unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_config_http_callout)(
                self.0.shared.config_envoy.0,
                &mut callout,
                Self::callback_buffer(cluster),
                h.as_mut_ptr(),
                h.len(),
                envoy_dynamic_module_type_module_buffer::NULL,
                u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            )
        };
        if r != CALLOUT_INIT_SUCCESS {
            return None;
        }
        let token = self.0.next_token.get();
        self.0.next_token.set(token.wrapping_add(1).max(1));
        self.0.calls.borrow_mut().insert(callout, token);
        Some(token)
    }

    fn http_call_status(&self) -> Option<String> {
        self.0.answer.borrow().as_ref()?.status.clone()
    }

    fn http_call_body(&self, size: usize) -> Option<Vec<u8>> {
        let a = self.0.answer.borrow();
        let body = &a.as_ref()?.body;
        Some(body[..size.min(body.len())].to_vec())
    }

    fn set_effective_context(&self, context_id: u32) -> bool {
        match self.0.streams.borrow().get(&context_id) {
            Some(f) => {
                self.0.current.set(f.0);
                true
            }
            None => false,
        }
    }

    fn resume_request(&self) {
        if let Some(f) = self.filter() {
            self.0
                .deferred
                .borrow_mut()
                .push(Deferred::Continue(EnvoyPtr(f)));
        }
    }

    fn map(&self, map: Map) -> Vec<(String, String)> {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return Vec::new();
        };
        let t = header_type(map);
        // SAFETY: `f` is the live current filter.
        let n = unsafe { (cb.envoy_dynamic_module_callback_http_get_headers_size)(f, t) };
        let empty = envoy_dynamic_module_type_envoy_http_header {
            key_ptr: std::ptr::null(),
            key_length: 0,
            value_ptr: std::ptr::null(),
            value_length: 0,
        };
        let mut raw = vec![empty; n];
        // SAFETY: `raw` has room for the `n` headers Envoy reported.
        if n == 0
            || !unsafe {
                (cb.envoy_dynamic_module_callback_http_get_headers)(f, t, raw.as_mut_ptr())
            }
        {
            return Vec::new();
        }
        raw.iter()
            .map(|h| {
                let key = envoy_dynamic_module_type_envoy_buffer {
                    ptr: h.key_ptr,
                    length: h.key_length,
                };
                let value = envoy_dynamic_module_type_envoy_buffer {
                    ptr: h.value_ptr,
                    length: h.value_length,
                };
                // SAFETY: Envoy filled these in this hook and no setter ran since. Header
                // bytes need not be UTF-8: read lossily, never panicked on.
                let (k, v) = unsafe { (key.bytes(), value.bytes()) };
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn edit(&self, map: Map, edit: &HeaderEdit) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        let t = header_type(map);
        // SAFETY: `f` is the live current filter; name and value outlive each call. A null
        // value removes the header.
        unsafe {
            match edit {
                HeaderEdit::Set { name, value } => (cb
                    .envoy_dynamic_module_callback_http_set_header)(
                    f,
                    t,
                    Self::callback_buffer(name),
                    Self::callback_buffer(value),
                ),
                HeaderEdit::Remove { name } => (cb.envoy_dynamic_module_callback_http_set_header)(
                    f,
                    t,
                    Self::callback_buffer(name),
                    envoy_dynamic_module_type_module_buffer::NULL,
                ),
                HeaderEdit::Add { name, value } => (cb
                    .envoy_dynamic_module_callback_http_add_header)(
                    f,
                    t,
                    Self::callback_buffer(name),
                    Self::callback_buffer(value),
                ),
            }
        }
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        match path {
            ["xds", "route_name"] => self.attr_string(ATTR_XDS_ROUTE_NAME),
            ["xds", "route_metadata"] => self.route_metadata(),
            ["source", "address"] => self.attr_string(ATTR_SOURCE_ADDRESS),
            ["connection", "uri_san_peer_certificate"] => {
                self.attr_string(ATTR_CONNECTION_URI_SAN_PEER_CERTIFICATE)
            }
            ["request", "protocol"] => self.attr_string(ATTR_REQUEST_PROTOCOL),
            ["request", "method"] => self.attr_string(ATTR_REQUEST_METHOD),
            ["request", "path"] => self.attr_string(ATTR_REQUEST_PATH),
            ["response", "code"] => self.attr_int(ATTR_RESPONSE_CODE),
            ["response", "grpc_status"] => self.attr_int(ATTR_RESPONSE_GRPC_STATUS),
            ["response", "code_details"] => self.attr_string(ATTR_RESPONSE_CODE_DETAILS),
            _ => None,
        }
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        let key = format!("{FILTER_STATE_PREFIX}{}", path.join("."));
        // SAFETY: `f` is the live current filter; key and value outlive the call (Envoy
        // copies them).
        unsafe {
            (cb.envoy_dynamic_module_callback_http_set_filter_state_bytes)(
                f,
                Self::callback_buffer(&key),
                envoy_dynamic_module_type_module_buffer::of(value),
            )
        }
    }

    fn send_http_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        let Some(f) = self.filter() else { return false };
        self.0.deferred.borrow_mut().push(Deferred::Reply {
            filter: EnvoyPtr(f),
            status: u32::from(status),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        });
        true
    }

    /// A trailers-only gRPC answer: Envoy's local reply to a gRPC caller is one, with the
    /// body as `grpc-message` and our `grpc-status`.
    fn send_grpc_response(&self, status: u32, message: &str, metadata: &[(&str, &[u8])]) -> bool {
        let Some(f) = self.filter() else { return false };
        let mut headers: Vec<(String, Vec<u8>)> = metadata
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        headers.push(("grpc-status".into(), status.to_string().into_bytes()));
        self.0.deferred.borrow_mut().push(Deferred::Reply {
            filter: EnvoyPtr(f),
            status: http_for_grpc(status),
            headers,
            body: message.as_bytes().to_vec(),
        });
        true
    }

    fn read_response_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        let (mut skip, mut want) = (start, len);
        into.reserve(len);
        for part in self.body_parts(cb, f) {
            for s in Self::slices(cb, f, part) {
                // SAFETY: Envoy filled the slice in this hook; nothing changed the body since.
                let bytes = unsafe { s.bytes() };
                if skip >= bytes.len() {
                    skip -= bytes.len();
                    continue;
                }
                let take = &bytes[skip..bytes.len().min(skip + want)];
                skip = 0;
                want -= take.len();
                into.extend_from_slice(take);
                if want == 0 {
                    return true;
                }
            }
        }
        want == 0
    }

    fn set_response_body(&self, start: usize, len: usize, data: &[u8]) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        if start != 0 {
            return false;
        }
        let parts = self.body_parts(cb, f);
        if data.len() == len {
            // Same length (masking in place): written into Envoy's slices, nothing moves.
            let mut rest = data;
            for &part in &parts {
                for s in Self::slices(cb, f, part) {
                    if rest.is_empty() {
                        return true;
                    }
                    let n = s.length.min(rest.len());
                    // SAFETY: the slice is Envoy's buffer memory for this filter's body, live
                    // until the hook returns; only this filter touches it now (it holds the
                    // body), and `n` is within it. Envoy's own SDK writes bodies in place.
                    unsafe {
                        std::ptr::copy_nonoverlapping(rest.as_ptr(), s.ptr.cast_mut().cast(), n)
                    };
                    rest = &rest[n..];
                }
            }
            return rest.is_empty();
        }
        // Another length: keep what follows the replaced bytes, empty the body, write anew.
        let mut tail = Vec::new();
        let total = self.response_body_size();
        if len < total && !self.read_response_body(len, total - len, &mut tail) {
            return false;
        }
        for &part in &parts {
            // SAFETY: `f` is the live current filter.
            unsafe { (cb.envoy_dynamic_module_callback_http_drain_body)(f, part, usize::MAX) };
        }
        let mut all = Vec::with_capacity(data.len() + tail.len());
        all.extend_from_slice(data);
        all.extend_from_slice(&tail);
        if all.is_empty() {
            return true;
        }
        // The chunk received goes on (or is buffered) after the hook; in the trailers hook
        // there is none, and the buffered body takes the bytes.
        // SAFETY: `f` is the live current filter; `all` outlives the call (Envoy copies it).
        unsafe {
            (cb.envoy_dynamic_module_callback_http_append_body)(
                f,
                BODY_RECEIVED_RESPONSE,
                envoy_dynamic_module_type_module_buffer::of(&all),
            ) || (cb.envoy_dynamic_module_callback_http_append_body)(
                f,
                BODY_BUFFERED_RESPONSE,
                envoy_dynamic_module_type_module_buffer::of(&all),
            )
        }
    }

    fn reset_response(&self) {
        if let Some(f) = self.filter() {
            self.0
                .deferred
                .borrow_mut()
                .push(Deferred::Reset(EnvoyPtr(f)));
        }
    }

    /// A worker has no timer of its own: the waiting stream gets a scheduler, which the main
    /// thread commits to whenever keys arrive and on every tick, so its root ticks on its
    /// worker and ends the wait (`hooks.rs`, `on_http_filter_scheduled`).
    fn on_stream_waiting(&self) {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return;
        };
        if self.0.waiting.borrow().contains_key(&(f as usize)) {
            return;
        }
        // SAFETY: `f` is the live current filter; the scheduler is deleted in `forget`.
        let s = unsafe { (cb.envoy_dynamic_module_callback_http_filter_scheduler_new)(f) };
        if s.is_null() {
            return;
        }
        self.0.waiting.borrow_mut().insert(f as usize, EnvoyPtr(s));
        lock(&self.0.shared.waiters).push((f as usize, EnvoyPtr(s)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_metadata_is_what_the_core_reads_from_envoy() {
        let bytes = route_metadata(b"cards-read");
        assert_eq!(
            pci_guard_core::routes::metadata::route_name(&bytes).as_deref(),
            Some("cards-read")
        );
    }

    #[test]
    fn grpc_codes_map_to_the_http_status_envoy_maps_back() {
        assert_eq!(http_for_grpc(16), 401);
        assert_eq!(http_for_grpc(7), 403);
        assert_eq!(http_for_grpc(14), 503);
    }
}
