//! Counters in Envoy's stats (`/stats`, `/stats/prometheus`), defined once per VM.
//!
//! Envoy convention: dot-separated names, which the Prometheus exporter turns into
//! underscores (`pci_guard.requests.deny` → `pci_guard_requests_deny`). Envoy files
//! wasm-defined stats under its `wasmcustom` namespace, which the exporter leaves out.
//!
//! Requests add to counts held in the VM; the root context's tick hands them to Envoy
//! (every [`super::TICK`]). A host call per counter per request cost more than the decision
//! itself; a scrape interval is seconds, so the lag does not show.

use pci_guard_core::audit::{Outcome, RedactionRef};
use pci_guard_core::reason::Reason;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::Cell;

/// A counter defined in Envoy and what this VM has added to it since the last flush.
struct Counter {
    id: Option<u32>,
    pending: Cell<u64>,
}

impl Counter {
    fn define(name: &str) -> Self {
        Self {
            id: hostcalls::define_metric(MetricType::Counter, name).ok(),
            pending: Cell::new(0),
        }
    }

    fn add(&self, by: u64) {
        self.pending.set(self.pending.get().saturating_add(by));
    }

    fn flush(&self) {
        let by = self.pending.replace(0);
        if let (Some(id), true) = (self.id, by > 0) {
            let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
        }
    }
}

pub struct Metrics {
    requests: [Counter; 3],
    reasons: Vec<Counter>,
    jit_grants_used: Counter,
    masked_pan: Counter,
    masked_cvv: Counter,
    masked_track: Counter,
    bytes_scanned: Counter,
    body_refused: Counter,
}

impl Metrics {
    pub fn define() -> Self {
        Self {
            requests: [
                Counter::define("pci_guard.requests.allow"),
                Counter::define("pci_guard.requests.deny"),
                Counter::define("pci_guard.requests.would_deny"),
            ],
            reasons: Reason::ALL
                .iter()
                .map(|r| Counter::define(&format!("pci_guard.decisions.{}", r.as_str())))
                .collect(),
            jit_grants_used: Counter::define("pci_guard.jit.grants_used"),
            masked_pan: Counter::define("pci_guard.redaction.pan_masked"),
            masked_cvv: Counter::define("pci_guard.redaction.cvv_masked"),
            masked_track: Counter::define("pci_guard.redaction.track_masked"),
            bytes_scanned: Counter::define("pci_guard.redaction.bytes_scanned"),
            body_refused: Counter::define("pci_guard.redaction.refused"),
        }
    }

    pub fn decision(&self, outcome: Outcome, reason: Reason, used_grant: bool) {
        let i = match outcome {
            Outcome::Allow => 0,
            Outcome::Deny => 1,
            Outcome::WouldDeny => 2,
        };
        self.requests[i].add(1);
        if let Some(c) = Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|pos| self.reasons.get(pos))
        {
            c.add(1);
        }
        if used_grant && outcome == Outcome::Allow {
            self.jit_grants_used.add(1);
        }
    }

    pub fn redaction(&self, r: &RedactionRef) {
        self.masked_pan.add(r.pan);
        self.masked_cvv.add(r.cvv);
        self.masked_track.add(r.track);
        self.bytes_scanned.add(r.bytes_scanned);
        if r.refused.is_some() {
            self.body_refused.add(1);
        }
    }

    /// Hands the counts gathered since the last flush to Envoy.
    pub fn flush(&self) {
        self.requests
            .iter()
            .chain(&self.reasons)
            .chain([
                &self.jit_grants_used,
                &self.masked_pan,
                &self.masked_cvv,
                &self.masked_track,
                &self.bytes_scanned,
                &self.body_refused,
            ])
            .for_each(Counter::flush);
    }
}
