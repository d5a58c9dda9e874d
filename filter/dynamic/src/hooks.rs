//! The event hooks Envoy calls (`envoy_dynamic_module_on_*`, exported by name), each a few
//! lines that hand over to the plugin's [`Root`] or [`Stream`] on a [`DynamicHost`].
//!
//! Threads: a filter config is created on Envoy's main thread; its root there (in [`MAIN`])
//! fetches remote key sets, ticked by a thread of ours through the config's scheduler. Each
//! worker gets its own root for the config (in [`WORKERS`]) on its first stream: that root
//! serves the worker's streams, keeps the worker's audit chain and verified-token cache, and
//! ticks when a stream ends or a waiting stream is woken.
//!
//! Panics: every hook runs the plugin inside `catch_unwind` (the module is built with
//! `panic = "unwind"`), and a panic fails closed: a request not yet answered gets a 503, a
//! response whose headers went out is emptied and reset. The worker's root is dropped (the
//! next stream starts a fresh one, as a wasm VM is reloaded) and Envoy keeps serving.

#![allow(unsafe_code)]

use crate::abi::{self, *};
use crate::host::DynamicHost;
use crate::shared::{lock, EnvoyPtr, ProcessKeys, Shared, TICK, WAKE};
use pci_guard_plugin::{Action, Host, Level, Root, Stream};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A root and its host, on one thread.
struct Rooted {
    host: DynamicHost,
    root: RefCell<Root<DynamicHost>>,
    next_id: Cell<u32>,
}

thread_local! {
    /// The main thread's roots, by config id.
    static MAIN: RefCell<HashMap<u64, Rc<Rooted>>> = RefCell::default();
    /// This worker's roots, by config id.
    static WORKERS: RefCell<HashMap<u64, Rc<Rooted>>> = RefCell::default();
}

/// What Envoy holds for a filter config: only what every thread may touch.
struct ConfigModule {
    shared: Arc<Shared>,
}

/// Where a stream failed, if it did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failed {
    /// Before its response: it was answered 503; what follows is that answer.
    Request,
    /// While its response streamed: it was emptied and reset.
    Response,
}

/// What Envoy holds for a stream.
struct Filter {
    worker: Rc<Rooted>,
    stream: RefCell<Stream<DynamicHost>>,
    id: u32,
    envoy: *mut c_void,
    failed: Cell<Option<Failed>>,
}

/// A root for `shared`: the main thread's (which fetches key sets, unless Envoy only
/// validates the config) or a worker's (which adopts them).
fn rooted(shared: &Arc<Shared>, main: bool, fetches: bool) -> Rooted {
    let host = if main {
        DynamicHost::main(shared.clone())
    } else {
        DynamicHost::worker(shared.clone())
    };
    let share = if fetches {
        ProcessKeys::fetcher(shared.clone())
    } else {
        ProcessKeys::adopter(shared.clone())
    };
    let mut root = Root::new(host.clone(), Rc::new(share));
    root.on_vm_start();
    root.on_configure();
    Rooted {
        host,
        root: RefCell::new(root),
        next_id: Cell::new(1),
    }
}

/// Runs `f`, turning a panic into `None` (logged; the panic message went to stderr).
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            if let Some(cb) = abi::cb() {
                let msg = format!("pci-guard: panic in {what}: failing closed");
                // SAFETY: the message outlives the call.
                unsafe {
                    (cb.envoy_dynamic_module_callback_log)(
                        LOG_ERROR,
                        envoy_dynamic_module_type_module_buffer::of(msg.as_bytes()),
                    )
                };
            }
            None
        }
    }
}

// ------------------------------------ program ------------------------------------

/// Resolves Envoy's callbacks; refuses to load (null) into an Envoy that lacks one.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init(
) -> envoy_dynamic_module_type_abi_version_module_ptr {
    match catch_unwind(abi::init) {
        Ok(Ok(_)) => ABI_VERSION.as_ptr(),
        Ok(Err(why)) => {
            // Envoy only says "Failed to initialize dynamic module": say why first.
            eprintln!("{why}");
            std::ptr::null()
        }
        Err(_) => std::ptr::null(),
    }
}

// ------------------------------------ config -------------------------------------

