//! Filing, reading, deciding and revoking. Each handler checks everything it can before it
//! writes; a refused call changes nothing.

use super::body::{self, text};
use super::view;
use crate::audit_log::{self, request_ref};
use crate::authn::Caller;
use crate::error::Error;
use crate::model::{AccessRequest, Operation, State as RequestState, TargetRef, Verdict};
use crate::notify::notice;
use crate::server::App;
use crate::store::{Decided, Notice};
use crate::targets::{self, Requirement};
use crate::{grant, ids};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pci_guard_core::audit::approvals::{ApprovalAction, ApprovalEvent};
use pci_guard_core::policy::duration;
use pci_guard_core::redact::redact_header_value;
use serde::Deserialize;
use std::sync::Arc;

/// Longest approver or revoker comment, in bytes.
pub const MAX_COMMENT_BYTES: usize = 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBody {
    rule: Option<String>,
    route: Option<String>,
    scopes: Option<Vec<String>>,
    operation: Option<Operation>,
    /// `"15m"`, or `duration_seconds`; default: the maximum the policy allows.
    duration: Option<String>,
    duration_seconds: Option<u64>,
    justification: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    comment: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Masks card data in free text with the policy's redaction settings, before it is stored,
/// signed into a grant, logged or sent.
fn masked(app: &App, s: String) -> String {
    redact_header_value(&app.settings.policy.redaction.options, &s).unwrap_or(s)
}

fn caller(app: &App, headers: &HeaderMap, now: u64) -> Result<Caller, Error> {
    app.authn.caller(headers, now)
}

/// The requirement of `r`'s target under the current policy, if it still has one.
fn requirement(app: &App, r: &AccessRequest) -> Option<Requirement> {
    targets::resolve(&app.settings.policy, &r.target).ok()
}

/// Distinct approvals `r` needs (0 when its target left the policy).
fn min_approvals(app: &App, r: &AccessRequest) -> u32 {
    requirement(app, r).map_or(0, |q| q.min_approvals)
}

/// Whether `who` may see (and revoke the grant of) `r`: its requester, or someone allowed to
/// approve it.
fn may_see(app: &App, r: &AccessRequest, who: &Caller) -> bool {
    r.requester == who.person || requirement(app, r).is_some_and(|q| targets::may_approve(&q, who))
}

pub async fn file(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let now = crate::time::now();
    let who = caller(&app, &headers, now)?;
    let b: FileBody = body::json(body, false)?;
    let target = match (b.rule, b.route, b.scopes) {
        (Some(r), None, None) => TargetRef::Rule(r),
        (None, Some(r), None) => TargetRef::Route(r),
        (None, None, Some(s)) => TargetRef::Scopes(s),
        _ => {
            return Err(Error::bad(
                "bad_target",
                "name exactly one of \"rule\", \"route\" or \"scopes\"",
            ))
        }
    };
    let req = targets::resolve(&app.settings.policy, &target)?;
    if let Some(op) = &b.operation {
        targets::check_operation(&req, op)?;
    }
    let duration_seconds = match (b.duration, b.duration_seconds) {
        (Some(_), Some(_)) => {
            return Err(Error::bad(
                "bad_duration",
                "give \"duration\" or \"duration_seconds\", not both",
            ))
        }
        (Some(d), None) => duration::parse_millis(&d)
            .filter(|ms| *ms >= 1000)
            .map(|ms| ms / 1000)
            .ok_or_else(|| Error::bad("bad_duration", format!("{d:?}: use {}", duration::FORMS)))?,
        (None, Some(0)) => return Err(Error::bad("bad_duration", "must be at least 1 second")),
        (None, Some(s)) => s,
        (None, None) => req.max_ttl_seconds,
    };
    if duration_seconds > req.max_ttl_seconds {
        return Err(Error::bad(
            "duration_too_long",
            format!(
                "{duration_seconds} s is longer than the {} s the policy allows",
                req.max_ttl_seconds
            ),
        ));
    }
    let a = &app.settings.approvals;
    let justification = text(
        b.justification,
        a.max_justification_bytes,
        "justification",
        "justification_too_long",
    )?
    .ok_or_else(|| {
        Error::bad(
            "justification_missing",
            "say why you need this access (\"justification\"): approvers and auditors read it",
        )
    })?;
    let r = AccessRequest {
        id: ids::random("req").map_err(|_| Error::Internal("no randomness"))?,
        requester: who.person.clone(),
        target,
        scopes: req.scopes.clone(),
        operation: b.operation,
        duration_seconds,
        justification: masked(&app, justification),
        state: RequestState::Pending,
        filed_at: now,
        expires_at: now.saturating_add(a.pending_ttl_seconds),
        decided_at: None,
    };
    let mut e = audit_log::event(
        ApprovalAction::Filed,
        now,
        Some(&who.person),
        request_ref(&r, &[], req.min_approvals),
        None,
        None,
    );
    app.audit.stamp(&mut e);
    app.store.insert_request(&r, &notice("filed", &e)).await?;
    app.audit.write(e);
    let d = Decided {
        request: r,
        decisions: Vec::new(),
        grant: None,
    };
    let body = view::request(&d, now, req.min_approvals, None);
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/requests/{}", d.request.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(no_store(resp))
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let now = crate::time::now();
    let who = caller(&app, &headers, now)?;
    if !ids::well_formed("req", &id) {
        return Err(Error::NotFound);
    }
    let d = app.store.request(&id).await?.ok_or(Error::NotFound)?;
    if !may_see(&app, &d.request, &who) {
        return Err(Error::NotFound);
    }
    // The grant goes to its requester only, and only while it is usable.
    let token = match &d.grant {
        Some(g) if d.request.requester == who.person && g.active_at(now) => Some(grant::token(
            &app.settings.approvals,
            &app.keys,
            &d.request,
            g,
            now,
        )?),
        _ => None,
    };
    let min = min_approvals(&app, &d.request);
    Ok(no_store(
        Json(view::request(&d, now, min, token)).into_response(),
    ))
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let now = crate::time::now();
    let who = caller(&app, &headers, now)?;
    let state = match q.state.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
            Error::bad(
                "bad_state",
                format!("{s:?}: use pending, approved, denied, expired or all"),
            )
        })?),
    };
    // Expired-by-time requests may still be stored as pending until the sweeper runs.
    let stored = match state {
        Some(RequestState::Expired) => None,
        s => s,
    };
    let mut out = Vec::new();
    for r in app.store.list(stored).await? {
        if state.is_some_and(|s| r.state_at(now) != s) || !may_see(&app, &r, &who) {
            continue;
        }
        let min = min_approvals(&app, &r);
        let d = Decided {
            request: r,
            decisions: Vec::new(),
            grant: None,
        };
        let mut v = view::request(&d, now, min, None);
        if let Some(o) = v.as_object_mut() {
            // A listing is a summary: decisions and grants are in GET /v1/requests/{id}.
            o.remove("decisions");
            o.remove("grant");
        }
        out.push(v);
    }
    Ok(no_store(
        Json(serde_json::json!({ "requests": out })).into_response(),
    ))
}

