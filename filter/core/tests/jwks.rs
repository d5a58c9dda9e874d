//! Key sets and the host-crypto path: SPKI DER matches openssl's, PEM keys load, unusable
//! keys are skipped with a reason, and the host verifier (against a fake host that speaks
//! the real protobuf and verifies like BoringSSL: DER SPKI keys, DER ECDSA signatures)
//! agrees with the pure one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::Cell;

use base64::Engine as _;
use common::*;
use pci_guard_core::identity::checks::verify;
use pci_guard_core::identity::error::CryptoError;
use pci_guard_core::identity::jwk::{Jwk, KeyType, SkipReason};
use pci_guard_core::identity::signature::{
    decode_verify_signature_result, host_request, host_supports, FallbackVerifier, HostVerifier,
    PureVerifier, SignatureVerifier,
};
use pci_guard_core::identity::{Alg, KeySet};
use pci_guard_core::reason::Reason;
use serde_json::json;

fn pem_der(name: &str) -> Vec<u8> {
    let pem = read_key(name);
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn spki_der_matches_openssl_for_every_key_type() {
    let keys = corp_keys();
    for (kid, file, ty) in [
        ("rsa-2026-a", "rsa1.pub.pem", KeyType::Rsa),
        ("rsa-2026-b", "rsa2.pub.pem", KeyType::Rsa),
        ("ec256-1", "ec256.pub.pem", KeyType::EcP256),
        ("ec384-1", "ec384.pub.pem", KeyType::EcP384),
        ("ed-1", "ed25519.pub.pem", KeyType::Ed25519),
    ] {
        let k = keys.keys().iter().find(|k| k.kid() == Some(kid)).unwrap();
        assert_eq!(k.key_type(), ty);
        assert_eq!(k.spki_der(), pem_der(file).as_slice(), "{kid}");
    }
}

#[test]
fn pem_keys_load_and_verify() {
    let n = now();
    for (file, alg) in [
        ("rsa1.pub.pem", Alg::RS256),
        ("rsa1.pub.pem", Alg::PS384),
        ("ec256.pub.pem", Alg::ES256),
        ("ec384.pub.pem", Alg::ES384),
        ("ed25519.pub.pem", Alg::EdDSA),
    ] {
        let k = Jwk::from_pem(&read_key(file), None, None).unwrap();
        assert_eq!(k.spki_der(), pem_der(file).as_slice());
        let set = KeySet::from_keys(vec![k]);
        let t = mint(alg, n);
        verify(&provider(), &set, &t, n, &PureVerifier).unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
}

#[test]
fn pem_private_key_or_certificate_is_not_a_public_key() {
    assert_eq!(
        Jwk::from_pem(&read_key("rsa1.pem"), None, None).unwrap_err(),
        SkipReason::UnsupportedEncoding
    );
}

#[test]
fn unusable_keys_are_skipped_with_reasons() {
    let rsa1: serde_json::Value = serde_json::from_str(&read_key("rsa1.jwks.json")).unwrap();
    let good = rsa1["keys"][0].clone();
    let mut enc = good.clone();
    enc["use"] = json!("enc");
    let mut mismatch = good.clone();
    mismatch["alg"] = json!("ES256");
    let mut unknown_alg = good.clone();
    unknown_alg["alg"] = json!("RSA-OAEP");
    let mut small = good.clone();
    small["n"] = json!(b64(&[0xc5; 128])); // 1024-bit modulus
    let mut bad_n = good.clone();
    bad_n["n"] = json!("not base64!");
    let p521 = json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"});
    let x25519 = json!({"kty": "OKP", "crv": "X25519", "x": b64(&[9; 32])});
    let jwks = json!({"keys": [good, enc, mismatch, unknown_alg, small, bad_n, p521, x25519, 7,
                               {"kty": "oct", "k": "AAAA"}, {"kty": "XYZ"}, {"n": "x"}]});
    let set = KeySet::parse(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1);
    let reasons: Vec<SkipReason> = set.skipped().iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        vec![
            SkipReason::NotForSignatures,
            SkipReason::AlgDoesNotFitKey,
            SkipReason::UnsupportedAlg,
            SkipReason::RsaTooSmall,
            SkipReason::BadMember("n"),
            SkipReason::UnsupportedCurve,
            SkipReason::UnsupportedCurve,
            SkipReason::NotAnObject,
            SkipReason::SymmetricInKeySet,
            SkipReason::UnsupportedKty,
            SkipReason::MissingKty,
        ]
    );
    assert_eq!(set.skipped()[0].index, 1);
}

#[test]
fn candidates_follow_kid_and_alg() {
    let keys = corp_keys();
    let kids = |kid: Option<&str>, alg| -> Vec<Option<String>> {
        keys.candidates(kid, alg)
            .map(|k| k.kid().map(str::to_owned))
            .collect()
    };
    // No kid: every key whose type (and pinned alg) fits.
    assert_eq!(
        kids(None, Alg::RS256),
        vec![Some("rsa-2026-a".into()), Some("rsa-2026-b".into())]
    );
    // rsa-2026-b is pinned to RS256.
    assert_eq!(kids(None, Alg::PS256), vec![Some("rsa-2026-a".into())]);
    assert_eq!(
        kids(Some("ec256-1"), Alg::ES256),
        vec![Some("ec256-1".into())]
    );
    assert!(kids(Some("ec256-1"), Alg::ES384).is_empty());
}

// ---- host crypto ----

/// Decodes VerifySignatureArguments (fields 1..4, all length-delimited).
fn decode_args(buf: &[u8]) -> (String, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut fields: [Vec<u8>; 5] = Default::default();
    let mut pos = 0;
    while pos < buf.len() {
        let key = buf[pos];
        pos += 1;
        assert_eq!(key & 7, 2);
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = buf[pos];
            pos += 1;
            len |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        fields[(key >> 3) as usize] = buf[pos..pos + len].to_vec();
        pos += len;
    }
    let [_, h, k, s, t] = fields;
    (String::from_utf8(h).unwrap(), k, s, t)
}

fn answer(ok: bool, error: &str) -> Vec<u8> {
    let mut out = vec![0x08, u8::from(ok)];
    if !error.is_empty() {
        out.push(0x12);
        out.push(error.len() as u8);
        out.extend_from_slice(error.as_bytes());
    }
    out
}

/// What Envoy does, natively: import the DER SPKI, hash, verify (PKCS#1 v1.5 / DER ECDSA).
fn fake_envoy(args: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Verifier as _;
    use rsa::pkcs8::DecodePublicKey as _;
    use sha2::Digest as _;
    let (hash, key, sig, text) = decode_args(args);
    let ok = if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(&key) {
        let (scheme, digest) = match hash.as_str() {
            "sha256" => (
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                sha2::Sha256::digest(&text).to_vec(),
            ),
            "sha384" => (
                rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                sha2::Sha384::digest(&text).to_vec(),
            ),
            "sha512" => (
                rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                sha2::Sha512::digest(&text).to_vec(),
            ),
            _ => return answer(false, &format!("{hash} is not supported.")),
        };
        k.verify(scheme, &digest, &sig).is_ok()
    } else if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(&key) {
        assert_eq!(hash, "sha256");
        let Ok(s) = p256::ecdsa::Signature::from_der(&sig) else {
            return answer(false, "Failed to verify digest. Error code: 0");
        };
        k.verify(&text, &s).is_ok()
    } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(&key) {
        assert_eq!(hash, "sha384");
        let Ok(s) = p384::ecdsa::Signature::from_der(&sig) else {
            return answer(false, "Failed to verify digest. Error code: 0");
        };
        k.verify(&text, &s).is_ok()
    } else {
        return answer(false, "Failed to initialize digest verify.");
    };
    if ok {
        answer(true, "")
    } else {
        answer(false, "Failed to verify digest. Error code: 0")
    }
}

type HostCall = fn(&[u8]) -> Result<Vec<u8>, CryptoError>;

struct Counting<V> {
    inner: V,
    calls: Cell<usize>,
}

impl<V: SignatureVerifier> SignatureVerifier for Counting<V> {
    fn verify(&self, alg: Alg, key: &Jwk, i: &[u8], s: &[u8]) -> Result<bool, CryptoError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.verify(alg, key, i, s)
    }
    fn supports(&self, alg: Alg) -> bool {
        self.inner.supports(alg)
    }
}

