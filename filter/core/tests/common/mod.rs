//! Shared helpers for the JWT tests: test keys from `testdata/keys`, a provider, and two
//! ways to mint tokens: jwt-simple (an independent implementation, for well-formed tokens)
//! and a raw signer (RustCrypto) for hand-built headers and payloads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::*;
use pci_guard_core::identity::{Alg, KeySet, ProviderConfig};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://idp.example.com";
pub const AUDIENCE: &str = "payments-api";
pub const HMAC_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keys")
}

pub fn read_key(name: &str) -> String {
    std::fs::read_to_string(keys_dir().join(name)).unwrap()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn corp_keys() -> KeySet {
    KeySet::parse(read_key("corp-idp.jwks.json").as_bytes()).unwrap()
}

/// The "corp-idp" provider of the tests, with HS256 allowed and a secret configured.
pub fn provider() -> ProviderConfig {
    let mut p = ProviderConfig::new("corp-idp", ISSUER);
    p.audiences = vec![AUDIENCE.to_string()];
    p
}

pub fn provider_with_hmac() -> ProviderConfig {
    let mut p = provider();
    p.algorithms.push(Alg::HS256);
    p.hmac_secret = Some(HMAC_SECRET.to_vec());
    p
}

#[derive(Serialize, Deserialize)]
pub struct Extra {
    pub scope: String,
    pub azp: String,
}

fn js_claims(now: u64) -> JWTClaims<Extra> {
    let mut c = Claims::with_custom_claims(
        Extra {
            scope: "cards:read payments:refund".into(),
            azp: "ci-runner".into(),
        },
        Duration::from_secs(600),
    )
    .with_issuer(ISSUER)
    .with_audience(AUDIENCE)
    .with_subject("agent-7")
    .with_jwt_id("jti-1");
    let ts = UnixTimeStamp::from_secs(now);
    c.issued_at = Some(ts);
    c.invalid_before = Some(ts);
    c.expires_at = Some(ts + Duration::from_secs(600));
    c
}

/// A well-formed token for `alg`, minted by jwt-simple with the matching test key.
pub fn mint(alg: Alg, now: u64) -> String {
    let c = js_claims(now);
    match alg {
        Alg::RS256 => RS256KeyPair::from_pem(&read_key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::RS384 => RS384KeyPair::from_pem(&read_key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::RS512 => RS512KeyPair::from_pem(&read_key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::PS256 => PS256KeyPair::from_pem(&read_key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::PS384 => PS384KeyPair::from_pem(&read_key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::PS512 => PS512KeyPair::from_pem(&read_key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::ES256 => ES256KeyPair::from_pem(&read_key("ec256.pem"))
            .unwrap()
            .with_key_id("ec256-1")
            .sign(c),
        Alg::ES384 => ES384KeyPair::from_pem(&read_key("ec384.pem"))
            .unwrap()
            .with_key_id("ec384-1")
            .sign(c),
        Alg::EdDSA => Ed25519KeyPair::from_pem(&read_key("ed25519.pem"))
            .unwrap()
            .with_key_id("ed-1")
            .sign(c),
        Alg::HS256 => HS256Key::from_bytes(HMAC_SECRET).authenticate(c),
        Alg::HS384 => HS384Key::from_bytes(HMAC_SECRET).authenticate(c),
        Alg::HS512 => HS512Key::from_bytes(HMAC_SECRET).authenticate(c),
    }
    .unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Standard claims for hand-built tokens.
pub fn payload(now: u64) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "agent-7",
        "iat": now, "nbf": now, "exp": now + 600, "scope": "cards:read"
    })
}

/// Signs `signing_input` with the test key for `alg` (RS256 with rsa1, ES256, ES384, EdDSA,
/// HS* with `hmac_key`). ECDSA signatures are JOSE raw `r‖s`.
pub fn raw_sign(alg: Alg, input: &[u8], hmac_key: &[u8]) -> Vec<u8> {
    let file = match alg {
        Alg::RS256 => "rsa1.pem",
        Alg::ES256 => "ec256.pem",
        Alg::ES384 => "ec384.pem",
        Alg::EdDSA => "ed25519.pem",
        Alg::HS256 => return hmac_sha256::HMAC::mac(input, hmac_key).to_vec(),
        other => panic!("raw_sign: {other} not needed"),
    };
    pci_guard_core::testkit::sign(alg, &keys_dir(), file, input)
}

/// A token with exactly this header and payload JSON, signed for `alg`.
pub fn mint_raw(alg: Alg, header: &Value, payload: &Value) -> String {
    mint_raw_with(alg, header, payload, HMAC_SECRET)
}

pub fn mint_raw_with(alg: Alg, header: &Value, payload: &Value, hmac_key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig = raw_sign(alg, input.as_bytes(), hmac_key);
    format!("{input}.{}", b64(&sig))
}

pub fn rs256_header() -> Value {
    json!({"alg": "RS256", "kid": "rsa-2026-a", "typ": "JWT"})
}
