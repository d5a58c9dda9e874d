//! Identity through a real Envoy: tokens verified with inline and remote key sets (rotation,
//! outages), jwt_authn-style answers, and upstream hygiene (token stripped, identity headers
//! only from the verified token).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::identity::Alg;
use pci_guard_e2e::grpc::{GrpcClient, GrpcUpstream};
use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap()
}

fn get(envoy: &Envoy, path: &str, token: &str) -> Response {
    envoy.send("GET", path, &[("authorization", &bearer(token))], b"")
}

/// A JWKS server whose answer per path the test can change.
struct Idp {
    server: Upstream,
    answers: Arc<Mutex<Vec<(String, u16, String)>>>,
}

impl Idp {
    fn start() -> Idp {
        let answers: Arc<Mutex<Vec<(String, u16, String)>>> = Arc::new(Mutex::new(vec![]));
        let a = answers.clone();
        let server = Upstream::start(Arc::new(move |r: &Received| {
            let found = a
                .lock()
                .unwrap()
                .iter()
                .find(|(p, _, _)| *p == r.path)
                .cloned();
            match found {
                Some((_, status, body)) => Reply {
                    framing: Framing::ContentLength,
                    status,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: body.into_bytes(),
                },
                None => Reply {
                    framing: Framing::ContentLength,
                    status: 404,
                    headers: vec![],
                    body: vec![],
                },
            }
        }));
        Idp { server, answers }
    }

    fn serve(&self, path: &str, status: u16, keys_file: &str) {
        let body = if keys_file.is_empty() {
            String::new()
        } else {
            std::fs::read_to_string(root().join("testdata/keys").join(keys_file)).unwrap()
        };
        let mut a = self.answers.lock().unwrap();
        a.retain(|(p, _, _)| p != path);
        a.push((path.to_string(), status, body));
    }
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

fn valid_tokens_of_every_key_type_are_accepted_and_identity_is_audited(
    runtime: Runtime,
    workers: u32,
) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    for key in ["rsa1", "ec256", "ed25519"] {
        let t = sign(key, &claims(&format!("agent-{key}"), &["cards:read"]));
        assert_eq!(get(&envoy, "/v1/cards/c_1", &t).status, 200, "{key}");
    }
    let events = envoy.audit_events(3);
    let algs: Vec<&str> = events
        .iter()
        .map(|e| e["identity"]["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256", "EdDSA"]);
    let e = &events[0];
    assert_eq!(e["identity"]["provider"], "corp-idp");
    assert_eq!(e["identity"]["iss"], ISSUER);
    assert_eq!(e["identity"]["sub"], "agent-rsa1");
    assert_eq!(e["identity"]["azp"], "ci-runner");
    assert_eq!(e["identity"]["kid"], "rsa-2026-a");
    assert!(e["identity"]["jti"]
        .as_str()
        .unwrap()
        .starts_with("jti-agent-rsa1"));
    assert_eq!(e["decision"]["reason"], "ok");
    assert!(
        envoy.critical_lines().is_empty(),
        "{:?}",
        envoy.critical_lines()
    );
}

fn token_is_stripped_and_identity_headers_come_only_from_the_token(runtime: Runtime, workers: u32) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let mut c = claims("agent-7", &["cards:read"]);
    c["roles"] = json!(["reader", "auditor"]);
    let t = sign("rsa1", &c);
    let r = envoy.send(
        "GET",
        "/v1/cards/c_1",
        &[
            ("authorization", &bearer(&t)),
            ("x-pci-subject", "admin"),
            ("x-pci-roles", "root"),
        ],
        b"",
    );
    assert_eq!(r.status, 200);
    let got = &up.received()[0];
    assert_eq!(
        got.header("authorization"),
        None,
        "the token must not reach the upstream"
    );
    assert_eq!(got.header("x-pci-subject"), Some("agent-7"));
    assert_eq!(got.header("x-pci-roles"), Some("reader,auditor"));
    // A public route never forwards client-sent identity headers either.
    envoy.send("GET", "/healthz", &[("x-pci-subject", "admin")], b"");
    assert_eq!(up.received()[1].header("x-pci-subject"), None);
}

