//! One HTTP stream: headers → identity → decision → upstream or local reply → response →
//! redaction → audit.
//!
//! Each callback reads what the core needs from the host, calls the core's entry for its
//! phase ([`pci_guard_core::judge`]) and carries out the answer. No policy logic lives here.

use super::body::BodyScan;
use super::host::{Action, Host, Level, Map};
use super::metrics::Metrics;
use super::vm::Vm;
use super::vm_audit::VmAudit;
use pci_guard_core::answer::Answer;
use pci_guard_core::audit::Event;
use pci_guard_core::judge::{self, Body, BodyPlan, Judged, Request, ResponsePlan, Verdict};
use pci_guard_core::reason::Reason;
use std::cell::RefCell;
use std::rc::Rc;

mod log;

/// What the request brought, kept while it may have to be judged again (it waits for its
/// provider's first keys).
struct Pending {
    /// The request headers, read once (each host call costs more than a scan of this list).
    headers: Vec<(String, String)>,
    route_name: Option<String>,
    route_metadata: Option<Vec<u8>>,
    source_address: Option<String>,
    source_principal: Option<String>,
    /// The request body, once read for a decision that depends on it.
    body: Option<Vec<u8>>,
    /// More body arrived than the decision reads.
    over_limit: bool,
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
    /// The decision depends on the body: the headers go on, Envoy buffers the body until it
    /// ends (or passes the limit).
    ReadBody,
    /// Not judged yet: waits (until this host time at the latest) for the VM's start record
    /// to reach the log, so that no request of a chain is logged before the chain's start.
    AwaitStart { deadline_ms: u64 },
}

