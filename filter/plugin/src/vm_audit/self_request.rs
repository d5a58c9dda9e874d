//! The self-requests: sent on the tick, one per owed record, to `audit.self_cluster`;
//! answered by this VM's own filter on the internal listener (recognised by the nonce); their
//! answers, and what a failed one means.

use super::super::host::{Host, Level};
use super::super::metrics::Metrics;
use super::{VmAudit, MAX_IN_FLIGHT, SELF_HEADER, SELF_TIMEOUT_MS};
use pci_guard_core::audit::control::ControlFailure;
use pci_guard_core::audit::record::ControlRef;
use std::time::Duration;

impl VmAudit {
    /// Whether HTTP call `token` is one of this VM's self-requests.
    pub fn is_self_call(&self, token: u32) -> bool {
        self.in_flight.contains_key(&token)
    }

    /// Sends the self-requests the owed records need now, without waiting for the tick.
    pub fn send_owed(&mut self, host: &impl Host, now_ms: u64) {
        self.dispatch(host, now_ms);
    }

    /// One self-request per owed record not yet on its way.
    pub(super) fn dispatch(&mut self, host: &impl Host, now_ms: u64) {
        if self.carried {
            return;
        }
        let owed = self.outbox.len() + usize::from(self.unwritten_start.is_some());
        let wanted = owed
            .saturating_sub(self.in_flight.len())
            .min(MAX_IN_FLIGHT.saturating_sub(self.in_flight.len()));
        let headers = [
            (":method", "POST"),
            (":path", "/pci-guard/audit"),
            (":authority", "pci-guard-audit"),
            (SELF_HEADER, self.nonce.as_str()),
        ];
        for _ in 0..wanted {
            match host.dispatch_http_call(
                &self.self_cluster,
                &headers,
                Duration::from_millis(SELF_TIMEOUT_MS),
            ) {
                Some(token) => {
                    self.in_flight.insert(token, now_ms);
                }
                None => {
                    self.undeliverable(
                        host,
                        "the cluster does not exist or refused the call",
                        true,
                    );
                    break;
                }
            }
        }
    }

    /// A self-request could not be made or failed. Envoy's main thread runs a VM too, which
    /// serves no requests and cannot reach the internal listener: a failed call from a VM
    /// that never wrote is only news, a missing cluster or a path that worked is a warning.
    pub(super) fn undeliverable(&mut self, host: &impl Host, why: &str, missing: bool) {
        self.path_failed = true;
        if !self.warned {
            self.warned = true;
            let level = if missing || self.writes {
                Level::Warn
            } else {
                Level::Info
            };
            host.log(
                level,
                &format!(
                    "pci-guard: audit: cannot write this VM's own records through cluster {:?} ({why}): add the internal listener and cluster from envoy/audit-sinks.yaml, or set audit.self_cluster",
                    self.self_cluster
                ),
            );
        }
    }

    /// The answer to HTTP call `token`, if it was a self-request (`Some(answered)`); `None`
    /// when the call was someone else's (a key fetch).
    pub fn on_call_response(
        &mut self,
        host: &impl Host,
        metrics: Option<&Metrics>,
        token: u32,
        status: Option<&str>,
    ) -> Option<bool> {
        self.in_flight.remove(&token)?;
        let ok = status == Some("204");
        if !ok && self.writes {
            // The path worked before: the records wait, and the outage is itself recorded.
            self.control(
                metrics,
                ControlRef {
                    reason: ControlFailure::AuditUndeliverable,
                    detail: format!(
                        "a self-request through cluster {:?} failed (status {}): this VM's records were held back",
                        self.self_cluster,
                        status.unwrap_or("none")
                    ),
                    provider: None,
                    request_id: None,
                    count: 1,
                },
            );
        }
        if !ok {
            self.undeliverable(
                host,
                "the self-request failed; expected on Envoy's main thread, which serves no requests",
                false,
            );
        }
        Some(ok)
    }

    /// Whether a stream's request headers make it this VM's own self-request: the nonce only
    /// this VM knows, which never leaves the process.
    pub fn is_self_request(&self, headers: &[(String, String)]) -> bool {
        headers
            .iter()
            .any(|(n, v)| n == SELF_HEADER && *v == self.nonce)
    }
}
