//! A grant header's token checked with real signatures: what counts as signed by the service.

use super::*;
use crate::authz::grant::SignedGrant;
use crate::identity::signature::PureVerifier;
use crate::policy::Policy;
use crate::reason::Reason;
use pci_guard_testkit::{mint_as, mint_grant, signed_grant, test_key, APPROVALS};
use serde_json::{json, Value};

const NOW: u64 = 1_795_790_000;

fn jwks() -> Value {
    serde_json::from_slice(
        &std::fs::read(pci_guard_testkit::keys::keys_dir().join("ec256.jwks.json")).unwrap(),
    )
    .unwrap()
}

fn policy(grants: Value) -> Policy {
    Policy::from_value(&json!({
        "version": "t",
        "providers": {"idp": {"issuer": "https://idp.example.com", "jwks": jwks()}},
        "approvals": {"issuer": APPROVALS, "providers": ["idp"], "grants": grants}
    }))
    .unwrap()
}

fn state() -> GrantState {
    let p = policy(json!({"cluster": "approvals", "jwks": jwks()}));
    let mut s = GrantState::for_policy(p.approvals.as_ref()).unwrap();
    s.revocations
        .on_fetch_ok(
            br#"{"version": 1, "revoked": [{"id": "grt_gone"}]}"#,
            None,
            NOW,
        )
        .unwrap();
    s
}

fn claims(id: &str) -> Value {
    signed_grant(
        id,
        "agent-7",
        &["payments:refund"],
        &["alice", "bob"],
        NOW - 60,
        600,
        json!({"route": "refund"}),
    )
}

fn verify(s: &mut GrantState, token: &str, now: u64) -> Result<SignedGrant, Reason> {
    match s.verify(token, now, &PureVerifier) {
        Presented::Verified(g) => Ok((*g).clone()),
        Presented::Withheld(_, r) | Presented::Refused(r) => Err(r),
    }
}

#[test]
fn a_grant_the_service_signed_verifies_with_its_fields() {
    let g = verify(&mut state(), &mint_grant(&claims("grt_1")), NOW).unwrap();
    assert_eq!(g.id, "grt_1");
    assert_eq!(
        (g.issuer.as_str(), g.subject.as_str()),
        ("https://idp.example.com", "agent-7")
    );
    assert_eq!(g.jit.approved_by, ["alice", "bob"]);
    assert_eq!(g.approvers.len(), 2);
    assert_eq!(g.bindings.len(), 1);
}

#[test]
fn only_a_grant_of_this_service_for_this_filter_counts() {
    let mut s = state();
    let invalid = Err(Reason::GrantInvalid);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims("grt_1");
        f(&mut c);
        mint_grant(&c)
    };
    assert_eq!(
        verify(
            &mut s,
            &with(&|c| c["iss"] = json!("https://evil.example.com")),
            NOW
        )
        .map(|_| ()),
        invalid
    );
    assert_eq!(
        verify(&mut s, &with(&|c| c["aud"] = json!("payments-api")), NOW).map(|_| ()),
        invalid
    );
    assert_eq!(
        verify(&mut s, &with(&|c| c["jti"] = json!("grt_other")), NOW).map(|_| ()),
        invalid
    );
    assert_eq!(
        verify(&mut s, &with(&|c| c["sub"] = json!("agent-8")), NOW).map(|_| ()),
        invalid
    );
    let no_sub_id = with(&|c| {
        c.as_object_mut().unwrap().remove("sub_id");
    });
    assert_eq!(verify(&mut s, &no_sub_id, NOW).map(|_| ()), invalid);
    // An access token of the IdP (same key, typ JWT) is not a grant.
    let k = test_key("ec256");
    let typ_jwt = pci_guard_testkit::mint(
        "ES256",
        &k.pem(),
        &json!({"alg": "ES256", "kid": k.kid, "typ": "JWT"}),
        &claims("grt_1"),
    );
    assert_eq!(verify(&mut s, &typ_jwt, NOW).map(|_| ()), invalid);
    // Signed by another key (rsa1 is not in the service's set).
    assert_eq!(
        verify(&mut s, &mint_as("rsa1", &claims("grt_1")), NOW).map(|_| ()),
        invalid
    );
    // A signature that does not match.
    let good = mint_grant(&claims("grt_1"));
    let at = good.len() - 10;
    let flip = if &good[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flip}{}", &good[..at], &good[at + 1..]);
    assert_eq!(verify(&mut s, &tampered, NOW).map(|_| ()), invalid);
    assert_eq!(verify(&mut s, "not-a-jwt", NOW).map(|_| ()), invalid);
}

