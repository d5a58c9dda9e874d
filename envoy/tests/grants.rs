//! Just-in-time access end to end, through a real Envoy and the real approvals service: the
//! agent is refused with where to ask, files the request, cannot approve it itself, two
//! approvers approve, the agent exchanges its token for the grant, the filter lets the bound
//! operation through and nothing else, a revocation stops it within the list's refresh, and a
//! grant one second past its `exp` is refused. Every case on both runtimes (the wasm plugin
//! and the dynamic module), the service on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The approvals tests' PostgreSQL cluster (Debian's package, started on 127.0.0.1 and stopped
/// after), shared rather than copied.
#[path = "../../approvals/tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;
#[path = "grants/service.rs"]
mod service;

use pci_guard_e2e::grpc::{GrpcClient, GrpcUpstream};
use pci_guard_e2e::tokens::{claims, sign, AUDIENCE, ISSUER};
use pci_guard_e2e::*;
use serde_json::{json, Value};
use service::{Service, TempDir};
use std::time::{Duration, Instant};

const APPROVALS: &str = "https://approvals.example.com";
const REFUND: &str = "/v1/payments/pay_1/refunds";

/// One policy for both: the filter checks grants the service signs. The service is reached
/// through Envoy's `idp_jwks` cluster (the test template's cluster for fetched documents).
fn policy() -> Value {
    let jwks: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/keys/ec256.jwks.json")).unwrap(),
    )
    .unwrap();
    json!({
        "version": "jit-e2e",
        "providers": {"corp-idp": {"issuer": ISSUER, "audiences": [AUDIENCE], "jwks": jwks}},
        "routes": [
            {"name": "refund", "match": {"methods": ["POST"], "path": "/v1/payments/{id}/refunds"},
             "auth": ["corp-idp"], "scopes": ["payments:refund"],
             "jit": {"max_ttl": "30m", "min_approvals": 2, "approvers": ["alice", "bob"]}},
            {"name": "cards-grpc", "match": {"grpc": "payments.v1.Cards/*"}, "auth": ["corp-idp"],
             "scopes": ["cards:read"], "jit": {"max_ttl": "10m", "approvers": ["alice", "bob"]}},
            {"name": "health", "match": {"path": "/healthz"}, "auth": "public"}
        ],
        "approvals": {"issuer": APPROVALS, "providers": ["corp-idp"],
                      "grants": {"cluster": "idp_jwks", "keys": {"refresh": "1m"},
                                 "revocations": {"refresh": "1s", "max_stale": "10s"}}}
    })
}

fn token(sub: &str) -> String {
    sign("ec256", &claims(sub, &[]))
}

fn post(envoy: &Envoy, path: &str, agent: &str, grant: Option<&str>) -> Response {
    let auth = format!("Bearer {agent}");
    let mut h = vec![("authorization", auth.as_str())];
    if let Some(g) = grant {
        h.push(("x-pci-guard-grant", g));
    }
    envoy.send("POST", path, &h, b"")
}

