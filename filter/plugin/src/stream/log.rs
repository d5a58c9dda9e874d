//! The stream's end: its audit event completed from what the response did, sealed into the
//! VM's chain (after any records the line carries), counted, and set in filter state for
//! Envoy's access loggers; a self-request's line is the VM's next owed record instead.

use super::super::host::{Host, Level};
use super::{Judged, StreamState};
use pci_guard_core::audit::control::ControlFailure;
use pci_guard_core::audit::record::ControlRef;
use pci_guard_core::audit::RedactionRef;
use pci_guard_core::judge::{self, ResponseFacts, Unseen};
use pci_guard_core::redact::RedactOptions;

impl<H: Host> StreamState<H> {
    pub fn on_log(&mut self) {
        let host = &self.host;
        let ended_ms = host.now_ms();
        if self.self_request {
            let line = self
                .audit
                .borrow_mut()
                .write_owed(host, self.metrics.as_deref(), ended_ms);
            if let Some(line) = line {
                if !host.set_property(&["pci_guard_audit"], &line) {
                    host.log(Level::Error, "pci-guard: could not record an audit record");
                }
            }
            return;
        }
        // Still waiting for keys when the stream ended (the client left): the decision it
        // would have had, recorded, with nothing sent.
        if self.event.is_none() {
            if let Some(Judged::Done(v)) = self.judge_pending(false, ended_ms) {
                self.event = Some(v.event);
            }
        }
        // Envoy refused the request before its headers reached the filter: still an event.
        if self.event.is_none() && self.pending.is_none() {
            let prop = |path: &[&str]| {
                host.property(path)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .filter(|s| !s.is_empty())
            };
            let (method, path) = (prop(&["request", "method"]), prop(&["request", "path"]));
            let (address, principal) = (
                prop(&["source", "address"]),
                prop(&["connection", "uri_san_peer_certificate"]),
            );
            self.started_ms = ended_ms;
            let policy = self.vm.as_ref().map(|vm| vm.borrow().policy.clone());
            self.event = Some(judge::refused_before_filter(Unseen {
                policy: policy.as_deref(),
                method: method.as_deref(),
                path: path.as_deref(),
                source_address: address.as_deref(),
                source_principal: principal.as_deref(),
                now_ms: ended_ms,
            }));
        }
        let mut event = self.event.take().unwrap_or_default();
        let redaction = match (&self.body, self.refused) {
            (Some(b), _) => {
                let c = b.counts();
                Some(RedactionRef {
                    pan: c.pan,
                    cvv: c.cvv,
                    track: c.track,
                    bytes_scanned: c.bytes_scanned,
                    refused: b.failure,
                })
            }
            (None, Some(reason)) => Some(RedactionRef {
                refused: Some(reason),
                ..Default::default()
            }),
            (None, None) => None,
        };
        let facts = ResponseFacts {
            status: self
                .status
                .or_else(|| host.property_u64(&["response", "code"]).map(|c| c as u16)),
            grpc_status: match event.request.grpc {
                Some(_) => host
                    .property_u64(&["response", "grpc_status"])
                    .map(|c| c as u32),
                None => None,
            },
            bytes: self.response_bytes,
            details: host.property_str(&["response", "code_details"]),
            redaction,
            ended_ms,
        };
        let policy = self.vm.as_ref().map(|vm| vm.borrow().policy.clone());
        let defaults;
        let options = match &policy {
            Some(p) => &*p.redaction.options,
            None => {
                defaults = RedactOptions::default();
                &defaults
            }
        };
        let mut audit = self.audit.borrow_mut();
        let carried = audit.take_carried(host, self.metrics.as_deref(), ended_ms);
        let line = judge::log(
            &mut event,
            facts,
            self.started_ms,
            options,
            audit.chain_mut(),
        );
        if let Some(m) = &self.metrics {
            m.record(&event);
        }
        if let Some(reason) = event.redaction.and_then(|r| r.refused) {
            // Counted with the request's metrics above; the record names the request.
            audit.control(
                None,
                ControlRef {
                    reason: ControlFailure::BodyRefused,
                    detail: format!(
                        "a response body was refused ({}): the client got an error instead of it",
                        reason.as_str()
                    ),
                    provider: None,
                    request_id: event.request_id.clone(),
                    count: 1,
                },
            );
        }
        let line = match carried.is_empty() {
            true => line,
            false => {
                let mut all = carried.join(&b'\n');
                all.push(b'\n');
                all.extend_from_slice(&line);
                all
            }
        };
        if !host.set_property(&["pci_guard_audit"], &line) {
            host.log(Level::Error, "pci-guard: could not record audit event");
        }
    }
}
