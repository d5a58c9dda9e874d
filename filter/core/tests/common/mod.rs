//! Shared helpers for the JWT tests: the "corp-idp" provider and its keys as core types, and
//! the testkit's minter with the core's [`Alg`] (the testkit takes algorithm names): jwt-simple
//! (an independent implementation) for well-formed tokens, a raw signer for hand-built ones.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::identity::KeySet;
use pci_guard_core::identity::{Alg, ProviderConfig};
use pci_guard_testkit as testkit;
use serde_json::{json, Value};

pub use testkit::{b64, now, read_key, AUDIENCE, HMAC_SECRET, ISSUER};

pub fn corp_keys() -> KeySet {
    KeySet::parse(read_key("corp-idp.jwks.json").as_bytes()).unwrap()
}

/// The "corp-idp" provider of the tests.
pub fn provider() -> ProviderConfig {
    let mut p = ProviderConfig::new("corp-idp", ISSUER);
    p.audiences = vec![AUDIENCE.to_string()];
    p
}

/// [`provider`] with HS256 allowed and [`HMAC_SECRET`] configured.
pub fn provider_with_hmac() -> ProviderConfig {
    let mut p = provider();
    p.algorithms.push(Alg::HS256);
    p.hmac_secret = Some(HMAC_SECRET.to_vec());
    p
}

/// A well-formed token for `alg`, minted by jwt-simple with the matching test key.
pub fn mint(alg: Alg, now: u64) -> String {
    let mut c = testkit::claims_at(now, "agent-7", &["cards:read", "payments:refund"]);
    c["azp"] = json!("ci-runner");
    c["jti"] = json!("jti-1");
    testkit::mint_independent(alg.name(), &c)
}

/// Standard claims for hand-built tokens.
pub fn payload(now: u64) -> Value {
    testkit::claims_at(now, "agent-7", &["cards:read"])
}

/// A token with exactly this header and payload JSON, signed for `alg` (HS* with
/// [`HMAC_SECRET`]).
pub fn mint_raw(alg: Alg, header: &Value, payload: &Value) -> String {
    mint_raw_with(alg, header, payload, HMAC_SECRET)
}

/// [`mint_raw`] with HS* keyed by `hmac_key`.
pub fn mint_raw_with(alg: Alg, header: &Value, payload: &Value, hmac_key: &[u8]) -> String {
    testkit::mint(alg.name(), &signing_key(alg, hmac_key), header, payload)
}

/// The signature of `signing_input` for `alg`: with its test key, or `hmac_key` for HS*.
/// ECDSA signatures are JOSE raw `r‖s`.
pub fn raw_sign(alg: Alg, input: &[u8], hmac_key: &[u8]) -> Vec<u8> {
    testkit::sign(alg.name(), &signing_key(alg, hmac_key), input)
}

fn signing_key(alg: Alg, hmac_key: &[u8]) -> Vec<u8> {
    if alg.is_hmac() {
        hmac_key.to_vec()
    } else {
        testkit::signing_key(alg.name())
    }
}

pub fn rs256_header() -> Value {
    testkit::header("RS256", "rsa-2026-a")
}
