//! Conformance: every case of google/jwt_verify_lib's tests (`shared/corpora/jwt`, 149
//! cases: token, keys, clock, expected status) run through pci-guard, compared at the
//! allow/deny level. Each case runs with a provider mirroring its settings (no issuer check,
//! the case's audiences and clock skew, `exp` not required, every algorithm allowed, HS*
//! with the case's `oct` keys as the configured secret). Where pci-guard deliberately
//! differs, the case is listed in `DIFFERS` with the reason; any other disagreement, or a
//! listed case that no longer differs, fails the test.
//!
//! The corpus folder is found at `$PCI_GUARD_SHARED/corpora/jwt`, else at
//! `<workspace>/../shared/corpora/jwt`; without it the test prints `SKIPPED` and passes, except
//! under CI, where it fails (see `corpora/mod.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

mod corpora;

use pci_guard_core::identity::checks::{check_claims, verify};
use pci_guard_core::identity::jwk::Jwk;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::token;
use pci_guard_core::identity::{Alg, KeySet, ProviderConfig};
use pci_guard_core::reason::Reason;
use serde_json::Value;

/// 2026-11-27T00:00:00Z: the clock for cases that used the real clock (as the corpus
/// README prescribes).
const CORPUS_NOW: u64 = 1_795_737_600;

const ES512: &str = "ES512 (P-521) is not supported: not in pci-guard's algorithm set";
const X509: &str = "x509 certificate key sets are not supported (JWKS and PEM SPKI only)";
const TOO_LARGE: &str = "token longer than pci-guard's 8 KiB cap (TokenTooLarge)";
const IAT_FUTURE: &str = "pci-guard refuses iat > now + skew (TokenIssuedInFuture); the test runs \
                          with now = 1 and jwt_verify_lib has no iat check";
const TRAILING_BITS: &str = "signature segment has non-zero trailing bits (non-canonical \
                             base64url), which pci-guard refuses; the time-only test never \
                             looks at the signature";

/// Cases where pci-guard's answer differs from jwt_verify_lib's on purpose.
const DIFFERS: &[(&str, &str)] = &[
    ("verify_jwk_ec_test.cc:VerifyJwkECTest.KidES512OK", ES512),
    ("verify_pem_ec_test.cc:VerifyPKCSTestES512.OKPem", ES512),
    ("verify_x509_test.cc:VerifyX509Test.NoKidToken", X509),
    ("verify_x509_test.cc:VerifyX509Test.RealToken", X509),
    (
        "jwt_test.cc:JwtParseTest.GoodJwtLongCustomClaims",
        TOO_LARGE,
    ),
    ("jwt_test.cc:JwtParseTest.GoodJwtLongClaim", TOO_LARGE),
    (
        "verify_jwk_rsa_test.cc:VerifyJwkRsaTest.LongClaimsWithCorrectKidOk",
        TOO_LARGE,
    ),
    (
        "verify_jwk_rsa_pss_test.cc:VerifyJwkRsaPssTest.Ps256CorrectKidOK",
        IAT_FUTURE,
    ),
    (
        "verify_jwk_rsa_pss_test.cc:VerifyJwkRsaPssTest.Ps384CorrectKidOK",
        IAT_FUTURE,
    ),
    (
        "verify_jwk_rsa_pss_test.cc:VerifyJwkRsaPssTest.Ps512CorrectKidOK",
        IAT_FUTURE,
    ),
    (
        "verify_jwk_rsa_pss_test.cc:VerifyKidMatchingTest.JwtTextWithNoKidOk",
        IAT_FUTURE,
    ),
    ("jwt_time_test.cc:VerifyExpTest.BothNbfExp#1", TRAILING_BITS),
    ("jwt_time_test.cc:VerifyExpTest.BothNbfExp#3", TRAILING_BITS),
    (
        "jwt_time_test.cc:VerifyExpTest.BothNbfExpWithCustomClockSkew#1",
        TRAILING_BITS,
    ),
    (
        "jwt_time_test.cc:VerifyExpTest.BothNbfExpWithCustomClockSkew#3",
        TRAILING_BITS,
    ),
];

fn s<'a>(c: &'a Value, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

fn token_alg_and_kid(token: &str) -> (Option<Alg>, Option<String>) {
    match token::parse_with_limit(token, usize::MAX) {
        Ok(j) => (Some(j.header.alg), j.header.kid),
        Err(_) => (None, None),
    }
}

fn provider_for(c: &Value) -> ProviderConfig {
    let mut p = ProviderConfig::new("corpus", "");
    p.require_expiration = false;
    p.clock_skew_seconds = c.get("clock_skew").and_then(Value::as_u64).unwrap_or(60);
    p.algorithms = Alg::ALL.to_vec();
    p.audiences = c
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    p
}

/// The `oct` secrets a case's JWKS offers for this token (by `kid` when both have one, and
/// by `alg` when the key pins one), as jwt_verify_lib would try them.
fn hmac_secrets(jwks: &Value, alg: Alg, kid: Option<&str>) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let mut out = Vec::new();
    for k in jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if s(k, "kty") != Some("oct") {
            continue;
        }
        if let (Some(t), Some(kk)) = (kid, s(k, "kid")) {
            if t != kk {
                continue;
            }
        }
        if s(k, "alg").is_some_and(|a| a != alg.name()) {
            continue;
        }
        if let Some(Ok(secret)) = s(k, "k").map(|v| lenient.decode(v)) {
            out.push(secret);
        }
    }
    out
}