fn bad_tokens_get_jwt_authn_style_answers_and_never_reach_upstream(runtime: Runtime, workers: u32) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let n = now();
    let good = claims("agent-7", &["cards:read"]);
    let mut expired = good.clone();
    expired["iat"] = json!(n - 1200);
    expired["nbf"] = json!(n - 1200);
    expired["exp"] = json!(n - 600);
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!(["other-api"]);
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example.com");
    let mut too_long = good.clone();
    too_long["exp"] = json!(n + 7200);
    let valid = sign("rsa1", &good);
    let mut flipped = valid.clone().into_bytes();
    let last = flipped.len() - 5;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let none_token = format!(
        "{}.{}.eA",
        pci_guard_testkit::b64(br#"{"alg":"none","typ":"JWT"}"#),
        pci_guard_testkit::b64(good.to_string().as_bytes())
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("expired", sign("rsa1", &expired), 401, "token_expired"),
        ("flipped signature bit", flipped, 401, "token_bad_signature"),
        (
            "unknown kid",
            sign_with(Alg::RS256, "nobody", "rsa1", &good),
            401,
            "token_unknown_kid",
        ),
        (
            "wrong issuer",
            sign("rsa1", &wrong_iss),
            401,
            "token_bad_issuer",
        ),
        (
            "lifetime above max",
            sign("rsa1", &too_long),
            401,
            "token_lifetime_too_long",
        ),
        ("alg none", none_token, 401, "token_alg_not_allowed"),
        (
            "two segments",
            "abc.def".to_string(),
            401,
            "token_malformed",
        ),
        (
            "HS256 with the RSA public key as secret",
            key_confusion(&good),
            401,
            "token_alg_not_allowed",
        ),
        (
            "wrong audience",
            sign("rsa1", &wrong_aud),
            403,
            "token_bad_audience",
        ),
    ];
    for (name, token, status, reason) in &cases {
        let r = get(&envoy, "/v1/cards/c_1", token);
        assert_eq!(r.status, *status, "{name}");
        assert_eq!(r.header("x-pci-guard-reason"), Some(*reason), "{name}");
        if *status == 401 {
            let challenge = r.header("www-authenticate").unwrap();
            assert!(
                challenge.starts_with("Bearer realm=\"pci-guard\", error=\"invalid_token\""),
                "{name}: {challenge}"
            );
        }
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(token.as_str()) && !body.contains("eyJ"),
            "{name}: the body echoes the token"
        );
    }
    assert!(up.received().is_empty());
    let events = envoy.audit_lines(cases.len());
    for line in &events {
        assert!(
            !line.contains("eyJ"),
            "an audit event holds a token: {line}"
        );
    }
}

/// The classic key confusion: HS256 "signed" with the provider's RSA public key as secret.
fn key_confusion(claims: &serde_json::Value) -> String {
    let header = json!({"alg": "HS256", "kid": "rsa-2026-a", "typ": "JWT"});
    let public_key = pci_guard_testkit::read_key("rsa1.pub.pem");
    pci_guard_testkit::mint("HS256", public_key.as_bytes(), &header, claims)
}

fn grpc_call_with_a_bad_token_is_unauthenticated(runtime: Runtime, workers: u32) {
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let mut c = claims("agent-7", &["cards:read"]);
    c["exp"] = json!(now() - 100);
    let status = GrpcClient::connect(envoy.port, Some(&sign("rsa1", &c)))
        .get_card("c_1")
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(status.message(), "the token has expired");
    let ok = GrpcClient::connect(
        envoy.port,
        Some(&sign("rsa1", &claims("agent-7", &["cards:read"]))),
    )
    .get_card("c_1");
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(up.calls(), 1);
}

fn remote_keys_rotate_without_restart_via_unknown_kid_refetch(runtime: Runtime, workers: u32) {
    let up = Upstream::ok();
    let idp = Idp::start();
    idp.serve("/rotating/jwks.json", 200, "rsa1.jwks.json");
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .var("IDP_PORT", idp.server.port)
        .workers(workers)
        .start();
    let old = sign("rsa1", &claims("agent-7", &["cards:read"]));
    eventually("first keys fetched", || {
        get(&envoy, "/v2/cards/c_1", &old).status == 200
    });
    // The IdP rotates to a new key; the filter learns of it from the first token that names it.
    idp.serve("/rotating/jwks.json", 200, "rotation.jwks.json");
    let new = sign("rsa2", &claims("agent-8", &["cards:read"]));
    eventually("new kid picked up", || {
        get(&envoy, "/v2/cards/c_1", &new).status == 200
    });
    let fetches = idp
        .server
        .received()
        .iter()
        .filter(|r| r.path == "/rotating/jwks.json")
        .count();
    // One fetch at start (per VM at most), one refetch for the unknown kid: no storm.
    assert!(
        fetches <= 3,
        "refetches must be rate-limited, saw {fetches}"
    );
}

