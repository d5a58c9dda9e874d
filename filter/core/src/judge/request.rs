//! The request entries: from the request's headers (and, when the decision depends on it,
//! its body) to everything the host must do with it.
//!
//! ```text
//! headers ─► request() ─► Done(verdict) | Wait (keys) | ReadBody { limit }
//!                                                        │ the host buffers the body
//! body ────► request_body() ─► Done(verdict) | Wait ◄────┘
//! ```

use super::edits::{self, HeaderEdit};
use super::operations::{self, Need};
use super::reply::{denial, grpc_form, op_reason, reply, Ask};
use super::resource;
use super::response::ResponsePlan;
use crate::answer::{Answer, Form, RpcDenial};
use crate::audit::{self, Event};
use crate::authz::grant::{GrantState, Presented};
use crate::authz::{self, Decision, RequestFlags, METHOD_OVERRIDE_HEADERS, METHOD_OVERRIDE_PARAM};
use crate::headers::Headers;
use crate::identity::signature::SignatureVerifier;
use crate::identity::{self, Keyring, Verified};
use crate::operation::{self, Operations, Protocol};
use crate::policy::{Auth, Policy};
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

/// What a loaded policy lends one request: the policy, its key state, the signature checker,
/// and the approvals service's keys and revocation list when the policy takes grants.
pub struct State<'a> {
    pub policy: &'a Policy,
    pub keyring: &'a mut Keyring,
    pub crypto: &'a dyn SignatureVerifier,
    pub grants: Option<&'a mut GrantState>,
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
    /// The decision depends on the request body: make `edits`, let the headers go on, hold the
    /// body (at most `limit` bytes) and call [`request_body`] with it. Envoy delivers no body
    /// to a filter that holds the headers, so the headers go upstream first, with the edits
    /// of the route that needs the body; the body (and so the operation) goes only if allowed.
    ReadBody {
        limit: usize,
        edits: Vec<HeaderEdit>,
    },
}

/// The request body as the host read it.
#[derive(Debug, Clone, Copy)]
pub struct Body<'a> {
    /// Everything up to the end of the stream, or the first bytes when `over_limit`.
    pub bytes: &'a [u8],
    /// More than the limit [`Judged::ReadBody`] gave arrived: refused with 413.
    pub over_limit: bool,
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
/// never had keys may be told to wait for them instead of being denied at once. When the
/// decision depends on the body, the answer is [`Judged::ReadBody`].
pub fn request<H: Headers + ?Sized>(
    state: Option<State<'_>>,
    req: &Request<'_, H>,
    now_ms: u64,
    may_wait: bool,
) -> Judged {
    judge(state, req, None, now_ms, may_wait)
}

/// Judges a request whose body was read after [`Judged::ReadBody`] (never asks for it again).
pub fn request_body<H: Headers + ?Sized>(
    state: Option<State<'_>>,
    req: &Request<'_, H>,
    body: Body<'_>,
    now_ms: u64,
    may_wait: bool,
) -> Judged {
    judge(state, req, Some(body), now_ms, may_wait)
}

