//! Grants from the header through the request entry: what counts, what is stripped, what the
//! caller is told, what the audit event keeps.

use super::{done, edit, headers, root, NOW_MS};
use crate::answer::Answer;
use crate::authz::grant::{GrantSource, GrantState};
use crate::identity::signature::PureVerifier;
use crate::identity::Keyring;
use crate::judge::{request, Judged, Request, State, Verdict};
use crate::policy::Policy;
use crate::reason::Reason;
use pci_guard_testkit::{mint_as, mint_grant, signed_grant};
use serde_json::{json, Value};

const NOW: u64 = NOW_MS / 1000;
const REFUND: &str = "/v1/payments/pay_1/refunds";

fn jwks(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root().join("testdata/keys").join(name)).unwrap())
        .unwrap()
}

fn policy() -> Policy {
    Policy::from_value(&json!({
        "version": "grants-1",
        "providers": {"corp-idp": {"issuer": "https://idp.example.com", "audiences": ["payments-api"],
                                   "jwks": jwks("rsa1.jwks.json")}},
        "rules": [{"id": "bulk-export", "action": "require_approval",
                   "match": {"methods": ["POST"], "path": "/v1/exports/**"},
                   "scopes": ["exports:run"], "max_ttl": "15m", "approvers": ["alice", "bob"]}],
        "routes": [
            {"name": "refund", "match": {"methods": ["POST"], "path": "/v1/payments/{id}/refunds"},
             "auth": ["corp-idp"], "scopes": ["payments:refund"],
             "jit": {"max_ttl": "30m", "min_approvals": 2}},
            {"name": "cards-grpc", "match": {"grpc": "payments.v1.Cards/GetCard"}, "auth": ["corp-idp"],
             "scopes": ["cards:read"], "jit": {"max_ttl": "10m"}},
            {"name": "exports", "match": {"path": "/v1/exports/**"}, "auth": ["corp-idp"], "scopes": []},
            {"name": "health", "match": {"path": "/healthz"}, "auth": "public"}
        ],
        "approvals": {"issuer": "https://approvals.example.com", "providers": ["corp-idp"],
                      "grants": {"cluster": "approvals", "jwks": jwks("ec256.jwks.json")}}
    }))
    .unwrap()
}

fn access_token() -> String {
    mint_as(
        "rsa1",
        &json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                "iat": NOW, "exp": NOW + 600}),
    )
}

fn refund_grant(id: &str, path: &str) -> String {
    mint_grant(&signed_grant(
        id,
        "agent-7",
        &["payments:refund"],
        &["alice", "bob"],
        NOW - 60,
        600,
        json!({"route": "refund", "methods": ["POST"], "path": path}),
    ))
}