/// A filter config: the policy loads on the main thread (refused: the config is rejected, and
/// Envoy keeps the last good one), counters are defined, the ticker starts.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    _name: envoy_dynamic_module_type_envoy_buffer,
    config: envoy_dynamic_module_type_envoy_buffer,
) -> envoy_dynamic_module_type_http_filter_config_module_ptr {
    guarded("a filter config", || {
        let cb = abi::cb()?;
        sweep_main();
        // SAFETY: Envoy passes the config bytes for the length of this hook; we copy them.
        let bytes = unsafe { config.bytes() }.to_vec();
        let shared = Shared::new(EnvoyPtr(config_envoy), bytes);
        // SAFETY: no arguments; called on the main thread, as the callback requires.
        let validating = unsafe { (cb.envoy_dynamic_module_callback_is_validation_mode)() };
        let main = rooted(&shared, true, !validating);
        if !main.root.borrow().loaded() {
            return None;
        }
        if !validating {
            // SAFETY: `config_envoy` is live in its own hook; the scheduler is deleted when
            // the config is destroyed.
            let s = unsafe {
                (cb.envoy_dynamic_module_callback_http_filter_config_scheduler_new)(config_envoy)
            };
            if !s.is_null() {
                *lock(&shared.scheduler) = Some(EnvoyPtr(s));
                spawn_ticker(&shared);
            }
        }
        MAIN.with(|m| m.borrow_mut().insert(shared.id, Rc::new(main)));
        Some(Box::into_raw(Box::new(ConfigModule { shared })) as *const c_void)
    })
    .flatten()
    .unwrap_or(std::ptr::null())
}

/// The main thread's timer: a thread that commits a tick to the config's scheduler until the
/// config is gone. (Dynamic modules have no timer of their own.)
fn spawn_ticker(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let _ = std::thread::Builder::new()
        .name("pci-guard-tick".into())
        .spawn(move || loop {
            std::thread::sleep(pci_guard_plugin::TICK);
            let Some(s) = weak.upgrade() else { break };
            if !s.alive() || !s.tick_main() {
                break;
            }
        });
}

/// Drops the main thread's roots of configs Envoy destroyed (possibly on a worker).
fn sweep_main() {
    MAIN.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.retain(|_, r| r.host.shared().alive());
        }
    });
}

fn config<'a>(ptr: envoy_dynamic_module_type_http_filter_config_module_ptr) -> &'a ConfigModule {
    // SAFETY: Envoy hands back the pointer `config_new` returned, until `config_destroy`.
    unsafe { &*ptr.cast::<ConfigModule>() }
}

fn main_root(shared: &Shared) -> Option<Rc<Rooted>> {
    MAIN.with(|m| m.try_borrow().ok()?.get(&shared.id).cloned())
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(
    ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
) {
    guarded("a filter config's end", || {
        // SAFETY: this is the pointer `config_new` returned, handed back once to be freed.
        let module = unsafe { Box::from_raw(ptr.cast_mut().cast::<ConfigModule>()) };
        let shared = &module.shared;
        shared.alive.store(false, Ordering::Release);
        if let (Some(cb), Some(s)) = (abi::cb(), lock(&shared.scheduler).take()) {
            // SAFETY: taken out under the lock, so the ticker can no longer commit to it.
            unsafe { (cb.envoy_dynamic_module_callback_http_filter_config_scheduler_delete)(s.0) };
        }
        MAIN.with(|m| {
            if let Ok(mut m) = m.try_borrow_mut() {
                m.remove(&shared.id);
            }
        });
    });
}

/// The main thread's tick: due key fetches start; waiting streams are woken to check their
/// deadlines.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(
    _config_envoy: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    event: u64,
) {
    guarded("the main thread's tick", || {
        let shared = &config(ptr).shared;
        if event != TICK || !shared.alive() {
            return;
        }
        if let Some(main) = main_root(shared) {
            if let Ok(mut root) = main.root.try_borrow_mut() {
                root.on_tick();
            }
        }
        shared.wake_waiters();
    });
}

