//! One HTTP stream: headers → identity → decision → response → audit.
//!
//! The stream reads what the core needs from the host, asks the core, and carries out the
//! answer. It holds no policy logic of its own.

use super::body::BodyScan;
use super::host;
use super::metrics::Metrics;
use super::vm::{StoreKeys, Vm};
use pci_guard_core::answer::{self, Answer};
use pci_guard_core::audit::{self, Chain, Event};
use pci_guard_core::authn::{self, Verified};
use pci_guard_core::authz::{self, Decision, RequestFlags, METHOD_OVERRIDE_HEADERS};
use pci_guard_core::policy::{Policy, Rule};
use pci_guard_core::reason::Reason;
use pci_guard_core::redact::{self, BodyKind, Decoder, Encoding, RedactOptions};
use pci_guard_core::routes::RequestLine;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "pci-guard";

/// The stream context Envoy calls. Its state lives behind an `Rc` so that a request waiting
/// for its provider's first keys can be judged again from the root context when they arrive.
pub struct Stream {
    id: u32,
    state: Rc<RefCell<StreamState>>,
}

/// What `judge` needs again when a waiting request is resumed.
struct Pending {
    /// The request headers, read once (each host call costs more than a scan of this list).
    headers: Vec<(String, String)>,
    method: String,
    path_and_query: String,
    route_name: Option<String>,
    metadata_route: Option<String>,
    flags: RequestFlags,
}

/// Whether a request's judgment is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
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

pub struct StreamState {
    vm: Option<Rc<RefCell<Vm>>>,
    pending: Option<Pending>,
    chain: Option<Rc<RefCell<Chain>>>,
    metrics: Option<Rc<Metrics>>,
    started_ms: u64,
    event: Event,
    decision: Option<Decision>,
    response_bytes: u64,
    grpc: bool,
    /// Set when the request went upstream on a route whose responses are redacted.
    redact: Option<(Arc<RedactOptions>, Vec<String>)>,
    body: Option<BodyScan>,
    /// Why a response was refused before its body (undecodable encoding, unscannable type).
    refused: Option<Reason>,
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
fn inject_fault(marker: &str) -> bool {
    match host::request_header("x-pci-guard-fault").as_deref() {
        Some(m) if m == marker && marker == "panic" => panic!("pci-guard: injected fault"),
        Some(m) => m == marker,
        None => false,
    }
}

impl Stream {
    pub fn new(
        id: u32,
        vm: Option<Rc<RefCell<Vm>>>,
        chain: Option<Rc<RefCell<Chain>>>,
        metrics: Option<Rc<Metrics>>,
    ) -> Self {
        let state = StreamState {
            vm,
            pending: None,
            chain,
            metrics,
            started_ms: 0,
            event: Event::default(),
            decision: None,
            response_bytes: 0,
            grpc: false,
            redact: None,
            body: None,
            refused: None,
            #[cfg(feature = "fault-injection")]
            panic_in_body: false,
        };
        Self {
            id,
            state: Rc::new(RefCell::new(state)),
        }
    }
}

impl StreamState {
    fn reply(&self, reason: Reason, grpc: bool, rule: Option<&Rule>) {
        let cx = answer::Context {
            realm: REALM,
            request_id: self.event.request_id.as_deref(),
            rule: rule.map(|r| r.id.as_str()),
            message: rule.and_then(|r| r.message.as_deref()),
            needs_scopes: match (reason, rule) {
                (Reason::ApprovalRequired, Some(r)) => &r.scopes,
                _ => &[],
            },
        };
        let sent = match answer::answer(reason, grpc, &cx) {
            Answer::Http {
                status,
                headers,
                body,
            } => {
                let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                host::send_http_response(status, &h, &body)
            }
            Answer::Grpc {
                status,
                message,
                metadata,
            } => {
                let m: Vec<(&str, &[u8])> =
                    metadata.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                host::send_grpc_response(status, &message, &m)
            }
        };
        if !sent {
            // Without a local reply the request must still not go upstream: the caller
            // returns Pause, and Envoy's stream timeout ends it.
            host::log(LogLevel::Error, "pci-guard: could not send local reply");
        }
    }