pub async fn approve(
    app: State<Arc<App>>,
    id: Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    decide(app, id, headers, body, Verdict::Approve).await
}

pub async fn deny(
    app: State<Arc<App>>,
    id: Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    decide(app, id, headers, body, Verdict::Deny).await
}

/// The events a committed decision produced, in order.
fn decision_events(
    app: &App,
    d: &Decided,
    who: &Caller,
    verdict: Verdict,
    comment: Option<&str>,
    now: u64,
) -> Vec<ApprovalEvent> {
    let min = min_approvals(app, &d.request);
    let rr = request_ref(&d.request, &d.decisions, min);
    let action = match verdict {
        Verdict::Approve => ApprovalAction::Approved,
        Verdict::Deny => ApprovalAction::Denied,
    };
    let mut out = vec![audit_log::event(
        action,
        now,
        Some(&who.person),
        rr.clone(),
        None,
        comment,
    )];
    if let Some(g) = &d.grant {
        out.push(audit_log::event(
            ApprovalAction::GrantIssued,
            now,
            Some(&who.person),
            rr,
            Some(g),
            None,
        ));
    }
    for e in &mut out {
        app.audit.stamp(e);
    }
    out
}

async fn decide(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    verdict: Verdict,
) -> Result<Response, Error> {
    let now = crate::time::now();
    let who = caller(&app, &headers, now)?;
    let b: CommentBody = body::json(body, true)?;
    let comment =
        text(b.comment, MAX_COMMENT_BYTES, "comment", "comment_too_long")?.map(|c| masked(&app, c));
    if !ids::well_formed("req", &id) {
        return Err(Error::NotFound);
    }
    let grant_id = ids::random("grt").map_err(|_| Error::Internal("no randomness"))?;
    let check = |r: &AccessRequest| -> Result<u32, Error> {
        // Exact issuer and subject: no case folding, no Unicode normalisation.
        if r.requester == who.person {
            return Err(Error::forbidden(
                "self_approval",
                "you filed this request: someone else must decide it",
            ));
        }
        let q = requirement(&app, r).ok_or_else(|| {
            Error::conflict(
                "policy_changed",
                "the policy no longer has this request's rule, route or scopes",
            )
        })?;
        if r.duration_seconds > q.max_ttl_seconds {
            return Err(Error::conflict(
                "policy_changed",
                "the policy now allows a shorter grant than this request asks for",
            ));
        }
        if !targets::may_approve(&q, &who) {
            return Err(Error::forbidden(
                "approver_not_allowed",
                "the policy does not name you (or a group of yours) as an approver for this",
            ));
        }
        Ok(q.min_approvals)
    };
    let notices = |d: &Decided| -> Vec<Notice> {
        decision_events(&app, d, &who, verdict, comment.as_deref(), now)
            .iter()
            .map(|e| notice(e.event.as_str(), e))
            .collect()
    };
    let d = app
        .store
        .decide(
            &id,
            &who.person,
            verdict,
            comment.as_deref(),
            now,
            &grant_id,
            &check,
            &notices,
        )
        .await?;
    for e in decision_events(&app, &d, &who, verdict, comment.as_deref(), now) {
        app.audit.write(e);
    }
    let min = min_approvals(&app, &d.request);
    Ok(no_store(
        Json(view::request(&d, now, min, None)).into_response(),
    ))
}