fn judge_with(p: &Policy, h: &[(String, String)], revoked: &[&str]) -> Verdict {
    let mut keyring = Keyring::new(&p.providers, NOW_MS);
    let mut grants = GrantState::for_policy(p.approvals.as_ref()).unwrap();
    let list = json!({"version": revoked.len(), "revoked": revoked.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
    grants
        .revocations
        .on_fetch_ok(list.to_string().as_bytes(), None, NOW)
        .unwrap();
    let state = State {
        policy: p,
        keyring: &mut keyring,
        crypto: &PureVerifier,
        grants: Some(&mut grants),
    };
    let req = Request {
        headers: h,
        route_name: None,
        route_metadata: None,
        source_address: None,
        source_principal: None,
        started_ms: NOW_MS,
    };
    match request(Some(state), &req, NOW_MS, false) {
        Judged::Done(v) => *v,
        other => panic!("{other:?}"),
    }
}

fn with_grant(method: &str, path: &str, grant: &str) -> Vec<(String, String)> {
    let mut h = headers(method, path, Some(&access_token()));
    h.push(("x-pci-guard-grant".into(), grant.into()));
    h
}

fn body(v: &Verdict) -> Value {
    match &v.reply {
        Some(Answer::Http { body, .. }) => serde_json::from_slice(body).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_grant_in_the_header_lets_the_request_through_and_never_goes_upstream() {
    let v = judge_with(
        &policy(),
        &with_grant("POST", REFUND, &refund_grant("grt_1", REFUND)),
        &[],
    );
    assert_eq!(v.decision.reason, Reason::Ok, "{:?}", v.decision);
    assert_eq!(edit(&v, "x-pci-guard-grant"), Some(None), "stripped");
    let jit = v.event.jit.as_ref().unwrap();
    assert_eq!(
        (jit.id.as_str(), jit.source),
        ("grt_1", Some(GrantSource::Header))
    );
    assert_eq!(jit.approved_by, ["alice", "bob"]);
    let line = serde_json::to_string(&v.event).unwrap();
    assert!(
        !line.contains(&refund_grant("grt_1", REFUND)[..40]),
        "the grant is never in the event"
    );
}

#[test]
fn the_grant_header_is_stripped_on_every_route_whatever_the_policy() {
    let v = judge_with(&policy(), &with_grant("GET", "/healthz", "anything"), &[]);
    assert_eq!(edit(&v, "x-pci-guard-grant"), Some(None));
    let no_grants = super::payments();
    let mut h = headers("GET", "/healthz", None);
    h.push(("x-pci-guard-grant".into(), "anything".into()));
    let v = done(super::judge(&no_grants, &h, false));
    assert_eq!(
        edit(&v, "x-pci-guard-grant"),
        Some(None),
        "the default header, without approvals"
    );
}

#[test]
fn a_revoked_grant_or_one_for_another_operation_is_refused_and_the_event_says_why() {
    let p = policy();
    let v = judge_with(
        &p,
        &with_grant("POST", REFUND, &refund_grant("grt_1", REFUND)),
        &["grt_1"],
    );
    assert_eq!(v.decision.reason, Reason::GrantRevoked);
    assert_eq!(
        v.event.decision.as_ref().unwrap().grant_refused,
        Some(Reason::GrantRevoked)
    );
    // Revoked, but signed by the service: the event names it, so the review can join it.
    let jit = v
        .event
        .jit
        .as_ref()
        .expect("a revoked grant is still named");
    assert_eq!(
        (jit.id.as_str(), jit.source),
        ("grt_1", Some(GrantSource::Header))
    );
    let other = "/v1/payments/pay_2/refunds";
    let v = judge_with(
        &p,
        &with_grant("POST", other, &refund_grant("grt_1", REFUND)),
        &[],
    );
    assert_eq!(v.decision.reason, Reason::GrantNotForOperation);
    assert_eq!(
        v.event.jit.as_ref().map(|j| j.id.as_str()),
        Some("grt_1"),
        "examined, recorded"
    );
    assert_eq!(body(&v)["error"], "grant_not_for_operation");
}

#[test]
fn a_grant_one_second_past_its_exp_is_refused() {
    let claims = signed_grant(
        "grt_2",
        "agent-7",
        &["payments:refund"],
        &["alice", "bob"],
        NOW - 601,
        600,
        json!({"route": "refund"}),
    );
    let v = judge_with(
        &policy(),
        &with_grant("POST", REFUND, &mint_grant(&claims)),
        &[],
    );
    assert_eq!(v.decision.reason, Reason::JitExpired);
}

#[test]
fn a_refusal_for_want_of_a_grant_says_where_to_ask_with_a_prefilled_body() {
    let v = judge_with(
        &policy(),
        &headers("POST", REFUND, Some(&access_token())),
        &[],
    );
    assert_eq!(v.decision.reason, Reason::JitMissing);
    let b = body(&v);
    let hint = &b["access_request"];
    assert_eq!(hint["url"], "https://approvals.example.com/v1/requests");
    assert_eq!(
        hint["body"],
        json!({"route": "refund", "operation": {"methods": ["POST"], "path": REFUND},
               "duration_seconds": 1800, "justification": ""})
    );
    assert_eq!(hint["min_approvals"], 2);
    assert!(
        !b.to_string().contains(&access_token()[..40]),
        "no token in the answer"
    );

    let v = judge_with(
        &policy(),
        &headers("POST", "/v1/exports/e_1", Some(&access_token())),
        &[],
    );
    assert_eq!(v.decision.reason, Reason::ApprovalRequired);
    assert_eq!(body(&v)["access_request"]["body"]["rule"], "bulk-export");
}

#[test]
fn a_path_holding_a_card_number_is_not_echoed_in_the_hint() {
    let path = "/v1/payments/4111111111111111/refunds";
    let v = judge_with(
        &policy(),
        &headers("POST", path, Some(&access_token())),
        &[],
    );
    let b = body(&v);
    assert_eq!(b["error"], "jit_missing");
    assert!(b["access_request"]["body"].get("operation").is_none());
    assert!(!b.to_string().contains("4111111111111111"));
}

#[test]
fn a_grpc_refusal_carries_the_hint_in_a_trailer() {
    let mut h = headers("POST", "/payments.v1.Cards/GetCard", Some(&access_token()));
    h.push(("content-type".into(), "application/grpc".into()));
    let v = judge_with(&policy(), &h, &[]);
    let Some(Answer::Grpc {
        status, metadata, ..
    }) = &v.reply
    else {
        panic!("{:?}", v.reply)
    };
    assert_eq!(*status, 7);
    let hint = metadata
        .iter()
        .find(|(n, _)| *n == "x-pci-guard-access-request")
        .unwrap();
    let hint: Value = serde_json::from_str(&hint.1).unwrap();
    assert_eq!(
        hint["body"]["operation"],
        json!({"grpc": "payments.v1.Cards/GetCard"})
    );
    assert_eq!(hint["url"], "https://approvals.example.com/v1/requests");
}
