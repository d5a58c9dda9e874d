//! The request entry: from the request's headers to everything the host must do with it.

use super::edits::{self, HeaderEdit};
use super::response::ResponsePlan;
use super::REALM;
use crate::answer::{self, Answer};
use crate::audit::{self, Event};
use crate::authz::{self, Decision, RequestFlags, METHOD_OVERRIDE_HEADERS, METHOD_OVERRIDE_PARAM};
use crate::headers::Headers;
use crate::identity::signature::SignatureVerifier;
use crate::identity::{self, Keyring, Verified};
use crate::policy::{Auth, Policy, Rule};
use crate::reason::Reason;
use crate::routes::RequestLine;

/// What the host knows of a request when its headers arrive.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a, H: Headers + ?Sized> {
    pub headers: &'a H,
    /// Envoy's `xds.route_name`; only needed when the policy matches on route names
    /// ([`Policy::matches_route_names`]).
    pub route_name: Option<&'a str>,
    /// Envoy's `xds.route_metadata` (a serialized `Metadata`), when the route has any.
    pub route_metadata: Option<&'a [u8]>,
    /// The downstream peer (`source.address`).
    pub source_address: Option<&'a str>,
    /// The peer certificate's URI SAN (a SPIFFE id under mTLS).
    pub source_principal: Option<&'a str>,
    /// Host time (Unix ms) the request arrived.
    pub started_ms: u64,
}

/// What a loaded policy lends one request: the policy, its key state, the signature checker.
pub struct State<'a> {
    pub policy: &'a Policy,
    pub keyring: &'a mut Keyring,
    pub crypto: &'a dyn SignatureVerifier,
}

/// The outcome of [`request`].
#[derive(Debug)]
pub enum Judged {
    Done(Box<Verdict>),
    /// The route's provider has never had keys and the policy is young: call [`request`]
    /// again when any of `providers` has keys, or at `deadline_ms` (host ms) at the latest,
    /// then with `may_wait = false`.
    Wait {
        deadline_ms: u64,
        providers: Vec<usize>,
    },
}

/// Everything the host does with a judged request.
#[derive(Debug)]
pub struct Verdict {
    pub decision: Decision,
    pub caller: Option<Verified>,
    /// The local reply, when the request must not go upstream.
    pub reply: Option<Answer>,
    /// Request header edits, when it goes upstream.
    pub edits: Vec<HeaderEdit>,
    /// The audit event, begun: request, identity and decision filled in; [`super::log`]
    /// completes it.
    pub event: Event,
    /// How to treat the response, when the request goes upstream on a route whose responses
    /// are scanned.
    pub response: Option<ResponsePlan>,
}

impl Verdict {
    /// Whether the request is answered locally.
    pub fn blocks(&self) -> bool {
        self.reply.is_some()
    }
}