/// A provider that names its scope claim (`"scope_claims": ["roles"]`, as Entra ID app
/// roles): scopes come from that claim, as an array or a space-delimited string, and no longer
/// from `scope`.
fn scopes_come_from_the_claim_the_provider_names(runtime: Runtime, workers: u32) {
    let up = Upstream::ok();
    let mut p: serde_json::Value = serde_json::from_str(&policy()).unwrap();
    p["providers"]["corp-idp"]["scope_claims"] = json!(["roles"]);
    let envoy = Harness::new("pci-guard.yaml", p.to_string(), up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let with = |scope: &[&str], roles: serde_json::Value| {
        let mut c = claims("agent-7", scope);
        if !roles.is_null() {
            c["roles"] = roles;
        }
        sign("rsa1", &c)
    };
    let cases = [
        ("roles array", with(&[], json!(["cards:read"])), 200, "ok"),
        (
            "roles string",
            with(&[], json!("payments:read cards:read")),
            200,
            "ok",
        ),
        (
            "scope only",
            with(&["cards:read"], serde_json::Value::Null),
            403,
            "scope_missing",
        ),
        (
            "other roles",
            with(&["cards:read"], json!(["cards:write"])),
            403,
            "scope_missing",
        ),
    ];
    for (name, token, status, reason) in &cases {
        let r = get(&envoy, "/v1/cards/c_1", token);
        assert_eq!(r.status, *status, "{name}");
        if *status != 200 {
            assert_eq!(r.header("x-pci-guard-reason"), Some(*reason), "{name}");
        }
    }
    assert_eq!(
        up.received().len(),
        2,
        "only the callers with the role reach the upstream"
    );
}

/// One VM per process fetches a remote key set (a lease in shared data) and every worker's
/// VM adopts it: the IdP sees one fetch per refresh interval (1 s for `flaky-idp`) however
/// many workers there are, and every worker verifies tokens with the adopted keys.
fn remote_keys_are_fetched_once_per_refresh_per_process(runtime: Runtime, workers: u32) {
    let up = Upstream::ok();
    let idp = Idp::start();
    idp.serve("/flaky/jwks.json", 200, "rsa1.jwks.json");
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .var("IDP_PORT", idp.server.port)
        .workers(workers)
        .start();
    let t = sign("rsa1", &claims("agent-7", &["cards:read"]));
    eventually("keys fetched", || {
        get(&envoy, "/v3/cards/c_1", &t).status == 200
    });
    let fetches = || {
        idp.server
            .received()
            .iter()
            .filter(|r| r.path == "/flaky/jwks.json")
            .count()
    };
    let (before, started) = (fetches(), Instant::now());
    // Six refresh intervals of traffic on fresh connections, which the kernel spreads over
    // the workers.
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(6) {
        assert_eq!(get(&envoy, "/v3/cards/c_1", &t).status, 200);
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let (fetched, secs) = (fetches() - before, started.elapsed().as_secs_f64());
    eprintln!("{workers} worker(s): {fetched} JWKS fetches in {secs:.1} s, {sent} requests");
    // Key ages count in whole seconds and the tick is 0.5 s: a process fetches at most once
    // per second of the clock, so at most ⌈secs⌉ + 1 times here. A fetch per worker would be
    // twice as many.
    let most = secs.ceil() as usize + 1;
    assert!(
        (2..=most).contains(&fetched),
        "{fetched} fetches in {secs:.1} s with {workers} worker(s): expected at most {most}, one per second per process"
    );
    // Every worker verified tokens, each with keys it did not fetch itself but adopted.
    let events = envoy.audit_events(sent);
    let chains: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e["request"]["route"] == "flaky" && e["decision"]["result"] == "allow")
        .map(|e| e["chain"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(chains.len(), workers as usize, "{chains:?}");
}

fn jwks_outage_keeps_last_good_keys_then_fails_closed_after_max_stale(
    runtime: Runtime,
    workers: u32,
) {
    let up = Upstream::ok();
    let idp = Idp::start();
    idp.serve("/flaky/jwks.json", 200, "rsa1.jwks.json");
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .var("IDP_PORT", idp.server.port)
        .workers(workers)
        .start();
    let t = sign("rsa1", &claims("agent-7", &["cards:read"]));
    eventually("keys fetched", || {
        get(&envoy, "/v3/cards/c_1", &t).status == 200
    });
    idp.serve("/flaky/jwks.json", 503, "");
    let outage = Instant::now();
    // Within max_stale (3 s) the last good keys serve.
    assert_eq!(get(&envoy, "/v3/cards/c_1", &t).status, 200);
    eventually("fail closed once keys are too stale", || {
        let r = get(&envoy, "/v3/cards/c_1", &t);
        r.status == 401 && r.header("x-pci-guard-reason") == Some("jwks_unavailable")
    });
    assert!(
        outage.elapsed() >= Duration::from_secs(2),
        "keys were dropped before max_stale"
    );
    // Keys come back: so does access.
    idp.serve("/flaky/jwks.json", 200, "rsa1.jwks.json");
    eventually("recovered", || {
        get(&envoy, "/v3/cards/c_1", &t).status == 200
    });
}

fn requests_before_the_first_keys_wait_for_them(runtime: Runtime, workers: u32) {
    let up = Upstream::ok();
    // The IdP answers slowly: the first fetch is still under way when the request arrives.
    let slow = Upstream::start(Arc::new(|_: &Received| {
        std::thread::sleep(Duration::from_millis(600));
        let body = std::fs::read(root().join("testdata/keys/rsa1.jwks.json")).unwrap();
        Reply::with("application/json", body)
    }));
    // A fetch timeout well above the IdP's 600 ms, so a loaded machine cannot turn the slow
    // answer into a timed-out fetch: the wait itself is what this test proves.
    let policy = policy().replace("\"timeout\": \"1s\"", "\"timeout\": \"5s\"");
    let envoy = Harness::new("pci-guard.yaml", policy, up.port)
        .runtime(runtime)
        .var("IDP_PORT", slow.port)
        .workers(workers)
        .start();
    let t = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let started = Instant::now();
    let r = get(&envoy, "/v3/cards/c_1", &t);
    assert_eq!(
        r.status,
        200,
        "{:?} after {:?}",
        r.header("x-pci-guard-reason"),
        started.elapsed()
    );
    assert_eq!(up.received().len(), 1);
    eprintln!("held {:?} for the first keys", started.elapsed());
}

fn requests_before_any_keys_are_denied_after_the_fetch_timeout_never_allowed(
    runtime: Runtime,
    workers: u32,
) {
    let up = Upstream::ok();
    let idp = Idp::start();
    idp.serve("/flaky/jwks.json", 503, "");
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .runtime(runtime)
        .var("IDP_PORT", idp.server.port)
        .workers(workers)
        .start();
    let t = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let started = Instant::now();
    let r = get(&envoy, "/v3/cards/c_1", &t);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-pci-guard-reason"), Some("jwks_unavailable"));
    // Held for the first fetch and one retry (2 × 1 s timeout + 1 s), then denied.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "held too long: {:?}",
        started.elapsed()
    );
    assert!(up.received().is_empty());
    // Other routes are served meanwhile: waiting never blocks the worker.
    assert_eq!(envoy.send("GET", "/healthz", &[], b"").status, 200);
}

with_runtimes_and_workers!(
    scopes_come_from_the_claim_the_provider_names,
    remote_keys_are_fetched_once_per_refresh_per_process,
    valid_tokens_of_every_key_type_are_accepted_and_identity_is_audited,
    token_is_stripped_and_identity_headers_come_only_from_the_token,
    bad_tokens_get_jwt_authn_style_answers_and_never_reach_upstream,
    grpc_call_with_a_bad_token_is_unauthenticated,
    remote_keys_rotate_without_restart_via_unknown_kid_refetch,
    jwks_outage_keeps_last_good_keys_then_fails_closed_after_max_stale,
    requests_before_the_first_keys_wait_for_them,
    requests_before_any_keys_are_denied_after_the_fetch_timeout_never_allowed,
);