fn judge<H: Headers + ?Sized>(
    state: Option<State<'_>>,
    req: &Request<'_, H>,
    body: Option<Body<'_>>,
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
        grants,
    }) = state
    else {
        return refused(Decision::unavailable(), event, grpc_form(grpc));
    };
    event.policy.version = policy.version.clone();
    event.policy.digest = policy.digest.clone();
    if let (Some(pr), Some(asked)) = (
        &policy.protected_resource,
        resource::asked(&line.match_path),
    ) {
        if matches!(method, "GET" | "HEAD") {
            return metadata(resource::document(pr, req.headers, asked), event);
        }
    }
    let mut flags = RequestFlags {
        method_override: METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|h| req.headers.get(h).is_some())
            || query_names_a_method(path_and_query),
    };
    let content_type = req.headers.get("content-type");
    // What the decision needs beyond the headers; nothing when the request line alone is
    // refused (a non-canonical path, an override header).
    let need = match flags.method_override || !crate::routes::is_canonical(line.path) {
        true => Need::default(),
        false => operations::need(policy, &line, content_type),
    };
    let form = |protocol: Option<Protocol>| match protocol {
        Some(Protocol::JsonRpc) => Form::JsonRpc {
            calls: &[],
            batch: false,
        },
        Some(Protocol::GraphQl) => Form::GraphQl,
        None => grpc_form(grpc),
    };
    let limit = policy.max_body_bytes;
    let mut ops: Option<Operations> = None;
    match body {
        None if need.body(&line.method) => {
            let declared = req
                .headers
                .get("content-length")
                .and_then(|l| l.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > limit as u64) {
                return refused(
                    Decision::before_routes(Reason::BodyTooLarge),
                    event,
                    form(need.protocol),
                );
            }
            return Judged::ReadBody {
                limit,
                edits: body_edits(
                    policy,
                    &line,
                    req.headers,
                    grpc,
                    now_ms / 1000,
                    keyring,
                    crypto,
                ),
            };
        }
        None => {
            // A GraphQL GET carries its operation in the query string.
            if let (Some(Protocol::GraphQl), Some((_, q))) =
                (need.protocol, path_and_query.split_once('?'))
            {
                match operation::parse_graphql_query(q) {
                    Ok(o) => ops = Some(o),
                    Err(e) => {
                        return refused(Decision::before_routes(op_reason(e)), event, Form::GraphQl)
                    }
                }
            }
        }
        Some(b) if b.over_limit || b.bytes.len() > limit => {
            return refused(
                Decision::before_routes(Reason::BodyTooLarge),
                event,
                form(need.protocol),
            );
        }
        Some(b) => {
            if need
                .form
                .is_some_and(|k| operation::form::names_a_method(k, b.bytes, METHOD_OVERRIDE_PARAM))
            {
                flags.method_override = true;
            }
            // An empty body carries no operation: only routes without one can match it.
            if let (Some(p), false) = (need.protocol, b.bytes.is_empty() || flags.method_override) {
                match operation::parse(p, content_type, b.bytes) {
                    Ok(o) => ops = Some(o),
                    Err(e) => {
                        return refused(Decision::before_routes(op_reason(e)), event, form(Some(p)))
                    }
                }
            }
        }
    }
    let now = now_ms / 1000;
    let authenticate = |providers: &[usize]| {
        identity::authenticate(
            &policy.providers,
            providers,
            req.headers,
            now,
            keyring,
            crypto,
        )
    };
    let header_grant = presented(grants, req.headers, now, crypto);
    let header_grant = header_grant.as_ref();
    let (decision, caller, each) = match &ops {
        Some(o) => {
            operations::decide_calls(policy, &line, flags, now, header_grant, o, authenticate)
        }
        None => {
            let (d, c) =
                authz::decide_with_grant(policy, &line, flags, now, header_grant, authenticate);
            (d, c, Vec::new())
        }
    };
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
    event.jit = (decision.grant.as_ref()).map(|g| audit::JitRef::of(g, decision.grant_source));
    if let Some(o) = &ops {
        event.request.operation = Some(audit::OperationRef::of(o, &each));
    }

    if decision.blocks() {
        let denials: Vec<RpcDenial<'_>> = match &ops {
            Some(o) => o
                .calls
                .iter()
                .zip(&each)
                .map(|(c, d)| denial(policy, c, d))
                .collect(),
            None => Vec::new(),
        };
        let form = match &ops {
            Some(o) if o.protocol == Protocol::JsonRpc => Form::JsonRpc {
                calls: &denials,
                batch: o.batch,
            },
            Some(_) => Form::GraphQl,
            None => grpc_form(grpc),
        };
        let metadata_url = policy
            .protected_resource
            .as_ref()
            .and_then(|pr| resource::metadata_url(pr, req.headers, line.path));
        let ask = policy.approvals.as_ref().map(|approvals| Ask {
            approvals,
            line: &line,
            redaction: &policy.redaction.options,
        });
        let reply = reply(
            &decision,
            route,
            rule,
            form,
            &event,
            metadata_url.as_deref(),
            ask,
        );
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

/// The grant header's grant, checked as far as it can be before the route is known; `None`
/// when the policy takes no grants from a header or none was sent.
fn presented<H: Headers + ?Sized>(
    grants: Option<&mut GrantState>,
    headers: &H,
    now: u64,
    crypto: &dyn SignatureVerifier,
) -> Option<Presented> {
    let g = grants?;
    let raw = headers.get(g.header())?;
    Some(g.verify(raw.trim(), now, crypto))
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

/// The upstream edits for a request whose headers go on before its body is judged: those of
/// the first route that needs the body, for the caller its providers verify (none if none
/// does: tokens and identity headers are stripped all the same).
fn body_edits<H: Headers + ?Sized>(
    policy: &Policy,
    line: &RequestLine<'_>,
    headers: &H,
    grpc: bool,
    now: u64,
    keyring: &mut Keyring,
    crypto: &dyn SignatureVerifier,
) -> Vec<HeaderEdit> {
    let route = policy
        .routes
        .iter()
        .find(|r| r.matcher.operation.is_some() && r.matcher.matches_line(line, true));
    let caller = match route.map(|r| &r.auth) {
        Some(Auth::AnyOf(p)) => {
            identity::authenticate(&policy.providers, p, headers, now, keyring, crypto).ok()
        }
        _ => None,
    };
    let scanned = policy.redaction.enabled && route.is_none_or(|r| r.redact);
    edits::upstream(policy, caller.as_ref(), headers, scanned, grpc)
}

/// A request refused before any route or rule was tried (no policy, a body that cannot be
/// read): the event records it, the caller gets `decision`'s answer in `form`.
fn refused(decision: Decision, mut event: Event, form: Form<'_>) -> Judged {
    event.decision = Some(audit::DecisionRef::of(&decision, None));
    let reply = reply(&decision, None, None, form, &event, None, None);
    Judged::Done(Box::new(Verdict {
        decision,
        caller: None,
        reply: Some(reply),
        edits: Vec::new(),
        event,
        response: None,
    }))
}

/// The protected-resource metadata, answered by the filter itself.
fn metadata(doc: Vec<u8>, mut event: Event) -> Judged {
    let decision = Decision::before_routes(Reason::ResourceMetadata);
    event.decision = Some(audit::DecisionRef::of(&decision, None));
    let reply = Answer::Http {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "no-store".to_string()),
        ],
        body: doc,
    };
    Judged::Done(Box::new(Verdict {
        decision,
        caller: None,
        reply: Some(reply),
        edits: Vec::new(),
        event,
        response: None,
    }))
}
