//! One HTTP stream: headers → identity → decision → response → audit.
//!
//! The stream reads what the core needs from the host, asks the core, and carries out the
//! answer. It holds no policy logic of its own.

use super::host;
use super::metrics::Metrics;
use pci_guard_core::answer::{self, Answer};
use pci_guard_core::audit::{self, Chain, Event};
use pci_guard_core::authz::{self, Caller, Decision, RequestFlags, METHOD_OVERRIDE_HEADERS};
use pci_guard_core::policy::{Policy, Rule};
use pci_guard_core::reason::Reason;
use pci_guard_core::routes::RequestLine;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "pci-guard";

pub struct Stream {
    policy: Option<Rc<Policy>>,
    chain: Option<Rc<RefCell<Chain>>>,
    metrics: Rc<Metrics>,
    started_ms: u64,
    event: Event,
    decision: Option<Decision>,
    response_bytes: u64,
}

/// Placeholder caller until token verification is wired in: no token is ever accepted.
struct Unverified;

impl Caller for Unverified {
    fn subject(&self) -> Option<&str> {
        None
    }
    fn has_scope(&self, _scope: &str) -> bool {
        false
    }
    fn claim(&self, _name: &str) -> Option<&serde_json::Value> {
        None
    }
    fn clock_skew_seconds(&self) -> u64 {
        0
    }
}

impl Stream {
    pub fn new(
        policy: Option<Rc<Policy>>,
        chain: Option<Rc<RefCell<Chain>>>,
        metrics: Rc<Metrics>,
    ) -> Self {
        Self {
            policy,
            chain,
            metrics,
            started_ms: 0,
            event: Event::default(),
            decision: None,
            response_bytes: 0,
        }
    }

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
            host::log(
                proxy_wasm::types::LogLevel::Error,
                "pci-guard: could not send local reply",
            );
        }
    }
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.started_ms = host::now_ms();
        let method = host::request_header(":method").unwrap_or_default();
        let path_and_query = host::request_header(":path").unwrap_or_default();
        let grpc = host::request_header("content-type")
            .is_some_and(|ct| ct.starts_with("application/grpc"));
        let route_name = host::property_str(&["xds", "route_name"]);
        let mut req = RequestLine::new(&method, &path_and_query, grpc);
        req.route_name = route_name.as_deref();

        let e = &mut self.event;
        e.version = audit::EVENT_VERSION;
        e.time = audit::rfc3339_millis(self.started_ms);
        e.request_id = host::request_header("x-request-id");
        e.source.address = host::property_str(&["source", "address"]);
        e.request.method = method.clone();
        e.request.path = req.path.to_string();
        e.request.authority = host::request_header(":authority");
        e.request.grpc = req.grpc_method().map(str::to_string);

        let Some(policy) = self.policy.clone() else {
            self.decision = Some(Decision::unavailable());
            self.reply(Reason::FilterUnavailable, grpc, None);
            return Action::Pause;
        };
        self.event.policy.version = policy.version.clone();
        self.event.policy.digest = policy.digest.clone();

        let has_token = host::request_header("authorization").is_some();
        let flags = RequestFlags {
            method_override: METHOD_OVERRIDE_HEADERS
                .iter()
                .any(|h| host::request_header(h).is_some()),
        };
        let now = self.started_ms / 1000;
        let (decision, _caller) = authz::decide(&policy, &req, flags, now, |_providers| {
            Err::<Unverified, _>(if has_token {
                Reason::TokenBadSignature
            } else {
                Reason::TokenMissing
            })
        });
        self.event.request.route = decision.route.map(|i| policy.routes[i].name.clone());
        let rule = decision.rule.map(|i| &policy.rules[i]);
        let blocks = decision.blocks();
        let reason = decision.reason;
        self.decision = Some(decision);
        if blocks {
            self.reply(reason, grpc, rule);
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        self.response_bytes += body_size as u64;
        Action::Continue
    }

    fn on_log(&mut self) {
        let policy = self.policy.as_deref();
        let e = &mut self.event;
        if let Some(d) = &self.decision {
            self.metrics
                .decision(d.outcome(), d.reason, d.grant.is_some());
            e.decision = Some(audit::DecisionRef {
                result: d.outcome(),
                reason: d.reason,
                rule: d.rule.and_then(|i| policy.map(|p| p.rules[i].id.clone())),
                dry_run: !d.enforced,
            });
            e.jit = d.grant.as_ref().map(|g| audit::JitRef {
                id: g.id.clone(),
                approved_by: g.approved_by.clone(),
                approved_at: g.approved_at.map(|t| audit::rfc3339_millis(t * 1000)),
                expires_at: audit::rfc3339_millis(g.exp * 1000),
            });
        }
        e.response.status = host::property_u64(&["response", "code"]).map(|c| c as u16);
        e.response.grpc_status = host::property_u64(&["response", "grpc_status"])
            .map(|c| c as u32)
            .filter(|_| e.request.grpc.is_some());
        e.response.bytes = self.response_bytes;
        let now = host::now_ms();
        e.duration_ms = Some(now.saturating_sub(self.started_ms) as f64);
        let line = match &self.chain {
            Some(chain) => chain.borrow_mut().seal(e),
            None => e.to_json(),
        };
        if !host::set_property(&["pci_guard_audit"], &line) {
            host::log(
                proxy_wasm::types::LogLevel::Error,
                "pci-guard: could not record audit event",
            );
        }
    }
}
