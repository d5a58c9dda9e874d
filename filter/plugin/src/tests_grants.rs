//! Grants from the header through the plugin: the approvals service's keys and revocation
//! list polled through its cluster, and what that does to requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::fake::{Envoy, Reply};
use super::host::Action;
use serde_json::{json, Value};
use std::path::PathBuf;

const NOW: u64 = 1_800_000_000;
const REFUND: &str = "/v1/payments/pay_1/refunds";

fn jwks(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keys")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn policy() -> Vec<u8> {
    json!({
        "version": "grants-plugin",
        "providers": {"corp-idp": {"issuer": "https://idp.example.com", "audiences": ["payments-api"],
                                   "jwks": jwks("rsa1.jwks.json")}},
        "routes": [{"name": "refund", "match": {"methods": ["POST"], "path": "/v1/payments/{id}/refunds"},
                    "auth": ["corp-idp"], "scopes": ["payments:refund"], "jit": {"max_ttl": "30m"}}],
        "approvals": {"issuer": "http://approvals.test:8787", "providers": ["corp-idp"],
                      "grants": {"cluster": "approvals", "revocations": {"refresh": "2s", "max_stale": "10s"}}}
    })
    .to_string()
    .into_bytes()
}

fn request(grant: &str) -> Vec<(&'static str, String)> {
    let token = pci_guard_testkit::mint_as(
        "rsa1",
        &json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                "iat": NOW - 10, "exp": NOW + 600}),
    );
    vec![
        (":method", "POST".into()),
        (":path", REFUND.into()),
        (":authority", "payments.test".into()),
        ("authorization", format!("Bearer {token}")),
        ("x-pci-guard-grant", grant.into()),
    ]
}

fn grant(id: &str) -> String {
    let mut c = pci_guard_testkit::signed_grant(
        id,
        "agent-7",
        &["payments:refund"],
        &["alice"],
        NOW - 60,
        600,
        json!({"route": "refund"}),
    );
    c["iss"] = json!("http://approvals.test:8787");
    pci_guard_testkit::mint_grant(&c)
}

/// The newest call dispatched for `path`, with its headers.
fn call_for(envoy: &Envoy, path: &str) -> (u32, Vec<(String, String)>) {
    let w = envoy.host.0.borrow();
    let c = w
        .calls
        .iter()
        .rev()
        .find(|c| c.headers.iter().any(|(n, v)| n == ":path" && v == path))
        .unwrap_or_else(|| panic!("no call for {path}: {:?}", w.calls.len()));
    assert_eq!(c.cluster, "approvals");
    (c.token, c.headers.clone())
}

fn calls(envoy: &Envoy, path: &str) -> usize {
    let w = envoy.host.0.borrow();
    w.calls
        .iter()
        .filter(|c| c.headers.iter().any(|(n, v)| n == ":path" && v == path))
        .count()
}

fn reason(envoy: &mut Envoy, grant: &str) -> (Value, u32) {
    let (id, action) = envoy.request(&request(grant));
    let status = match (&envoy.host.stream(id).reply, action) {
        (Some(Reply::Http { status, .. }), _) => u32::from(*status),
        (None, Action::Continue) => 200,
        (other, _) => panic!("{other:?}"),
    };
    (envoy.log(id)["decision"]["reason"].clone(), status)
}

#[test]
fn keys_and_revocations_are_polled_and_a_revoked_grant_is_refused_after_the_next_poll() {
    let mut envoy = Envoy::start(&policy());
    // Nothing fetched yet: grants cannot be checked, and the request is told so.
    assert_eq!(
        reason(&mut envoy, &grant("grt_1")),
        (json!("grant_keys_unavailable"), 503)
    );

    let (keys, h) = call_for(&envoy, "/.well-known/jwks.json");
    assert!(h
        .iter()
        .any(|(n, v)| n == ":authority" && v == "approvals.test:8787"));
    envoy.answer_call(keys, "200", jwks("ec256.jwks.json").to_string().as_bytes());
    let (list, _) = call_for(&envoy, "/v1/revocations");
    envoy.answer_call(
        list,
        "200",
        br#"{"version": 0, "generated_at": 1, "revoked": []}"#,
    );
    let (id, action) = envoy.request(&request(&grant("grt_1")));
    assert_eq!(action, Action::Continue);
    let s = envoy.host.stream(id);
    assert!(
        !s.request_headers
            .iter()
            .any(|(n, _)| n == "x-pci-guard-grant"),
        "stripped"
    );
    drop(s);
    assert_eq!(envoy.log(id)["jit"]["source"], "header");

    // The next poll is due after the refresh (2 s), not before.
    envoy.host.advance(1_000);
    envoy.tick();
    assert_eq!(calls(&envoy, "/v1/revocations"), 1);
    envoy.host.advance(1_000);
    envoy.tick();
    assert_eq!(calls(&envoy, "/v1/revocations"), 2);
    let (list, _) = call_for(&envoy, "/v1/revocations");
    envoy.answer_call(
        list,
        "200",
        br#"{"version": 1, "revoked": [{"id": "grt_1"}]}"#,
    );
    assert_eq!(
        reason(&mut envoy, &grant("grt_1")),
        (json!("grant_revoked"), 403)
    );
    assert_eq!(reason(&mut envoy, &grant("grt_2")), (json!("ok"), 200));
}