/// Asks until the answer is not `from` (the filter polls on its own schedule), at most `within`.
fn until_not(
    from: u16,
    within: Duration,
    mut ask: impl FnMut() -> Response,
) -> (Response, Duration) {
    let start = Instant::now();
    loop {
        let r = ask();
        if r.status != from || start.elapsed() > within {
            return (r, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Files `body`, approves it as alice and bob, and exchanges the agent's token for the grant.
fn approved_grant(svc: &Service, agent: &str, body: &Value) -> (String, String) {
    let (s, v) = svc.call("POST", "/v1/requests", agent, Some(body));
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    for who in ["alice", "bob"] {
        let (s, v) = svc.call(
            "POST",
            &format!("/v1/requests/{id}/approve"),
            &token(who),
            Some(&json!({})),
        );
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = svc.exchange(agent, &id);
    assert_eq!(s, 200, "{v}");
    let grant = v["access_token"].as_str().unwrap().to_string();
    (id, grant)
}

fn claims_of(jwt: &str) -> Value {
    Value::Object(
        pci_guard_core::identity::token::parse(jwt)
            .unwrap()
            .claims
            .all,
    )
}

fn request_approve_exchange_use_revoke_and_expire_on_sqlite(runtime: Runtime) {
    let dir = TempDir::new("jit-sqlite");
    let db = format!("sqlite://{}/approvals.db", dir.0.display());
    flow(&dir, &db, runtime);
}
with_runtimes!(request_approve_exchange_use_revoke_and_expire_on_sqlite);

fn request_approve_exchange_use_revoke_and_expire_on_postgres(runtime: Runtime) {
    let Some(pg) = pg::Pg::require("request_approve_exchange_use_revoke_and_expire_on_postgres")
    else {
        return;
    };
    let dir = TempDir::new("jit-postgres");
    flow(&dir, &pg.database("approvals"), runtime);
}
with_runtimes!(request_approve_exchange_use_revoke_and_expire_on_postgres);

/// The filter's polls of the revocation list through the template's `idp_jwks` cluster,
/// answered 304 (Envoy's per-cluster count of upstream response codes).
const NOT_MODIFIED: &str = "cluster.idp_jwks.upstream_rq_304";

fn flow(dir: &TempDir, db: &str, runtime: Runtime) {
    let svc = Service::start(&dir.0, &policy(), db);
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy().to_string(), up.port)
        .var("IDP_PORT", svc.port)
        .runtime(runtime)
        .start();
    let agent = token("agent-7");

    // 1. Refused, told what is needed and where to ask, with a body ready to send.
    let r = post(&envoy, REFUND, &agent, None);
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(v["error"], "jit_missing");
    let hint = &v["access_request"];
    assert_eq!(hint["url"], format!("{APPROVALS}/v1/requests"));
    assert_eq!(hint["min_approvals"], 2);
    assert!(
        !String::from_utf8_lossy(&r.body).contains(&agent[..40]),
        "no token in the answer"
    );
    let mut body = hint["body"].clone();
    assert_eq!(body["route"], "refund");
    assert_eq!(
        body["operation"],
        json!({"methods": ["POST"], "path": REFUND})
    );
    body["justification"] = json!("chargeback #7731");
    body["duration_seconds"] = json!(600);

    // 2. Filed; the agent cannot approve its own request; one approval of two leaves it pending.
    let (s, v) = svc.call("POST", "/v1/requests", &agent, Some(&body));
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let approve = format!("/v1/requests/{id}/approve");
    let (s, v) = svc.call("POST", &approve, &agent, Some(&json!({})));
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("self_approval")),
        "{v}"
    );
    let (s, v) = svc.call("POST", &approve, &token("alice"), Some(&json!({})));
    assert_eq!((s, v["state"].as_str()), (200, Some("pending")), "{v}");
    let (s, v) = svc.exchange(&agent, &id);
    assert_eq!(s, 400, "no grant before the second approval: {v}");
    let (s, v) = svc.call("POST", &approve, &token("bob"), Some(&json!({})));
    assert_eq!((s, v["state"].as_str()), (200, Some("approved")), "{v}");

    // 3. The grant, by token exchange, lets exactly the bound operation through.
    let (s, v) = svc.exchange(&agent, &id);
    assert_eq!(s, 200, "{v}");
    let grant = v["access_token"].as_str().unwrap().to_string();
    let grant_id = claims_of(&grant)["jti"].as_str().unwrap().to_string();
    // The filter fetches the service's keys and list on its own tick: 503 until it has them.
    let (r, _) = until_not(503, Duration::from_secs(10), || {
        post(&envoy, REFUND, &agent, Some(&grant))
    });
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = up.received();
    let last = seen.last().unwrap();
    assert_eq!(last.path, REFUND);
    assert_eq!(
        last.header("x-pci-guard-grant"),
        None,
        "the grant never goes upstream"
    );
    let r = post(&envoy, "/v1/payments/pay_2/refunds", &agent, Some(&grant));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, json!("grant_not_for_operation"))
    );
    // Someone else's grant is not the caller's.
    let r = post(&envoy, REFUND, &token("agent-8"), Some(&grant));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, json!("grant_wrong_subject"))
    );

    // 4. Revoked: refused once the filter's next poll (every second) has the list.
    let (s, v) = svc.call(
        "POST",
        &format!("/v1/grants/{grant_id}/revoke"),
        &token("alice"),
        Some(&json!({"comment": "done"})),
    );
    assert_eq!(s, 200, "{v}");
    let (r, took) = until_not(200, Duration::from_secs(10), || {
        post(&envoy, REFUND, &agent, Some(&grant))
    });
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, json!("grant_revoked"))
    );
    eprintln!("revocation took effect after {took:?} (refresh 1 s)");
    // The list is polled every second with the ETag of the last answer: while it holds, the
    // service answers 304 and sends no body (the revocation above changed it once).
    let before = envoy.stat(NOT_MODIFIED).unwrap_or(0);
    let after = envoy.wait_for_stat(NOT_MODIFIED, before + 2, Duration::from_secs(10));
    assert!(
        after >= before + 2,
        "{runtime:?}: the unchanged list was not answered 304 ({before} -> {after}): the poll sent no If-None-Match"
    );

    // 5. Another grant, two seconds long: it passes, then one second after its exp it does not.
    let mut short = body.clone();
    short["duration_seconds"] = json!(2);
    let (_, grant2) = approved_grant(&svc, &agent, &short);
    let exp = claims_of(&grant2)["exp"].as_u64().unwrap();
    let r = post(&envoy, REFUND, &agent, Some(&grant2));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    while pci_guard_e2e::tokens::now() < exp + 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = post(&envoy, REFUND, &agent, Some(&grant2));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, json!("jit_expired"))
    );

    // The audit events: the grant's id and approvers, why a grant did not count, never a grant.
    let lines = envoy.audit_lines(9);
    let events: Vec<Value> = lines.iter().map(|l| parse_audit_line(l)).collect();
    let used = events
        .iter()
        .find(|e| e["decision"]["reason"] == "ok" && e["jit"]["id"] == grant_id.as_str())
        .unwrap_or_else(|| panic!("no allowed event with the grant: {lines:#?}"));
    assert_eq!(used["jit"]["source"], "header");
    assert_eq!(used["jit"]["approved_by"], json!(["alice", "bob"]));
    // Refused as revoked, and still named: the review joins it to the grant.
    assert!(events
        .iter()
        .any(|e| e["decision"]["grant_refused"] == "grant_revoked"
            && e["jit"]["id"] == grant_id.as_str()));
    for l in &lines {
        assert!(
            !l.contains(&grant[..60]) && !l.contains(&grant2[..60]),
            "a grant in the log: {l}"
        );
    }
}

