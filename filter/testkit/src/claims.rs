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

/// The tests' approvals service (`iss` of signed grants).
pub const APPROVALS: &str = "https://approvals.example.com";

/// The claims of a grant the approvals service signs for `sub` (of [`ISSUER`]): `scopes`
/// approved by `by`, valid from `nbf` for `ttl` seconds, bound by `detail` (one RFC 9396
/// `authorization_details` entry; its `type` is filled in).
pub fn signed_grant(
    id: &str,
    sub: &str,
    scopes: &[&str],
    by: &[&str],
    nbf: u64,
    ttl: u64,
    mut detail: Value,
) -> Value {
    detail["type"] = json!("https://pci-guard.dev/operation");
    detail["privileges"] = json!(scopes);
    let mut jit = grant(id, scopes, by, nbf, ttl);
    jit["approvers"] = by
        .iter()
        .map(|b| json!({"format": "iss_sub", "iss": ISSUER, "sub": b}))
        .collect();
    json!({"iss": APPROVALS, "aud": "pci-guard", "sub": sub,
           "sub_id": {"format": "iss_sub", "iss": ISSUER, "sub": sub},
           "jti": id, "iat": nbf, "nbf": nbf, "exp": nbf + ttl, "jit": jit,
           "authorization_details": [detail]})
}
