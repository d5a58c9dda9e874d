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

mod config;
mod stream;

use crate::abi::{self, *};
use crate::host::DynamicHost;
use crate::shared::{lock, EnvoyPtr, ProcessKeys, Shared, TICK, WAKE};
use pci_guard_plugin::vm_audit::VmAudit;
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
    /// The process's key-set generation this root last adopted ([`crate::shared::keys_published`]).
    keys_seen: Cell<u64>,
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

impl Rooted {
    /// Whether this is still its worker's root for the config (not one retired after a
    /// panic, which streams begun under it still hold).
    fn current(&self) -> bool {
        let id = self.host.shared().id;
        WORKERS.with(|w| {
            w.try_borrow()
                .ok()
                .and_then(|w| w.get(&id).map(|r| std::ptr::eq(Rc::as_ptr(r), self)))
                .unwrap_or(false)
        })
    }

    /// Before a stream is judged: a worker root ticks only when its streams end, so after an
    /// idle spell its keys may be older than the ones the fetcher has published since (and
    /// past `max_stale`): it adopts them first. One atomic load per stream when nothing is new.
    fn adopt_new_keys(&self) {
        let published = crate::shared::keys_published();
        if self.keys_seen.replace(published) == published {
            return;
        }
        let ticked = guarded("a worker's tick", || {
            if let Ok(mut root) = self.root.try_borrow_mut() {
                root.on_tick();
            }
        });
        if ticked.is_none() {
            self.retire();
        }
        self.host.run_deferred();
    }

    /// Drops this worker's root after a panic (the next stream starts a fresh one, as a wasm
    /// VM is reloaded); its chain stops here, a failed control the next root writes.
    fn retire(&self) {
        let id = self.host.shared().id;
        WORKERS.with(|w| {
            if let Ok(mut w) = w.try_borrow_mut() {
                w.remove(&id);
            }
        });
        let _ = guarded("a failed root's record", || {
            if let Ok(root) = self.root.try_borrow() {
                root.on_failed();
            }
        });
    }
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
        ProcessKeys::fetcher()
    } else {
        ProcessKeys::adopter()
    };
    // No self-request reaches a worker's own root here (no timer per worker, no callout its
    // worker answers): the audit's records go out with the next request's line.
    let audit = Rc::new(RefCell::new(VmAudit::carried(host.now_ms())));
    let mut root = Root::new(host.clone(), Rc::new(share), audit);
    root.on_vm_start();
    root.on_configure();
    Rooted {
        host,
        root: RefCell::new(root),
        next_id: Cell::new(1),
        keys_seen: Cell::new(crate::shared::keys_published()),
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

/// The config Envoy hands a hook.
fn config<'a>(ptr: envoy_dynamic_module_type_http_filter_config_module_ptr) -> &'a ConfigModule {
    // SAFETY: Envoy hands back the pointer `config_new` returned, until `config_destroy`.
    unsafe { &*ptr.cast::<ConfigModule>() }
}
