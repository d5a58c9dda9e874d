//! Tokens for the e2e tests, minted with fresh times from the test keys in `testdata/keys/`
//! (see its README), through the core's testkit.

use pci_guard_core::identity::Alg;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ISSUER: &str = "https://idp.example.com";
pub const AUDIENCE: &str = "payments-api";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims for `sub` with `scopes`, valid for ten minutes from now.
pub fn claims(sub: &str, scopes: &[&str]) -> Value {
    let n = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "azp": "ci-runner", "jti": format!("jti-{sub}-{n}"),
           "iat": n, "nbf": n, "exp": n + 600, "scope": scopes.join(" ")})
}

/// A just-in-time grant claim: `scopes` approved by `by`, valid from `nbf` for `ttl` seconds.
pub fn grant(id: &str, scopes: &[&str], by: &[&str], nbf: u64, ttl: u64) -> Value {
    json!({"id": id, "scopes": scopes, "approved_by": by, "approved_at": nbf, "nbf": nbf, "exp": nbf + ttl, "reason": "ticket"})
}

/// Signs `payload` with a test key: `key` is one of `rsa1`, `rsa2`, `ec256`, `ed25519`.
pub fn sign(key: &str, payload: &Value) -> String {
    let (alg, kid) = match key {
        "rsa1" => (Alg::RS256, "rsa-2026-a"),
        "rsa2" => (Alg::RS256, "rsa-2026-b"),
        "ec256" => (Alg::ES256, "ec256-1"),
        "ed25519" => (Alg::EdDSA, "ed-1"),
        other => panic!("no test key {other}"),
    };
    sign_with(alg, kid, key, payload)
}

/// Signs with an explicit header `kid` (to name keys the provider does not have).
pub fn sign_with(alg: Alg, kid: &str, key: &str, payload: &Value) -> String {
    let header = json!({"alg": alg.name(), "kid": kid, "typ": "JWT"});
    pci_guard_core::testkit::mint(
        alg,
        &super::root().join("testdata/keys"),
        &format!("{key}.pem"),
        &header,
        payload,
    )
}

/// `Authorization` header value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
