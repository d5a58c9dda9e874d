//! The approvals service's revocation list as pure state: no timers, no I/O. The glue asks
//! [`Revocations::should_fetch`] on each tick, polls `GET /v1/revocations` (with
//! `If-None-Match`), and reports back; requests ask [`Revocations::check`].
//!
//! Freshness is measured from the filter's own clock at the last good answer (a 200 or a
//! 304), never from the service's `generated_at`: the two clocks need not agree. Older than
//! `max_stale` (or never fetched), no grant from the header counts: a revoked grant could not
//! be told from a good one. A list whose `version` is lower than the one held is a lagging
//! copy (a cache, a replica behind): it is ignored and does not count as fresh.

use serde::Deserialize;
use std::collections::HashSet;

/// Largest revocation list accepted. Entries leave the list at their grant's `exp`, so it
/// holds only the revocations of the longest `max_ttl`.
pub const MAX_LIST_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationsConfig {
    pub refresh_secs: u64,
    pub max_stale_secs: u64,
    pub retry_secs: u64,
    pub fetch_timeout_secs: u64,
}

/// Why an answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    TooLarge(usize),
    /// Not `{"version": n, "revoked": [{"id": …}, …]}`.
    Shape,
    /// `version` below the one held: a lagging copy.
    Older {
        got: u64,
        have: u64,
    },
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListError::TooLarge(n) => write!(f, "the list is {n} bytes, limit {MAX_LIST_BYTES}"),
            ListError::Shape => {
                f.write_str("not a revocation list ({\"version\", \"revoked\": [{\"id\"}]})")
            }
            ListError::Older { got, have } => {
                write!(
                    f,
                    "version {got} is older than the {have} held: a lagging copy"
                )
            }
        }
    }
}

#[derive(Deserialize)]
struct Entry {
    id: String,
}

#[derive(Deserialize)]
struct List {
    version: u64,
    revoked: Vec<Entry>,
}

#[derive(Debug)]
pub struct Revocations {
    cfg: RevocationsConfig,
    revoked: HashSet<String>,
    version: Option<u64>,
    fetched_at: Option<u64>,
    /// The last body taken and its `ETag`, to share with other VMs and to poll with.
    body: Vec<u8>,
    etag: Option<String>,
    last_attempt: Option<u64>,
    failures: u32,
    in_flight_since: Option<u64>,
}

impl Revocations {
    pub fn new(cfg: RevocationsConfig) -> Self {
        Self {
            cfg,
            revoked: HashSet::new(),
            version: None,
            fetched_at: None,
            body: Vec::new(),
            etag: None,
            last_attempt: None,
            failures: 0,
            in_flight_since: None,
        }
    }

    /// Whether the list may be relied on at `now`.
    pub fn fresh(&self, now: u64) -> bool {
        self.fetched_at
            .is_some_and(|at| now.saturating_sub(at) < self.cfg.max_stale_secs)
    }

    /// Whether grant `id` may be used at `now`: `Err(true)` revoked, `Err(false)` the list is
    /// too old to tell.
    pub fn check(&self, id: &str, now: u64) -> Result<(), bool> {
        if !self.fresh(now) {
            return Err(false);
        }
        match self.revoked.contains(id) {
            true => Err(true),
            false => Ok(()),
        }
    }

    pub fn version(&self) -> Option<u64> {
        self.version
    }

    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }

    /// The last body taken, for other VMs ([`Self::adopt`]).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The `If-None-Match` value of the next poll.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// Whether the glue should poll now: a refresh is due, or a failed poll's backoff is over.
    pub fn should_fetch(&self, now: u64) -> bool {
        if let Some(since) = self.in_flight_since {
            // A poll in flight past its timeout is lost: poll again at once.
            return now >= since.saturating_add(self.cfg.fetch_timeout_secs);
        }
        if let Some(t) = self.last_attempt {
            let shift = self.failures.saturating_sub(1).min(16);
            let wait = match self.failures {
                0 => self.cfg.refresh_secs,
                _ => self
                    .cfg
                    .retry_secs
                    .saturating_mul(1u64 << shift)
                    .min(self.cfg.refresh_secs),
            };
            return now >= t.saturating_add(wait);
        }
        true
    }

    pub fn on_fetch_start(&mut self, now: u64) {
        self.in_flight_since = Some(now);
        self.last_attempt = Some(now);
    }

    /// A 200 with `body` (and its `ETag`).
    pub fn on_fetch_ok(
        &mut self,
        body: &[u8],
        etag: Option<&str>,
        now: u64,
    ) -> Result<(), ListError> {
        self.in_flight_since = None;
        self.last_attempt = Some(now);
        match self.take(body, now) {
            Ok(()) => {
                self.etag = etag.map(str::to_owned);
                self.failures = 0;
                Ok(())
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                Err(e)
            }
        }
    }

    /// A 304: the list held is still the service's.
    pub fn on_not_modified(&mut self, now: u64) {
        self.in_flight_since = None;
        self.last_attempt = Some(now);
        if self.version.is_some() {
            self.fetched_at = Some(now);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
        }
    }

    /// A poll failed (network, status, timeout).
    pub fn on_fetch_err(&mut self, now: u64) {
        self.in_flight_since = None;
        self.last_attempt = Some(now);
        self.failures = self.failures.saturating_add(1);
    }

    /// A list another VM took at `fetched_at`: the same as this VM's own, so ages agree.
    pub fn adopt(&mut self, body: &[u8], fetched_at: u64) -> Result<(), ListError> {
        if self.fetched_at.is_some_and(|t| t >= fetched_at) {
            return Ok(());
        }
        self.take(body, fetched_at)
    }

    fn take(&mut self, body: &[u8], at: u64) -> Result<(), ListError> {
        if body.len() > MAX_LIST_BYTES {
            return Err(ListError::TooLarge(body.len()));
        }
        let list: List = serde_json::from_slice(body).map_err(|_| ListError::Shape)?;
        if let Some(have) = self.version.filter(|&have| list.version < have) {
            return Err(ListError::Older {
                got: list.version,
                have,
            });
        }
        self.revoked = list.revoked.into_iter().map(|e| e.id).collect();
        self.version = Some(list.version);
        self.fetched_at = Some(at);
        self.body = body.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