pub async fn revoke(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let now = crate::time::now();
    let who = caller(&app, &headers, now)?;
    let b: CommentBody = body::json(body, true)?;
    let comment =
        text(b.comment, MAX_COMMENT_BYTES, "comment", "comment_too_long")?.map(|c| masked(&app, c));
    if !ids::well_formed("grt", &id) {
        return Err(Error::NotFound);
    }
    let allowed = |_: &crate::model::Grant, r: &AccessRequest| {
        if may_see(&app, r, &who) {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    };
    let event = |g: &crate::model::Grant, r: &AccessRequest| {
        let min = min_approvals(&app, r);
        let mut rr = request_ref(r, &[], min);
        rr.approvals = u32::try_from(g.approved_by.len()).unwrap_or(u32::MAX);
        let mut e = audit_log::event(
            ApprovalAction::Revoked,
            now,
            Some(&who.person),
            rr,
            Some(g),
            comment.as_deref(),
        );
        app.audit.stamp(&mut e);
        e
    };
    let notices =
        |g: &crate::model::Grant, r: &AccessRequest| vec![notice("revoked", &event(g, r))];
    let (g, r) = app
        .store
        .revoke(
            &id,
            &who.person,
            comment.as_deref(),
            now,
            &allowed,
            &notices,
        )
        .await?;
    app.audit.write(event(&g, &r));
    Ok(no_store(
        Json(serde_json::json!({
            "id": g.id,
            "request": r.id,
            "revoked_at": crate::time::rfc3339(now),
            "revoked_by": {"iss": who.person.iss, "sub": who.person.sub},
        }))
        .into_response(),
    ))
}
