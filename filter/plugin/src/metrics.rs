//! Counters in Envoy's stats (`/stats`, `/stats/prometheus`), defined once per VM.
//!
//! Envoy convention: dot-separated names, which the Prometheus exporter turns into
//! underscores (`pci_guard.requests.deny` → `pci_guard_requests_deny`). Envoy files
//! wasm-defined stats under its `wasmcustom` namespace, which the exporter leaves out.
//!
//! Requests add to counts held in the VM; the root context's tick hands them to Envoy
//! (every [`super::root::TICK`]): a host call per counter per request cost more than the
//! decision itself, and a scrape interval is seconds, so the lag does not show.

use super::host::Host;
use pci_guard_core::audit::Event;
use pci_guard_core::authz::Outcome;
use pci_guard_core::reason::Reason;
use std::cell::Cell;

/// A counter defined in Envoy and what this VM has added to it since the last flush.
struct Counter {
    id: Option<u32>,
    pending: Cell<u64>,
}

impl Counter {
    fn define(host: &impl Host, name: &str) -> Self {
        Self {
            id: host.define_counter(name),
            pending: Cell::new(0),
        }
    }

    fn add(&self, by: u64) {
        self.pending.set(self.pending.get().saturating_add(by));
    }

    fn flush(&self, host: &impl Host) {
        let by = self.pending.replace(0);
        if let (Some(id), true) = (self.id, by > 0) {
            host.increment_counter(id, by);
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
    pub fn define(host: &impl Host) -> Self {
        let c = |name: &str| Counter::define(host, name);
        Self {
            requests: [
                c("pci_guard.requests.allow"),
                c("pci_guard.requests.deny"),
                c("pci_guard.requests.would_deny"),
            ],
            reasons: Reason::ALL
                .iter()
                .map(|r| c(&format!("pci_guard.decisions.{}", r.as_str())))
                .collect(),
            jit_grants_used: c("pci_guard.jit.grants_used"),
            masked_pan: c("pci_guard.redaction.pan_masked"),
            masked_cvv: c("pci_guard.redaction.cvv_masked"),
            masked_track: c("pci_guard.redaction.track_masked"),
            bytes_scanned: c("pci_guard.redaction.bytes_scanned"),
            body_refused: c("pci_guard.redaction.refused"),
        }
    }

    /// Counts what one finished request's audit event says.
    pub fn record(&self, e: &Event) {
        if let Some(d) = &e.decision {
            let i = match d.result {
                Outcome::Allow => 0,
                Outcome::Deny => 1,
                Outcome::WouldDeny => 2,
            };
            self.requests[i].add(1);
            if let Some(c) = Reason::ALL
                .iter()
                .position(|r| *r == d.reason)
                .and_then(|pos| self.reasons.get(pos))
            {
                c.add(1);
            }
            if e.jit.is_some() && d.result == Outcome::Allow {
                self.jit_grants_used.add(1);
            }
        }
        if let Some(r) = &e.redaction {
            self.masked_pan.add(r.pan);
            self.masked_cvv.add(r.cvv);
            self.masked_track.add(r.track);
            self.bytes_scanned.add(r.bytes_scanned);
            if r.refused.is_some() {
                self.body_refused.add(1);
            }
        }
    }

    /// Hands the counts gathered since the last flush to Envoy.
    pub fn flush(&self, host: &impl Host) {
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
            .for_each(|c| c.flush(host));
    }
}