/// Judges a request at `now_ms` (host time). `state` is `None` when no policy is loaded:
/// the request is then refused (fail closed). With `may_wait`, a request whose provider has
/// never had keys may be told to wait for them instead of being denied at once.
pub fn request<H: Headers + ?Sized>(
    state: Option<State<'_>>,
    req: &Request<'_, H>,
    now_ms: u64,
    may_wait: bool,
) -> Judged {
    let method = req.headers.get(":method").unwrap_or_default();
    let path_and_query = req.headers.get(":path").unwrap_or_default();
    let grpc = req.headers.get("content-type").is_some_and(|ct| {
        ct.trim_start()
            .get(..16)
            .is_some_and(|t| t.eq_ignore_ascii_case("application/grpc"))
    });
    let metadata_route = req
        .route_metadata
        .and_then(crate::routes::metadata::route_name);
    let mut line = RequestLine::new(method, path_and_query, grpc);
    line.route_name = req.route_name;
    line.metadata_route = metadata_route.as_deref();
    let mut event = begin_event(req, method, &line);

    let Some(State {
        policy,
        keyring,
        crypto,
    }) = state
    else {
        let decision = Decision::unavailable();
        event.decision = Some(audit::DecisionRef::of(&decision, None));
        let reply = reply(&decision, None, grpc, &event);
        return Judged::Done(Box::new(Verdict {
            decision,
            caller: None,
            reply: Some(reply),
            edits: Vec::new(),
            event,
            response: None,
        }));
    };
    event.policy.version = policy.version.clone();
    event.policy.digest = policy.digest.clone();
    let flags = RequestFlags {
        method_override: METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|h| req.headers.get(h).is_some())
            || query_names_a_method(path_and_query),
    };
    let now = now_ms / 1000;
    let (decision, caller) = authz::decide(policy, &line, flags, now, |providers| {
        identity::authenticate(
            &policy.providers,
            providers,
            req.headers,
            now,
            keyring,
            crypto,
        )
    });
    if may_wait && decision.reason == Reason::JwksUnavailable {
        let providers = match decision.route.and_then(|i| policy.routes.get(i)) {
            Some(r) => match &r.auth {
                Auth::AnyOf(p) => p.as_slice(),
                Auth::Public => &[],
            },
            None => &[],
        };
        if let Some(deadline_ms) = keyring.first_keys_deadline(providers, now_ms) {
            return Judged::Wait {
                deadline_ms,
                providers: providers.to_vec(),
            };
        }
    }

    let route = decision.route.and_then(|i| policy.routes.get(i));
    let rule = decision.rule.and_then(|i| policy.rules.get(i));
    if let Some(who) = &caller {
        event.identity = Some(audit::IdentityRef::of(policy, who));
    }
    event.request.route = route.map(|r| r.name.clone());
    event.decision = Some(audit::DecisionRef::of(&decision, rule));
    event.jit = decision.grant.as_ref().map(audit::JitRef::of);

    if decision.blocks() {
        let reply = reply(&decision, rule, grpc, &event);
        return Judged::Done(Box::new(Verdict {
            decision,
            caller,
            reply: Some(reply),
            edits: Vec::new(),
            event,
            response: None,
        }));
    }
    let response = (policy.redaction.enabled && route.is_none_or(|r| r.redact)).then(|| {
        let skip = match route {
            Some(r) if !r.skip_content_types.is_empty() => r.skip_content_types.clone(),
            _ => policy.redaction.skip_content_types.clone(),
        };
        ResponsePlan {
            options: policy.redaction.options.clone(),
            skip_content_types: skip,
            grpc,
        }
    });
    let edits = edits::upstream(
        policy,
        caller.as_ref(),
        req.headers,
        response.is_some(),
        grpc,
    );
    Judged::Done(Box::new(Verdict {
        decision,
        caller,
        reply: None,
        edits,
        event,
        response,
    }))
}

/// Whether the query string has a method-override parameter (`?_method=DELETE`, the name in
/// any case or percent-encoded): frameworks act on it as the request's method.
fn query_names_a_method(path_and_query: &str) -> bool {
    let Some((_, query)) = path_and_query.split_once('?') else {
        return false;
    };
    query.split(['&', ';']).any(|param| {
        let name = param.split('=').next().unwrap_or("");
        crate::routes::fold_path(name).eq_ignore_ascii_case(METHOD_OVERRIDE_PARAM)
    })
}

/// The audit event's request part: who sent what, before any decision.
fn begin_event<H: Headers + ?Sized>(
    req: &Request<'_, H>,
    method: &str,
    line: &RequestLine<'_>,
) -> Event {
    let h = req.headers;
    let mut e = Event {
        version: audit::EVENT_VERSION,
        time: audit::rfc3339_millis(req.started_ms),
        request_id: h.get("x-request-id").map(str::to_string),
        trace_id: h
            .get("traceparent")
            .and_then(|tp| tp.split('-').nth(1).map(str::to_string)),
        ..Event::default()
    };
    e.source.address = req.source_address.map(str::to_string);
    e.source.principal = req.source_principal.map(str::to_string);
    e.request.method = method.to_string();
    e.request.path = line.path.to_string();
    e.request.authority = h.get(":authority").map(str::to_string);
    e.request.grpc = line.sent_grpc_method().map(str::to_string);
    e
}

/// The local reply for a decision that blocks.
fn reply(decision: &Decision, rule: Option<&Rule>, grpc: bool, event: &Event) -> Answer {
    let reason = decision.reason;
    let cx = answer::Context {
        realm: REALM,
        request_id: event.request_id.as_deref(),
        rule: rule.map(|r| r.id.as_str()),
        message: rule.and_then(|r| r.message.as_deref()),
        needs_scopes: match (reason, rule) {
            (Reason::ApprovalRequired, Some(r)) => &r.scopes,
            _ => &[],
        },
    };
    answer::answer(reason, grpc, &cx)
}
