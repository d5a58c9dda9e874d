//! What anyone may read: the grant-signing keys, the revocation list, health. The filter
//! polls the first two like any provider's keys; both are small JSON documents.

use crate::server::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

pub async fn jwks(State(app): State<Arc<App>>) -> Response {
    let mut r = Json(app.keys.jwks(crate::time::now())).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

/// `{"version", "generated_at", "revoked": [{"id", "revoked_at", "exp"}]}`: every revoked
/// grant whose `exp` has not passed. `version` counts revocations ever made (it only grows);
/// the ETag hashes the list, so `If-None-Match` answers 304 until it changes.
pub async fn revocations(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let now = crate::time::now();
    let (version, list) = match app.store.revocations(now).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let revoked: Vec<_> = list
        .iter()
        .map(|(id, at, exp)| json!({"id": id, "revoked_at": at, "exp": exp}))
        .collect();
    let listed = json!({"version": version, "revoked": revoked});
    let etag = format!(
        "\"{}\"",
        &pci_guard_core::digest::sha256(listed.to_string().as_bytes())[7..23]
    );
    let cache = [
        (header::CACHE_CONTROL, "public, max-age=1".to_string()),
        (header::ETAG, etag.clone()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let body = json!({"version": version, "generated_at": now, "revoked": revoked});
    (cache, Json(body)).into_response()
}

pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => e.into_response(),
    }
}