    fn record_request(&mut self, req: &RequestLine<'_>, headers: &[(String, String)]) {
        let e = &mut self.event;
        e.version = audit::EVENT_VERSION;
        e.time = audit::rfc3339_millis(self.started_ms);
        e.request_id = header(headers, "x-request-id").map(str::to_string);
        e.trace_id =
            header(headers, "traceparent").and_then(|tp| tp.split('-').nth(1).map(str::to_string));
        e.source.address = host::property_str(&["source", "address"]);
        e.source.principal = host::property_str(&["connection", "uri_san_peer_certificate"]);
        e.request.method = req.method.to_string();
        e.request.path = req.path.to_string();
        e.request.authority = header(headers, ":authority").map(str::to_string);
        e.request.grpc = req.grpc_method().map(str::to_string);
    }

    fn record_identity(&mut self, policy: &Policy, who: &Verified) {
        let id = &who.identity;
        self.event.identity = Some(audit::IdentityRef {
            provider: policy
                .providers
                .get(who.provider)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            iss: id.iss.clone(),
            sub: id.sub.clone(),
            azp: id.azp.clone(),
            jti: id.jti.clone(),
            kid: id.kid.clone(),
            alg: Some(id.alg.to_string()),
        });
    }

    /// Upstream hygiene for an allowed request: identity headers only from the verified token
    /// (client-sent ones are always removed first), and the token stripped unless the provider
    /// forwards it.
    /// `sent` is the request's header list as read: only headers in it need removing.
    fn rewrite_request_headers(policy: &Policy, who: Option<&Verified>, sent: &[(String, String)]) {
        for p in &policy.providers {
            for (_, name) in &p.claim_to_headers {
                if header(sent, name).is_some() {
                    host::set_request_header(name, None);
                }
            }
        }
        let Some(who) = who else { return };
        let Some(p) = policy.providers.get(who.provider) else {
            return;
        };
        for (claim, header) in &p.claim_to_headers {
            if let Some(v) = who.identity.claims.get(claim).and_then(claim_header_value) {
                host::set_request_header(header, Some(&v));
            }
        }
        if !p.forward_token {
            for source in &p.sources {
                if header(sent, &source.header).is_some() {
                    host::set_request_header(&source.header, None);
                }
            }
        }
    }
}

/// The first value of a request header (names come lower-cased from Envoy).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A claim as a header value: strings as they are, numbers and booleans printed, arrays of
/// those joined with commas; objects are not forwarded.
fn claim_header_value(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let out = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join(","),
        other => scalar(other)?,
    };
    // A header value must not carry line breaks or other control characters.
    (!out.bytes().any(|b| b < 0x20 || b == 0x7f)).then_some(out)
}

impl StreamState {
    /// Reads the request once and judges it; `context_id` registers it for a retry when its
    /// provider has no keys yet.
    fn on_request_headers(&mut self) -> Judged {
        self.started_ms = host::now_ms();
        #[cfg(feature = "fault-injection")]
        {
            inject_fault("panic");
            self.panic_in_body = inject_fault("panic-body");
        }
        let headers = host::request_headers();
        let method = header(&headers, ":method").unwrap_or_default().to_string();
        let path_and_query = header(&headers, ":path").unwrap_or_default().to_string();
        self.grpc =
            header(&headers, "content-type").is_some_and(|ct| ct.starts_with("application/grpc"));
        let route_name = if self
            .vm
            .as_ref()
            .is_some_and(|vm| vm.borrow().reads_route_name)
        {
            host::property_str(&["xds", "route_name"])
        } else {
            None
        };
        let metadata_route = host::property_bytes(&["xds", "route_metadata"])
            .and_then(|m| pci_guard_core::routes::metadata::route_name(&m));
        let flags = RequestFlags {
            method_override: METHOD_OVERRIDE_HEADERS
                .iter()
                .any(|h| header(&headers, h).is_some()),
        };
        let mut req = RequestLine::new(&method, &path_and_query, self.grpc);
        req.route_name = route_name.as_deref();
        self.record_request(&req, &headers);
        self.pending = Some(Pending {
            headers,
            method,
            path_and_query,
            route_name,
            metadata_route,
            flags,
        });
        self.judge(true, self.started_ms)
    }