/// The pci-guard reason closest to a jwt_verify_lib status (for the finer, reported-only
/// comparison).
fn reason_of_status(status: &str) -> Reason {
    match status {
        "Ok" => Reason::Ok,
        "JwtHeaderNotImplementedAlg" => Reason::TokenAlgNotAllowed,
        "JwtExpired" => Reason::TokenExpired,
        "JwtNotYetValid" => Reason::TokenNotYetValid,
        "JwtAudienceNotAllowed" => Reason::TokenBadAudience,
        "JwtVerificationFail" | "JwtEd25519SignatureWrongLength" => Reason::TokenBadSignature,
        "JwksKidAlgMismatch" => Reason::TokenUnknownKid,
        _ => Reason::TokenMalformed,
    }
}

/// A refusal: pci-guard's reason and its text.
type Denied = (Reason, String);

fn deny<E: std::fmt::Display>(reason: Reason, e: E) -> Denied {
    (reason, e.to_string())
}

fn deny_jwt(e: pci_guard_core::identity::error::JwtError) -> Denied {
    (e.reason(), e.to_string())
}

/// pci-guard's answer for one case: `Ok(())` allow, `Err` deny.
fn run_case(c: &Value) -> Result<(), Denied> {
    let token = s(c, "token").unwrap_or_default();
    let now = c.get("now").and_then(Value::as_u64).unwrap_or(CORPUS_NOW);
    match s(c, "check").unwrap_or_default() {
        "parse" => token::parse(token).map(|_| ()).map_err(deny_jwt),
        "time" => {
            let j = token::parse(token).map_err(deny_jwt)?;
            check_claims(&provider_for(c), &j.claims, now).map_err(deny_jwt)
        }
        "verify" => {
            let mut p = provider_for(c);
            let (alg, kid) = token_alg_and_kid(token);
            let keys = match s(c, "key_format") {
                Some("jwks") => {
                    let jwks = c.get("jwks").cloned().unwrap_or(Value::Null);
                    if let Some(a) = alg.filter(|a| a.is_hmac()) {
                        // HS*: the case's oct keys become the provider's configured secret.
                        let secrets = hmac_secrets(&jwks, a, kid.as_deref());
                        if secrets.is_empty() {
                            return Err(deny(Reason::TokenAlgNotAllowed, "no secret for HS*"));
                        }
                        let mut last = deny(Reason::TokenBadSignature, "no secret verified");
                        for secret in secrets {
                            p.hmac_secret = Some(secret);
                            match verify(&p, &KeySet::default(), token, now, &PureVerifier) {
                                Ok(_) => return Ok(()),
                                Err(e) => last = deny_jwt(e),
                            }
                        }
                        return Err(last);
                    }
                    KeySet::from_json(&jwks).map_err(|e| deny(e.reason(), e))?
                }
                Some("pem") => {
                    // A key pinned to an algorithm we do not know fits no token.
                    let pin = match s(c, "pem_alg") {
                        None => None,
                        Some(name) => Some(Alg::from_name(name).ok_or_else(|| {
                            deny(
                                Reason::TokenUnknownKid,
                                format!("key pinned to unsupported alg {name}"),
                            )
                        })?),
                    };
                    let pem = s(c, "pem").unwrap_or_default();
                    let k = Jwk::from_pem(pem, None, pin)
                        .map_err(|e| deny(Reason::JwksUnavailable, e))?;
                    KeySet::from_keys(vec![k])
                }
                other => {
                    return Err(deny(
                        Reason::JwksUnavailable,
                        format!("key format {other:?} not supported"),
                    ))
                }
            };
            verify(&p, &keys, token, now, &PureVerifier)
                .map(|_| ())
                .map_err(deny_jwt)
        }
        other => panic!("unknown check {other}"),
    }
}

#[test]
fn jwt_verify_lib_corpus() {
    let Some(dir) = corpora::corpus_dir("jwt", "cases.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("cases.jsonl")).unwrap();
    let differs: BTreeMap<&str, &str> = DIFFERS.iter().copied().collect();

    let (mut total, mut agree, mut differ, mut same_reason) = (0, 0, 0, 0);
    let mut unexplained = Vec::new();
    let mut stale: Vec<&str> = differs.keys().copied().collect();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let c: Value = serde_json::from_str(line).unwrap();
        total += 1;
        let name = s(&c, "name").unwrap().to_string();
        let want_allow = s(&c, "expect") == Some("Ok");
        let got = run_case(&c);
        let got_reason = got.as_ref().err().map_or(Reason::Ok, |d| d.0);
        let expect = s(&c, "expect").unwrap_or_default();
        if got_reason == reason_of_status(expect) {
            same_reason += 1;
        } else {
            println!(
                "reason differs: {name}: {expect} vs {}",
                got_reason.as_str()
            );
        }
        if got.is_ok() == want_allow {
            agree += 1;
        } else if let Some(why) = differs.get(name.as_str()) {
            differ += 1;
            stale.retain(|n| *n != name);
            println!("differs (deliberate): {name}: {why} [pci-guard: {got:?}]");
        } else {
            unexplained.push(format!(
                "{name}: expected {}, pci-guard {:?}",
                s(&c, "expect").unwrap_or_default(),
                got
            ));
        }
    }
    println!("jwt corpus: {agree} agree / {differ} deliberately differ / {total} total");
    println!("jwt corpus: {same_reason} of {total} also agree on the reason (reported only)");
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(stale.is_empty(), "listed as differing but agree: {stale:?}");
    assert_eq!(agree + differ, total);
}
