use super::*;
use serde_json::json;

fn ev(t: &str, sub: Option<&str>, route: &str, result: &str, pans: u64) -> serde_json::Value {
    json!({"time": t, "identity": sub.map(|s| json!({"provider": "idp", "sub": s})),
           "request": {"route": route}, "decision": {"result": result},
           "redaction": {"pan": pans, "cvv": 0, "track": 0}})
}

#[test]
fn parses_the_filters_time_format() {
    assert_eq!(parse_time("1970-01-01T00:00:00.000Z"), Some(0));
    assert_eq!(parse_time("2026-11-27T08:00:00.123Z"), Some(1_795_766_400));
}

#[test]
fn counts_per_identity_and_route() {
    let mut r = Review::new(None, None);
    r.push(&ev(
        "2026-11-27T10:00:00.000Z",
        Some("a"),
        "cards",
        "allow",
        2,
    ));
    r.push(&ev(
        "2026-11-27T10:00:01.000Z",
        Some("a"),
        "cards",
        "deny",
        0,
    ));
    r.push(&ev(
        "2026-11-27T10:00:02.000Z",
        None,
        "health",
        "would_deny",
        0,
    ));
    let rep = r.finish();
    assert_eq!(rep.events, 3);
    let c = &rep.by_identity["idp/a"]["cards"];
    assert_eq!((c.allowed, c.denied, c.pan_masked), (1, 1, 2));
    assert_eq!(rep.by_identity["(anonymous)"]["health"].would_deny, 1);
}

#[test]
fn flags_a_denial_burst_once() {
    let mut r = Review::new(None, None);
    for i in 0..8 {
        r.push(&ev(
            &format!("2026-11-27T10:00:{:02}.000Z", i * 5),
            Some("a"),
            "x",
            "deny",
            0,
        ));
    }
    let rep = r.finish();
    assert_eq!(
        rep.flags
            .iter()
            .filter(|f| f.kind == "denial_burst")
            .count(),
        1
    );
}

#[test]
fn spread_out_denials_are_not_a_burst() {
    let mut r = Review::new(None, None);
    for i in 0..8 {
        r.push(&ev(
            &format!("2026-11-27T10:{:02}:00.000Z", i * 5),
            Some("a"),
            "x",
            "deny",
            0,
        ));
    }
    assert!(r.finish().flags.is_empty());
}

#[test]
fn flags_a_sudden_rise_in_masked_pans() {
    let mut r = Review::new(None, None);
    for h in 0..3 {
        r.push(&ev(
            &format!("2026-11-27T{:02}:00:00.000Z", 10 + h),
            Some("a"),
            "x",
            "allow",
            5,
        ));
    }
    r.push(&ev(
        "2026-11-27T13:00:00.000Z",
        Some("a"),
        "x",
        "allow",
        500,
    ));
    let rep = r.finish();
    assert_eq!(rep.flags.len(), 1, "{:?}", rep.flags);
    assert_eq!(rep.flags[0].kind, "masked_pan_rise");
}

#[test]
fn flags_grant_use_after_expiry_and_lists_grants() {
    let mut r = Review::new(None, None);
    let mut e = ev("2026-11-27T11:00:00.000Z", Some("a"), "refund", "allow", 0);
    e["jit"] = json!({"id": "AR-1", "approved_by": ["alice"], "approved_at": "2026-11-27T09:00:00.000Z", "expires_at": "2026-11-27T10:30:00.000Z"});
    r.push(&e);
    let rep = r.finish();
    assert_eq!(rep.grants.len(), 1);
    assert_eq!(rep.grants[0].approved_by, vec!["alice"]);
    assert_eq!(rep.flags[0].kind, "grant_outside_window");
}

#[test]
fn since_and_until_bound_the_review() {
    let mut r = Review::new(
        Some("2026-11-27T10:00:01".into()),
        Some("2026-11-27T10:00:02".into()),
    );
    for i in 0..4 {
        r.push(&ev(
            &format!("2026-11-27T10:00:0{i}.000Z"),
            Some("a"),
            "x",
            "allow",
            0,
        ));
    }
    assert_eq!(r.finish().events, 1);
}