/// The same for one gRPC method: the hint comes in a trailer, the grant in metadata, and a
/// grant for `GetCard` does not open `ListCards` on the same route.
fn a_grpc_method_grant_through_envoy_on_sqlite(runtime: Runtime) {
    let dir = TempDir::new("jit-grpc");
    let db = format!("sqlite://{}/approvals.db", dir.0.display());
    let svc = Service::start(&dir.0, &policy(), &db);
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", policy().to_string(), up.port)
        .var("IDP_PORT", svc.port)
        .runtime(runtime)
        .start();
    let agent = token("agent-7");

    let refused = GrpcClient::connect(envoy.port, Some(&agent))
        .get_card("c_1")
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let hint = refused
        .metadata()
        .get("x-pci-guard-access-request")
        .unwrap();
    let hint: Value = serde_json::from_str(hint.to_str().unwrap()).unwrap();
    assert_eq!(hint["url"], format!("{APPROVALS}/v1/requests"));
    let mut body = hint["body"].clone();
    assert_eq!(body["route"], "cards-grpc");
    assert_eq!(
        body["operation"],
        json!({"grpc": "payments.v1.Cards/GetCard"})
    );
    body["justification"] = json!("dispute #88: read the card on file");

    let (s, v) = svc.call("POST", "/v1/requests", &agent, Some(&body));
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = svc.call(
        "POST",
        &format!("/v1/requests/{id}/approve"),
        &agent,
        Some(&json!({})),
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("self_approval")),
        "{v}"
    );
    let (s, v) = svc.call(
        "POST",
        &format!("/v1/requests/{id}/approve"),
        &token("alice"),
        Some(&json!({})),
    );
    assert_eq!((s, v["state"].as_str()), (200, Some("approved")), "{v}");
    let (s, v) = svc.exchange(&agent, &id);
    assert_eq!(s, 200, "{v}");
    let grant = v["access_token"].as_str().unwrap().to_string();
    let grant_id = claims_of(&grant)["jti"].as_str().unwrap().to_string();

    let with_grant =
        || GrpcClient::connect(envoy.port, Some(&agent)).with_metadata("x-pci-guard-grant", &grant);
    let start = Instant::now();
    let card = loop {
        match with_grant().get_card("c_1") {
            Err(e)
                if e.code() == tonic::Code::Unavailable
                    && start.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => break other,
        }
    };
    assert!(card.is_ok(), "{card:?}");
    let other = with_grant().list_cards(1).unwrap_err();
    assert_eq!(other.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        other
            .metadata()
            .get("x-pci-guard-reason")
            .unwrap()
            .to_str()
            .unwrap(),
        "grant_not_for_operation"
    );
    assert_eq!(up.calls(), 1, "only the bound call reached the upstream");

    let (s, v) = svc.call(
        "POST",
        &format!("/v1/grants/{grant_id}/revoke"),
        &agent,
        Some(&json!({})),
    );
    assert_eq!(s, 200, "the requester may revoke its own grant: {v}");
    let start = Instant::now();
    let revoked = loop {
        match with_grant().get_card("c_1") {
            Ok(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => break other.unwrap_err(),
        }
    };
    assert_eq!(
        revoked
            .metadata()
            .get("x-pci-guard-reason")
            .unwrap()
            .to_str()
            .unwrap(),
        "grant_revoked"
    );
}
with_runtimes!(a_grpc_method_grant_through_envoy_on_sqlite);
