//! `verify`: one positive test per algorithm (tokens minted by jwt-simple, an independent
//! implementation) and one named test per attack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pci_guard_core::identity::checks::verify;
use pci_guard_core::identity::error::{JwtError, Malformed};
use pci_guard_core::identity::jwk::Jwk;
use pci_guard_core::identity::provider::SubjectMatch;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::{Alg, Identity, KeySet, ProviderConfig};
use pci_guard_core::reason::Reason;
use serde_json::json;

fn run(p: &ProviderConfig, token: &str, now: u64) -> Result<Identity, JwtError> {
    verify(p, &corp_keys(), token, now, &PureVerifier)
}

fn reason(p: &ProviderConfig, token: &str, now: u64) -> Reason {
    match run(p, token, now) {
        Ok(_) => Reason::Ok,
        Err(e) => e.reason(),
    }
}

fn assert_ok(alg: Alg) {
    let n = now();
    let t = mint(alg, n);
    let id = run(&provider_with_hmac_for(alg), &t, n).unwrap_or_else(|e| panic!("{alg}: {e}"));
    assert_eq!(id.provider, "corp-idp");
    assert_eq!(id.iss.as_deref(), Some(ISSUER));
    assert_eq!(id.sub.as_deref(), Some("agent-7"));
    assert_eq!(id.azp.as_deref(), Some("ci-runner"));
    assert_eq!(id.jti.as_deref(), Some("jti-1"));
    assert_eq!(id.alg, alg.name());
    assert_eq!(id.exp, Some(n + 600));
    assert_eq!(id.scopes, vec!["cards:read", "payments:refund"]);
}

fn provider_with_hmac_for(alg: Alg) -> ProviderConfig {
    let mut p = provider_with_hmac();
    if alg.is_hmac() && !p.algorithms.contains(&alg) {
        p.algorithms.push(alg);
    }
    p
}

#[test]
fn accepts_rs256() {
    assert_ok(Alg::RS256);
}
#[test]
fn accepts_rs384() {
    assert_ok(Alg::RS384);
}
#[test]
fn accepts_rs512() {
    assert_ok(Alg::RS512);
}
#[test]
fn accepts_ps256() {
    assert_ok(Alg::PS256);
}
#[test]
fn accepts_ps384() {
    assert_ok(Alg::PS384);
}
#[test]
fn accepts_ps512() {
    assert_ok(Alg::PS512);
}
#[test]
fn accepts_es256() {
    assert_ok(Alg::ES256);
}
#[test]
fn accepts_es384() {
    assert_ok(Alg::ES384);
}
#[test]
fn accepts_eddsa() {
    assert_ok(Alg::EdDSA);
}
#[test]
fn accepts_hs256_with_configured_secret() {
    assert_ok(Alg::HS256);
}
#[test]
fn accepts_hs384_and_hs512_with_configured_secret() {
    assert_ok(Alg::HS384);
    assert_ok(Alg::HS512);
}

#[test]
fn accepts_hand_built_token_and_reads_scp_and_client_id() {
    let n = now();
    let mut p = payload(n);
    p["scp"] = json!(["exports:run"]);
    p["client_id"] = json!("cli-9");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    let id = run(&provider(), &t, n).unwrap();
    assert_eq!(id.scopes, vec!["cards:read", "exports:run"]);
    assert_eq!(id.azp.as_deref(), Some("cli-9"));
    assert_eq!(id.claims["client_id"], "cli-9");
}

#[test]
fn accepts_token_without_kid_by_trying_fitting_keys() {
    let n = now();
    let t = mint_raw(Alg::ES256, &json!({"alg": "ES256"}), &payload(n));
    assert_eq!(reason(&provider(), &t, n), Reason::Ok);
}

// ---- attacks ----

#[test]
fn rejects_alg_none() {
    let n = now();
    for alg in ["none", "None", "NONE"] {
        let t = format!(
            "{}.{}.{}",
            b64(json!({"alg": alg}).to_string().as_bytes()),
            b64(payload(n).to_string().as_bytes()),
            b64(b"x")
        );
        assert_eq!(run(&provider(), &t, n).unwrap_err(), JwtError::AlgNone);
        assert_eq!(reason(&provider(), &t, n), Reason::TokenAlgNotAllowed);
    }
    // "alg none" style with an empty signature segment.
    let t = format!(
        "{}.{}.",
        b64(json!({"alg": "none"}).to_string().as_bytes()),
        b64(payload(n).to_string().as_bytes())
    );
    assert_eq!(reason(&provider(), &t, n), Reason::TokenMalformed);
}

