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

mod body;
mod deferred;
mod stream;

pub use body::Side;
use deferred::Deferred;
pub use stream::route_metadata;

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

/// Envoy's callback that adds to a counter or sets a gauge of a config.
type RecordMetric = unsafe extern "C" fn(
    envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    usize,
    *mut envoy_dynamic_module_type_module_buffer,
    usize,
    u64,
) -> envoy_dynamic_module_type_metrics_result;

/// The answer of the key fetch being delivered (main thread): its response headers as Envoy
/// handed them to the callout-done hook (`:status` among them; none when the call failed),
/// and its body.
struct Answer {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    /// The value of header `name` (lower case, as HTTP/2 and Envoy's header maps spell names).
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
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

    /// Main thread: a key fetch answered with `headers` (empty when it failed) and `body`,
    /// readable through [`Host::http_call_status`], [`Host::http_call_header`] and
    /// [`Host::http_call_body`] until [`DynamicHost::delivered`]; returns the root's token for it.
    pub fn deliver(
        &self,
        callout: u64,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Option<u32> {
        *self.0.answer.borrow_mut() = Some(Answer { headers, body });
        self.0.calls.borrow_mut().remove(&callout)
    }

    pub fn delivered(&self) {
        *self.0.answer.borrow_mut() = None;
    }

    fn filter(&self) -> Option<*mut c_void> {
        let f = self.0.current.get();
        (!f.is_null()).then_some(f)
    }

    fn callback_buffer(s: &str) -> envoy_dynamic_module_type_module_buffer {
        envoy_dynamic_module_type_module_buffer::of(s.as_bytes())
    }

    /// Adds to a counter or sets a gauge (`record`, Envoy's callback for it), unlabelled.
    fn record_metric(&self, record: RecordMetric, id: u32, value: u64) {
        let shared = &self.0.shared;
        if !shared.alive() {
            return;
        }
        // SAFETY: the config is alive (a stream of it runs, or its own hook); Envoy's counters
        // and gauges are atomic, so any thread may change them.
        unsafe {
            record(
                shared.config_envoy.0,
                id as usize,
                std::ptr::null_mut(),
                0,
                value,
            )
        };
    }

    /// A counter or gauge: defined in Envoy on the main thread (Envoy takes definitions only
    /// while the config is created), looked up by name on a worker.
    fn define_metric(&self, name: &str, gauge: bool) -> Option<u32> {
        let shared = &self.0.shared;
        let known = if gauge {
            &shared.gauges
        } else {
            &shared.counters
        };
        if !self.0.main {
            return lock(known).get(name).and_then(|&id| u32::try_from(id).ok());
        }
        let cb = abi::cb()?;
        let define = if gauge {
            cb.envoy_dynamic_module_callback_http_filter_config_define_gauge
        } else {
            cb.envoy_dynamic_module_callback_http_filter_config_define_counter
        };
        let mut id = 0usize;
        // SAFETY: the config pointer is live (we are in its config hook); the name outlives
        // the call; no labels.
        let r = unsafe {
            define(
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
        lock(known).insert(name.to_string(), id);
        u32::try_from(id).ok()
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

    /// The dynamic module never asks Envoy to wait in `on_done`: nothing to finish.
    fn done(&self) {}

    /// Counters are defined once, on the main thread, when the config loads; a worker's root
    /// gets the same ids by name.
    fn define_counter(&self, name: &str) -> Option<u32> {
        self.define_metric(name, false)
    }

    fn increment_counter(&self, id: u32, by: u64) {
        if let Some(cb) = abi::cb() {
            self.record_metric(
                cb.envoy_dynamic_module_callback_http_filter_config_increment_counter,
                id,
                by,
            );
        }
    }

    /// Gauges as counters: defined on the main thread when the config loads.
    fn define_gauge(&self, name: &str) -> Option<u32> {
        self.define_metric(name, true)
    }

    fn set_gauge(&self, id: u32, value: u64) {
        if let Some(cb) = abi::cb() {
            self.record_metric(
                cb.envoy_dynamic_module_callback_http_filter_config_set_gauge,
                id,
                value,
            );
        }
    }

    /// The process's shared data ([`crate::shared::data`]): one map for every config and
    /// thread, as one proxy-wasm VM id has.
    fn shared_data(&self, key: &str) -> Option<(Option<Vec<u8>>, Option<u32>)> {
        Some(crate::shared::data::get(key))
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        crate::shared::data::set(key, value, cas)
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
        self.0.answer.borrow().as_ref()?.header(":status")
    }

    /// From the headers Envoy hands the callout-done hook: the revocation list's `etag`, sent
    /// back as `If-None-Match` on the next poll (a 304 then refreshes the list without a body).
    fn http_call_header(&self, name: &str) -> Option<String> {
        self.0.answer.borrow().as_ref()?.header(name)
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
        self.headers(map)
    }

    fn edit(&self, map: Map, edit: &HeaderEdit) -> bool {
        self.edit_header(map, edit)
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.attribute(path)
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> bool {
        self.set_filter_state(path, value)
    }

    fn send_http_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        self.defer_reply(status, headers, body)
    }

    fn send_grpc_response(&self, status: u32, message: &str, metadata: &[(&str, &[u8])]) -> bool {
        self.defer_grpc_reply(status, message, metadata)
    }

    fn read_request_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        self.read_body(Side::Request, start, len, into)
    }

    fn read_response_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        self.read_body(Side::Response, start, len, into)
    }

    fn set_response_body(&self, start: usize, len: usize, data: &[u8]) -> bool {
        self.write_body(start, len, data)
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
    /// worker and ends the wait (`hooks/stream.rs`, `on_http_filter_scheduled`).
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
mod tests;
