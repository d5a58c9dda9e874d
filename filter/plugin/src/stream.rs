//! One HTTP stream: headers → identity → decision → upstream or local reply → response →
//! redaction → audit.
//!
//! Each callback reads what the core needs from the host, calls the core's entry for its
//! phase ([`pci_guard_core::judge`]) and carries out the answer. No policy logic lives here.

use super::body::BodyScan;
use super::host::{Action, Host, Level, Map};
use super::metrics::Metrics;
use super::vm::Vm;
use pci_guard_core::answer::Answer;
use pci_guard_core::audit::{Chain, Event, RedactionRef};
use pci_guard_core::judge::{
    self, BodyPlan, Judged, Request, ResponseFacts, ResponsePlan, Unseen, Verdict,
};
use pci_guard_core::reason::Reason;
use pci_guard_core::redact::RedactOptions;
use std::cell::RefCell;
use std::rc::Rc;

/// What the request brought, kept while it may have to be judged again (it waits for its
/// provider's first keys).
struct Pending {
    /// The request headers, read once (each host call costs more than a scan of this list).
    headers: Vec<(String, String)>,
    route_name: Option<String>,
    route_metadata: Option<Vec<u8>>,
    source_address: Option<String>,
    source_principal: Option<String>,
}

/// Where a stream is after its request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestStep {
    /// Goes upstream.
    Continue,
    /// Answered locally (denied).
    Replied,
    /// Waits for its provider's first keys, until this host time (ms) at the latest.
    Waiting {
        deadline_ms: u64,
        providers: Vec<usize>,
    },
}

pub struct StreamState<H: Host> {
    host: H,
    vm: Option<Rc<RefCell<Vm>>>,
    chain: Option<Rc<RefCell<Chain>>>,
    metrics: Option<Rc<Metrics>>,
    started_ms: u64,
    pending: Option<Pending>,
    /// The audit event, once the request is judged.
    event: Option<Event>,
    /// How the response is treated, when the request went upstream on a scanned route.
    plan: Option<ResponsePlan>,
    body: Option<BodyScan<H>>,
    /// Why a response was refused before its body (undecodable encoding, unscannable type).
    refused: Option<Reason>,
    /// `:status`, when the response headers were read anyway.
    status: Option<u16>,
    response_bytes: u64,
    /// Test-only (feature `fault-injection`): panic in the first response body callback.
    #[cfg(feature = "fault-injection")]
    panic_in_body: bool,
}

/// Test-only fault injection (cargo feature `fault-injection`, off by default and never in the
/// shipped `.wasm`): `x-pci-guard-fault: panic` panics in the request headers callback,
/// `panic-body` in the first response body callback. A panic aborts the wasm instance (the
/// release profile has `panic = "abort"`), which is how Envoy sees any filter bug: the e2e
/// tests in `envoy/tests/faults.rs` show what each `failure_policy` does with it.
#[cfg(feature = "fault-injection")]
#[allow(clippy::panic)]
fn inject_fault(headers: &[(String, String)], marker: &str) -> bool {
    use pci_guard_core::headers::Headers;
    match Headers::get(headers, "x-pci-guard-fault") {
        Some(m) if m == marker && marker == "panic" => panic!("pci-guard: injected fault"),
        Some(m) => m == marker,
        None => false,
    }
}

impl<H: Host> StreamState<H> {
    pub fn new(
        host: H,
        vm: Option<Rc<RefCell<Vm>>>,
        chain: Option<Rc<RefCell<Chain>>>,
        metrics: Option<Rc<Metrics>>,
    ) -> Self {
        Self {
            host,
            vm,
            chain,
            metrics,
            started_ms: 0,
            pending: None,
            event: None,
            plan: None,
            body: None,
            refused: None,
            status: None,
            response_bytes: 0,
            #[cfg(feature = "fault-injection")]
            panic_in_body: false,
        }
    }

    /// Moves a waiting request to a newly loaded policy's VM and chain.
    pub fn rebind(&mut self, vm: Option<Rc<RefCell<Vm>>>, chain: Option<Rc<RefCell<Chain>>>) {
        self.vm = vm;
        self.chain = chain;
    }

    /// Reads the request once and judges it.
    pub fn on_request_headers(&mut self) -> RequestStep {
        let host = &self.host;
        self.started_ms = host.now_ms();
        let headers = host.map(Map::RequestHeaders);
        #[cfg(feature = "fault-injection")]
        {
            inject_fault(&headers, "panic");
            self.panic_in_body = inject_fault(&headers, "panic-body");
        }
        let reads_route_name = self
            .vm
            .as_ref()
            .is_some_and(|vm| vm.borrow().reads_route_name);
        self.pending = Some(Pending {
            headers,
            route_name: reads_route_name
                .then(|| host.property_str(&["xds", "route_name"]))
                .flatten(),
            route_metadata: host.property(&["xds", "route_metadata"]),
            source_address: host.property_str(&["source", "address"]),
            source_principal: host.property_str(&["connection", "uri_san_peer_certificate"]),
        });
        self.judge(true, self.started_ms)
    }