    /// Decides the request. With `may_wait`, a request whose provider has never had keys waits
    /// for them (up to the fetch timeout) instead of being denied at once.
    pub fn judge(&mut self, may_wait: bool, now_ms: u64) -> Judged {
        let Some(p) = self.pending.take() else {
            return Judged::Continue;
        };
        let grpc = self.grpc;
        let Some(vm) = self.vm.clone() else {
            self.decision = Some(Decision::unavailable());
            self.reply(Reason::FilterUnavailable, grpc, None);
            return Judged::Replied;
        };
        let policy = vm.borrow().policy.clone();
        self.event.policy.version = policy.version.clone();
        self.event.policy.digest = policy.digest.clone();
        let mut req = RequestLine::new(&p.method, &p.path_and_query, grpc);
        req.route_name = p.route_name.as_deref();
        req.metadata_route = p.metadata_route.as_deref();
        let now = now_ms / 1000;
        let (decision, caller) = authz::decide(&policy, &req, p.flags, now, |providers| {
            let headers = &p.headers;
            let mut guard = vm.borrow_mut();
            let Vm {
                policy,
                stores,
                cache,
                crypto,
                ..
            } = &mut *guard;
            authn::authenticate(
                policy,
                providers,
                headers,
                now,
                &mut StoreKeys(stores),
                cache,
                crypto,
            )
        });
        if may_wait && decision.reason == Reason::JwksUnavailable {
            let route = decision.route.and_then(|i| policy.routes.get(i));
            if let Some((deadline_ms, providers)) =
                route.and_then(|r| vm.borrow().first_keys_wait(r, now_ms))
            {
                self.pending = Some(p);
                return Judged::Waiting {
                    deadline_ms,
                    providers,
                };
            }
        }
        if let Some(who) = &caller {
            self.record_identity(&policy, who);
        }
        self.event.request.route = decision
            .route
            .and_then(|i| policy.routes.get(i))
            .map(|r| r.name.clone());
        let rule = decision.rule.and_then(|i| policy.rules.get(i));
        let blocks = decision.blocks();
        let reason = decision.reason;
        self.decision = Some(decision);
        if blocks {
            self.reply(reason, grpc, rule);
            return Judged::Replied;
        }
        Self::rewrite_request_headers(&policy, caller.as_ref(), &p.headers);
        let route = self
            .decision
            .as_ref()
            .and_then(|d| d.route)
            .and_then(|i| policy.routes.get(i));
        if policy.redaction.enabled && route.is_none_or(|r| r.redact) {
            let skip = match route {
                Some(r) if !r.skip_content_types.is_empty() => r.skip_content_types.clone(),
                _ => policy.redaction.skip_content_types.clone(),
            };
            self.redact = Some((policy.redaction.options.clone(), skip));
            // Ask for bodies the filter can read; a compressed one is still decoded or refused.
            let name = if grpc {
                "grpc-accept-encoding"
            } else {
                "accept-encoding"
            };
            if header(&p.headers, name) != Some("identity") {
                host::set_request_header(name, Some("identity"));
            }
        }
        Judged::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some((opts, skip)) = self.redact.clone() else {
            return Action::Continue;
        };
        // One host call for the map instead of one per header.
        let headers = host::response_headers();
        if let Some(loc) = header(&headers, "location") {
            if let Some(masked) = redact::redact_header_value(&opts, loc) {
                host::set_response_header("location", Some(&masked));
            }
        }
        if end_of_stream {
            return Action::Continue;
        }
        let kind = redact::classify(header(&headers, "content-type"), &skip);
        let decoder = match kind {
            BodyKind::Pass => return Action::Continue,
            BodyKind::Refuse => Err(()),
            BodyKind::Grpc => Ok(None),
            BodyKind::Scan => match Encoding::from_header(header(&headers, "content-encoding")) {
                Ok(Encoding::Identity) => Ok(None),
                Ok(enc) => Ok(Some(Decoder::new(enc))),
                Err(_) => Err(()),
            },
        };
        match decoder {
            Err(()) => {
                self.refused = Some(Reason::BodyUndecodable);
                self.reply(Reason::BodyUndecodable, self.grpc, None);
                Action::Pause
            }
            Ok(decoder) => {
                if decoder.is_some() {
                    // Passed on decoded: the length changes and the coding is gone.
                    host::set_response_header("content-encoding", None);
                    host::set_response_header("content-length", None);
                }
                // gRPC ends in trailers; for the rest the body scan asks for the protocol
                // only if it ever has a tail to keep.
                let may_pause = self.grpc.then_some(true);
                self.body = Some(BodyScan::new(
                    opts,
                    kind == BodyKind::Grpc,
                    decoder,
                    may_pause,
                ));
                Action::Continue
            }
        }
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
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

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        match &mut self.body {
            Some(b) => b.on_trailers(),
            None => Action::Continue,
        }
    }

