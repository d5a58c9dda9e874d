//! Counters in Envoy's stats (`/stats`, `/stats/prometheus`), defined once per VM.
//!
//! Envoy convention: dot-separated names, which the Prometheus exporter turns into
//! underscores (`pci_guard.requests.deny` → `pci_guard_requests_deny`). Envoy files
//! wasm-defined stats under its `wasmcustom` namespace, which the exporter leaves out.

use pci_guard_core::audit::{Outcome, RedactionRef};
use pci_guard_core::reason::Reason;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

pub struct Metrics {
    requests: [Option<u32>; 3],
    reasons: Vec<Option<u32>>,
    jit_grants_used: Option<u32>,
    masked_pan: Option<u32>,
    masked_cvv: Option<u32>,
    masked_track: Option<u32>,
    bytes_scanned: Option<u32>,
    body_refused: Option<u32>,
}

fn counter(name: &str) -> Option<u32> {
    hostcalls::define_metric(MetricType::Counter, name).ok()
}

fn bump(id: Option<u32>, by: u64) {
    if let Some(id) = id {
        if by > 0 {
            let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
        }
    }
}

impl Metrics {
    pub fn define() -> Self {
        Self {
            requests: [
                counter("pci_guard.requests.allow"),
                counter("pci_guard.requests.deny"),
                counter("pci_guard.requests.would_deny"),
            ],
            reasons: Reason::ALL
                .iter()
                .map(|r| counter(&format!("pci_guard.decisions.{}", r.as_str())))
                .collect(),
            jit_grants_used: counter("pci_guard.jit.grants_used"),
            masked_pan: counter("pci_guard.redaction.pan_masked"),
            masked_cvv: counter("pci_guard.redaction.cvv_masked"),
            masked_track: counter("pci_guard.redaction.track_masked"),
            bytes_scanned: counter("pci_guard.redaction.bytes_scanned"),
            body_refused: counter("pci_guard.redaction.refused"),
        }
    }

    pub fn decision(&self, outcome: Outcome, reason: Reason, used_grant: bool) {
        let i = match outcome {
            Outcome::Allow => 0,
            Outcome::Deny => 1,
            Outcome::WouldDeny => 2,
        };
        bump(self.requests[i], 1);
        if let Some(pos) = Reason::ALL.iter().position(|r| *r == reason) {
            bump(self.reasons.get(pos).copied().flatten(), 1);
        }
        if used_grant && outcome == Outcome::Allow {
            bump(self.jit_grants_used, 1);
        }
    }

    pub fn redaction(&self, r: &RedactionRef) {
        bump(self.masked_pan, r.pan);
        bump(self.masked_cvv, r.cvv);
        bump(self.masked_track, r.track);
        bump(self.bytes_scanned, r.bytes_scanned);
        if r.refused.is_some() {
            bump(self.body_refused, 1);
        }
    }
}
