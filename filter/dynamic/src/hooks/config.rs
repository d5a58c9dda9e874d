//! The filter config's hooks, on Envoy's main thread: the policy loads, the key fetcher ticks
//! and gets its answers.

#![allow(unsafe_code)]

use super::*;

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
        // Every header, not only `:status`: the revocation list's `etag` is sent back on the
        // next poll (`If-None-Match`), which the service answers 304 while the list holds.
        // SAFETY: Envoy filled these for this hook.
        let headers: Vec<(String, String)> = headers.iter().map(|h| unsafe { h.pair() }).collect();
        // SAFETY: as above.
        let body: Vec<u8> = chunks
            .iter()
            .flat_map(|c| unsafe { c.bytes() }.iter().copied())
            .collect();
        let answered = headers.iter().any(|(k, _)| k == ":status");
        let size = body.len();
        let Some(token) = main.host.deliver(callout, headers, body) else {
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
