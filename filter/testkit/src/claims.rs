//! The claims test tokens carry: the test issuer and audience (the "corp-idp" provider of
//! the tests and of `testdata/policies/`), standard claims, just-in-time grants.

use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The tests' IdP (`iss`).
pub const ISSUER: &str = "https://idp.example.com";
/// The API the tests' tokens are for (`aud`).
pub const AUDIENCE: &str = "payments-api";

/// Seconds since the Unix epoch: tokens get fresh times on every run, so nothing expires.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Standard claims: `sub` holding `scopes`, from [`ISSUER`] to [`AUDIENCE`], issued at `now`
/// and valid for ten minutes.
pub fn claims_at(now: u64, sub: &str, scopes: &[&str]) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600,
           "scope": scopes.join(" ")})
}

/// [`claims_at`] now, with the client (`azp`) and a `jti` unique to the subject and second:
/// what the end-to-end tests' callers present.
pub fn claims(sub: &str, scopes: &[&str]) -> Value {
    let n = now();
    let mut c = claims_at(n, sub, scopes);
    c["azp"] = json!("ci-runner");
    c["jti"] = json!(format!("jti-{sub}-{n}"));
    c
}

/// A just-in-time grant claim: `scopes` approved by `by`, valid from `nbf` for `ttl` seconds.
pub fn grant(id: &str, scopes: &[&str], by: &[&str], nbf: u64, ttl: u64) -> Value {
    json!({"id": id, "scopes": scopes, "approved_by": by, "approved_at": nbf, "nbf": nbf,
           "exp": nbf + ttl, "reason": "ticket"})
}

/// The `Authorization` header value carrying `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
