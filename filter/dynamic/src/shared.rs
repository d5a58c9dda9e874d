//! What one filter config shares across Envoy's threads: the policy bytes, the counters
//! defined on the main thread, the schedulers of requests waiting for first keys, and the main
//! thread's timer. Remote key sets are the process's ([`ProcessKeys`]): every config with the
//! same policy (one listener's and another's, or the internal listener's) adopts what one
//! fetcher published.
//!
//! Envoy creates a filter config on the main thread and hands its pointer to every worker;
//! only this `Sync` part is reachable from there. The roots themselves (which are not `Sync`)
//! live in thread-locals: one on the main thread that fetches keys, one per worker that serves
//! streams (`hooks/`).

#![allow(unsafe_code)]

use crate::abi;
use pci_guard_plugin::keys::KeyShare;
use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub mod data;

/// A pointer Envoy gave us that other threads may hold (see each use for why that is sound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvoyPtr(pub *mut c_void);

// SAFETY: the pointers wrapped here are Envoy objects whose callbacks are documented as
// callable from any thread (scheduler commit, config-level counters), or that other threads
// only carry and never dereference.
unsafe impl Send for EnvoyPtr {}
// SAFETY: as for `Send`: shared references only carry the address.
unsafe impl Sync for EnvoyPtr {}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct Shared {
    /// Unique for the life of the process (thread-local roots are keyed by it).
    pub id: u64,
    /// Envoy's `DynamicModuleHttpFilterConfig`.
    pub config_envoy: EnvoyPtr,
    /// The plugin configuration: the policy JSON.
    pub config: Vec<u8>,
    /// False once Envoy destroyed the config: no config-level callback may be made after.
    pub alive: AtomicBool,
    /// Counters by name, defined on the main thread when the config loads.
    pub counters: Mutex<HashMap<String, usize>>,
    /// Gauges by name, likewise.
    pub gauges: Mutex<HashMap<String, usize>>,
    /// Schedulers of streams waiting for first keys, by the stream's filter address.
    pub waiters: Mutex<Vec<(usize, EnvoyPtr)>>,
    /// The main thread's scheduler, committed to by the ticker thread.
    pub scheduler: Mutex<Option<EnvoyPtr>>,
}

/// Locks `m`; a lock poisoned by a panic elsewhere still guards consistent data here (every
/// critical section below is a single insert, remove or read).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(config_envoy: EnvoyPtr, config: Vec<u8>) -> Arc<Self> {
        Arc::new(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config_envoy,
            config,
            alive: AtomicBool::new(true),
            counters: Mutex::default(),
            gauges: Mutex::default(),
            waiters: Mutex::default(),
            scheduler: Mutex::default(),
        })
    }

    pub fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Wakes every waiting stream on its worker (`on_http_filter_scheduled`), where its root
    /// adopts new keys and ends the waits that are over.
    pub fn wake_waiters(&self) {
        let Some(cb) = abi::cb() else { return };
        for (_, s) in lock(&self.waiters).iter() {
            // SAFETY: the scheduler is live while it is listed: a stream removes it (under this
            // lock) before deleting it. Commit may be called from any thread.
            unsafe { (cb.envoy_dynamic_module_callback_http_filter_scheduler_commit)(s.0, WAKE) };
        }
    }

    /// Ticks the main thread's root (`on_http_filter_config_scheduled`).
    pub fn tick_main(&self) -> bool {
        let Some(cb) = abi::cb() else { return false };
        let Some(s) = *lock(&self.scheduler) else {
            return false;
        };
        // SAFETY: listed schedulers are live (deleted under this lock); commit may be called
        // from any thread.
        unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_config_scheduler_commit)(s.0, TICK)
        };
        true
    }
}

/// Event ids: the main thread's tick, a waiting stream's wake-up.
pub const TICK: u64 = 1;
pub const WAKE: u64 = 2;

/// The process's key sets, as the fetchers published them, by policy digest and provider.
static BOARD: std::sync::LazyLock<Mutex<Board>> = std::sync::LazyLock::new(Mutex::default);

fn board() -> MutexGuard<'static, Board> {
    lock(&BOARD)
}

/// How many key sets the fetchers have published: a worker root that saw fewer adopts the new
/// ones before it judges its next stream.
static PUBLISHED: AtomicU64 = AtomicU64::new(0);

pub fn keys_published() -> u64 {
    PUBLISHED.load(Ordering::Acquire)
}

/// The key sets of the process, as its fetchers published them.
#[derive(Default)]
pub struct Board {
    /// (policy digest, provider) → the key set fetched last.
    sets: HashMap<(String, String), Published>,
    /// Early refetches worker roots asked for (a token's `kid` was unknown).
    wanted: HashSet<(String, String)>,
    /// Claims in force, until (host seconds).
    claimed: HashMap<(String, String), u64>,
}

/// A key set as fetched: when (host seconds) and the JWKS bytes.
struct Published {
    at: u64,
    jwks: Arc<[u8]>,
}

fn k(digest: &str, provider: &str) -> (String, String) {
    (digest.to_string(), provider.to_string())
}