fn record(t: &str, chain: &str, digest: &str, event: &str) -> serde_json::Value {
    json!({"version": 1, "kind": "vm", "event": event, "time": t,
           "vm": {"id": chain}, "policy": {"version": digest, "digest": format!("sha256:{digest}")},
           "chain": {"id": chain, "seq": 1}})
}

#[test]
fn flags_each_failed_control_and_counts_records_apart_from_requests() {
    let mut r = Review::new(None, None);
    let mut c = record("2026-11-27T10:00:00.000Z", "vm-a", "p1", "control_failure");
    c["control"] = json!({"reason": "jwks_stale", "detail": "keys older than max_stale",
                          "provider": "corp-idp", "request_id": null, "count": 3});
    r.push(&c);
    r.push(&record(
        "2026-11-27T10:00:01.000Z",
        "vm-a",
        "p1",
        "heartbeat",
    ));
    let rep = r.finish();
    assert_eq!((rep.events, rep.records), (0, 2));
    assert_eq!(rep.flags.len(), 1, "{:?}", rep.flags);
    assert_eq!(rep.flags[0].kind, "control_failure");
    assert_eq!(rep.flags[0].identity, "(vm vm-a)");
    assert!(
        rep.flags[0]
            .detail
            .starts_with("jwks_stale at 2026-11-27T10:00:00.000Z (3 times), provider corp-idp"),
        "{}",
        rep.flags[0].detail
    );
}

#[test]
fn flags_a_policy_digest_change_once_whichever_vm_sees_it() {
    let mut r = Review::new(None, None);
    for (t, chain, digest) in [
        ("2026-11-27T10:00:00.000Z", "vm-a", "p1"),
        ("2026-11-27T10:00:00.500Z", "vm-b", "p1"),
        ("2026-11-27T10:00:01.000Z", "vm-a", "p2"),
        ("2026-11-27T10:00:01.500Z", "vm-b", "p2"),
        ("2026-11-27T10:00:02.000Z", "vm-a", "p2"),
    ] {
        r.push(&record(t, chain, digest, "heartbeat"));
    }
    let flags = r.finish().flags;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].kind, "policy_changed");
    assert_eq!(
        flags[0].detail,
        "p1 (sha256:p1) replaced by p2 (sha256:p2) by 2026-11-27T10:00:01.000Z"
    );
}

#[test]
fn flags_a_grant_used_after_the_approvals_service_revoked_it() {
    let mut r = Review::new(None, None);
    let mut e = ev("2026-11-27T10:20:00.000Z", Some("a"), "refund", "allow", 0);
    e["jit"] = json!({"id": "grt_1", "approved_by": ["alice"], "approved_at": null, "expires_at": "2026-11-27T11:00:00.000Z"});
    r.push(&e);
    r.push(&json!({"version": 1, "kind": "approvals", "event": "revoked", "time": "2026-11-27T10:30:00.000Z",
                   "grant": {"id": "grt_1", "revoked_at": "2026-11-27T10:10:00.000Z"}}));
    let rep = r.finish();
    let f: Vec<&Flag> = rep
        .flags
        .iter()
        .filter(|f| f.kind == "grant_used_after_revocation")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", rep.flags);
    assert_eq!(
        f[0].detail,
        "grant grt_1 revoked at 2026-11-27T10:10:00.000Z, used until 2026-11-27T10:20:00.000Z"
    );
    assert_eq!(
        rep.events, 1,
        "the approvals event is a record, not a request"
    );
}

