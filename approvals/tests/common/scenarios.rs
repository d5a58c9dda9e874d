//! What the service must show, written once and run on every backend (SQLite and
//! PostgreSQL). Each scenario takes a [`Config`] with a fresh database.

use super::*;
use pci_guard_core::audit::verify::Verifier;
use pci_guard_core::identity::checks;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::{Alg, KeySet, ProviderConfig};
use serde_json::{json, Value};
use std::time::Duration;

/// Verifies a grant as the filter will: the service's JWKS, its issuer, the grants' audience.
pub async fn verify_grant(c: &Client, token: &str) -> checks::Identity {
    let (_, jwks) = c.call("GET", "/.well-known/jwks.json", None, None).await;
    let set = KeySet::from_json(&jwks).unwrap();
    let mut p = ProviderConfig::new("approvals", ISSUER);
    p.audiences = vec!["pci-guard".into()];
    p.algorithms = vec![Alg::ES256];
    checks::verify(&p, &set, token, pci_guard_testkit::now(), &PureVerifier)
        .unwrap_or_else(|e| panic!("the grant does not verify: {e:?}"))
}

/// request → self-approval refused → first approver (two needed) → still pending → second
/// approver → token exchange → a grant the core verifies, bound to the operation, its window
/// starting at the final approval. The audit log holds the chain of it, without a token.
pub async fn flow(cfg: Config) {
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let (s, v) = c
        .post(
            "/v1/requests",
            &agent(),
            json!({"route": "refund", "duration": "10m",
                   "operation": {"methods": ["POST"], "path": "/v1/payments/pay_123/refunds"},
                   "justification": "chargeback #7731 on card 4111 1111 1111 1111"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "pending");
    assert_eq!(v["min_approvals"], 2);
    let just = v["justification"].as_str().unwrap();
    assert!(
        !just.contains("4111 1111 1111 1111"),
        "card data masked at intake: {just}"
    );
    let id = v["id"].as_str().unwrap().to_string();
    let approve = format!("/v1/requests/{id}/approve");

    let (s, v) = c.post(&approve, &agent(), json!({})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("self_approval")),
        "{v}"
    );
    let (s, v) = c.post(&approve, &mallory(), json!({})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("approver_not_allowed")),
        "{v}"
    );

    let (s, v) = c.post(&approve, &alice(), json!({"comment": "ok"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "pending", "one of two approvals: still pending");
    assert!(v["grant"].is_null());
    let (s, v) = c.post(&approve, &alice(), json!({})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("already_decided")),
        "{v}"
    );
    let (_, v) = c.get(&format!("/v1/requests/{id}"), &agent()).await;
    assert_eq!(v["state"], "pending");
    assert!(v["grant"].is_null());

    // Let a second pass, so the window can be seen to start at the final approval.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, v) = c.post(&approve, &bob(), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "approved");
    assert!(
        v["grant"]["token"].is_null(),
        "an approver never gets the grant"
    );

    let (s, v) = c.exchange(&agent(), Some(&id)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["issued_token_type"],
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(v["token_type"], "N_A");
    let token = v["access_token"].as_str().unwrap().to_string();
    let g = verify_grant(&c, &token).await;
    assert_eq!(g.sub.as_deref(), Some("agent-7"));
    assert_eq!(g.claims["sub_id"]["iss"], pci_guard_testkit::ISSUER);
    let jit = &g.claims["jit"];
    assert_eq!(jit["approved_by"], json!(["alice", "bob"]));
    assert_eq!(jit["scopes"], json!(["payments:refund"]));
    let (nbf, exp) = (g.nbf.unwrap(), g.exp.unwrap());
    assert_eq!(exp - nbf, 600);
    assert_eq!(
        jit["approved_at"].as_u64(),
        Some(nbf),
        "window starts at the final approval"
    );
    let (_, req) = c.get(&format!("/v1/requests/{id}"), &agent()).await;
    let filed =
        pci_guard_core::audit::review::parse_time(req["filed_at"].as_str().unwrap()).unwrap();
    assert!(nbf as i64 > filed, "not at the request");
    assert!(pci_guard_core::authz::jit::Grant::from_claim(jit).is_some());
    let detail = &g.claims["authorization_details"][0];
    assert_eq!(detail["type"], "https://pci-guard.dev/operation");
    assert_eq!(detail["route"], "refund");
    assert_eq!(detail["methods"], json!(["POST"]));
    assert_eq!(detail["path"], "/v1/payments/pay_123/refunds");
    // Polling gives the requester the same grant.
    assert!(req["grant"]["token"]
        .as_str()
        .is_some_and(|t| t.starts_with("eyJ")));

    // Listings: approvers and the requester see it; others do not.
    let (_, l) = c.get("/v1/requests?state=approved", &alice()).await;
    assert_eq!(l["requests"].as_array().unwrap().len(), 1);
    let (_, l) = c.get("/v1/requests", &mallory()).await;
    assert_eq!(l["requests"].as_array().unwrap().len(), 0);
    let (s, _) = c.get(&format!("/v1/requests/{id}"), &mallory()).await;
    assert_eq!(s, 404);
    drop(svc);

    let log = std::fs::read_to_string(cfg.audit_log()).unwrap();
    assert!(!log.contains("eyJ"), "never a token in an event");
    assert!(!log.contains("4111 1111 1111 1111"));
    let events: Vec<String> = audit_lines(&cfg.audit_log())
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["filed", "approved", "approved", "grant_issued"]);
    let mut verifier = Verifier::new(None);
    log.lines().for_each(|l| verifier.push(l.as_bytes()));
    assert!(verifier.findings.is_empty(), "{:?}", verifier.findings);
}

/// Two approvals at the same instant give exactly one grant: for a one-approval rule, one
/// wins and the other is told the request is decided; for a two-approval route, both count.
pub async fn concurrent_approvals(cfg: Config, replicas: usize) {
    let svcs: Vec<Service> = (0..replicas).map(|_| Service::start(&cfg)).collect();
    let clients: Vec<Client> = svcs.iter().map(|s| Client::new(&s.url)).collect();
    let a = clients[0].clone();
    let b = clients[replicas - 1].clone();
    for round in 0..8 {
        let id = a.file_export(&agent()).await;
        let path = format!("/v1/requests/{id}/approve");
        let (ta, tb) = (alice(), bob());
        let (x, y) = tokio::join!(a.post(&path, &ta, json!({})), b.post(&path, &tb, json!({})));
        let mut statuses = [x.0, y.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {x:?} {y:?}");
        let (_, v) = a.get(&format!("/v1/requests/{id}"), &agent()).await;
        assert_eq!(v["state"], "approved");
        assert_eq!(v["decisions"].as_array().unwrap().len(), 1, "{v}");
        assert!(v["grant"]["id"].is_string());
    }
    for round in 0..4 {
        let id = a.file_refund(&agent()).await;
        let path = format!("/v1/requests/{id}/approve");
        let (ta, tb) = (alice(), bob());
        let (x, y) = tokio::join!(a.post(&path, &ta, json!({})), b.post(&path, &tb, json!({})));
        assert_eq!((x.0, y.0), (200, 200), "round {round}: {x:?} {y:?}");
        let grants = [&x.1, &y.1]
            .iter()
            .filter(|v| v["grant"].is_object())
            .count();
        assert_eq!(
            grants, 1,
            "exactly one of the two made the grant: {x:?} {y:?}"
        );
        let (_, v) = b.get(&format!("/v1/requests/{id}"), &agent()).await;
        assert_eq!(v["state"], "approved");
        assert_eq!(v["decisions"].as_array().unwrap().len(), 2);
    }
    let grants = audit_lines(&cfg.audit_log())
        .iter()
        .filter(|e| e["event"] == "grant_issued")
        .count();
    assert_eq!(
        grants, 12,
        "one grant per request, whichever replica made it"
    );
}

/// Bad input gets a clear 4xx and changes nothing.
pub async fn bad_input(cfg: Config) {
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let base = json!({"route": "refund", "duration": "10m", "justification": "ticket 1"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("route", json!("nope")), "unknown_route"),
        (
            json!({"rule": "nope", "justification": "x"}),
            "unknown_rule",
        ),
        (
            json!({"scopes": ["admin:all"], "justification": "x"}),
            "unknown_scope",
        ),
        (
            json!({"rule": "bulk-export", "route": "refund", "justification": "x"}),
            "bad_target",
        ),
        (with("duration", json!("31m")), "duration_too_long"),
        (with("duration", json!("soon")), "bad_duration"),
        (with("justification", Value::Null), "justification_missing"),
        (with("justification", json!("   ")), "justification_missing"),
        (
            with("justification", json!("x".repeat(257))),
            "justification_too_long",
        ),
        (
            with(
                "operation",
                json!({"methods": ["DELETE"], "path": "/v1/cards/{id}"}),
            ),
            "bad_operation",
        ),
        (
            with("operation", json!({"grpc": "payments.v1.Cards/GetCard"})),
            "bad_operation",
        ),
        (with("colour", json!("red")), "malformed_json"),
    ];
    for (body, code) in &cases {
        let (s, v) = c.post("/v1/requests", &agent(), body.clone()).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(*code)), "{body}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let raw = |body: &'static str| {
        c.http
            .post(format!("{}/v1/requests", c.base))
            .bearer_auth(agent())
            .header("content-type", "application/json")
            .body(body)
    };
    let r = raw("{\"route\": ").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "malformed_json");
    let big = c
        .http
        .post(format!("{}/v1/requests", c.base))
        .bearer_auth(agent())
        .body(vec![b' '; 70_000])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);

    let (s, _) = c
        .call("POST", "/v1/requests", None, Some(base.clone()))
        .await;
    assert_eq!(s, 401);
    let r = c
        .http
        .get(format!("{}/v1/requests", c.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let (s, v) = c
        .post("/v1/requests", &token_without_sub(), base.clone())
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("token_without_subject")),
        "{v}"
    );
    let (s, v) = c.post("/v1/requests", "not.a.token", base.clone()).await;
    assert_eq!(s, 401, "{v}");
    let (s, _) = c
        .post(
            "/v1/requests/req_AAAAAAAAAAAAAAAAAAAAAA/approve",
            &alice(),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, v) = c.get("/v1/requests?state=sideways", &alice()).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_state")));

    // Nothing was filed, nothing logged.
    let (_, l) = c.get("/v1/requests", &agent()).await;
    assert_eq!(l["requests"].as_array().unwrap().len(), 0);
    assert!(audit_lines(&cfg.audit_log()).is_empty());
}