#[test]
fn rejects_hs256_signed_with_rsa_public_key() {
    let n = now();
    // The classic: HS256 with the RSA public key (PEM and DER forms) as the HMAC secret.
    let pem = read_key("rsa1.pub.pem");
    let der = corp_keys().keys()[0].spki_der().to_vec();
    for secret in [pem.as_bytes(), der.as_slice()] {
        let h = json!({"alg": "HS256", "kid": "rsa-2026-a"});
        let t = mint_raw_with(Alg::HS256, &h, &payload(n), secret);
        // Default provider: HS* not allowed at all.
        assert_eq!(reason(&provider(), &t, n), Reason::TokenAlgNotAllowed);
        // Provider lists HS256 but has no secret: still refused before any key is used.
        let mut p = provider();
        p.algorithms.push(Alg::HS256);
        assert_eq!(reason(&p, &t, n), Reason::TokenAlgNotAllowed);
        // Provider with its own secret: the RSA key is never the secret.
        assert_eq!(
            reason(&provider_with_hmac(), &t, n),
            Reason::TokenBadSignature
        );
    }
}

#[test]
fn rejects_oct_key_published_in_jwks() {
    let n = now();
    let jwks = json!({"keys": [
        {"kty": "oct", "kid": "h", "k": b64(HMAC_SECRET)},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    ]});
    let keys = KeySet::parse(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.skipped().len(), 1);
    let mut p = provider();
    p.algorithms.push(Alg::HS256);
    let t = mint_raw(
        Alg::HS256,
        &json!({"alg": "HS256", "kid": "h"}),
        &payload(n),
    );
    let e = verify(&p, &keys, &t, n, &PureVerifier).unwrap_err();
    assert_eq!(e.reason(), Reason::TokenAlgNotAllowed);
}

#[test]
fn rejects_unknown_kid() {
    let n = now();
    let h = json!({"alg": "RS256", "kid": "not-there"});
    let t = mint_raw(Alg::RS256, &h, &payload(n));
    assert_eq!(run(&provider(), &t, n).unwrap_err(), JwtError::UnknownKid);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenUnknownKid);
}

#[test]
fn rejects_known_kid_with_alg_it_does_not_fit() {
    let n = now();
    // kid of the RS256-pinned key, but ES256 signed: no key fits.
    let h = json!({"alg": "ES256", "kid": "rsa-2026-b"});
    let t = mint_raw(Alg::ES256, &h, &payload(n));
    assert_eq!(
        run(&provider(), &t, n).unwrap_err(),
        JwtError::NoMatchingKey
    );
}

#[test]
fn rejects_rotated_out_key() {
    let n = now();
    let t = mint(Alg::RS256, n); // signed by rsa1, kid rsa-2026-a
    let rotated = KeySet::parse(read_key("rotation.jwks.json").as_bytes()).unwrap();
    let e = verify(&provider(), &rotated, &t, n, &PureVerifier).unwrap_err();
    assert_eq!(e.reason(), Reason::TokenUnknownKid);
}

#[test]
fn rejects_flipped_signature_bit() {
    let n = now();
    for alg in [
        Alg::RS256,
        Alg::PS256,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
        Alg::HS256,
    ] {
        let t = mint(alg, n);
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut s = base64_decode(sig);
        s[0] ^= 1;
        let bad = format!("{input}.{}", b64(&s));
        assert_eq!(
            reason(&provider_with_hmac(), &bad, n),
            Reason::TokenBadSignature,
            "{alg}"
        );
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn rejects_payload_changed_after_signing() {
    let n = now();
    let t = mint(Alg::RS256, n);
    let mut parts: Vec<&str> = t.split('.').collect();
    let mut p: serde_json::Value = serde_json::from_slice(&base64_decode(parts[1])).unwrap();
    p["sub"] = json!("admin");
    let forged = b64(p.to_string().as_bytes());
    parts[1] = &forged;
    assert_eq!(
        reason(&provider(), &parts.join("."), n),
        Reason::TokenBadSignature
    );
}

#[test]
fn rejects_expired() {
    let n = now();
    let mut p = payload(n - 4000);
    p["exp"] = json!(n - 61);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenExpired);
    // Within the 60 s skew it still passes.
    p["exp"] = json!(n - 59);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::Ok);
}

