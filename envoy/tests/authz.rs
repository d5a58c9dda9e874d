//! Authorization through a real Envoy, HTTP and gRPC: scopes, just-in-time grants, blocked
//! operations, approvals, dry-run, and path tricks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::grpc::{GrpcClient, GrpcUpstream};
use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use serde_json::json;

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap()
}

fn with_grant(sub: &str, scopes: &[&str], g: serde_json::Value) -> String {
    let mut c = claims(sub, scopes);
    c["jit"] = g;
    sign("rsa1", &c)
}

fn send(envoy: &Envoy, method: &str, path: &str, token: &str) -> Response {
    envoy.send(method, path, &[("authorization", &bearer(token))], b"")
}

fn http_scopes_grants_rules_and_approvals(runtime: Runtime) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .start();
    let n = now();
    let reader = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let nobody = sign("rsa1", &claims("agent-7", &["payments:read"]));
    let writer = sign("rsa1", &claims("agent-7", &["cards:write"]));
    let refund_ok = with_grant(
        "agent-7",
        &[],
        grant("AR-1042", &["payments:refund"], &["alice"], n - 60, 1800),
    );
    // Valid from 20 minutes ago for 20 minutes: its last second has just passed.
    let refund_expired = with_grant(
        "agent-7",
        &[],
        grant("AR-1043", &["payments:refund"], &["alice"], n - 1201, 1200),
    );
    let self_approved = with_grant(
        "alice",
        &[],
        grant("AR-1044", &["payments:refund"], &["alice"], n - 60, 600),
    );
    let export_ok = with_grant(
        "agent-7",
        &["exports:read"],
        grant("AR-2001", &["exports:run"], &["bob"], n - 60, 600),
    );
    let export_none = sign("rsa1", &claims("agent-7", &["exports:read"]));

    let rows: Vec<(&str, &str, &str, &String, u16, &str)> = vec![
        ("allowed", "GET", "/v1/cards/c_1", &reader, 200, "ok"),
        (
            "missing scope",
            "GET",
            "/v1/cards/c_1",
            &nobody,
            403,
            "scope_missing",
        ),
        (
            "JIT valid",
            "POST",
            "/v1/payments/p_1/refunds",
            &refund_ok,
            200,
            "ok",
        ),
        (
            "JIT expired",
            "POST",
            "/v1/payments/p_1/refunds",
            &refund_expired,
            403,
            "jit_expired",
        ),
        (
            "JIT self-approved",
            "POST",
            "/v1/payments/p_1/refunds",
            &self_approved,
            403,
            "jit_self_approved",
        ),
        (
            "standing scope is not a grant",
            "POST",
            "/v1/payments/p_1/refunds",
            &reader,
            403,
            "jit_missing",
        ),
        (
            "blocked operation",
            "DELETE",
            "/v1/cards/c_1",
            &writer,
            403,
            "rule_denied",
        ),
        (
            "approval required",
            "GET",
            "/v1/exports/daily",
            &export_none,
            403,
            "approval_required",
        ),
        (
            "approval granted",
            "GET",
            "/v1/exports/daily",
            &export_ok,
            200,
            "ok",
        ),
    ];
    for (name, method, path, token, status, reason) in &rows {
        let r = send(&envoy, method, path, token);
        assert_eq!(
            r.status,
            *status,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if *status == 403 {
            let body = r.json();
            assert_eq!(body["error"], *reason, "{name}");
            assert!(body["request_id"].is_string(), "{name}");
        }
    }
    let r = send(&envoy, "DELETE", "/v1/cards/c_1", &writer);
    assert_eq!(r.header("x-pci-guard-rule"), Some("no-card-delete"));
    assert_eq!(
        r.json()["message"],
        "Deleting cards is not allowed through the gateway"
    );
    let r = send(&envoy, "GET", "/v1/exports/daily", &export_none);
    assert_eq!(r.header("x-pci-guard-rule"), Some("bulk-export"));
    assert_eq!(
        r.json()["required_scopes"],
        json!(["exports:run"]),
        "the answer says which grant to ask for"
    );

    assert_eq!(
        up.received().len(),
        3,
        "only the allowed requests reach the upstream"
    );
    let events = envoy.audit_events(rows.len() + 2);
    let jit = events
        .iter()
        .find(|e| e["jit"]["id"] == "AR-1042")
        .expect("JIT use audited");
    assert_eq!(jit["decision"]["result"], "allow");
    assert_eq!(jit["jit"]["approved_by"], json!(["alice"]));
    assert!(jit["jit"]["expires_at"].as_str().unwrap().ends_with('Z'));
    let expired = events.iter().find(|e| e["jit"]["id"] == "AR-1043").unwrap();
    assert_eq!(expired["decision"]["reason"], "jit_expired");
}

