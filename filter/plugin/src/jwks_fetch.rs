//! Remote key sets: fetched from the root context on a timer, once per process per interval.
//!
//! On every tick a root adopts key sets other roots of the process fetched and starts the
//! fetches that are due and that it has claimed; [`super::keys`] says how roots share them
//! (a shared-data lease in wasm, one fetcher per process in the dynamic module). A `kid` no
//! key has asks for an early refetch (rate-limited by the key store). Fetches never block a
//! worker: they are HTTP calls answered in [`Fetcher::on_response`].

use super::host::{Host, Level};
use super::keys::KeyShare;
use super::vm::Vm;
use pci_guard_core::identity::KeySource;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

pub struct Fetcher {
    share: Rc<dyn KeyShare>,
    /// Call token → provider index.
    in_flight: HashMap<u32, usize>,
}

impl Fetcher {
    pub fn new(share: Rc<dyn KeyShare>) -> Self {
        Self {
            share,
            in_flight: HashMap::new(),
        }
    }

    /// One tick: adopt keys other roots fetched; start fetches that are due.
    pub fn tick(&mut self, host: &impl Host, vm: &mut Vm, now: u64) {
        let policy = vm.policy.clone();
        let digest = policy.digest.as_str();
        for (i, p) in policy.providers.iter().enumerate() {
            let KeySource::Remote(remote) = &p.keys else {
                continue;
            };
            let Some(store) = vm.keyring.store_mut(i) else {
                continue;
            };
            if let Some((fetched_at, body)) = self.share.newer(digest, &p.name, store.fetched_at())
            {
                let _ = store.adopt(&body, fetched_at);
            }
            if self.share.refetch_wanted(digest, &p.name) {
                store.on_unknown_kid(now);
            }
            if self.in_flight.values().any(|&j| j == i) || !store.should_fetch(now) {
                continue;
            }
            if !self.share.claim(digest, &p.name, now, remote.timeout_ms) {
                continue;
            }
            store.on_fetch_start(now);
            let headers = [
                (":method", "GET"),
                (":path", remote.path.as_str()),
                (":authority", remote.authority.as_str()),
                ("accept", "application/json"),
            ];
            let timeout = Duration::from_millis(remote.timeout_ms);
            match host.dispatch_http_call(&remote.cluster, &headers, timeout) {
                Some(token) => {
                    self.in_flight.insert(token, i);
                }
                None => {
                    host.log(
                        Level::Warn,
                        &format!(
                            "pci-guard: provider {:?}: cannot call cluster {:?} for its JWKS",
                            p.name, remote.cluster
                        ),
                    );
                    store.on_fetch_err(now);
                    self.share.release(digest, &p.name);
                }
            }
        }
    }

    /// The answer to a fetch: `answer` is its body size, or `None` when the call failed
    /// (timeout, reset): then it has no headers to read, and asking for them would fail.
    /// Returns the provider and how the fetch went (why it failed), if the call was a fetch.
    pub fn on_response(
        &mut self,
        host: &impl Host,
        vm: &mut Vm,
        token: u32,
        answer: Option<usize>,
        now: u64,
    ) -> Option<(String, Result<(), String>)> {
        let i = self.in_flight.remove(&token)?;
        let policy = vm.policy.clone();
        let p = policy.providers.get(i)?;
        let store = vm.keyring.store_mut(i)?;
        let (status, body) = match answer {
            Some(size) => (host.http_call_status(), host.http_call_body(size)),
            None => (None, None),
        };
        let outcome = match (status.as_deref(), body) {
            (Some("200"), Some(body)) => match store.on_fetch_ok(&body, now) {
                Ok(()) => {
                    // Publishing ends the claim too.
                    self.share.publish(&policy.digest, &p.name, now, &body);
                    return Some((p.name.clone(), Ok(())));
                }
                Err(e) => format!("the key set is unusable: {e}"),
            },
            (Some(s), _) => {
                store.on_fetch_err(now);
                format!("status {s}")
            }
            (None, _) => {
                store.on_fetch_err(now);
                "no response (timeout or connection failure)".to_string()
            }
        };
        host.log(Level::Warn, &format!("pci-guard: provider {:?}: JWKS fetch failed: {outcome}; keeping the last good keys while they are fresh enough", p.name));
        self.share.release(&policy.digest, &p.name);
        Some((p.name.clone(), Err(outcome)))
    }
}