#[test]
fn host_handles_rs_and_es_and_pure_the_rest() {
    let n = now();
    let keys = corp_keys();
    for alg in [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::ES256,
        Alg::ES384,
        Alg::PS256,
        Alg::EdDSA,
        Alg::HS256,
    ] {
        let host = Counting {
            inner: HostVerifier::new(|a: &[u8]| Ok(fake_envoy(a))),
            calls: Cell::new(0),
        };
        let pure = Counting {
            inner: PureVerifier,
            calls: Cell::new(0),
        };
        let v = FallbackVerifier::new(&host, &pure);
        let t = mint(alg, n);
        verify(&provider_with_hmac(), &keys, &t, n, &v).unwrap_or_else(|e| panic!("{alg}: {e}"));
        let want_host = host_supports(alg);
        assert_eq!(host.calls.get(), usize::from(want_host), "{alg}");
        assert_eq!(pure.calls.get(), usize::from(!want_host), "{alg}");

        // A flipped bit: the host's "false" is final, the pure verifier is not asked.
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        s[3] ^= 0x10;
        let bad = format!("{input}.{}", b64(&s));
        let e = verify(&provider_with_hmac(), &keys, &bad, n, &v).unwrap_err();
        assert_eq!(e.reason(), Reason::TokenBadSignature, "{alg}");
        assert_eq!(pure.calls.get(), 2 * usize::from(!want_host), "{alg}");
    }
}

