//! Remote key sets: fetched from the root context on a timer, once per process per interval.
//!
//! Every VM ticks. Before fetching, a VM takes a lease in shared data with compare-and-swap,
//! so only one VM calls the IdP; the winner stores the key set and its fetch time in shared
//! data, and every VM adopts keys newer than its own on its next tick. A `kid` no key has asks
//! for an early refetch (rate-limited by the key store). Fetches never block a worker: they
//! are `dispatch_http_call`s answered in `on_http_call_response`.

use super::host::{Host, Level};
use super::vm::Vm;
use pci_guard_core::identity::KeySource;
use std::collections::HashMap;
use std::time::Duration;

pub struct Fetcher {
    /// Call token → provider index.
    in_flight: HashMap<u32, usize>,
}

fn jwks_key(digest: &str, provider: &str) -> String {
    format!("pci_guard/jwks/{digest}/{provider}")
}

fn lease_key(digest: &str, provider: &str) -> String {
    format!("pci_guard/jwks_lease/{digest}/{provider}")
}

impl Fetcher {
    pub fn new() -> Self {
        Self {
            in_flight: HashMap::new(),
        }
    }

    /// One tick: adopt keys other VMs fetched; start fetches that are due.
    pub fn tick(&mut self, host: &impl Host, vm: &mut Vm, now: u64) {
        let policy = vm.policy.clone();
        for (i, p) in policy.providers.iter().enumerate() {
            let KeySource::Remote(remote) = &p.keys else {
                continue;
            };
            let Some(store) = vm.keyring.store_mut(i) else {
                continue;
            };
            if let Ok((Some(bytes), _)) = host.shared_data(&jwks_key(&policy.digest, &p.name)) {
                if let Some((at, body)) = bytes.split_first_chunk::<8>() {
                    let fetched_at = u64::from_le_bytes(*at);
                    if store.fetched_at().is_none_or(|mine| fetched_at > mine) {
                        let _ = store.adopt(body, fetched_at);
                    }
                }
            }
            if self.in_flight.values().any(|&j| j == i) || !store.should_fetch(now) {
                continue;
            }
            if !take_lease(
                host,
                &lease_key(&policy.digest, &p.name),
                now,
                remote.timeout_ms,
            ) {
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
                    release_lease(host, &lease_key(&policy.digest, &p.name));
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
                    let mut value = now.to_le_bytes().to_vec();
                    value.extend_from_slice(&body);
                    host.set_shared_data(&jwks_key(&policy.digest, &p.name), &value, None);
                    Ok(())
                }
                Err(e) => Err(format!("the key set is unusable: {e}")),
            },
            (Some(s), _) => {
                store.on_fetch_err(now);
                Err(format!("status {s}"))
            }
            (None, _) => {
                store.on_fetch_err(now);
                Err("no response (timeout or connection failure)".to_string())
            }
        };
        if let Err(why) = &outcome {
            host.log(Level::Warn, &format!("pci-guard: provider {:?}: JWKS fetch failed: {why}; keeping the last good keys while they are fresh enough", p.name));
        }
        release_lease(host, &lease_key(&policy.digest, &p.name));
        Some((p.name.clone(), outcome))
    }
}

/// Takes the fetch lease for `timeout_ms` (plus a second) if nobody holds a live one.
fn take_lease(host: &impl Host, key: &str, now: u64, timeout_ms: u64) -> bool {
    let (current, cas) = match host.shared_data(key) {
        Ok(v) => v,
        Err(_) => return false,
    };
    let held_until = current
        .as_deref()
        .and_then(|b| b.first_chunk::<8>())
        .map(|b| u64::from_le_bytes(*b))
        .unwrap_or(0);
    if held_until > now {
        return false;
    }
    let until = now + timeout_ms.div_ceil(1000) + 1;
    host.set_shared_data(key, &until.to_le_bytes(), cas)
}

fn release_lease(host: &impl Host, key: &str) {
    host.set_shared_data(key, &0u64.to_le_bytes(), None);
}
