//! The local replies of the request entries: a decision that blocks answered in the
//! caller's protocol (with the scopes and grant that would help), a request refused before
//! any route was tried, and the filter's own protected-resource metadata.

use super::REALM;
use crate::answer::{self, AccessRequest, Answer, Form, RpcDenial};
use crate::audit::Event;
use crate::authz::Decision;
use crate::operation::{self, Call};
use crate::policy::{Policy, Route, Rule};
use crate::reason::Reason;

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
    );
    // The scopes a token or grant must carry, and the grant that would do.
    let (needs_scopes, access_request): (&[String], _) = match (rule, route) {
        (Some(r), _) if grant_reason => (
            &r.scopes,
            Some(AccessRequest {
                scopes: &r.scopes,
                rule: Some(&r.id),
                route: route.map(|r| r.name.as_str()),
                max_ttl_seconds: r.jit.max_ttl_seconds,
                min_approvals: r.jit.min_approvals,
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
            }),
        ),
        (_, Some(r)) if reason == Reason::ScopeMissing => (&r.scopes, None),
        _ => (&[], None),
    };
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