fn dry_run_rule_lets_the_request_pass_and_audits_would_deny(runtime: Runtime) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .start();
    let reader = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let r = send(&envoy, "GET", "/v1/cards/search", &reader);
    assert_eq!(r.status, 200);
    assert_eq!(up.received().len(), 1);
    let e = &envoy.audit_events(1)[0];
    assert_eq!(e["decision"]["result"], "would_deny");
    assert_eq!(e["decision"]["rule"], "watch-card-search");
    assert_eq!(e["decision"]["reason"], "rule_denied");
    assert_eq!(e["decision"]["dry_run"], true);
}

fn dry_run_mode_passes_everything_and_records_what_would_be_denied(runtime: Runtime) {
    let up = Upstream::ok();
    let dry = policy().replace("\"mode\": \"enforce\"", "\"mode\": \"dry_run\"");
    assert_ne!(dry, policy());
    let envoy = Harness::new("pci-guard.yaml", dry, up.port)
        .runtime(runtime)
        .start();
    assert_eq!(envoy.send("GET", "/v1/cards/c_1", &[], b"").status, 200);
    assert_eq!(envoy.send("GET", "/admin", &[], b"").status, 200);
    let events = envoy.audit_events(2);
    assert_eq!(events[0]["decision"]["result"], "would_deny");
    assert_eq!(events[0]["decision"]["reason"], "token_missing");
    assert_eq!(events[1]["decision"]["reason"], "no_route");
}

fn path_tricks_and_method_override_never_reach_a_route_they_should_not(runtime: Runtime) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .start();
    let reader = sign("rsa1", &claims("agent-7", &["cards:read"]));
    // Who refuses each: Envoy itself (its path normalization, configured in the shipped
    // configs, answers 400 before any filter runs), or pci-guard judging the path Envoy
    // normalized (no policy route: 403 `no_route`, on the path shown).
    enum Refused {
        Envoy400,
        Filter(u16, &'static str, &'static str),
    }
    use Refused::*;
    let cases = [
        ("/v1/cards/c_1%2F..%2F..%2Fadmin", Envoy400),
        ("/v1/cards/c_1%2f..", Envoy400),
        ("/v1/cards/..%5cadmin", Envoy400),
        ("/v1/cards/c_1%00", Envoy400),
        (
            "/v1/cards/c_1/../../admin",
            Filter(403, "no_route", "/v1/admin"),
        ),
        (
            "/v1/cards/%2e%2e/%2e%2e/admin",
            Filter(403, "no_route", "/admin"),
        ),
        ("/v1/./cards/../../admin", Filter(403, "no_route", "/admin")),
    ];
    for (i, (path, want)) in cases.iter().enumerate() {
        let r = send(&envoy, "GET", path, &reader);
        match want {
            Envoy400 => {
                assert_eq!(r.status, 400, "{path}");
                assert_eq!(
                    r.header("x-pci-guard-reason"),
                    None,
                    "{path}: Envoy refuses it, not the filter"
                );
                assert!(r.body.is_empty(), "{path}: {:?}", r.body);
            }
            Filter(status, reason, judged) => {
                assert_eq!(r.status, *status, "{path}");
                assert_eq!(r.header("x-pci-guard-reason"), Some(*reason), "{path}");
                let id = r.json()["request_id"].as_str().unwrap().to_string();
                // Only the filter's own event is read: what Envoy's refusals log is not
                // this test's subject.
                let line = envoy
                    .audit_lines(i + 1)
                    .into_iter()
                    .find(|l| l.contains(&format!("\"request_id\":\"{id}\"")))
                    .unwrap_or_else(|| panic!("{path}: no audit event {id}"));
                let e = parse_audit_line(&line);
                assert_eq!(e["request"]["path"], *judged, "{path}: the path judged");
            }
        }
    }
    assert!(
        up.received().is_empty(),
        "a path trick reached the upstream: {:?}",
        up.received()
    );
    let writer = sign("rsa1", &claims("agent-7", &["cards:write", "cards:read"]));
    let r = envoy.send(
        "POST",
        "/v1/cards/c_1",
        &[
            ("authorization", &bearer(&writer)),
            ("x-http-method-override", "DELETE"),
        ],
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-pci-guard-reason"), Some("method_override"));
    // The query string never changes a decision.
    let r = send(
        &envoy,
        "GET",
        "/v1/cards/c_1?scope=admin&path=/admin",
        &sign("rsa1", &claims("agent-7", &[])),
    );
    assert_eq!(r.status, 403);
}

