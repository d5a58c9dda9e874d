//! The local replies of the request entries: a decision that blocks answered in the
//! caller's protocol (with the scopes and grant that would help), a request refused before
//! any route was tried, and the filter's own protected-resource metadata.

use super::REALM;
use crate::answer::{self, AccessRequest, Answer, Form, RpcDenial};
use crate::audit::Event;
use crate::authz::Decision;
use crate::operation::{self, Call};
use crate::policy::{Approvals, Policy, Route, Rule};
use crate::reason::Reason;
use crate::redact::{redact_header_value, RedactOptions};
use crate::routes::RequestLine;
use serde_json::{json, Value};

/// Where the caller of a denied request can ask for the grant it needs.
#[derive(Clone, Copy)]
pub(super) struct Ask<'a> {
    pub approvals: &'a Approvals,
    pub line: &'a RequestLine<'a>,
    /// The policy's card-data settings: a path that holds a card number is not echoed.
    pub redaction: &'a RedactOptions,
}

impl Ask<'_> {
    /// The `POST <issuer>/v1/requests` body for this request, but the justification: the
    /// rule or route, this operation, the longest duration allowed. Never a token, and never
    /// a path that holds card data or template syntax (it would not bind this request).
    fn body(&self, rule: Option<&str>, route: Option<&str>, max_ttl_seconds: u64) -> Value {
        let mut b = match (rule, route) {
            (Some(r), _) => json!({"rule": r}),
            (None, Some(r)) => json!({"route": r}),
            (None, None) => json!({}),
        };
        let l = self.line;
        let operation = match l.sent_grpc_method() {
            Some(m) => Some(json!({"grpc": m})),
            None => (!l.path.bytes().any(|c| b"{}*%;".contains(&c))
                && redact_header_value(self.redaction, l.path).is_none())
            .then(|| json!({"methods": [l.method], "path": l.path})),
        };
        if let Some(op) = operation {
            b["operation"] = op;
        }
        b["duration_seconds"] = json!(max_ttl_seconds);
        b["justification"] = json!("");
        b
    }
}

pub(super) fn grpc_form(grpc: bool) -> Form<'static> {
    if grpc {
        Form::Grpc
    } else {
        Form::Http
    }
}

pub(super) fn op_reason(e: operation::OpError) -> Reason {
    match e {
        operation::OpError::Malformed => Reason::OperationMalformed,
        operation::OpError::ContentType => Reason::OperationContentType,
        operation::OpError::Ambiguous => Reason::OperationAmbiguous,
    }
}

/// Why one call of a denied request did not run: its own denial, or its batch's.
pub(super) fn denial<'a>(policy: &'a Policy, call: &'a Call, d: &Decision) -> RpcDenial<'a> {
    let rule = d.rule.and_then(|i| policy.rules.get(i));
    let (reason, rule) = match d.blocks() {
        true => (d.reason, rule),
        false => (Reason::OperationBatchDenied, None),
    };
    RpcDenial {
        id: match call {
            Call::JsonRpc(c) => c.id.as_ref(),
            Call::GraphQl(_) => None,
        },
        reason,
        rule: rule.map(|r| r.id.as_str()),
        message: rule.and_then(|r| r.message.as_deref()),
    }
}

/// The local reply for a decision that blocks, in the caller's `form`.
pub(super) fn reply(
    decision: &Decision,
    route: Option<&Route>,
    rule: Option<&Rule>,
    form: Form<'_>,
    event: &Event,
    resource_metadata: Option<&str>,
    ask: Option<Ask<'_>>,
) -> Answer {
    let reason = decision.reason;
    let grant_reason = matches!(
        reason,
        Reason::ApprovalRequired
            | Reason::JitMissing
            | Reason::JitExpired
            | Reason::JitNotYetValid
            | Reason::JitTtlExceeded
            | Reason::JitSelfApproved
            | Reason::JitTooFewApprovals
            | Reason::JitApproverNotAllowed
            | Reason::JitNoSubject
            | Reason::JitScopeNotGranted
            | Reason::GrantInvalid
            | Reason::GrantWrongSubject
            | Reason::GrantNotForOperation
            | Reason::GrantRevoked
    );
    // The scopes a token or grant must carry, and the grant that would do.
    let (needs_scopes, mut access_request): (&[String], _) = match (rule, route) {
        (Some(r), _) if grant_reason => (
            &r.scopes,
            Some(AccessRequest {
                scopes: &r.scopes,
                rule: Some(&r.id),
                route: route.map(|r| r.name.as_str()),
                max_ttl_seconds: r.jit.max_ttl_seconds,
                min_approvals: r.jit.min_approvals,
                url: None,
                body: None,
            }),
        ),
        (None, Some(r)) if grant_reason => (
            &r.scopes,
            r.jit.as_ref().map(|j| AccessRequest {
                scopes: &r.scopes,
                rule: None,
                route: Some(&r.name),
                max_ttl_seconds: j.max_ttl_seconds,
                min_approvals: j.min_approvals,
                url: None,
                body: None,
            }),
        ),
        (_, Some(r)) if reason == Reason::ScopeMissing => (&r.scopes, None),
        _ => (&[], None),
    };
    let prefill = match (&access_request, ask) {
        (Some(h), Some(ask)) => Some((ask, ask.body(h.rule, h.route, h.max_ttl_seconds))),
        _ => None,
    };
    if let (Some(h), Some((ask, body))) = (&mut access_request, &prefill) {
        h.url = Some(&ask.approvals.requests_url);
        h.body = Some(body);
    }
    let cx = answer::Context {
        realm: REALM,
        request_id: event.request_id.as_deref(),
        rule: rule.map(|r| r.id.as_str()),
        message: rule.and_then(|r| r.message.as_deref()),
        needs_scopes,
        resource_metadata,
        access_request,
    };
    answer::answer(reason, form, &cx)
}
