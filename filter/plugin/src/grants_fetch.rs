//! The approvals service's signing keys and revocation list, polled on the tick, once per
//! process per interval, as [`super::jwks_fetch`] does for providers and through the same
//! [`KeyShare`]: a shared-data lease in proxy-wasm, the one main-thread fetcher of the dynamic
//! module. Every root adopts the newest answer with the time it was taken, so all workers
//! judge grants against the same list of the same age. The revocation list is polled with
//! `If-None-Match`: a 304 refreshes its age (published again with the body held).

use super::host::{Host, Level};
use super::keys::KeyShare;
use super::metrics::{Fetch, Metrics};
use super::vm::Vm;
use pci_guard_core::audit::control::ControlFailure;
use pci_guard_core::audit::record::ControlRef;
use pci_guard_core::audit::rfc3339_millis;
use pci_guard_core::authz::grant::GrantState;
use pci_guard_core::identity::{KeySource, RemoteJwks};
use pci_guard_core::policy::{GRANT_KEYS_NAME, GRANT_REVOCATIONS_NAME};
use std::rc::Rc;
use std::time::Duration;

/// What a call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    Keys,
    Revocations,
}

impl Doc {
    /// The name in the key share, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Doc::Keys => GRANT_KEYS_NAME,
            Doc::Revocations => GRANT_REVOCATIONS_NAME,
        }
    }
}

pub struct GrantsFetcher {
    share: Rc<dyn KeyShare>,
    keys: Option<u32>,
    revocations: Option<u32>,
    /// The first tick (Unix s): a list never fetched is stale `max_stale` after it.
    since: Option<u64>,
    /// The list age already reported as stale (its `fetched_at`; 0: never fetched).
    reported: Option<u64>,
}

impl GrantsFetcher {
    pub fn new(share: Rc<dyn KeyShare>) -> Self {
        Self {
            share,
            keys: None,
            revocations: None,
            since: None,
            reported: None,
        }
    }

    /// One tick: adopt what other VMs fetched; start the polls that are due. Returns the
    /// control failure to post (its key and record) when the revocation list has just gone
    /// past `max_stale`: from then on no grant from the header counts.
    pub fn tick(
        &mut self,
        host: &impl Host,
        vm: &mut Vm,
        now: u64,
    ) -> Option<(String, ControlRef)> {
        let digest = vm.policy.digest.clone();
        let g = vm.grants.as_mut()?;
        let since = *self.since.get_or_insert(now);
        let settings = g.settings.clone();
        if let KeySource::Remote(remote) = &settings.keys {
            let name = Doc::Keys.name();
            if let Some((at, body)) = self.share.newer(&digest, name, g.keys.fetched_at()) {
                let _ = g.keys.adopt(&body, at);
            }
            if self.share.refetch_wanted(&digest, name) {
                g.keys.on_unknown_kid(now);
            }
            if self.keys.is_none() && g.keys.should_fetch(now) {
                match self.start(host, &digest, Doc::Keys, remote, None, now) {
                    Started::Call(t) => {
                        self.keys = Some(t);
                        g.keys.on_fetch_start(now);
                    }
                    Started::Failed => {
                        g.keys.on_fetch_start(now);
                        g.keys.on_fetch_err(now);
                    }
                    Started::NotMine => {}
                }
            }
        }
        let name = Doc::Revocations.name();
        if let Some((at, body)) = self.share.newer(&digest, name, g.revocations.fetched_at()) {
            let _ = g.revocations.adopt(&body, at);
        }
        if self.revocations.is_none() && g.revocations.should_fetch(now) {
            let etag = g.revocations.etag().map(str::to_owned);
            let r = &settings.revocations;
            match self.start(host, &digest, Doc::Revocations, r, etag.as_deref(), now) {
                Started::Call(t) => {
                    self.revocations = Some(t);
                    g.revocations.on_fetch_start(now);
                }
                Started::Failed => {
                    g.revocations.on_fetch_start(now);
                    g.revocations.on_fetch_err(now);
                }
                Started::NotMine => {}
            }
        }
        self.stale(g, since, now)
    }

    /// The revocation list's control failure, once per copy that went stale.
    fn stale(&mut self, g: &GrantState, since: u64, now: u64) -> Option<(String, ControlRef)> {
        let max_stale = (g.settings.revocations.max_stale_ms / 1000).max(1);
        let at = g.revocations.fetched_at();
        let from = at.unwrap_or(since);
        if g.revocations.fresh(now) || now < from.saturating_add(max_stale) {
            return None;
        }
        let copy = at.unwrap_or(0);
        if self.reported == Some(copy) {
            return None;
        }
        self.reported = Some(copy);
        let detail = match at {
            Some(t) => format!(
                "the grant revocation list fetched at {} is older than max_stale ({max_stale} s): grants from the header are refused until a poll succeeds",
                rfc3339_millis(t.saturating_mul(1000))
            ),
            None => format!(
                "no grant revocation list after {max_stale} s (max_stale): grants from the header are refused until a poll succeeds"
            ),
        };
        let c = ControlRef {
            reason: ControlFailure::RevocationListStale,
            detail,
            provider: Some(Doc::Revocations.name().to_string()),
            request_id: None,
            count: 1,
        };
        Some((format!("revocation_list_stale/{copy}"), c))
    }

