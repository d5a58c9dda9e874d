//! The decision table: each row a request (method, path or gRPC method, caller, time) and the
//! decision it must get.

use super::*;
use serde_json::{json, Value};

const NOW: u64 = 1_795_790_000;

struct TestCaller {
    sub: &'static str,
    scopes: Vec<&'static str>,
    claims: Value,
}

impl Caller for TestCaller {
    fn subject(&self) -> Option<&str> {
        Some(self.sub)
    }
    fn has_scope(&self, s: &str) -> bool {
        self.scopes.contains(&s)
    }
    fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
    fn clock_skew_seconds(&self) -> u64 {
        60
    }
}

fn policy_with(mode: &str, default: &str) -> Policy {
    Policy::from_value(&json!({
        "version": "table", "mode": mode, "default": default,
        "providers": {"idp": {"issuer": "https://idp", "jwks": test_jwks()}},
        "rules": [
            {"id": "no-card-delete", "action": "deny", "match": {"methods": ["DELETE"], "path": "/v1/cards/**"}},
            {"id": "no-purge", "action": "deny", "match": {"grpc": "payments.v1.Admin/PurgeAll"}},
            {"id": "watch-bulk-read", "action": "deny", "match": {"path": "/v1/cards/bulk"}, "dry_run": true},
            {"id": "bulk-export", "action": "require_approval", "match": {"path": "/v1/exports/**"},
             "scopes": ["exports:run"], "max_ttl": "15m", "min_approvals": 1}
        ],
        "routes": [
            {"name": "health", "match": {"path": "/healthz"}, "auth": "public"},
            {"name": "cards-read", "match": {"methods": ["GET"], "path": "/v1/cards/{id}"}, "auth": ["idp"], "scopes": ["cards:read"]},
            {"name": "cards-delete", "match": {"methods": ["DELETE"], "path": "/v1/cards/{id}"}, "auth": ["idp"], "scopes": ["cards:write"]},
            {"name": "refund", "match": {"methods": ["POST"], "path": "/v1/payments/{id}/refunds"}, "auth": ["idp"],
             "scopes": ["payments:refund"], "jit": {"max_ttl": "30m", "min_approvals": 1, "approvers": ["alice", "bob"]}},
            {"name": "exports", "match": {"path": "/v1/exports/**"}, "auth": ["idp"], "scopes": ["exports:read"]},
            {"name": "cards-grpc", "match": {"grpc": "payments.v1.Cards/GetCard"}, "auth": ["idp"], "scopes": ["cards:read"]},
            {"name": "admin-grpc", "match": {"grpc": "payments.v1.Admin/*"}, "auth": ["idp"], "scopes": ["admin"]}
        ]
    }))
    .unwrap()
}

/// A grant for `scopes`, approved by `by`, valid from `nbf` for `ttl` seconds.
fn grant(scopes: &[&str], by: &[&str], nbf: u64, ttl: u64) -> Value {
    json!({"id": "AR-1042", "scopes": scopes, "approved_by": by, "approved_at": nbf, "nbf": nbf, "exp": nbf + ttl, "reason": "ticket"})
}

enum Who {
    Anonymous(Reason),
    Caller(&'static str, Vec<&'static str>, Option<Value>),
}

fn decide_row(p: &Policy, method: &str, path: &str, grpc: bool, who: Who, now: u64) -> Decision {
    let req = RequestLine::new(method, path, grpc);
    let caller = match who {
        Who::Anonymous(r) => Err(r),
        Who::Caller(sub, scopes, jit) => {
            let claims = match jit {
                Some(g) => json!({"jit": g}),
                None => json!({}),
            };
            Ok(TestCaller {
                sub,
                scopes,
                claims,
            })
        }
    };
    decide(p, &req, RequestFlags::default(), now, |_| caller).0
}

fn agent(scopes: Vec<&'static str>) -> Who {
    Who::Caller("agent-7", scopes, None)
}

