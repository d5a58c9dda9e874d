//! Counters and gauges in Envoy's stats (`/stats`, `/stats/prometheus`), defined once per VM.
//!
//! Envoy convention: dot-separated names, which the Prometheus exporter turns into
//! underscores (`pci_guard.requests.deny` → `pci_guard_requests_deny`). Envoy files
//! wasm-defined stats under its `wasmcustom` namespace, which the exporter leaves out. A
//! name's last part is a label where the Envoy config's `stats_config` says so (shipped in
//! `envoy/*.yaml`): `pci_guard.decisions.<reason>` → `pci_guard_decisions{reason="…"}`, the
//! same for `pci_guard.control_failures.<reason>`, and `pci_guard.jwks.*.<provider>` →
//! `pci_guard_jwks_*{provider="…"}`. Without it the names stay flat.
//!
//! Requests add to counts held in the VM; the root context's tick hands them to Envoy
//! (every [`super::root::TICK`]): a host call per counter per request cost more than the
//! decision itself, and a scrape interval is seconds, so the lag does not show.

use super::host::Host;
use pci_guard_core::audit::control::ControlFailure;
use pci_guard_core::audit::Event;
use pci_guard_core::authz::Outcome;
use pci_guard_core::operation::Protocol;
use pci_guard_core::reason::Reason;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

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
    /// Requests whose body was read as operations, by protocol and result (allow, deny,
    /// would_deny), and the calls they carried. Tool and field names are in the audit
    /// event, not in metric names: their number has no bound.
    operations: [[Counter; 3]; 2],
    operation_calls: [Counter; 2],
    control_failures: Vec<Counter>,
    /// Per identity-provider key fetch counts and key age, defined as providers appear.
    jwks: RefCell<BTreeMap<String, JwksMetrics>>,
}

/// One provider's key-set metrics.
struct JwksMetrics {
    fetch_ok: Counter,
    fetch_failed: Counter,
    /// Seconds since the keys in use were fetched (0: never fetched).
    age: Option<u32>,
}

/// What one key fetch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    Ok,
    Failed,
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
            operations: ["jsonrpc", "graphql"].map(|p| {
                ["allow", "deny", "would_deny"].map(|r| c(&format!("pci_guard.operations.{p}.{r}")))
            }),
            operation_calls: ["jsonrpc", "graphql"]
                .map(|p| c(&format!("pci_guard.operations.{p}.calls"))),
            control_failures: ControlFailure::ALL
                .iter()
                .map(|r| c(&format!("pci_guard.control_failures.{}", r.as_str())))
                .collect(),
            jwks: RefCell::default(),
        }
    }

    /// A security control failed (its audit record is written separately).
    pub fn control_failure(&self, reason: ControlFailure) {
        if let Some(c) = ControlFailure::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|pos| self.control_failures.get(pos))
        {
            c.add(1);
        }
    }

    /// Defines `provider`'s key metrics now, when its policy loads: a host may take
    /// definitions only then (Envoy's dynamic modules, while the filter config is created).
    pub fn define_provider(&self, host: &impl Host, provider: &str) {
        self.with_provider(host, provider, |_| {});
    }

    fn with_provider(&self, host: &impl Host, provider: &str, f: impl FnOnce(&JwksMetrics)) {
        let mut all = self.jwks.borrow_mut();
        let m = all
            .entry(provider.to_string())
            .or_insert_with(|| JwksMetrics {
                fetch_ok: Counter::define(host, &format!("pci_guard.jwks.fetches_ok.{provider}")),
                fetch_failed: Counter::define(
                    host,
                    &format!("pci_guard.jwks.fetches_failed.{provider}"),
                ),
                age: host.define_gauge(&format!("pci_guard.jwks.age_seconds.{provider}")),
            });
        f(m);
    }

    /// A key fetch for `provider` ended.
    pub fn jwks_fetch(&self, host: &impl Host, provider: &str, outcome: Fetch) {
        self.with_provider(host, provider, |m| match outcome {
            Fetch::Ok => m.fetch_ok.add(1),
            Fetch::Failed => m.fetch_failed.add(1),
        });
    }

    /// The age of `provider`'s keys (seconds since they were fetched), set on each tick.
    pub fn jwks_age(&self, host: &impl Host, provider: &str, age_s: u64) {
        self.with_provider(host, provider, |m| {
            if let Some(id) = m.age {
                host.set_gauge(id, age_s);
            }
        });
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
            if let Some(op) = &e.request.operation {
                let p = match op.protocol {
                    Protocol::JsonRpc => 0,
                    Protocol::GraphQl => 1,
                };
                self.operations[p][i].add(1);
                self.operation_calls[p].add((op.calls.len() + op.more_calls) as u64);
            }
        }
        if let Some(r) = &e.redaction {
            self.masked_pan.add(r.pan);
            self.masked_cvv.add(r.cvv);
            self.masked_track.add(r.track);
            self.bytes_scanned.add(r.bytes_scanned);
            if r.refused.is_some() {
                self.body_refused.add(1);
                self.control_failure(ControlFailure::BodyRefused);
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
            .chain(self.operations.iter().flatten())
            .chain(&self.operation_calls)
            .chain(&self.control_failures)
            .for_each(|c| c.flush(host));
        for m in self.jwks.borrow().values() {
            m.fetch_ok.flush(host);
            m.fetch_failed.flush(host);
        }
    }
}