pub struct StreamState<H: Host> {
    host: H,
    vm: Option<Rc<RefCell<Vm>>>,
    /// The VM's audit chain, and its own records a self-request writes.
    audit: Rc<RefCell<VmAudit>>,
    metrics: Option<Rc<Metrics>>,
    /// This stream is the VM's own self-request: its log line is the VM's next record.
    self_request: bool,
    started_ms: u64,
    pending: Option<Pending>,
    /// The body limit, while the core waits for the request body.
    reading: Option<usize>,
    /// The request stream ended (headers, body or trailers said so), with this many body
    /// bytes buffered.
    request_ended: bool,
    request_size: usize,
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
        audit: Rc<RefCell<VmAudit>>,
        metrics: Option<Rc<Metrics>>,
    ) -> Self {
        Self {
            host,
            vm,
            audit,
            metrics,
            self_request: false,
            started_ms: 0,
            pending: None,
            reading: None,
            request_ended: false,
            request_size: 0,
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

    /// Moves a waiting request to a newly loaded policy's VM.
    pub fn rebind(&mut self, vm: Option<Rc<RefCell<Vm>>>) {
        self.vm = vm;
    }

    /// Reads the request once and judges it; `end_of_stream`: it has no body.
    pub fn on_request_headers(&mut self, end_of_stream: bool) -> RequestStep {
        self.request_ended = end_of_stream;
        let host = &self.host;
        self.started_ms = host.now_ms();
        let headers = host.map(Map::RequestHeaders);
        if self.audit.borrow().is_self_request(&headers) {
            // The VM's own self-request: answered here, never judged; its log line is the
            // VM's next owed record.
            self.self_request = true;
            if !host.send_http_response(204, &[], b"") {
                host.log(
                    Level::Error,
                    "pci-guard: could not answer the audit self-request",
                );
            }
            return RequestStep::Replied;
        }
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
            body: None,
            over_limit: false,
        });
        if let Some(deadline_ms) = self.audit.borrow().start_wait(self.started_ms) {
            return RequestStep::AwaitStart { deadline_ms };
        }
        self.judge(true, self.started_ms)
    }

    /// A request body callback: `size` bytes are buffered. Only a request whose decision
    /// waits for its body (or for keys) is held; any other passes on untouched.
    pub fn on_request_body(&mut self, size: usize, end_of_stream: bool) -> RequestStep {
        if self.pending.is_none() {
            return RequestStep::Continue;
        }
        self.request_size = size;
        self.request_ended |= end_of_stream;
        match self.reading {
            // Judged when the body ends, or as soon as it passes the limit.
            Some(limit) if self.request_ended || size > limit => {
                let now = self.host.now_ms();
                self.judge(true, now)
            }
            // Still waiting for keys (or for more body): Envoy keeps buffering.
            _ => RequestStep::ReadBody,
        }
    }

    /// Request trailers end the body.
    pub fn on_request_trailers(&mut self) -> RequestStep {
        if self.pending.is_none() {
            return RequestStep::Continue;
        }
        self.request_ended = true;
        match self.reading {
            Some(_) => {
                let now = self.host.now_ms();
                self.judge(true, now)
            }
            None => RequestStep::ReadBody,
        }
    }

    /// Reads the buffered body into the pending request (at most `limit` bytes).
    fn read_body(&mut self, limit: usize) {
        let size = self.request_size;
        let (body, over) = match size > limit {
            true => (Vec::new(), true),
            false => match self.read_request_body(size) {
                Some(b) => (b, false),
                None => {
                    // Unreadable is unjudgeable: refused as too large to read, never passed.
                    self.host
                        .log(Level::Error, "pci-guard: could not read the request body");
                    (Vec::new(), true)
                }
            },
        };
        if let Some(p) = &mut self.pending {
            p.body = Some(body);
            p.over_limit = over;
        }
    }

    fn read_request_body(&self, size: usize) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        self.host
            .read_request_body(0, size, &mut body)
            .then_some(body)
    }

    /// Judges the pending request at `now_ms` and carries out the verdict. With `may_wait`, a
    /// request whose provider has never had keys may wait for them instead.
    pub fn judge(&mut self, may_wait: bool, now_ms: u64) -> RequestStep {
        if let Some(limit) = self.reading.filter(|_| self.request_ended) {
            if self.pending.as_ref().is_some_and(|p| p.body.is_none()) {
                self.read_body(limit);
            }
        }
        let judged = match self.judge_pending(may_wait, now_ms) {
            None => return RequestStep::Continue,
            Some(j) => j,
        };
        match judged {
            Judged::ReadBody { limit, edits } => {
                self.reading = Some(limit);
                if self.request_ended || self.request_size > limit {
                    self.read_body(limit);
                    return self.judge(may_wait, now_ms);
                }
                // The headers go on now (Envoy gives a filter that holds them no body).
                for e in &edits {
                    self.host.edit(Map::RequestHeaders, e);
                }
                RequestStep::ReadBody
            }
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
        let mut vm = self.vm.as_ref().map(|vm| vm.borrow_mut());
        let state = vm.as_mut().map(|vm| vm.state());
        Some(match &p.body {
            Some(bytes) => {
                let body = Body {
                    bytes,
                    over_limit: p.over_limit,
                };
                judge::request_body(state, &req, body, now_ms, may_wait)
            }
            None => judge::request(state, &req, now_ms, may_wait),
        })
    }

    fn carry_out(&mut self, v: Verdict) -> RequestStep {
        self.event = Some(v.event);
        if let Some(reply) = &v.reply {
            self.send(reply);
            return RequestStep::Replied;
        }
        // A request judged on its body had its headers edited before they went on.
        if self.reading.is_none() {
            for e in &v.edits {
                self.host.edit(Map::RequestHeaders, e);
            }
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
            BodyPlan::Scan {
                grpc,
                decoder,
                events,
            } => {
                // gRPC ends in trailers; for the rest the body scan asks for the protocol
                // only if it ever has a tail to keep.
                let may_pause = plan.grpc.then_some(true);
                self.body = Some(BodyScan::new(
                    self.host.clone(),
                    plan.options.clone(),
                    grpc,
                    decoder,
                    may_pause,
                    events,
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
}