/// A key fetch answered (or failed): the key set is published; waiting streams are woken.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    _config_envoy: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    callout: u64,
    result: envoy_dynamic_module_type_http_callout_result,
    headers: *mut envoy_dynamic_module_type_envoy_http_header,
    headers_size: usize,
    chunks: *mut envoy_dynamic_module_type_envoy_buffer,
    chunks_size: usize,
) {
    guarded("a key fetch's answer", || {
        let shared = &config(ptr).shared;
        let Some(main) = main_root(shared) else {
            return;
        };
        let ok = result == CALLOUT_SUCCESS && !headers.is_null();
        // SAFETY: Envoy passes `headers_size` headers and `chunks_size` chunks valid for this
        // hook (or nulls when the call failed).
        let (headers, chunks) = unsafe {
            (
                if ok {
                    std::slice::from_raw_parts(headers, headers_size)
                } else {
                    &[]
                },
                if chunks.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(chunks, chunks_size)
                },
            )
        };
        let status = headers.iter().find_map(|h| {
            let key = envoy_dynamic_module_type_envoy_buffer {
                ptr: h.key_ptr,
                length: h.key_length,
            };
            let value = envoy_dynamic_module_type_envoy_buffer {
                ptr: h.value_ptr,
                length: h.value_length,
            };
            // SAFETY: Envoy filled these for this hook.
            let (k, v) = unsafe { (key.bytes(), value.bytes()) };
            (k == b":status").then(|| String::from_utf8_lossy(v).into_owned())
        });
        // SAFETY: as above.
        let body: Vec<u8> = chunks
            .iter()
            .flat_map(|c| unsafe { c.bytes() }.iter().copied())
            .collect();
        let answered = status.is_some();
        let size = body.len();
        let Some(token) = main.host.deliver(callout, status, body) else {
            main.host.delivered();
            return;
        };
        if let Ok(mut root) = main.root.try_borrow_mut() {
            root.on_http_call_response(token, usize::from(answered), size);
        }
        main.host.delivered();
        shared.wake_waiters();
    });
}

/// pci-guard has no per-route config: the policy matches routes itself (or reads the route's
/// `pci_guard` metadata).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_new(
    _name: envoy_dynamic_module_type_envoy_buffer,
    _config: envoy_dynamic_module_type_envoy_buffer,
) -> envoy_dynamic_module_type_http_filter_per_route_config_module_ptr {
    eprintln!("pci-guard: no per-route config: name the policy route in the route's metadata (filter_metadata.pci_guard.route)");
    std::ptr::null()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_destroy(
    _ptr: envoy_dynamic_module_type_http_filter_per_route_config_module_ptr,
) {
}

// ------------------------------------ streams ------------------------------------

/// A stream on this worker: the worker's root for the config (made on its first stream)
/// creates it. Null (Envoy closes the stream) if that fails.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
) -> envoy_dynamic_module_type_http_filter_module_ptr {
    guarded("a new stream", || {
        let shared = &config(ptr).shared;
        let worker = WORKERS.with(|w| {
            let mut w = w.borrow_mut();
            if let Some(r) = w.get(&shared.id) {
                return r.clone();
            }
            w.retain(|_, r| r.host.shared().alive());
            let r = Rc::new(rooted(shared, false, false));
            w.insert(shared.id, r.clone());
            r
        });
        let id = worker.next_id.get();
        worker.next_id.set(id.wrapping_add(1).max(1));
        worker.host.register(id, envoy);
        let stream = worker.root.borrow().create_stream(id);
        let filter = Filter {
            worker,
            stream: RefCell::new(stream),
            id,
            envoy,
            failed: Cell::new(None),
        };
        Box::into_raw(Box::new(filter)) as *const c_void
    })
    .unwrap_or(std::ptr::null())
}

fn filter<'a>(ptr: envoy_dynamic_module_type_http_filter_module_ptr) -> &'a Filter {
    // SAFETY: Envoy hands back the pointer `filter_new` returned, until `filter_destroy`.
    // Only shared references are made: a hook can re-enter another for the same filter.
    unsafe { &*ptr.cast::<Filter>() }
}

impl Filter {
    /// Runs a stream callback of the plugin, then what it deferred; a panic fails closed.
    fn run<T>(
        &self,
        what: &str,
        phase: Failed,
        fail: T,
        f: impl FnOnce(&mut Stream<DynamicHost>) -> T,
    ) -> T {
        let host = &self.worker.host;
        host.enter(self.envoy);
        let out = guarded(what, || f(&mut self.stream.borrow_mut()));
        let Some(out) = out else {
            self.fail(phase);
            return fail;
        };
        host.run_deferred();
        out
    }

    /// Fails the stream closed after a panic, and retires the worker's root.
    fn fail(&self, phase: Failed) {
        self.failed.set(Some(phase));
        let host = &self.worker.host;
        host.enter(self.envoy);
        let shared_id = host.shared().id;
        WORKERS.with(|w| {
            if let Ok(mut w) = w.try_borrow_mut() {
                w.remove(&shared_id);
            }
        });
        match phase {
            Failed::Request => {
                host.send_http_response(
                    503,
                    &[("content-type", "text/plain")],
                    b"pci-guard: internal error\n",
                );
            }
            Failed::Response => {
                self.drain();
                host.reset_response();
            }
        }
        host.run_deferred();
    }