#[test]
fn integrity_findings_become_gap_truncation_and_tampering_flags() {
    use crate::audit::verify::{Finding, FindingKind};
    let mut rep = Report::default();
    let f = |kind| Finding { line: 3, kind };
    rep.integrity(&[
        f(FindingKind::Gap {
            chain: "c".into(),
            expected: 2,
            found: 4,
        }),
        f(FindingKind::TailCut {
            chain: "c".into(),
            last: "t0".into(),
            silent_s: 200,
            heartbeat_s: 60,
            reference: "t1".into(),
        }),
        f(FindingKind::SealBroken {
            chain: "c".into(),
            seq: 2,
        }),
        f(FindingKind::NoStartRecord { chain: "c".into() }),
    ]);
    let kinds: Vec<&str> = rep.flags.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["trail_gap", "trail_tampered", "trail_truncated"]);
}

fn approvals(
    event: &str,
    t: &str,
    actor: Option<&str>,
    grant: serde_json::Value,
) -> serde_json::Value {
    json!({"version": 1, "kind": "approvals", "event": event, "time": t,
           "actor": actor.map(|a| json!({"iss": "https://idp.example.com", "sub": a})),
           "request": {"id": "req_1", "requester": {"iss": "https://idp.example.com", "sub": "agent-7"},
                       "rule": null, "route": "refund", "scopes": ["payments:refund"],
                       "justification": "chargeback #7731", "state": "pending"},
           "grant": grant, "comment": null})
}

fn grant_event(t: &str, result: &str, reason: Option<&str>) -> serde_json::Value {
    let mut e = ev(t, Some("agent-7"), "refund", result, 0);
    e["jit"] = json!({"id": "grt_1", "approved_by": ["alice at https://idp.example.com", "bob at https://idp.example.com"],
                      "approved_at": "2026-11-27T10:05:00.000Z", "expires_at": "2026-11-27T10:35:00.000Z"});
    if let Some(r) = reason {
        e["decision"]["reason"] = json!(r);
    }
    e
}

#[test]
fn a_grant_joins_its_request_approvals_uses_and_refusals_after_revocation() {
    let issued = json!({"id": "grt_1", "approved_by": [{"iss": "https://idp.example.com", "sub": "alice"},
                                                       {"iss": "https://idp.example.com", "sub": "bob"}],
                        "approved_at": "2026-11-27T10:05:00.000Z", "not_before": "2026-11-27T10:05:00.000Z",
                        "expires_at": "2026-11-27T10:35:00.000Z"});
    let mut revoked = issued.clone();
    revoked["revoked_at"] = json!("2026-11-27T10:20:00.000Z");
    let mut r = Review::new(None, None);
    // Proxy lines first: the files may come in any order.
    r.push(&grant_event("2026-11-27T10:10:00.000Z", "allow", None));
    r.push(&grant_event("2026-11-27T10:15:00.000Z", "allow", None));
    r.push(&grant_event(
        "2026-11-27T10:21:00.000Z",
        "deny",
        Some("grant_revoked"),
    ));
    r.push(&approvals(
        "filed",
        "2026-11-27T10:00:00.000Z",
        Some("agent-7"),
        json!(null),
    ));
    r.push(&approvals(
        "approved",
        "2026-11-27T10:02:00.000Z",
        Some("alice"),
        json!(null),
    ));
    r.push(&approvals(
        "approved",
        "2026-11-27T10:05:00.000Z",
        Some("bob"),
        json!(null),
    ));
    r.push(&approvals(
        "grant_issued",
        "2026-11-27T10:05:00.000Z",
        Some("bob"),
        issued,
    ));
    r.push(&approvals(
        "revoked",
        "2026-11-27T10:20:00.000Z",
        Some("alice"),
        revoked,
    ));
    let rep = r.finish();
    assert_eq!(rep.grants.len(), 1, "{:?}", rep.grants);
    let g = &rep.grants[0];
    assert_eq!(g.identity, "idp/agent-7");
    assert_eq!(g.request.as_deref(), Some("req_1"));
    assert_eq!(
        g.requester.as_deref(),
        Some("agent-7 at https://idp.example.com")
    );
    assert_eq!(g.justification.as_deref(), Some("chargeback #7731"));
    assert_eq!(g.target.as_deref(), Some("route refund"));
    let who: Vec<(&str, &str)> = g
        .approvals
        .iter()
        .map(|a| (a.approver.as_str(), a.at.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            (
                "alice at https://idp.example.com",
                "2026-11-27T10:02:00.000Z"
            ),
            ("bob at https://idp.example.com", "2026-11-27T10:05:00.000Z")
        ]
    );
    assert_eq!(
        (g.uses, g.last_use.as_deref()),
        (2, Some("2026-11-27T10:15:00.000Z"))
    );
    assert_eq!(g.revoked_at.as_deref(), Some("2026-11-27T10:20:00.000Z"));
    assert_eq!(
        g.revoked_by.as_deref(),
        Some("alice at https://idp.example.com")
    );
    assert_eq!(g.refused.get("grant_revoked"), Some(&1));
    let kinds: Vec<&str> = rep.flags.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        ["grant_refused_after_end"],
        "used only before the revocation: {:?}",
        rep.flags
    );
    let text = rep.to_text();
    assert!(text.contains("justification: chargeback #7731"), "{text}");
    assert!(text.contains("refused 1 time(s): grant_revoked"), "{text}");
}