#[test]
fn rejects_nbf_in_future() {
    let n = now();
    let mut p = payload(n);
    p["nbf"] = json!(n + 61);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenNotYetValid);
}

#[test]
fn rejects_iat_far_in_future() {
    let n = now();
    let mut p = payload(n);
    p["iat"] = json!(n + 3600);
    p["exp"] = json!(n + 4000);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenIssuedInFuture);
}

#[test]
fn rejects_wrong_iss() {
    let n = now();
    let mut p = payload(n);
    p["iss"] = json!("https://evil.example.com");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenBadIssuer);
    p.as_object_mut().unwrap().remove("iss");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenBadIssuer);
}

#[test]
fn rejects_wrong_aud_string() {
    let n = now();
    let mut p = payload(n);
    p["aud"] = json!("other-api");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenBadAudience);
}

#[test]
fn rejects_wrong_aud_array_and_accepts_any_match() {
    let n = now();
    let mut p = payload(n);
    p["aud"] = json!(["a", "b"]);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenBadAudience);
    p["aud"] = json!(["a", AUDIENCE]);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::Ok);
    p.as_object_mut().unwrap().remove("aud");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenBadAudience);
}

#[test]
fn rejects_missing_exp_when_required() {
    let n = now();
    let mut p = payload(n);
    p.as_object_mut().unwrap().remove("exp");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&provider(), &t, n), Reason::TokenMissingExp);
    let mut lax = provider();
    lax.require_expiration = false;
    assert_eq!(reason(&lax, &t, n), Reason::Ok);
}

#[test]
fn rejects_lifetime_above_max() {
    let n = now();
    let mut prov = provider();
    prov.max_lifetime_seconds = Some(3600);
    let mut p = payload(n);
    p["exp"] = json!(n + 7200);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&prov, &t, n), Reason::TokenLifetimeTooLong);
    p["exp"] = json!(n + 3600);
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&prov, &t, n), Reason::Ok);
    // Without iat/nbf the lifetime counts from now.
    let mut q = payload(n);
    q.as_object_mut().unwrap().remove("iat");
    q.as_object_mut().unwrap().remove("nbf");
    q["exp"] = json!(n + 7200);
    let t = mint_raw(Alg::RS256, &rs256_header(), &q);
    assert_eq!(reason(&prov, &t, n), Reason::TokenLifetimeTooLong);
}

#[test]
fn rejects_subject_not_allowed() {
    let n = now();
    let mut prov = provider();
    prov.subjects = Some(SubjectMatch {
        exact: vec!["agent-1".into()],
        prefixes: vec!["svc-".into()],
    });
    let t = mint_raw(Alg::RS256, &rs256_header(), &payload(n));
    assert_eq!(reason(&prov, &t, n), Reason::TokenBadSubject);
    let mut p = payload(n);
    p["sub"] = json!("svc-payments");
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(reason(&prov, &t, n), Reason::Ok);
}

#[test]
fn rejects_two_and_four_segments() {
    let n = now();
    let t = mint(Alg::RS256, n);
    let (two, _) = t.rsplit_once('.').unwrap();
    assert_eq!(
        run(&provider(), two, n).unwrap_err(),
        JwtError::Malformed(Malformed::Segments)
    );
    let four = format!("{t}.{}", b64(b"x"));
    assert_eq!(reason(&provider(), &four, n), Reason::TokenMalformed);
    let empty_mid = t.replacen('.', "..", 1);
    assert_eq!(reason(&provider(), &empty_mid, n), Reason::TokenMalformed);
}

#[test]
fn rejects_bad_base64url() {
    let n = now();
    let t = mint(Alg::RS256, n);
    let parts: Vec<&str> = t.split('.').collect();
    for (i, bad) in [(0, "+"), (1, "/"), (2, "="), (1, "%"), (0, " ")] {
        let mut p = parts.clone();
        let s = format!("{}{bad}", p[i]);
        p[i] = &s;
        assert_eq!(
            reason(&provider(), &p.join("."), n),
            Reason::TokenMalformed,
            "segment {i} + {bad:?}"
        );
    }
}

