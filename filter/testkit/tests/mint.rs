#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The minter's own promises: the key table matches the JWKS the tests' provider trusts, and
//! both minters write exactly the header and claims they are given (tests assert on them).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use pci_guard_core::identity::checks::verify;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::KeySet;
use pci_guard_core::identity::{Alg, ProviderConfig};
use pci_guard_testkit::{self as testkit, claims_at, now, KEYS};
use serde_json::{json, Value};

fn provider() -> ProviderConfig {
    let mut p = ProviderConfig::new("corp-idp", testkit::ISSUER);
    p.audiences = vec![testkit::AUDIENCE.into()];
    p.algorithms = Alg::ALL.to_vec();
    p.hmac_secret = Some(testkit::HMAC_SECRET.to_vec());
    p
}

fn corp_keys() -> KeySet {
    KeySet::parse(testkit::read_key("corp-idp.jwks.json").as_bytes()).unwrap()
}

fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn every_test_key_signs_under_the_kid_corp_idp_publishes() {
    let (keys, n) = (corp_keys(), now());
    for k in &KEYS {
        let t = testkit::mint_as(k.name, &claims_at(n, "agent-7", &["cards:read"]));
        assert_eq!(segment(&t, 0), testkit::header(k.alg, k.kid));
        let id = verify(&provider(), &keys, &t, n, &PureVerifier)
            .unwrap_or_else(|e| panic!("{}: {e}", k.name));
        assert_eq!(id.alg, k.alg, "{}", k.name);
    }
}

#[test]
fn both_minters_write_exactly_the_given_claims_for_every_algorithm() {
    let (keys, n) = (corp_keys(), now());
    let mut claims = claims_at(n - 100, "agent-9", &["cards:read", "payments:refund"]);
    claims["exp"] = (n + 50).into();
    for alg in Alg::ALL {
        let name = alg.name();
        let independent = testkit::mint_independent(name, &claims);
        // No clock stamps of jwt-simple's own: iat, nbf and exp are the given ones.
        assert_eq!(segment(&independent, 1), claims, "{name}");
        verify(&provider(), &keys, &independent, n, &PureVerifier)
            .unwrap_or_else(|e| panic!("{name} (jwt-simple): {e}"));
        if name.starts_with("PS") {
            continue; // no raw PSS signer: no test hand-builds a PSS token
        }
        let header = if alg.is_hmac() {
            json!({"alg": name})
        } else {
            testkit::header(name, testkit::key_for(name).kid)
        };
        let raw = testkit::mint(name, &testkit::signing_key(name), &header, &claims);
        assert_eq!(segment(&raw, 0), header, "{name}");
        assert_eq!(segment(&raw, 1), claims, "{name}");
        verify(&provider(), &keys, &raw, n, &PureVerifier)
            .unwrap_or_else(|e| panic!("{name} (raw): {e}"));
    }
}