    /// Judges the pending request at `now_ms` and carries out the verdict. With `may_wait`, a
    /// request whose provider has never had keys may wait for them instead.
    pub fn judge(&mut self, may_wait: bool, now_ms: u64) -> RequestStep {
        let judged = match self.judge_pending(may_wait, now_ms) {
            None => return RequestStep::Continue,
            Some(j) => j,
        };
        match judged {
            Judged::Wait {
                deadline_ms,
                providers,
            } => RequestStep::Waiting {
                deadline_ms,
                providers,
            },
            Judged::Done(v) => {
                self.pending = None;
                self.carry_out(*v)
            }
        }
    }

    /// The core's judgment of the pending request, if one is pending.
    fn judge_pending(&self, may_wait: bool, now_ms: u64) -> Option<Judged> {
        let p = self.pending.as_ref()?;
        let req = Request {
            headers: &p.headers,
            route_name: p.route_name.as_deref(),
            route_metadata: p.route_metadata.as_deref(),
            source_address: p.source_address.as_deref(),
            source_principal: p.source_principal.as_deref(),
            started_ms: self.started_ms,
        };
        Some(match &self.vm {
            Some(vm) => judge::request(Some(vm.borrow_mut().state()), &req, now_ms, may_wait),
            None => judge::request(None, &req, now_ms, may_wait),
        })
    }

    fn carry_out(&mut self, v: Verdict) -> RequestStep {
        self.event = Some(v.event);
        if let Some(reply) = &v.reply {
            self.send(reply);
            return RequestStep::Replied;
        }
        for e in &v.edits {
            self.host.edit(Map::RequestHeaders, e);
        }
        self.plan = v.response;
        RequestStep::Continue
    }

    fn send(&self, answer: &Answer) {
        let sent = match answer {
            Answer::Http {
                status,
                headers,
                body,
            } => {
                let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                self.host.send_http_response(*status, &h, body)
            }
            Answer::Grpc {
                status,
                message,
                metadata,
            } => {
                let m: Vec<(&str, &[u8])> =
                    metadata.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                self.host.send_grpc_response(*status, message, &m)
            }
        };
        if !sent {
            // Without a local reply the request must still not go upstream: the caller
            // pauses it, and Envoy's stream timeout ends it.
            self.host
                .log(Level::Error, "pci-guard: could not send local reply");
        }
    }

    pub fn on_response_headers(&mut self, end_of_stream: bool) -> Action {
        let Some(plan) = &self.plan else {
            return Action::Continue;
        };
        // One host call for the map instead of one per header.
        let headers = self.host.map(Map::ResponseHeaders);
        self.status = headers
            .iter()
            .find(|(n, _)| n == ":status")
            .and_then(|(_, v)| v.parse().ok());
        let request_id = self.event.as_ref().and_then(|e| e.request_id.as_deref());
        let start = judge::response(plan, &headers, end_of_stream, request_id);
        for e in &start.edits {
            self.host.edit(Map::ResponseHeaders, e);
        }
        match start.body {
            BodyPlan::Pass => Action::Continue,
            BodyPlan::Refuse { reason, reply } => {
                self.refused = Some(reason);
                // The client gets the local reply, not the upstream's status.
                self.status = match &reply {
                    Answer::Http { status, .. } => Some(*status),
                    Answer::Grpc { .. } => Some(200),
                };
                self.send(&reply);
                Action::Pause
            }
            BodyPlan::Scan { grpc, decoder } => {
                // gRPC ends in trailers; for the rest the body scan asks for the protocol
                // only if it ever has a tail to keep.
                let may_pause = plan.grpc.then_some(true);
                self.body = Some(BodyScan::new(
                    self.host.clone(),
                    plan.options.clone(),
                    grpc,
                    decoder,
                    may_pause,
                ));
                Action::Continue
            }
        }
    }

    pub fn on_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        #[cfg(feature = "fault-injection")]
        #[allow(clippy::panic)]
        if self.panic_in_body {
            panic!("pci-guard: injected fault in a response body");
        }
        match &mut self.body {
            None => {
                // Without a scan every callback sees only its new chunk.
                self.response_bytes += body_size as u64;
                Action::Continue
            }
            Some(b) => {
                let action = b.on_body(body_size, end_of_stream);
                self.response_bytes = b.counts().bytes_scanned;
                action
            }
        }
    }

    pub fn on_response_trailers(&mut self) -> Action {
        if let Some(plan) = &self.plan {
            let trailers = self.host.map(Map::ResponseTrailers);
            for e in judge::trailers(plan, &trailers) {
                self.host.edit(Map::ResponseTrailers, &e);
            }
        }
        match &mut self.body {
            Some(b) => b.on_trailers(),
            None => Action::Continue,
        }
    }

    pub fn on_log(&mut self) {
        let host = &self.host;
        let ended_ms = host.now_ms();
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
        let mut chain = self.chain.as_ref().map(|c| c.borrow_mut());
        let line = judge::log(
            &mut event,
            facts,
            self.started_ms,
            options,
            chain.as_deref_mut(),
        );
        if let Some(m) = &self.metrics {
            m.record(&event);
        }
        if !host.set_property(&["pci_guard_audit"], &line) {
            host.log(Level::Error, "pci-guard: could not record audit event");
        }
    }
}
