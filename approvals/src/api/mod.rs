//! The HTTP API. Every handler: authenticate, parse, check, one store call, audit, answer.
//! Errors are [`crate::error::Error`]s, mapped to statuses in one place.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/requests` | any signed-in caller | file a request (201) |
//! | `GET /v1/requests?state=…` | requester, approvers | the requests you filed or may decide |
//! | `GET /v1/requests/{id}` | requester, approvers | one request; the requester gets the grant once approved |
//! | `POST /v1/requests/{id}/approve`, `…/deny` | approvers (never the requester) | decide |
//! | `POST /v1/grants/{id}/revoke` | requester, approvers | revoke a grant |
//! | `POST /oauth2/token` | the requester | RFC 8693 token exchange: access token → grant |
//! | `GET /.well-known/jwks.json` | anyone | the keys grants are signed with |
//! | `GET /v1/revocations` | anyone | revoked, unexpired grant ids (ETag, cacheable) |
//! | `GET /healthz` | anyone | 200 when the database answers, else 503 |

mod body;
mod public;
mod requests;
mod token;
mod view;

use crate::server::App;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// Largest body any call takes: a request with the longest justification the policy allows
/// and its operation fits many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/requests", post(requests::file).get(requests::list))
        .route("/v1/requests/{id}", get(requests::get))
        .route("/v1/requests/{id}/approve", post(requests::approve))
        .route("/v1/requests/{id}/deny", post(requests::deny))
        .route("/v1/grants/{id}/revoke", post(requests::revoke))
        .route("/oauth2/token", post(token::exchange))
        .route("/.well-known/jwks.json", get(public::jwks))
        .route("/v1/revocations", get(public::revocations))
        .route("/healthz", get(public::healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}