#[test]
fn rejects_non_json_header_or_payload() {
    let n = now();
    let sig = b64(b"sig");
    let good_h = b64(rs256_header().to_string().as_bytes());
    let good_p = b64(payload(n).to_string().as_bytes());
    for (h, p, want) in [
        (b64(b"not json"), good_p.clone(), Malformed::HeaderJson),
        (b64(b"[1,2]"), good_p.clone(), Malformed::HeaderJson),
        (good_h.clone(), b64(b"{\"exp\":"), Malformed::PayloadJson),
        (good_h.clone(), b64(b"\"str\""), Malformed::PayloadJson),
    ] {
        let t = format!("{h}.{p}.{sig}");
        assert_eq!(
            run(&provider(), &t, n).unwrap_err(),
            JwtError::Malformed(want)
        );
    }
}

#[test]
fn rejects_numeric_dates_as_strings() {
    let n = now();
    let mut p = payload(n);
    p["exp"] = json!((n + 600).to_string());
    let t = mint_raw(Alg::RS256, &rs256_header(), &p);
    assert_eq!(
        run(&provider(), &t, n).unwrap_err(),
        JwtError::Malformed(Malformed::Claim("exp"))
    );
}

#[test]
fn rejects_64_kib_token_cheaply() {
    let n = now();
    let huge = format!(
        "{}.{}.{}",
        "e".repeat(32 * 1024),
        "e".repeat(32 * 1024),
        "e"
    );
    // Rejected on length alone, before any decoding: `TooLarge` is raised ahead of the parse
    // (a decoded token would fail as malformed instead). Cost belongs in `make bench`, not in a
    // timed test.
    let e = run(&provider(), &huge, n).unwrap_err();
    assert!(matches!(e, JwtError::TooLarge { len, .. } if len > 64 * 1024));
    assert_eq!(e.reason(), Reason::TokenTooLarge);
}

#[test]
fn rejects_jku_x5u_jwk_headers() {
    let n = now();
    for (name, value) in [
        ("jku", json!("https://evil.example.com/jwks.json")),
        ("x5u", json!("https://evil.example.com/cert.pem")),
        ("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut h = rs256_header();
        h[name] = value;
        // Properly signed with a trusted key: refused all the same.
        let t = mint_raw(Alg::RS256, &h, &payload(n));
        assert_eq!(
            run(&provider(), &t, n).unwrap_err(),
            JwtError::UnsupportedHeader(name)
        );
        assert_eq!(reason(&provider(), &t, n), Reason::TokenUnsupportedHeader);
    }
}

#[test]
fn rejects_crit_with_unknown_extension() {
    let n = now();
    let mut h = rs256_header();
    h["crit"] = json!(["exp-ext"]);
    h["exp-ext"] = json!(1);
    let t = mint_raw(Alg::RS256, &h, &payload(n));
    assert_eq!(reason(&provider(), &t, n), Reason::TokenUnsupportedHeader);
    h["crit"] = json!([]);
    let t = mint_raw(Alg::RS256, &h, &payload(n));
    assert_eq!(reason(&provider(), &t, n), Reason::TokenMalformed);
}

#[test]
fn rejects_es256_signature_in_der_form() {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let n = now();
    let h = json!({"alg": "ES256", "kid": "ec256-1"});
    let input = format!(
        "{}.{}",
        b64(h.to_string().as_bytes()),
        b64(payload(n).to_string().as_bytes())
    );
    let k = p256::ecdsa::SigningKey::from_pkcs8_pem(&read_key("ec256.pem")).unwrap();
    let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
    let der = s.to_der();
    let t = format!("{input}.{}", b64(der.as_bytes()));
    assert!(matches!(
        run(&provider(), &t, n).unwrap_err(),
        JwtError::SignatureLength {
            alg: Alg::ES256,
            ..
        }
    ));
    assert_eq!(reason(&provider(), &t, n), Reason::TokenBadSignature);
    // The raw form of the same signature verifies.
    let t = format!("{input}.{}", b64(&s.to_bytes()));
    assert_eq!(reason(&provider(), &t, n), Reason::Ok);
}

#[test]
fn rejects_alg_not_in_provider_list() {
    let n = now();
    let mut p = provider();
    p.algorithms = vec![Alg::ES256];
    let t = mint(Alg::RS256, n);
    assert_eq!(reason(&p, &t, n), Reason::TokenAlgNotAllowed);
    let t = mint_raw(Alg::ES256, &json!({"alg": "ES512"}), &payload(n));
    assert_eq!(run(&p, &t, n).unwrap_err(), JwtError::AlgNotAllowed(None));
}

#[test]
fn rejects_when_provider_has_no_keys() {
    let n = now();
    let t = mint(Alg::RS256, n);
    let e = verify(&provider(), &KeySet::default(), &t, n, &PureVerifier).unwrap_err();
    assert_eq!(e.reason(), Reason::JwksUnavailable);
}

#[test]
fn rsa_signature_of_wrong_length_is_bad_signature() {
    let n = now();
    let t = mint(Alg::RS256, n);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let s = base64_decode(sig);
    let bad = format!("{input}.{}", b64(&s[1..]));
    assert_eq!(reason(&provider(), &bad, n), Reason::TokenBadSignature);
}

#[test]
fn errors_never_contain_token_or_key_material() {
    let n = now();
    let t = mint(Alg::RS256, n);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let mut s = base64_decode(sig);
    s[5] ^= 0x40;
    let bad = format!("{input}.{}", b64(&s));
    let e = run(&provider(), &bad, n).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains(&sig[..16]));
    assert!(!text.contains(&input[..16]));
    let keys = corp_keys();
    let dbg = format!("{keys:?}");
    let n_b64 = &read_key("rsa1.jwks.json");
    let n_val: serde_json::Value = serde_json::from_str(n_b64).unwrap();
    let modulus = n_val["keys"][0]["n"].as_str().unwrap();
    assert!(!dbg.contains(&modulus[..16]));
    assert!(!format!("{:?}", Jwk::hmac(HMAC_SECRET)).contains("0123456789"));
}

