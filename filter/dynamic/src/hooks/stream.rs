//! The stream hooks, on Envoy's workers: each hands over to the plugin's `Stream` (or the
//! worker's root, to tick) and maps its answer to Envoy's status.

#![allow(unsafe_code)]

use super::*;
use crate::host::Side;

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
        worker.adopt_new_keys();
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
        self.worker.retire();
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
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_request_headers_status {
    let f = filter(ptr);
    headers_status(
        f.run("request headers", Failed::Request, Action::Pause, |s| {
            s.on_request_headers(end_of_stream)
        }),
    )
}

/// A request body: passed on untouched, unless the decision waits for it (operations read
/// from the body): then Envoy buffers it until the plugin has judged.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_request_body_status {
    let f = filter(ptr);
    if f.failed.get().is_some() {
        return BODY_STOP_NO_BUFFER;
    }
    f.worker.host.enter(f.envoy);
    let size = f.worker.host.body_size(Side::Request);
    match f.run("a request body", Failed::Request, Action::Pause, |s| {
        s.on_request_body(size, end_of_stream)
    }) {
        _ if f.failed.get().is_some() => BODY_STOP_NO_BUFFER,
        Action::Continue => STATUS_CONTINUE,
        Action::Pause => BODY_STOP_AND_BUFFER,
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    _envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) -> envoy_dynamic_module_type_on_http_filter_request_trailers_status {
    let f = filter(ptr);
    if f.failed.get().is_some() {
        return TRAILERS_STOP;
    }
    match f.run("request trailers", Failed::Request, Action::Pause, |s| {
        s.on_request_trailers()
    }) {
        _ if f.failed.get().is_some() => TRAILERS_STOP,
        Action::Continue => STATUS_CONTINUE,
        Action::Pause => TRAILERS_STOP,
    }
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
    let size = f.worker.host.body_size(Side::Response);
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
    // A retired root ticks no more: it would take the process's failed controls (its own
    // crash among them) into a chain that is never written again.
    if !f.worker.current() {
        return;
    }
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
        f.worker.retire();
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