#[test]
fn host_failure_falls_back_to_pure() {
    let n = now();
    let keys = corp_keys();
    let broken: [HostCall; 3] = [
        |_| Err(CryptoError::HostCall),
        |_| Ok(vec![0xff, 0xff]),
        |_| Ok(answer(false, "sha256 is not supported.")),
    ];
    for call in broken {
        let v = FallbackVerifier::new(HostVerifier::new(call), PureVerifier);
        for alg in [Alg::RS256, Alg::ES256] {
            let t = mint(alg, n);
            verify(&provider(), &keys, &t, n, &v).unwrap();
        }
    }
    // Host alone, failing: fail closed with an internal error, never allow.
    let only = HostVerifier::new(|_: &[u8]| Err(CryptoError::HostCall));
    let e = verify(&provider(), &keys, &mint(Alg::RS256, n), n, &only).unwrap_err();
    assert_eq!(e.reason(), Reason::FilterUnavailable);
}

#[test]
fn host_request_only_for_host_algorithms() {
    let keys = corp_keys();
    let rsa = &keys.keys()[0];
    assert!(host_request(Alg::RS256, rsa, b"x", &[0; 256]).is_some());
    assert!(host_request(Alg::PS256, rsa, b"x", &[0; 256]).is_none());
    let ed = keys
        .keys()
        .iter()
        .find(|k| k.kid() == Some("ed-1"))
        .unwrap();
    assert!(host_request(Alg::EdDSA, ed, b"x", &[0; 64]).is_none());
    // A key of the wrong type is never sent.
    assert!(host_request(Alg::ES256, rsa, b"x", &[0; 64]).is_none());
    assert!(
        decode_verify_signature_result(&answer(true, ""))
            .unwrap()
            .result
    );
}