    /// Empties what Envoy holds of the response for this filter: nothing unscanned goes out.
    fn drain(&self) {
        let Some(cb) = abi::cb() else { return };
        for part in [BODY_BUFFERED_RESPONSE, BODY_RECEIVED_RESPONSE] {
            // SAFETY: `envoy` is this live filter.
            unsafe {
                (cb.envoy_dynamic_module_callback_http_drain_body)(self.envoy, part, usize::MAX)
            };
        }
    }
}

fn headers_status(a: Action) -> u32 {
    match a {
        Action::Continue => STATUS_CONTINUE,
        Action::Pause => HEADERS_STOP_ALL,
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_request_headers_status {
    let f = filter(ptr);
    headers_status(
        f.run("request headers", Failed::Request, Action::Pause, |s| {
            s.on_request_headers()
        }),
    )
}

/// Request bodies go on untouched (a paused request's body waits in Envoy with it).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_request_body_status {
    STATUS_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) -> envoy_dynamic_module_type_on_http_filter_request_trailers_status {
    STATUS_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_response_headers_status {
    let f = filter(ptr);
    if f.failed.get().is_some() {
        // Our own 503 (the stream failed before its response): it goes as it is.
        return STATUS_CONTINUE;
    }
    headers_status(
        f.run("response headers", Failed::Request, Action::Pause, |s| {
            s.on_response_headers(end_of_stream)
        }),
    )
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_response_body_status {
    let f = filter(ptr);
    match f.failed.get() {
        Some(Failed::Request) => return STATUS_CONTINUE,
        Some(Failed::Response) => {
            f.drain();
            return BODY_STOP_NO_BUFFER;
        }
        None => {}
    }
    f.worker.host.enter(f.envoy);
    let size = f.worker.host.response_body_size();
    match f.run("a response body", Failed::Response, Action::Pause, |s| {
        s.on_response_body(size, end_of_stream)
    }) {
        _ if f.failed.get().is_some() => BODY_STOP_NO_BUFFER,
        Action::Continue => STATUS_CONTINUE,
        Action::Pause => BODY_STOP_AND_BUFFER,
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) -> envoy_dynamic_module_type_on_http_filter_response_trailers_status {
    let f = filter(ptr);
    match f.failed.get() {
        Some(Failed::Request) => return STATUS_CONTINUE,
        Some(Failed::Response) => return TRAILERS_STOP,
        None => {}
    }
    match f.run("response trailers", Failed::Response, Action::Pause, |s| {
        s.on_response_trailers()
    }) {
        Action::Continue => STATUS_CONTINUE,
        Action::Pause => TRAILERS_STOP,
    }
}

/// The stream ends, before Envoy's access loggers run: the audit event goes to filter state;
/// the worker's root ticks (counters to Envoy, key sets adopted, waits ended).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
    let f = filter(ptr);
    f.run("the audit event", Failed::Response, (), |s| s.on_log());
    tick(f);
}

/// A waiting stream woken by the main thread (keys came, or a tick): its root ticks here.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    event: u64,
) {
    let f = filter(ptr);
    if event == WAKE {
        tick(f);
    }
}

fn tick(f: &Filter) {
    let host = &f.worker.host;
    host.enter(f.envoy);
    let ticked = guarded("a worker's tick", || {
        if let Ok(mut root) = f.worker.root.try_borrow_mut() {
            root.on_tick();
        }
    });
    if ticked.is_none() {
        host.log(
            Level::Error,
            "pci-guard: a worker's root failed: it is replaced",
        );
        let id = host.shared().id;
        WORKERS.with(|w| {
            if let Ok(mut w) = w.try_borrow_mut() {
                w.remove(&id);
            }
        });
    }
    host.run_deferred();
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
    let _ = guarded("a stream's end", || {
        // SAFETY: the pointer `filter_new` returned, handed back once to be freed.
        let f = unsafe { Box::from_raw(ptr.cast_mut().cast::<Filter>()) };
        f.worker.host.forget(f.id, f.envoy);
    });
}

// Hooks Envoy requires that pci-guard does not use: per-stream callouts and streams, and the
// downstream watermarks.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _callout: u64,
    _result: envoy_dynamic_module_type_http_callout_result,
    _headers: *mut envoy_dynamic_module_type_envoy_http_header,
    _headers_size: usize,
    _chunks: *mut envoy_dynamic_module_type_envoy_buffer,
    _chunks_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream: u64,
    _headers: *mut envoy_dynamic_module_type_envoy_http_header,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream: u64,
    _data: *const envoy_dynamic_module_type_envoy_buffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream: u64,
    _trailers: *mut envoy_dynamic_module_type_envoy_http_header,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream: u64,
    _reason: envoy_dynamic_module_type_http_stream_reset_reason,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
}
