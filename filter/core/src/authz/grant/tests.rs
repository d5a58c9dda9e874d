//! Which grant counts for a requirement, and why a header grant does not.

use super::*;
use serde_json::json;
use std::sync::Arc;

const NOW: u64 = 1_795_790_000;
const IDP: &str = "https://idp.example.com";

fn jit_grant(id: &str, by: &[&str]) -> Grant {
    Grant {
        id: id.into(),
        scopes: vec!["payments:refund".into()],
        approved_by: by.iter().map(|s| s.to_string()).collect(),
        approved_at: Some(NOW - 60),
        nbf: NOW - 60,
        exp: NOW + 540,
        reason: None,
    }
}

fn signed(by: &[&str]) -> SignedGrant {
    let details = json!([{"type": binding::OPERATION_TYPE, "route": "refund",
                          "privileges": ["payments:refund"], "methods": ["POST"],
                          "path": "/v1/payments/pay_1/refunds"}]);
    SignedGrant {
        id: "grt_1".into(),
        issuer: IDP.into(),
        subject: "agent-7".into(),
        approvers: by
            .iter()
            .map(|b| (IDP.to_string(), b.to_string()))
            .collect(),
        jit: jit_grant("grt_1", by),
        bindings: binding::parse(Some(&details)).unwrap(),
    }
}

fn req() -> JitRequirement {
    JitRequirement {
        max_ttl_seconds: 1800,
        min_approvals: 2,
        approvers: None,
        approver_groups: Vec::new(),
    }
}

fn grants<'a>(
    claim: Option<Grant>,
    header: Option<&'a Presented>,
    iss: &'a str,
    sub: &'a str,
) -> Grants<'a> {
    Grants {
        claim,
        header,
        who: Who {
            issuer: Some(iss),
            holder: Holder {
                subject: Some(sub),
                client: Some("ci-runner"),
            },
        },
        now: NOW,
        skew: 60,
    }
}

fn check(g: &Grants<'_>, method: &'static str, path: &'static str) -> Checked {
    g.check(
        Target::Route("refund"),
        &RequestLine::new(method, path, false),
        &req(),
        &["payments:refund".to_string()],
        Reason::JitMissing,
    )
}

const PATH: &str = "/v1/payments/pay_1/refunds";

#[test]
fn a_header_grant_for_this_caller_and_operation_counts() {
    let p = Presented::Verified(Arc::new(signed(&["alice", "bob"])));
    let c = check(&grants(None, Some(&p), IDP, "agent-7"), "POST", PATH);
    assert_eq!(c.verdict, Ok(()));
    assert_eq!(
        c.grant.map(|(g, s)| (g.id, s)),
        Some(("grt_1".into(), GrantSource::Header))
    );
    assert_eq!(c.header_refused, None);
}

#[test]
fn a_header_grant_is_the_callers_only_by_issuer_and_subject_exactly() {
    let p = Presented::Verified(Arc::new(signed(&["alice", "bob"])));
    for (iss, sub) in [
        ("https://other-idp.example.com", "agent-7"),
        (IDP, "Agent-7"),
        (IDP, "agent-7 "),
        (IDP, "agent-8"),
    ] {
        let c = check(&grants(None, Some(&p), iss, sub), "POST", PATH);
        assert_eq!(c.verdict, Err(Reason::GrantWrongSubject), "{iss} {sub:?}");
    }
    let mut g = grants(None, Some(&p), IDP, "agent-7");
    g.who.holder.subject = None;
    assert_eq!(check(&g, "POST", PATH).verdict, Err(Reason::JitNoSubject));
}

#[test]
fn a_header_grant_outside_its_binding_does_not_count() {
    let p = Presented::Verified(Arc::new(signed(&["alice", "bob"])));
    let g = grants(None, Some(&p), IDP, "agent-7");
    for (m, path) in [("POST", "/v1/payments/pay_2/refunds"), ("DELETE", PATH)] {
        assert_eq!(
            check(&g, m, path).verdict,
            Err(Reason::GrantNotForOperation),
            "{m} {path}"
        );
    }
    let other_route = g.check(
        Target::Route("capture"),
        &RequestLine::new("POST", PATH, false),
        &req(),
        &["payments:refund".to_string()],
        Reason::JitMissing,
    );
    assert_eq!(other_route.verdict, Err(Reason::GrantNotForOperation));
}

#[test]
fn a_header_grant_still_passes_the_checks_every_grant_passes() {
    let p = Presented::Verified(Arc::new(signed(&["alice"])));
    let c = check(&grants(None, Some(&p), IDP, "agent-7"), "POST", PATH);
    assert_eq!(c.verdict, Err(Reason::JitTooFewApprovals));
    let mut late = signed(&["alice", "bob"]);
    late.jit.exp = NOW - 1;
    let p = Presented::Verified(Arc::new(late));
    let c = check(&grants(None, Some(&p), IDP, "agent-7"), "POST", PATH);
    assert_eq!(c.verdict, Err(Reason::JitExpired));
    assert_eq!(c.header_refused, Some(Reason::JitExpired));
    assert_eq!(
        c.grant.map(|(_, s)| s),
        Some(GrantSource::Header),
        "examined, recorded"
    );
}

#[test]
fn an_approver_with_the_callers_issuer_and_subject_is_self_approval() {
    let mut g = signed(&["alice", "bob"]);
    g.approvers.push((IDP.into(), "agent-7".into()));
    let p = Presented::Verified(Arc::new(g));
    let c = check(&grants(None, Some(&p), IDP, "agent-7"), "POST", PATH);
    assert_eq!(c.verdict, Err(Reason::JitSelfApproved));
}

#[test]
fn either_grant_may_count_and_a_refused_header_grant_is_recorded() {
    let refused = Presented::Refused(Reason::GrantRevoked);
    let claim = jit_grant("AR-1", &["alice", "bob"]);
    let c = check(
        &grants(Some(claim.clone()), Some(&refused), IDP, "agent-7"),
        "POST",
        PATH,
    );
    assert_eq!(c.verdict, Ok(()), "the claim still works");
    assert_eq!(
        c.grant.map(|(g, s)| (g.id, s)),
        Some(("AR-1".into(), GrantSource::Claim))
    );
    assert_eq!(c.header_refused, Some(Reason::GrantRevoked));

    let weak = jit_grant("AR-2", &["alice"]);
    let c = check(
        &grants(Some(weak), Some(&refused), IDP, "agent-7"),
        "POST",
        PATH,
    );
    assert_eq!(
        c.verdict,
        Err(Reason::GrantRevoked),
        "the header's reason: the caller meant it"
    );

    let c = check(&grants(None, None, IDP, "agent-7"), "POST", PATH);
    assert_eq!(c.verdict, Err(Reason::JitMissing));
    assert!(c.grant.is_none() && c.header_refused.is_none());
}