#[test]
fn rejects_duplicate_claims_even_when_signed() {
    let n = now();
    let input = format!(
        "{}.{}",
        b64(rs256_header().to_string().as_bytes()),
        b64(format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"agent-7","sub":"admin","exp":{}}}"#,
            n + 600
        )
        .as_bytes())
    );
    let sig = raw_sign(Alg::RS256, input.as_bytes(), b"");
    let t = format!("{input}.{}", b64(&sig));
    assert_eq!(
        run(&provider(), &t, n).unwrap_err(),
        JwtError::Malformed(Malformed::PayloadJson)
    );
}

/// Like jwt_verify_lib's fuzz loops, but over the whole token: every single-character
/// change (to another base64url character, or '.') is refused.
#[test]
fn rejects_every_single_character_change() {
    let n = now();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for alg in [Alg::EdDSA, Alg::HS256] {
        let t = mint(alg, n);
        let p = provider_with_hmac();
        let keys = corp_keys();
        let bytes = t.as_bytes();
        for i in 0..bytes.len() {
            // A replacement derived from the position, never the original character.
            let mut r = alphabet[(i * 7 + 3) % alphabet.len()];
            if r == bytes[i] {
                r = alphabet[(i * 7 + 4) % alphabet.len()];
            }
            let mut m = bytes.to_vec();
            m[i] = r;
            let m = String::from_utf8(m).unwrap();
            assert!(
                verify(&p, &keys, &m, n, &PureVerifier).is_err(),
                "{alg}: change at {i} accepted"
            );
        }
    }
}

/// Every bit of the signature (EdDSA, HS256), or every 13th/29th bit (RS256/ES384: slower)
/// flipped, and every truncation length, is refused.
#[test]
fn rejects_signature_bit_flips_and_truncations() {
    let n = now();
    let keys = corp_keys();
    let p = provider_with_hmac();
    for (alg, step) in [
        (Alg::EdDSA, 1),
        (Alg::HS256, 1),
        (Alg::RS256, 13),
        (Alg::ES384, 29),
    ] {
        let t = mint(alg, n);
        let (input, sig) = t.rsplit_once('.').unwrap();
        let s = base64_decode(sig);
        for bit in (0..s.len() * 8).step_by(step) {
            let mut m = s.clone();
            m[bit / 8] ^= 1 << (bit % 8);
            let bad = format!("{input}.{}", b64(&m));
            let e = verify(&p, &keys, &bad, n, &PureVerifier).unwrap_err();
            assert_eq!(e.reason(), Reason::TokenBadSignature, "{alg} bit {bit}");
        }
        for len in (1..s.len()).step_by(step) {
            let bad = format!("{input}.{}", b64(&s[..len]));
            let e = verify(&p, &keys, &bad, n, &PureVerifier).unwrap_err();
            assert_eq!(e.reason(), Reason::TokenBadSignature, "{alg} len {len}");
        }
    }
}