#[test]
fn a_grant_issued_but_never_used_is_listed_from_the_approvals_log() {
    let issued = json!({"id": "grt_2", "approved_by": [], "approved_at": "2026-11-27T10:05:00.000Z",
                        "not_before": "2026-11-27T10:05:00.000Z", "expires_at": "2026-11-27T10:35:00.000Z"});
    let mut r = Review::new(None, None);
    r.push(&approvals(
        "grant_issued",
        "2026-11-27T10:05:00.000Z",
        Some("bob"),
        issued,
    ));
    let rep = r.finish();
    assert_eq!(rep.grants.len(), 1);
    let g = &rep.grants[0];
    assert_eq!((g.grant.as_str(), g.uses), ("grt_2", 0));
    assert_eq!(g.identity, "agent-7 at https://idp.example.com");
    assert!(rep.to_text().contains("never used"));
}

#[test]
fn operations_are_counted_per_identity_tool_and_graphql_operation() {
    let mut r = Review::new(None, None);
    let mut call = |result: &str, op: serde_json::Value| {
        let mut e = ev(
            "2026-11-27T10:00:00.000Z",
            Some("agent-7"),
            "mcp",
            result,
            0,
        );
        e["request"]["operation"] = op;
        r.push(&e);
    };
    let refund = json!({"protocol": "jsonrpc", "batch": false,
                        "calls": [{"method": "tools/call", "tool": "refund_payment"}]});
    call("deny", refund.clone());
    call("allow", refund);
    call(
        "allow",
        json!({"protocol": "jsonrpc", "batch": true, "more_calls": 3,
                         "calls": [{"method": "tools/list"},
                                   {"method": "tools/call", "tool": "purge", "reason": "operation_denied"}]}),
    );
    call(
        "deny",
        json!({"protocol": "graphql", "batch": false,
                        "calls": [{"type": "mutation", "name": "Refund", "fields": ["refund"]}]}),
    );
    call(
        "allow",
        json!({"protocol": "graphql", "batch": false,
                         "calls": [{"type": "query", "fields": ["cards", "payments"]}]}),
    );
    let rep = r.finish();
    let ops = &rep.operations["idp/agent-7"];
    let c = |k: &str| {
        let c = &ops[k];
        (c.allowed, c.denied)
    };
    assert_eq!(c("jsonrpc tools/call refund_payment"), (1, 1));
    assert_eq!(c("jsonrpc tools/list"), (1, 0));
    assert_eq!(
        c("jsonrpc tools/call purge"),
        (0, 1),
        "a batch call refused on its own"
    );
    assert_eq!(c("jsonrpc (calls beyond the recorded ones)"), (3, 0));
    assert_eq!(c("graphql mutation Refund"), (0, 1));
    assert_eq!(c("graphql query {cards, payments}"), (1, 0));
    assert!(rep.to_text().contains("jsonrpc tools/call refund_payment"));
}
