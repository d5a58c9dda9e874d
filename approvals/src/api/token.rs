//! RFC 8693 token exchange: the requester trades its own access token (`subject_token`) for
//! its grant. Errors are RFC 6749 §5.2 JSON (`error`, `error_description`), status 400.
//!
//! Which grant: `request_id` (an extension parameter, RFC 6749 §8.2) names the request;
//! without it, `scope` picks the newest active grant covering those scopes; with neither, the
//! newest active grant. `audience`, when given, must be the grants' `aud`.

use super::view::{GRANT_HEADER, JWT_TOKEN_TYPE};
use crate::error::Error;
use crate::server::App;
use crate::{grant, ids};
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

#[derive(Debug, Deserialize)]
pub struct ExchangeForm {
    grant_type: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    request_id: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn invalid_request(d: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d)
}

pub async fn exchange(
    State(app): State<Arc<App>>,
    form: Result<Form<ExchangeForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return invalid_request("expected application/x-www-form-urlencoded parameters");
    };
    if f.grant_type.as_deref() != Some(GRANT_TYPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only urn:ietf:params:oauth:grant-type:token-exchange",
        );
    }
    let Some(subject) = f.subject_token.filter(|t| !t.is_empty()) else {
        return invalid_request("subject_token is required: your own access token");
    };
    match f.subject_token_type.as_deref() {
        Some(ACCESS_TOKEN_TYPE) | Some(JWT_TOKEN_TYPE) => {}
        _ => {
            return invalid_request(
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token or …:jwt",
            )
        }
    }
    if f.requested_token_type
        .as_deref()
        .is_some_and(|t| t != JWT_TOKEN_TYPE)
    {
        return invalid_request("requested_token_type: only urn:ietf:params:oauth:token-type:jwt");
    }
    let a = &app.settings.approvals;
    if f.audience.as_deref().is_some_and(|x| x != a.audience) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "grants are issued for this service's audience only",
        );
    }
    let now = crate::time::now();
    let who = match app.authn.caller_of_token(&subject, now) {
        Ok(c) => c,
        Err(Error::Unavailable) => return Error::Unavailable.into_response(),
        Err(e) => {
            return invalid_request(&format!("subject_token refused: {}", e.code()));
        }
    };
    let wanted: Vec<&str> = f
        .scope
        .as_deref()
        .map(|s| s.split_ascii_whitespace().collect())
        .unwrap_or_default();
    let found = match &f.request_id {
        Some(id) if !ids::well_formed("req", id) => None,
        Some(id) => match app.store.request(id).await {
            Ok(Some(d)) if d.request.requester == who.person => d.grant.map(|g| (d.request, g)),
            Ok(_) => None,
            Err(e) => return e.into_response(),
        },
        None => {
            let grants = match app.store.active_grants(&who.person, now).await {
                Ok(g) => g,
                Err(e) => return e.into_response(),
            };
            let pick = grants
                .into_iter()
                .find(|g| wanted.iter().all(|s| g.scopes.iter().any(|h| h == s)));
            match pick {
                Some(g) => match app.store.request(&g.request_id).await {
                    Ok(Some(d)) => Some((d.request, g)),
                    Ok(None) => None,
                    Err(e) => return e.into_response(),
                },
                None => None,
            }
        }
    };
    let Some((req, g)) = found else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "no approved, unexpired, unrevoked grant of yours matches",
        );
    };
    let token = match grant::token(a, &app.keys, &req, &g, now) {
        Ok(t) => t,
        Err(Error::Conflict { message, .. }) => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &message)
        }
        Err(e) => return e.into_response(),
    };
    let mut r = Json(json!({
        "access_token": token,
        "issued_token_type": JWT_TOKEN_TYPE,
        // RFC 8693 §2.2.1: not an OAuth access token; it goes in its own header.
        "token_type": "N_A",
        "expires_in": g.exp.saturating_sub(now),
        "scope": g.scopes.join(" "),
        "grant_id": g.id,
        "request_id": req.id,
        "header": GRANT_HEADER,
    }))
    .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