fn grpc_scopes_blocked_methods_and_allowed_calls(runtime: Runtime) {
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .start();
    let admin = sign("rsa1", &claims("agent-7", &["admin", "cards:read"]));
    let reader_only = sign("rsa1", &claims("agent-7", &["payments:read"]));
    let c = GrpcClient::connect(envoy.port, Some(&admin));
    assert!(c.get_card("c_1").is_ok());
    assert_eq!(c.stats().unwrap().cards, 3);
    let blocked = c.purge_all().unwrap_err();
    assert_eq!(blocked.code(), tonic::Code::PermissionDenied);
    assert_eq!(blocked.message(), "the operation is blocked by policy");
    let denied = GrpcClient::connect(envoy.port, Some(&reader_only))
        .get_card("c_1")
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert_eq!(up.calls(), 2);
    let events = envoy.audit_events(4);
    let purge = events
        .iter()
        .find(|e| e["request"]["grpc"] == "payments.v1.Admin/PurgeAll")
        .unwrap();
    assert_eq!(purge["decision"]["rule"], "no-purge");
    assert_eq!(purge["response"]["grpc_status"], 7);
}

fn envoy_route_metadata_selects_the_policy_route(runtime: Runtime) {
    // The pci-guard.yaml template: the Envoy route `legacy-payments` (prefix /legacy/) carries
    // `filter_metadata.pci_guard.route: cards-read`.
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .start();
    let reader = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let other = sign("rsa1", &claims("agent-7", &["payments:read"]));
    assert_eq!(
        send(&envoy, "GET", "/legacy/card-lookup", &reader).status,
        200
    );
    assert_eq!(
        send(&envoy, "GET", "/legacy/card-lookup", &other).status,
        403
    );
    assert_eq!(
        envoy.send("GET", "/legacy/card-lookup", &[], b"").status,
        401
    );
    let e = &envoy.audit_events(3)[0];
    assert_eq!(e["request"]["route"], "cards-read");
}
with_runtimes!(
    http_scopes_grants_rules_and_approvals,
    dry_run_rule_lets_the_request_pass_and_audits_would_deny,
    dry_run_mode_passes_everything_and_records_what_would_be_denied,
    path_tricks_and_method_override_never_reach_a_route_they_should_not,
    grpc_scopes_blocked_methods_and_allowed_calls,
    envoy_route_metadata_selects_the_policy_route,
);