fn agent_with(scopes: Vec<&'static str>, g: Value) -> Who {
    Who::Caller("agent-7", scopes, Some(g))
}

/// (name, method, path, grpc, caller, now, reason, outcome, rule id)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    Who,
    u64,
    Reason,
    Outcome,
    Option<&'static str>,
);

#[test]
fn decision_table() {
    let p = policy_with("enforce", "deny");
    let refund = || grant(&["payments:refund"], &["alice"], NOW - 60, 1_800);
    let export = || grant(&["exports:run"], &["bob"], NOW - 60, 900);
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("public route",                 "GET", "/healthz", false, Who::Anonymous(Reason::TokenMissing), NOW, Reason::Public, Outcome::Allow, None),
        ("no route: default deny",       "GET", "/admin", false, agent(vec!["admin"]), NOW, Reason::NoRoute, Outcome::Deny, None),
        ("no token",                     "GET", "/v1/cards/c1", false, Who::Anonymous(Reason::TokenMissing), NOW, Reason::TokenMissing, Outcome::Deny, None),
        ("bad token",                    "GET", "/v1/cards/c1", false, Who::Anonymous(Reason::TokenExpired), NOW, Reason::TokenExpired, Outcome::Deny, None),
        ("scope present",                "GET", "/v1/cards/c1", false, agent(vec!["cards:read"]), NOW, Reason::Ok, Outcome::Allow, None),
        ("scope missing",                "GET", "/v1/cards/c1", false, agent(vec!["payments:read"]), NOW, Reason::ScopeMissing, Outcome::Deny, None),
        ("query never matters",          "GET", "/v1/cards/c1?scope=cards:read", false, agent(vec![]), NOW, Reason::ScopeMissing, Outcome::Deny, None),
        ("blocked operation",            "DELETE", "/v1/cards/c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("blocked gRPC method",          "POST", "/payments.v1.Admin/PurgeAll", true, agent(vec!["admin"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-purge")),
        ("other gRPC admin method",      "POST", "/payments.v1.Admin/Stats", true, agent(vec!["admin"]), NOW, Reason::Ok, Outcome::Allow, None),
        ("gRPC method, scope present",   "POST", "/payments.v1.Cards/GetCard", true, agent(vec!["cards:read"]), NOW, Reason::Ok, Outcome::Allow, None),
        ("gRPC path, any content type",  "POST", "/payments.v1.Cards/GetCard", false, agent(vec!["cards:read"]), NOW, Reason::Ok, Outcome::Allow, None),
        // Spellings of a blocked operation that upstream servers read as that operation.
        ("gRPC deny, no grpc type",      "POST", "/payments.v1.Admin/PurgeAll", false, agent(vec!["admin"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-purge")),
        ("gRPC deny, other case",        "POST", "/payments.v1.admin/PurgeAll", true, agent(vec!["admin"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-purge")),
        ("gRPC deny, trailing slash",    "POST", "/payments.v1.Admin/PurgeAll/", true, agent(vec!["admin"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-purge")),
        ("deny rule, lower-case method", "delete", "/v1/cards/c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("deny rule, mixed-case method", "dElEtE", "/v1/cards/c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("deny rule, path in capitals",  "DELETE", "/V1/Cards/c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("deny rule, trailing dot",      "DELETE", "/v1/cards./c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("deny rule, path parameter",    "DELETE", "/v1/cards;a=b/c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("deny rule, encoded letter",    "DELETE", "/v1/%63ards/c1", false, agent(vec!["cards:write"]), NOW, Reason::RuleDenied, Outcome::Deny, Some("no-card-delete")),
        ("JIT route, other case",        "POST", "/v1/payments/p1/Refunds", false, agent(vec!["payments:refund"]), NOW, Reason::JitMissing, Outcome::Deny, None),
        ("JIT route, path parameter",    "POST", "/v1/payments/p1/refunds;x", false, agent(vec!["payments:refund"]), NOW, Reason::JitMissing, Outcome::Deny, None),
        ("JIT route, trailing slash",    "POST", "/v1/payments/p1/refunds/", false, agent(vec!["payments:refund"]), NOW, Reason::JitMissing, Outcome::Deny, None),
        ("approval, other case",         "GET", "/v1/Exports/all", false, agent(vec!["exports:read"]), NOW, Reason::ApprovalRequired, Outcome::Deny, Some("bulk-export")),
        ("approval, parameter",          "GET", "/v1/exports;a/all", false, agent(vec!["exports:read"]), NOW, Reason::ApprovalRequired, Outcome::Deny, Some("bulk-export")),
        ("dot segment with parameter",   "GET", "/v1/cards/..;x/admin", false, agent(vec!["cards:read"]), NOW, Reason::PathRejected, Outcome::Deny, None),
        ("empty segment with parameter", "GET", "/v1/;x/cards/c1", false, agent(vec!["cards:read"]), NOW, Reason::PathRejected, Outcome::Deny, None),
        ("dry-run rule: would deny",     "GET", "/v1/cards/bulk", false, agent(vec!["cards:read"]), NOW, Reason::RuleDenied, Outcome::WouldDeny, Some("watch-bulk-read")),
        ("dry-run rule, enforced deny",  "GET", "/v1/cards/bulk", false, agent(vec![]), NOW, Reason::ScopeMissing, Outcome::Deny, None),
        ("JIT valid",                    "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], refund()), NOW, Reason::Ok, Outcome::Allow, None),
        ("JIT: standing scope is not enough", "POST", "/v1/payments/p1/refunds", false, agent(vec!["payments:refund"]), NOW, Reason::JitMissing, Outcome::Deny, None),
        ("JIT expired by one second",    "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], refund()), NOW - 60 + 1_800 + 1, Reason::JitExpired, Outcome::Deny, None),
        ("JIT last second",              "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], refund()), NOW - 60 + 1_800, Reason::Ok, Outcome::Allow, None),
        ("JIT not yet valid",            "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], grant(&["payments:refund"], &["alice"], NOW + 300, 600)), NOW, Reason::JitNotYetValid, Outcome::Deny, None),
        ("JIT self-approved",            "POST", "/v1/payments/p1/refunds", false, Who::Caller("alice", vec![], Some(refund())), NOW, Reason::JitSelfApproved, Outcome::Deny, None),
        ("JIT too few approvers",        "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], grant(&["payments:refund"], &[], NOW - 60, 600)), NOW, Reason::JitTooFewApprovals, Outcome::Deny, None),
        ("JIT TTL too long",             "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], grant(&["payments:refund"], &["alice"], NOW - 60, 1_801)), NOW, Reason::JitTtlExceeded, Outcome::Deny, None),
        ("JIT approver not allowed",     "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], grant(&["payments:refund"], &["mallory"], NOW - 60, 600)), NOW, Reason::JitApproverNotAllowed, Outcome::Deny, None),
        ("JIT for another scope",        "POST", "/v1/payments/p1/refunds", false, agent_with(vec![], grant(&["cards:read"], &["alice"], NOW - 60, 600)), NOW, Reason::JitScopeNotGranted, Outcome::Deny, None),
        ("approval required, no grant",  "GET", "/v1/exports/daily", false, agent(vec!["exports:read"]), NOW, Reason::ApprovalRequired, Outcome::Deny, Some("bulk-export")),
        ("approval required, granted",   "GET", "/v1/exports/daily", false, agent_with(vec!["exports:read"], export()), NOW, Reason::Ok, Outcome::Allow, None),
        ("approval: grant too long",     "GET", "/v1/exports/daily", false, agent_with(vec!["exports:read"], grant(&["exports:run"], &["bob"], NOW - 60, 901)), NOW, Reason::JitTtlExceeded, Outcome::Deny, Some("bulk-export")),
        ("approval granted, scope missing", "GET", "/v1/exports/daily", false, agent_with(vec![], export()), NOW, Reason::ScopeMissing, Outcome::Deny, None),
        ("dot segments",                 "GET", "/v1/cards/../admin", false, agent(vec!["cards:read"]), NOW, Reason::PathRejected, Outcome::Deny, None),
        ("encoded slash",                "GET", "/v1/cards/c1%2F..%2Fadmin", false, agent(vec!["cards:read"]), NOW, Reason::PathRejected, Outcome::Deny, None),
        ("double slash",                 "GET", "/v1//cards/c1", false, agent(vec!["cards:read"]), NOW, Reason::PathRejected, Outcome::Deny, None),
    ];
    for (name, method, path, grpc, who, now, reason, outcome, rule) in rows {
        let d = decide_row(&p, method, path, grpc, who, now);
        assert_eq!((d.reason, d.outcome()), (reason, outcome), "row {name:?}");
        assert_eq!(d.rule.map(|i| p.rules[i].id.as_str()), rule, "row {name:?}");
    }
}

#[test]
fn used_grant_is_reported_for_audit() {
    let p = policy_with("enforce", "deny");
    let g = grant(&["payments:refund"], &["alice"], NOW - 60, 1_800);
    let d = decide_row(
        &p,
        "POST",
        "/v1/payments/p1/refunds",
        false,
        agent_with(vec![], g),
        NOW,
    );
    let used = d.grant.expect("grant in decision");
    assert_eq!(
        (used.id.as_str(), used.approved_by.as_slice()),
        ("AR-1042", &["alice".to_string()][..])
    );
}

#[test]
fn dry_run_mode_never_blocks_but_records_what_would_have() {
    let p = policy_with("dry_run", "deny");
    for (method, path, reason) in [
        ("GET", "/admin", Reason::NoRoute),
        ("DELETE", "/v1/cards/c1", Reason::RuleDenied),
        ("GET", "/v1/cards/c1", Reason::ScopeMissing),
        ("POST", "/v1/payments/p1/refunds", Reason::JitMissing),
    ] {
        let d = decide_row(&p, method, path, false, agent(vec!["cards:write"]), NOW);
        assert_eq!(
            (d.reason, d.outcome(), d.blocks()),
            (reason, Outcome::WouldDeny, false),
            "{method} {path}"
        );
    }
    let d = decide_row(
        &p,
        "GET",
        "/v1/cards/c1",
        false,
        Who::Anonymous(Reason::TokenMissing),
        NOW,
    );
    assert_eq!(d.outcome(), Outcome::WouldDeny);
}

#[test]
fn path_tricks_are_refused_even_in_dry_run() {
    let p = policy_with("dry_run", "deny");
    let d = decide_row(
        &p,
        "GET",
        "/v1/cards/%2e%2e/admin",
        false,
        agent(vec![]),
        NOW,
    );
    assert_eq!((d.reason, d.blocks()), (Reason::PathRejected, true));
}

#[test]
fn noncanonical_paths_can_be_allowed_explicitly() {
    let p = Policy::from_value(
        &json!({"version": "v", "noncanonical_paths": "allow", "default": "allow"}),
    )
    .unwrap();
    let d = decide_row(&p, "GET", "/a//b", false, agent(vec![]), NOW);
    assert_eq!(d.outcome(), Outcome::Allow);
}

#[test]
fn method_override_header_is_refused() {
    let p = policy_with("enforce", "deny");
    let req = RequestLine::new("POST", "/v1/cards/c1", false);
    let flags = RequestFlags {
        method_override: true,
    };
    let (d, _) = decide(&p, &req, flags, NOW, |_| {
        Ok(TestCaller {
            sub: "a",
            scopes: vec!["cards:read"],
            claims: json!({}),
        })
    });
    assert_eq!(
        (d.reason, d.reason.http_status()),
        (Reason::MethodOverride, 400)
    );
}

#[test]
fn default_allow_lets_unmatched_requests_pass_without_a_token() {
    let p = policy_with("enforce", "allow");
    let d = decide_row(
        &p,
        "GET",
        "/anything",
        false,
        Who::Anonymous(Reason::TokenMissing),
        NOW,
    );
    assert_eq!((d.reason, d.outcome()), (Reason::Public, Outcome::Allow));
}

/// A real key set (the EC P-256 test key), since a provider without keys is refused.
fn test_jwks() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../../testdata/keys/ec256.jwks.json")).unwrap()
}

#[test]
fn envoy_route_metadata_names_the_policy_route() {
    let p = policy_with("enforce", "deny");
    let mut req = RequestLine::new("GET", "/legacy/card-lookup", false);
    req.metadata_route = Some("cards-read");
    let caller = || {
        Ok(TestCaller {
            sub: "a",
            scopes: vec!["cards:read"],
            claims: json!({}),
        })
    };
    let (d, _) = decide(&p, &req, RequestFlags::default(), NOW, |_| caller());
    assert_eq!((d.reason, d.route), (Reason::Ok, Some(1)));
    req.metadata_route = Some("no-such-route");
    let (d, _) = decide(&p, &req, RequestFlags::default(), NOW, |_| caller());
    assert_eq!(d.reason, Reason::NoRoute);
}

mod props {
    //! Properties over random callers and requests: the query string never decides, and no
    //! caller is allowed anywhere a route's scope or grant is missing.

    use super::*;
    use proptest::prelude::*;

    const SCOPES: [&str; 6] = [
        "cards:read",
        "cards:write",
        "payments:refund",
        "exports:read",
        "exports:run",
        "admin",
    ];

    /// One request per route and rule of `policy_with`, plus unrouted ones.
    const REQUESTS: [(&str, &str, bool); 10] = [
        ("GET", "/healthz", false),
        ("GET", "/v1/cards/c1", false),
        ("DELETE", "/v1/cards/c1", false),
        ("GET", "/v1/cards/bulk", false),
        ("POST", "/v1/payments/p1/refunds", false),
        ("GET", "/v1/exports/e1", false),
        ("POST", "/payments.v1.Cards/GetCard", true),
        ("POST", "/payments.v1.Admin/Stats", true),
        ("POST", "/payments.v1.Admin/PurgeAll", true),
        ("GET", "/admin", false),
    ];

    fn caller(scopes: &[bool], grant_scopes: Option<&[bool]>) -> Who {
        let pick = |mask: &[bool]| -> Vec<&'static str> {
            SCOPES
                .iter()
                .zip(mask)
                .filter(|(_, &on)| on)
                .map(|(s, _)| *s)
                .collect()
        };
        let standing = pick(scopes);
        match grant_scopes {
            None => agent(standing),
            Some(g) => agent_with(standing, grant(&pick(g), &["alice"], NOW - 60, 600)),
        }
    }

    fn has(mask: &[bool], scope: &str) -> bool {
        SCOPES.iter().zip(mask).any(|(s, &on)| on && *s == scope)
    }

    proptest! {
        #[test]
        fn decision_never_depends_on_the_query_string(
            req in 0..REQUESTS.len(),
            query in "[a-zA-Z0-9=&%:/._~+ -]{0,40}",
            scopes in prop::collection::vec(any::<bool>(), SCOPES.len()),
            grant_scopes in prop::option::of(prop::collection::vec(any::<bool>(), SCOPES.len())),
            dry in any::<bool>(),
        ) {
            let p = policy_with(if dry { "dry_run" } else { "enforce" }, "deny");
            let (method, path, grpc) = REQUESTS[req];
            let with_query = format!("{path}?{query}");
            let plain = decide_row(&p, method, path, grpc, caller(&scopes, grant_scopes.as_deref()), NOW);
            let queried = decide_row(&p, method, &with_query, grpc, caller(&scopes, grant_scopes.as_deref()), NOW);
            prop_assert_eq!(plain, queried, "{}", with_query);
        }

        #[test]
        fn no_caller_is_allowed_where_a_scope_or_grant_is_missing(
            scopes in prop::collection::vec(any::<bool>(), SCOPES.len()),
            grant_scopes in prop::option::of(prop::collection::vec(any::<bool>(), SCOPES.len())),
        ) {
            let p = policy_with("enforce", "deny");
            for (method, path, grpc) in REQUESTS {
                let d = decide_row(&p, method, path, grpc, caller(&scopes, grant_scopes.as_deref()), NOW);
                if d.blocks() {
                    continue;
                }
                let Some(route) = d.route.and_then(|i| p.routes.get(i)) else {
                    prop_assert!(false, "{method} {path}: allowed without a route");
                    continue;
                };
                if d.reason == Reason::Public {
                    continue;
                }
                let granted = |s: &str| grant_scopes.as_deref().is_some_and(|g| has(g, s));
                for s in &route.scopes {
                    if route.jit.is_some() {
                        prop_assert!(granted(s), "{} {}: allowed without a grant for {}", method, path, s);
                    } else {
                        prop_assert!(has(&scopes, s) || granted(s), "{} {}: allowed without {}", method, path, s);
                    }
                }
                if let Some(rule) = d.rule.and_then(|i| p.rules.get(i)) {
                    for s in &rule.scopes {
                        prop_assert!(granted(s), "{} {}: rule {} passed without a grant for {}", method, path, rule.id, s);
                    }
                }
            }
        }
    }

    /// The same, from the other side: a caller minimal for each route is allowed there, and
    /// loses access as soon as any one scope or its grant is taken away.
    #[test]
    fn a_caller_accepted_on_a_route_is_rejected_once_any_scope_or_grant_is_removed() {
        let p = policy_with("enforce", "deny");
        let full = [true; SCOPES.len()];
        // (method, path, grpc, standing scopes, granted scopes)
        type Case<'a> = (&'a str, &'a str, bool, &'a [&'a str], Option<&'a [&'a str]>);
        let cases: [Case<'_>; 5] = [
            ("GET", "/v1/cards/c1", false, &["cards:read"], None),
            (
                "POST",
                "/v1/payments/p1/refunds",
                false,
                &[],
                Some(&["payments:refund"]),
            ),
            (
                "GET",
                "/v1/exports/e1",
                false,
                &["exports:read"],
                Some(&["exports:run"]),
            ),
            (
                "POST",
                "/payments.v1.Cards/GetCard",
                true,
                &["cards:read"],
                None,
            ),
            ("POST", "/payments.v1.Admin/Stats", true, &["admin"], None),
        ];
        let mask =
            |list: &[&str]| -> Vec<bool> { SCOPES.iter().map(|s| list.contains(s)).collect() };
        for (method, path, grpc, standing, granted) in cases {
            let ok = decide_row(
                &p,
                method,
                path,
                grpc,
                caller(&mask(standing), granted.map(mask).as_deref()),
                NOW,
            );
            assert_eq!(
                (ok.reason, ok.blocks()),
                (Reason::Ok, false),
                "{method} {path}"
            );
            for i in 0..standing.len() {
                let mut fewer = standing.to_vec();
                fewer.remove(i);
                let d = decide_row(
                    &p,
                    method,
                    path,
                    grpc,
                    caller(&mask(&fewer), granted.map(mask).as_deref()),
                    NOW,
                );
                assert!(d.blocks(), "{method} {path} without {}", standing[i]);
            }
            if granted.is_some() {
                // Without the grant, even holding every standing scope.
                let d = decide_row(&p, method, path, grpc, caller(&full, None), NOW);
                assert!(d.blocks(), "{method} {path} without a grant");
                assert!(
                    matches!(d.reason, Reason::JitMissing | Reason::ApprovalRequired),
                    "{method} {path}: {:?}",
                    d.reason
                );
            }
        }
    }
}