    fn on_log(&mut self) {
        let policy = self.vm.as_ref().map(|vm| vm.borrow().policy.clone());
        let e = &mut self.event;
        if let Some(d) = &self.decision {
            if let Some(m) = &self.metrics {
                m.decision(d.outcome(), d.reason, d.grant.is_some());
            }
            e.decision = Some(audit::DecisionRef {
                result: d.outcome(),
                reason: d.reason,
                rule: d.rule.and_then(|i| {
                    policy
                        .as_ref()
                        .and_then(|p| p.rules.get(i))
                        .map(|r| r.id.clone())
                }),
                dry_run: !d.enforced,
            });
            e.jit = d.grant.as_ref().map(|g| audit::JitRef {
                id: g.id.clone(),
                approved_by: g.approved_by.clone(),
                approved_at: g
                    .approved_at
                    .map(|t| audit::rfc3339_millis(t.saturating_mul(1000))),
                expires_at: audit::rfc3339_millis(g.exp.saturating_mul(1000)),
            });
        }
        e.response.status = host::property_u64(&["response", "code"]).map(|c| c as u16);
        if e.request.grpc.is_some() {
            e.response.grpc_status =
                host::property_u64(&["response", "grpc_status"]).map(|c| c as u32);
        }
        e.response.bytes = self.response_bytes;
        e.response.details = host::property_str(&["response", "code_details"]);
        if let Some(b) = &self.body {
            let c = b.counts();
            e.redaction = Some(audit::RedactionRef {
                pan: c.pan,
                cvv: c.cvv,
                track: c.track,
                bytes_scanned: c.bytes_scanned,
                refused: b.failure,
            });
        } else if self.refused.is_some() {
            e.redaction = Some(audit::RedactionRef {
                refused: self.refused,
                ..Default::default()
            });
        }
        if let (Some(m), Some(r)) = (&self.metrics, &e.redaction) {
            m.redaction(r);
        }
        e.duration_ms = Some(host::now_ms().saturating_sub(self.started_ms) as f64);
        match &policy {
            Some(p) => e.sanitize(&p.redaction.options),
            None => e.sanitize(&redact::RedactOptions::default()),
        }
        let line = match &self.chain {
            Some(chain) => chain.borrow_mut().seal(e),
            None => {
                e.cap_fields();
                e.to_json()
            }
        };
        if !host::set_property(&["pci_guard_audit"], &line) {
            host::log(LogLevel::Error, "pci-guard: could not record audit event");
        }
    }
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let judged = self.state.borrow_mut().on_request_headers();
        match judged {
            Judged::Continue => Action::Continue,
            Judged::Replied => Action::Pause,
            Judged::Waiting {
                deadline_ms,
                providers,
            } => {
                let vm = self.state.borrow().vm.clone();
                if let Some(vm) = vm {
                    vm.borrow_mut().waiting.push(Waiter {
                        context_id: self.id,
                        deadline_ms,
                        providers,
                        stream: self.state.clone(),
                    });
                }
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        self.state
            .borrow_mut()
            .on_http_response_headers(num_headers, end_of_stream)
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.state
            .borrow_mut()
            .on_http_response_body(body_size, end_of_stream)
    }

    fn on_http_response_trailers(&mut self, num_trailers: usize) -> Action {
        self.state
            .borrow_mut()
            .on_http_response_trailers(num_trailers)
    }

    fn on_log(&mut self) {
        self.state.borrow_mut().on_log()
    }
}

/// A request waiting for its provider's first keys.
pub struct Waiter {
    pub context_id: u32,
    pub deadline_ms: u64,
    /// The route's providers: any of them getting keys ends the wait.
    pub providers: Vec<usize>,
    pub stream: Rc<RefCell<StreamState>>,
}

/// Judges the waiting requests whose keys arrived or whose wait is over (from the root
/// context: after a key fetch, and on every tick). Must not be called with the VM borrowed.
pub fn resume_waiting(vm: &Rc<RefCell<Vm>>) {
    let now_ms = host::now_ms();
    let ready: Vec<Waiter> = {
        let mut v = vm.borrow_mut();
        let (ready, still): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut v.waiting)
            .into_iter()
            .partition(|w| now_ms >= w.deadline_ms || v.has_keys(&w.providers, now_ms / 1000));
        v.waiting = still;
        ready
    };
    for w in ready {
        // The stream may have ended meanwhile (client gone): then there is nothing to resume.
        if proxy_wasm::hostcalls::set_effective_context(w.context_id).is_err() {
            continue;
        }
        let judged = w.stream.borrow_mut().judge(false, now_ms);
        if judged == Judged::Continue {
            let _ = proxy_wasm::hostcalls::resume_http_request();
        }
    }
}