    /// The answer to a call: taken, counted, logged if it failed. False when the call was
    /// not one of ours. `answer` is the body size, `None` when the call failed (no headers).
    pub fn on_response(
        &mut self,
        host: &impl Host,
        metrics: Option<&Metrics>,
        vm: &mut Vm,
        token: u32,
        answer: Option<usize>,
        now: u64,
    ) -> bool {
        let doc = if self.keys == Some(token) {
            self.keys = None;
            Doc::Keys
        } else if self.revocations == Some(token) {
            self.revocations = None;
            Doc::Revocations
        } else {
            return false;
        };
        let digest = vm.policy.digest.clone();
        let Some(g) = vm.grants.as_mut() else {
            return true;
        };
        let status = answer.and_then(|_| host.http_call_status());
        let outcome = match (doc, status.as_deref()) {
            (_, None) => Err("no response (timeout or connection failure)".to_string()),
            (Doc::Revocations, Some("304")) => {
                g.revocations.on_not_modified(now);
                // Publishing ends the claim too.
                let body = g.revocations.body().to_vec();
                self.share.publish(&digest, doc.name(), now, &body);
                Ok(())
            }
            (_, Some("200")) => {
                let body = answer
                    .and_then(|n| host.http_call_body(n))
                    .unwrap_or_default();
                took(host, g, doc, &body, now)
                    .map(|()| self.share.publish(&digest, doc.name(), now, &body))
            }
            (_, Some(s)) => Err(format!("status {s}")),
        };
        if let Err(why) = &outcome {
            match doc {
                Doc::Keys => g.keys.on_fetch_err(now),
                Doc::Revocations => g.revocations.on_fetch_err(now),
            }
            host.log(
                Level::Warn,
                &format!(
                    "pci-guard: {} fetch failed: {why}; grants from the header are refused once the last good copy is past max_stale",
                    doc.name()
                ),
            );
        }
        if outcome.is_err() {
            self.share.release(&digest, doc.name());
        }
        if let Some(m) = metrics {
            let fetch = match outcome {
                Ok(()) => Fetch::Ok,
                Err(_) => Fetch::Failed,
            };
            m.jwks_fetch(host, doc.name(), fetch);
        }
        true
    }
}

/// Takes a good answer into the state (failures are counted by the caller).
fn took(
    host: &impl Host,
    g: &mut GrantState,
    doc: Doc,
    body: &[u8],
    now: u64,
) -> Result<(), String> {
    let r = match doc {
        Doc::Keys => g.keys.on_fetch_ok(body, now).map_err(|e| e.to_string()),
        Doc::Revocations => {
            let etag = host.http_call_header("etag");
            g.revocations
                .on_fetch_ok(body, etag.as_deref(), now)
                .map_err(|e| e.to_string())
        }
    };
    r.map_err(|e| format!("unusable answer: {e}"))
}

/// How a poll start went.
enum Started {
    Call(u32),
    /// Another root polls for everyone (or this one may not poll at all).
    NotMine,
    /// The host refused the call (no such cluster): counts as a failed poll.
    Failed,
}

impl GrantsFetcher {
    /// Starts a poll of `remote` if this root may (its share's claim).
    fn start(
        &self,
        host: &impl Host,
        digest: &str,
        doc: Doc,
        remote: &RemoteJwks,
        etag: Option<&str>,
        now: u64,
    ) -> Started {
        if !self.share.claim(digest, doc.name(), now, remote.timeout_ms) {
            return Started::NotMine;
        }
        let mut headers = vec![
            (":method", "GET"),
            (":path", remote.path.as_str()),
            (":authority", remote.authority.as_str()),
            ("accept", "application/json"),
        ];
        if let Some(e) = etag {
            headers.push(("if-none-match", e));
        }
        let timeout = Duration::from_millis(remote.timeout_ms);
        let Some(call) = host.dispatch_http_call(&remote.cluster, &headers, timeout) else {
            host.log(
                Level::Warn,
                &format!(
                    "pci-guard: cannot call cluster {:?} for the {}",
                    remote.cluster,
                    doc.name()
                ),
            );
            self.share.release(digest, doc.name());
            return Started::Failed;
        };
        Started::Call(call)
    }
}