/// The requester or an approver revokes; the revocation list shows it (with an ETag); the
/// grant is no longer handed out.
pub async fn revocation(cfg: Config) {
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let id = c.file_export(&agent()).await;
    let (s, v) = c
        .post(&format!("/v1/requests/{id}/approve"), &alice(), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let grant = v["grant"]["id"].as_str().unwrap().to_string();
    let (s, _) = c.exchange(&agent(), None).await;
    assert_eq!(s, 200);
    let (_, empty) = c.call("GET", "/v1/revocations", None, None).await;
    assert_eq!(empty["revoked"], json!([]));

    let revoke = format!("/v1/grants/{grant}/revoke");
    let (s, _) = c.post(&revoke, &mallory(), json!({})).await;
    assert_eq!(
        s, 404,
        "a stranger cannot revoke (nor learn the grant exists)"
    );
    let (s, v) = c
        .post(&revoke, &agent(), json!({"comment": "done early"}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.post(&revoke, &bob(), json!({})).await;
    assert_eq!((s, v["error"].as_str()), (409, Some("grant_revoked")));

    let r = c
        .http
        .get(format!("{}/v1/revocations", c.base))
        .send()
        .await
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["version"], 1);
    assert_eq!(list["revoked"][0]["id"], grant.as_str());
    let r = c
        .http
        .get(format!("{}/v1/revocations", c.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    let (s, v) = c.exchange(&agent(), Some(&id)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    let (_, v) = c.get(&format!("/v1/requests/{id}"), &agent()).await;
    assert!(v["grant"]["token"].is_null() && v["grant"]["revoked_at"].is_string());
    drop(svc);
    let events: Vec<Value> = audit_lines(&cfg.audit_log());
    let revoked = events.iter().find(|e| e["event"] == "revoked").unwrap();
    assert_eq!(revoked["actor"]["sub"], "agent-7");
    assert_eq!(revoked["grant"]["id"], grant.as_str());
}

/// A restart keeps pending requests and the signing key.
pub async fn restart(cfg: Config) {
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let id = c.file_export(&agent()).await;
    let (_, jwks) = c.call("GET", "/.well-known/jwks.json", None, None).await;
    svc.stop();

    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let (_, v) = c.get(&format!("/v1/requests/{id}"), &agent()).await;
    assert_eq!(v["state"], "pending", "{v}");
    let (_, again) = c.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks, again, "the same key after a restart");
    let (s, _) = c
        .post(&format!("/v1/requests/{id}/approve"), &bob(), json!({}))
        .await;
    assert_eq!(s, 200);
    let (_, v) = c.exchange(&agent(), Some(&id)).await;
    let token = v["access_token"].as_str().unwrap();
    let kid = pci_guard_core::identity::token::parse(token)
        .unwrap()
        .header
        .kid
        .unwrap();
    assert_eq!(Some(kid.as_str()), jwks["keys"][0]["kid"].as_str());
    verify_grant(&c, token).await;
}

/// Every step reaches the webhook as Slack-compatible JSON with structured fields, retried
/// after failures, never with a token.
pub async fn webhooks(mut cfg: Config) {
    let (url, got) = webhook::receiver(2).await;
    cfg.webhook = Some(url);
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let id = c.file_export(&agent()).await;
    let (s, v) = c
        .post(&format!("/v1/requests/{id}/approve"), &alice(), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let grant = v["grant"]["id"].as_str().unwrap().to_string();
    c.exchange(&agent(), Some(&id)).await;
    let (s, _) = c
        .post(&format!("/v1/grants/{grant}/revoke"), &bob(), json!({}))
        .await;
    assert_eq!(s, 200);
    let want = ["filed", "approved", "grant_issued", "revoked"];
    for _ in 0..100 {
        if got.bodies.lock().unwrap().len() >= want.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bodies = got.bodies.lock().unwrap().clone();
    let mut events: Vec<&str> = bodies
        .iter()
        .map(|b| b["pci_guard"]["event"].as_str().unwrap())
        .collect();
    events.sort();
    let mut sorted = want.to_vec();
    sorted.sort();
    assert_eq!(events, sorted, "{bodies:#?}");
    assert!(
        got.attempts.load(std::sync::atomic::Ordering::SeqCst) >= want.len() + 2,
        "two failures retried"
    );
    for b in &bodies {
        assert!(b["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("pci-guard access:")));
        assert_eq!(b["blocks"][0]["type"], "section");
        assert_eq!(b["pci_guard"]["data"]["request"]["id"], id.as_str());
    }
    let filed = bodies
        .iter()
        .find(|b| b["pci_guard"]["event"] == "filed")
        .unwrap();
    assert!(filed["text"]
        .as_str()
        .unwrap()
        .contains("agent-7 asks for exports:run"));
    assert!(
        !got.raw.lock().unwrap().iter().any(|r| r.contains("eyJ")),
        "never a token"
    );
}

/// A pending request expires after `pending_ttl`: it can no longer be approved, and the
/// expiry is logged once.
pub async fn expiry(mut cfg: Config) {
    cfg.pending_ttl = "1s".into();
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let id = c.file_export(&agent()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, v) = c.get(&format!("/v1/requests/{id}"), &agent()).await;
    assert_eq!(v["state"], "expired");
    let (s, v) = c
        .post(&format!("/v1/requests/{id}/approve"), &alice(), json!({}))
        .await;
    assert_eq!((s, v["error"].as_str()), (409, Some("not_pending")), "{v}");
    drop(svc);
    let expired = audit_lines(&cfg.audit_log())
        .iter()
        .filter(|e| e["event"] == "expired")
        .count();
    assert_eq!(expired, 1);
}

/// A grant for one gRPC method carries it in its operation binding.
pub async fn grpc_binding(cfg: Config) {
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let (s, v) = c
        .post(
            "/v1/requests",
            &agent(),
            json!({"route": "cards-grpc", "operation": {"grpc": "payments.v1.Cards/GetCard"},
                   "justification": "support case 42"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["duration_seconds"], 600, "the route's max_ttl by default");
    let id = v["id"].as_str().unwrap();
    let (s, _) = c
        .post(&format!("/v1/requests/{id}/approve"), &bob(), json!({}))
        .await;
    assert_eq!(s, 200);
    let (_, v) = c.exchange(&agent(), None).await;
    let g = verify_grant(&c, v["access_token"].as_str().unwrap()).await;
    assert_eq!(
        g.claims["authorization_details"][0]["grpc"],
        "payments.v1.Cards/GetCard"
    );
}

/// A new key is published before it signs, and the old one stays published after.
pub async fn key_rotation(mut cfg: Config) {
    cfg.key_lifetime = "4s".into();
    cfg.key_publish_ahead = "2s".into();
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, first) = c.call("GET", "/.well-known/jwks.json", None, None).await;
    let first = kids(&first);
    assert_eq!(first.len(), 1);
    let mut signed_by = Vec::new();
    let mut published = Vec::new();
    for _ in 0..14 {
        let (_, jwks) = c.call("GET", "/.well-known/jwks.json", None, None).await;
        published.push((pci_guard_testkit::now(), kids(&jwks)));
        let id = c.file_export(&agent()).await;
        c.post(&format!("/v1/requests/{id}/approve"), &alice(), json!({}))
            .await;
        let (_, v) = c.exchange(&agent(), Some(&id)).await;
        let token = v["access_token"].as_str().unwrap().to_string();
        let kid = pci_guard_core::identity::token::parse(&token)
            .unwrap()
            .header
            .kid
            .unwrap();
        verify_grant(&c, &token).await;
        signed_by.push(kid);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let second = signed_by
        .iter()
        .find(|k| **k != first[0])
        .expect("a new key signed");
    // A key's id names the second its signing starts: a read before then must list it.
    let signs_from: u64 = second.trim_start_matches("es256-").parse().unwrap();
    assert!(
        published
            .iter()
            .any(|(t, kids)| *t < signs_from && kids.contains(second)),
        "{second} was published before it signed: {published:?} / {signed_by:?}"
    );
    assert!(
        published.last().unwrap().1.contains(&first[0]),
        "the old key stays published"
    );
}