/// [`KeyShare`] for the dynamic module: the configs' main-thread roots fetch, one at a time per
/// policy and provider across the process (a claim, as proxy-wasm's lease); worker roots adopt
/// from process memory and pass refetch wishes on.
pub struct ProcessKeys {
    fetcher: bool,
}

impl ProcessKeys {
    /// The main thread's root: fetches for the whole process.
    pub fn fetcher() -> Self {
        Self { fetcher: true }
    }

    /// A worker's root: adopts only.
    pub fn adopter() -> Self {
        Self { fetcher: false }
    }
}

impl KeyShare for ProcessKeys {
    fn newer(&self, digest: &str, provider: &str, mine: Option<u64>) -> Option<(u64, Vec<u8>)> {
        let board = board();
        let p = board.sets.get(&k(digest, provider))?;
        mine.is_none_or(|m| p.at > m)
            .then(|| (p.at, p.jwks.to_vec()))
    }

    fn claim(&self, digest: &str, provider: &str, now: u64, timeout_ms: u64) -> bool {
        let mut board = board();
        if !self.fetcher {
            board.wanted.insert(k(digest, provider));
            return false;
        }
        let key = k(digest, provider);
        if board.claimed.get(&key).is_some_and(|&until| until > now) {
            return false;
        }
        board
            .claimed
            .insert(key, now + timeout_ms.div_ceil(1000) + 1);
        true
    }

    fn publish(&self, digest: &str, provider: &str, fetched_at: u64, jwks: &[u8]) {
        let mut board = board();
        let key = k(digest, provider);
        board.claimed.remove(&key);
        // A root adopts only a set fetched strictly later than its own, in whole seconds: a
        // refetch within the second of the set before it (a worker's unknown `kid` right
        // after a fetch) is dated a second later, or no worker would ever take it (workers
        // cannot fetch, and the fetcher's refetches are rate-limited).
        let at = match board.sets.get(&key) {
            Some(p) => fetched_at.max(p.at.saturating_add(1)),
            None => fetched_at,
        };
        board.sets.insert(
            key,
            Published {
                at,
                jwks: Arc::from(jwks),
            },
        );
        PUBLISHED.fetch_add(1, Ordering::Release);
    }

    fn release(&self, digest: &str, provider: &str) {
        board().claimed.remove(&k(digest, provider));
    }

    fn refetch_wanted(&self, digest: &str, provider: &str) -> bool {
        self.fetcher && board().wanted.remove(&k(digest, provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fetcher_claims_and_workers_adopt_what_it_published() {
        let (fetcher, worker) = (ProcessKeys::fetcher(), ProcessKeys::adopter());
        assert!(
            !worker.claim("d1", "idp", 100, 1000),
            "a worker never fetches"
        );
        assert!(fetcher.claim("d1", "idp", 100, 1000));
        assert!(
            !fetcher.claim("d1", "idp", 101, 1000),
            "one fetch at a time"
        );
        assert_eq!(worker.newer("d1", "idp", None), None);
        fetcher.publish("d1", "idp", 100, b"{\"keys\":[]}");
        assert_eq!(
            worker.newer("d1", "idp", None),
            Some((100, b"{\"keys\":[]}".to_vec()))
        );
        assert_eq!(worker.newer("d1", "idp", Some(100)), None, "not newer");
        assert_eq!(worker.newer("other", "idp", None), None, "another policy");
        assert!(
            fetcher.claim("d1", "idp", 102, 1000),
            "publish ended the claim"
        );
    }

    #[test]
    fn a_refetch_within_the_same_second_is_still_newer_for_the_workers() {
        let (fetcher, worker) = (ProcessKeys::fetcher(), ProcessKeys::adopter());
        fetcher.publish("d4", "idp", 100, b"old");
        let (at, _) = worker.newer("d4", "idp", None).unwrap();
        fetcher.publish("d4", "idp", 100, b"new");
        assert_eq!(
            worker.newer("d4", "idp", Some(at)),
            Some((101, b"new".to_vec())),
            "the rotated set must reach a worker that holds the one before"
        );
    }

    #[test]
    fn a_claim_that_is_never_answered_expires() {
        let f = ProcessKeys::fetcher();
        assert!(f.claim("d2", "idp", 100, 1000));
        assert!(!f.claim("d2", "idp", 101, 1000));
        assert!(f.claim("d2", "idp", 102, 1000), "1 s timeout + 1 s");
    }

    #[test]
    fn a_worker_wish_for_a_refetch_reaches_the_fetcher_once() {
        let (fetcher, worker) = (ProcessKeys::fetcher(), ProcessKeys::adopter());
        assert!(!fetcher.refetch_wanted("d3", "idp"));
        worker.claim("d3", "idp", 100, 1000);
        assert!(
            !worker.refetch_wanted("d3", "idp"),
            "only the fetcher reads wishes"
        );
        assert!(fetcher.refetch_wanted("d3", "idp"));
        assert!(!fetcher.refetch_wanted("d3", "idp"), "taken");
    }
}