#[test]
fn a_revoked_grant_is_refused_and_a_stale_list_refuses_every_grant() {
    let mut s = state();
    assert_eq!(
        verify(&mut s, &mint_grant(&claims("grt_gone")), NOW).map(|_| ()),
        Err(Reason::GrantRevoked)
    );
    // Default max_stale 30 s after the last good answer.
    let token = mint_grant(&claims("grt_1"));
    assert!(verify(&mut s, &token, NOW + 29).is_ok());
    assert_eq!(
        verify(&mut s, &token, NOW + 30).map(|_| ()),
        Err(Reason::GrantRevocationsStale)
    );
}

#[test]
fn remote_keys_never_fetched_refuse_grants_and_an_unknown_kid_asks_for_a_refetch() {
    let p = policy(json!({"cluster": "approvals"}));
    let mut s = GrantState::for_policy(p.approvals.as_ref()).unwrap();
    s.revocations
        .on_fetch_ok(br#"{"version": 0, "revoked": []}"#, None, NOW)
        .unwrap();
    let token = mint_grant(&claims("grt_1"));
    assert_eq!(
        verify(&mut s, &token, NOW).map(|_| ()),
        Err(Reason::GrantKeysUnavailable)
    );
    s.keys
        .on_fetch_ok(br#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "old", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#, NOW)
        .unwrap();
    assert!(!s.keys.should_fetch(NOW));
    assert_eq!(
        verify(&mut s, &token, NOW).map(|_| ()),
        Err(Reason::GrantInvalid)
    );
    assert!(
        s.keys.should_fetch(NOW),
        "the unknown kid asked for the keys again"
    );
}

#[test]
fn the_grant_settings_default_to_the_services_own_paths() {
    let p = policy(json!({"cluster": "approvals"}));
    let g = p.approvals.as_ref().unwrap().grants.as_ref().unwrap();
    assert_eq!(g.header, "x-pci-guard-grant");
    let KeySource::Remote(k) = &g.keys else {
        panic!("inline")
    };
    assert_eq!(
        (k.authority.as_str(), k.path.as_str()),
        ("approvals.example.com", "/.well-known/jwks.json")
    );
    assert_eq!(g.revocations.path, "/v1/revocations");
    assert_eq!(
        (g.revocations.refresh_ms, g.revocations.max_stale_ms),
        (5_000, 30_000)
    );
}

/// Counts signature checks.
struct Counting(std::cell::Cell<u32>);

impl crate::identity::signature::SignatureVerifier for Counting {
    fn verify(
        &self,
        alg: crate::identity::Alg,
        key: &crate::identity::jwk::Jwk,
        input: &[u8],
        sig: &[u8],
    ) -> Result<bool, crate::identity::error::CryptoError> {
        self.0.set(self.0.get() + 1);
        PureVerifier.verify(alg, key, input, sig)
    }
}

#[test]
fn a_repeated_grant_is_verified_once_yet_revocation_still_stops_it() {
    let mut s = state();
    let crypto = Counting(std::cell::Cell::new(0));
    let token = mint_grant(&claims("grt_1"));
    for _ in 0..3 {
        assert!(matches!(
            s.verify(&token, NOW, &crypto),
            Presented::Verified(_)
        ));
    }
    assert_eq!(crypto.0.get(), 1, "one signature check for three requests");
    s.revocations
        .on_fetch_ok(
            br#"{"version": 2, "revoked": [{"id": "grt_1"}]}"#,
            None,
            NOW + 1,
        )
        .unwrap();
    assert!(matches!(
        s.verify(&token, NOW + 1, &crypto),
        Presented::Withheld(_, Reason::GrantRevoked)
    ));
    assert!(matches!(
        s.verify(&token, NOW + 100, &crypto),
        Presented::Withheld(_, Reason::GrantRevocationsStale)
    ));
}

#[test]
fn new_keys_empty_the_verified_grants() {
    let p = policy(json!({"cluster": "approvals"}));
    let mut s = GrantState::for_policy(p.approvals.as_ref()).unwrap();
    s.revocations
        .on_fetch_ok(br#"{"version": 0, "revoked": []}"#, None, NOW)
        .unwrap();
    let ec256 = jwks().to_string();
    s.keys.on_fetch_ok(ec256.as_bytes(), NOW).unwrap();
    let crypto = Counting(std::cell::Cell::new(0));
    let token = mint_grant(&claims("grt_1"));
    assert!(matches!(
        s.verify(&token, NOW, &crypto),
        Presented::Verified(_)
    ));
    // The service rotated its key out (say it leaked): the grant it signed no longer counts.
    s.keys
        .on_fetch_ok(br#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "new", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#, NOW + 1)
        .unwrap();
    assert!(matches!(
        s.verify(&token, NOW + 1, &crypto),
        Presented::Refused(Reason::GrantInvalid)
    ));
}