#[test]
fn a_revocation_list_past_max_stale_refuses_every_grant_and_is_a_control_failure() {
    let mut envoy = Envoy::start(&policy());
    let (keys, _) = call_for(&envoy, "/.well-known/jwks.json");
    envoy.answer_call(keys, "200", jwks("ec256.jwks.json").to_string().as_bytes());
    let (list, _) = call_for(&envoy, "/v1/revocations");
    envoy.answer_call(list, "200", br#"{"version": 0, "revoked": []}"#);
    assert_eq!(reason(&mut envoy, &grant("grt_1")).0, "ok");
    // The service stops answering: every poll fails.
    for _ in 0..10 {
        envoy.host.advance(1_000);
        envoy.tick();
        let (list, _) = call_for(&envoy, "/v1/revocations");
        envoy.fail_call(list);
    }
    assert_eq!(
        reason(&mut envoy, &grant("grt_1")),
        (json!("grant_revocations_stale"), 503)
    );
    // A failed control of the process, once for this copy of the list, in the audit trail
    // (written on the tick after it was found).
    envoy.tick();
    let written = envoy.run_self_requests("pci_guard_audit");
    let stale: Vec<&Value> = written
        .iter()
        .filter(|w| w["control"]["reason"] == "revocation_list_stale")
        .collect();
    assert_eq!(stale.len(), 1, "{written:#?}");
    assert_eq!(stale[0]["event"], "control_failure");
    envoy.host.advance(1_000);
    envoy.tick();
    let again = envoy.run_self_requests("pci_guard_audit");
    assert!(!again
        .iter()
        .any(|w| w["control"]["reason"] == "revocation_list_stale"));
}

#[test]
fn the_revocation_list_is_polled_with_its_etag_and_a_304_keeps_the_list_held_fresh() {
    let mut envoy = Envoy::start(&policy());
    let (keys, _) = call_for(&envoy, "/.well-known/jwks.json");
    envoy.answer_call(keys, "200", jwks("ec256.jwks.json").to_string().as_bytes());
    let (list, h) = call_for(&envoy, "/v1/revocations");
    assert!(
        !h.iter().any(|(n, _)| n == "if-none-match"),
        "nothing to match yet: {h:?}"
    );
    envoy.answer_call_with(
        list,
        "200",
        &[("etag", "\"rv-1\"")],
        br#"{"version": 1, "revoked": [{"id": "grt_1"}]}"#,
    );
    // Past max_stale (10 s) on 304s alone: every poll sends the ETag back, every 304 dates
    // the list held anew, and that list (grt_1 revoked) is still the one checked.
    for _ in 0..6 {
        envoy.host.advance(2_000);
        envoy.tick();
        let (list, h) = call_for(&envoy, "/v1/revocations");
        assert!(
            h.iter()
                .any(|(n, v)| n == "if-none-match" && v == "\"rv-1\""),
            "{h:?}"
        );
        envoy.answer_call_with(list, "304", &[("etag", "\"rv-1\"")], b"");
    }
    assert_eq!(calls(&envoy, "/v1/revocations"), 7);
    assert_eq!(
        reason(&mut envoy, &grant("grt_1")),
        (json!("grant_revoked"), 403)
    );
    assert_eq!(reason(&mut envoy, &grant("grt_2")), (json!("ok"), 200));
}
