//! The VM's own records, driven through the fake host: what a self-request writes, when, and
//! that only the VM's own self-requests are treated so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::super::fake::{Envoy, FakeHost, SELF_CLUSTER};
use super::super::host::Action;
use super::super::keys::SharedDataLease;
use super::super::root::Root;
use super::{shared, VmAudit, VmEntry, SELF_HEADER};
use pci_guard_core::audit::verify::{Options, Verifier};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Key sets shared as in proxy-wasm.
fn lease(host: &FakeHost) -> Rc<SharedDataLease<FakeHost>> {
    Rc::new(SharedDataLease::new(host.clone()))
}

fn policy(audit: Value) -> Vec<u8> {
    json!({
        "version": "vm-audit-1",
        "providers": {"idp": {"issuer": "https://idp.test", "remote_jwks": {
            "cluster": "idp_jwks", "authority": "idp.test", "path": "/jwks",
            "refresh": "10s", "max_stale": "30s", "timeout": "1s"}}},
        "routes": [
            {"name": "health", "match": {"path": "/healthz"}, "auth": "public"},
            {"name": "cards", "match": {"path": "/v1/cards/{id}"}, "auth": ["idp"]}
        ],
        "audit": audit
    })
    .to_string()
    .into_bytes()
}

fn health() -> Vec<(&'static str, String)> {
    vec![
        (":method", "GET".into()),
        (":path", "/healthz".into()),
        (":authority", "payments.test".into()),
        ("x-request-id", "req-1".into()),
    ]
}

/// Every line the VM logged, in order (records and request events).
fn lines_of(envoy: &Envoy) -> Vec<Vec<u8>> {
    let w = envoy.host.0.borrow();
    w.streams
        .values()
        .filter_map(|s| s.filter_state.get("pci_guard_audit").cloned())
        .flat_map(|v| {
            v.split(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn verify(lines: &[Vec<u8>]) -> Vec<String> {
    let mut v = Verifier::with(Options::default());
    for l in lines {
        v.push(l);
    }
    v.finish();
    v.findings.iter().map(ToString::to_string).collect()
}

fn counter(envoy: &Envoy, name: &str) -> u64 {
    let w = envoy.host.0.borrow();
    w.counters
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, v)| *v)
}

#[test]
fn the_chain_opens_with_a_start_record_and_requests_follow_it() {
    let mut envoy = Envoy::start(&policy(json!({})));
    let (id, _) = envoy.request(&health());
    let e = envoy.log(id);
    let lines = lines_of(&envoy);
    assert_eq!(lines.len(), 2);
    let start: Value = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(
        (&start["kind"], &start["event"], &start["chain"]["seq"]),
        (&json!("vm"), &json!("start"), &json!(0))
    );
    assert_eq!(start["vm"]["id"], start["chain"]["id"]);
    assert_eq!(start["vm"]["heartbeat_s"], 60);
    assert_eq!(start["policy"]["version"], "vm-audit-1");
    assert_eq!(e["chain"]["seq"], 1);
    assert!(verify(&lines).is_empty(), "{:?}", verify(&lines));
}

#[test]
fn a_heartbeat_goes_out_every_interval_through_a_self_request() {
    let mut envoy = Envoy::start(&policy(json!({"heartbeat": "2s"})));
    envoy.tick();
    assert!(
        envoy.run_self_requests(SELF_CLUSTER).is_empty(),
        "not due yet"
    );
    envoy.host.advance(2000);
    envoy.tick();
    let written = envoy.run_self_requests(SELF_CLUSTER);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["event"], "heartbeat");
    assert_eq!(
        written[0]["chain"]["seq"], 1,
        "it carries its sequence number"
    );
    assert_eq!(written[0]["vm"]["heartbeat_s"], 2);
    let w = envoy.host.world();
    let selfs: Vec<_> = w
        .calls
        .iter()
        .filter(|c| c.cluster == SELF_CLUSTER)
        .collect();
    assert_eq!(selfs.len(), 2, "the start's and the heartbeat's");
    assert!(selfs[1].headers.iter().any(|(n, _)| n == SELF_HEADER));
}

#[test]
fn a_client_sending_the_self_request_header_is_judged_like_any_client() {
    let mut envoy = Envoy::start(&policy(json!({})));
    let mut h = health();
    h[1].1 = "/admin".into();
    h.push((SELF_HEADER, "0123456789abcdef0123456789abcdef".into()));
    let (id, action) = envoy.request(&h);
    assert_eq!(action, Action::Pause);
    let e = envoy.log(id);
    assert_eq!(
        e["decision"]["reason"], "no_route",
        "judged, not taken for the VM's own"
    );
    assert!(e.get("kind").is_none());
}

/// A VM whose start record has not gone out yet, and a request arriving then (stream 7).
fn before_the_start() -> (
    FakeHost,
    Rc<RefCell<VmAudit>>,
    Root<FakeHost>,
    super::super::root::Stream<FakeHost>,
) {
    let host = FakeHost::default();
    host.world().config = Some(policy(json!({})));
    let audit = Rc::new(RefCell::new(VmAudit::new(0)));
    let mut root = Root::new(host.clone(), lease(&host), audit.clone());
    assert!(root.on_vm_start() && root.on_configure());
    host.stream(7).request_headers = health()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    host.world().current = 7;
    let mut s = root.create_stream(7);
    assert_eq!(
        s.on_request_headers(true),
        Action::Pause,
        "it waits for the start"
    );
    (host, audit, root, s)
}

#[test]
fn the_first_requests_wait_for_the_start_record_then_go_on() {
    let (host, audit, mut root, mut s) = before_the_start();
    host.advance(5);
    root.on_tick(); // sends the start's self-request
    let start = audit.borrow_mut().write_owed(&host, None, 5).unwrap(); // its on_log
    host.advance(5);
    root.on_tick();
    assert!(
        host.stream(7).resumed,
        "judged and resumed once the start is written"
    );
    host.world().current = 7;
    s.on_log();
    let line = host.stream(7).filter_state["pci_guard_audit"].clone();
    let lines = vec![start, line];
    assert!(verify(&lines).is_empty(), "{:?}", verify(&lines));
    assert_eq!(
        serde_json::from_slice::<Value>(&lines[1]).unwrap()["chain"]["seq"],
        1
    );
}

#[test]
fn a_request_still_waiting_at_the_deadline_carries_the_start_first() {
    let (host, audit, mut root, mut s) = before_the_start();
    host.advance(super::START_WAIT_MS);
    host.world().calls.clear(); // the self-request is lost
    root.on_tick();
    assert!(host.stream(7).resumed, "never held past the deadline");
    host.world().current = 7;
    s.on_log();
    let value = host.stream(7).filter_state["pci_guard_audit"].clone();
    let lines: Vec<Vec<u8>> = value.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(lines.len(), 2);
    assert!(verify(&lines).is_empty(), "{:?}", verify(&lines));
    // The late self-request writes a heartbeat, not the start again.
    let late = audit.borrow_mut().write_owed(&host, None, 1).unwrap();
    let v: Value = serde_json::from_slice(&late).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["chain"]["seq"].as_u64()),
        (Some("heartbeat"), Some(2))
    );
}

#[test]
fn a_rejected_policy_update_is_a_control_failure_record_and_a_metric() {
    let mut envoy = Envoy::start(&policy(json!({})));
    assert!(!envoy.configure(br#"{"version": "bad", "routes": [{"name": 1}]}"#));
    envoy.tick();
    let written = envoy.run_self_requests(SELF_CLUSTER);
    assert_eq!(written.len(), 1, "{written:#?}");
    let c = &written[0]["control"];
    assert_eq!(written[0]["event"], "control_failure");
    assert_eq!(c["reason"], "policy_rejected");
    assert!(
        c["detail"].as_str().unwrap().contains("/routes/0/name"),
        "{c}"
    );
    assert_eq!(
        written[0]["policy"]["version"], "vm-audit-1",
        "the last good policy stays"
    );
    envoy.tick();
    assert_eq!(
        counter(&envoy, "pci_guard.control_failures.policy_rejected"),
        1
    );
}

#[test]
fn a_failed_key_fetch_and_keys_past_max_stale_are_control_failures() {
    let mut envoy = Envoy::start(&policy(json!({})));
    let fetch = |envoy: &Envoy| {
        envoy
            .host
            .world()
            .calls
            .iter()
            .rev()
            .find(|c| c.cluster == "idp_jwks")
            .map(|c| c.token)
            .unwrap()
    };
    let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    let t = fetch(&envoy);
    envoy.answer_call(t, "200", jwks);
    envoy.host.advance(10_000);
    envoy.tick();
    let t = fetch(&envoy);
    envoy.answer_call(t, "503", b"");
    envoy.tick();
    let written = envoy.run_self_requests(SELF_CLUSTER);
    let reasons: Vec<&str> = written
        .iter()
        .filter_map(|w| w["control"]["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["jwks_unavailable"], "{written:#?}");
    assert_eq!(written[0]["control"]["provider"], "idp");
    assert!(written[0]["control"]["detail"]
        .as_str()
        .unwrap()
        .contains("status 503"));
    // 30 s after the last good fetch the keys are past max_stale: once, however many ticks.
    envoy.host.advance(21_000);
    for _ in 0..3 {
        envoy.tick();
        envoy.host.advance(500);
    }
    let written = envoy.run_self_requests(SELF_CLUSTER);
    let stale: Vec<&Value> = written
        .iter()
        .filter(|w| w["control"]["reason"] == "jwks_stale")
        .collect();
    assert_eq!(stale.len(), 1, "{written:#?}");
    envoy.tick();
    assert_eq!(counter(&envoy, "pci_guard.control_failures.jwks_stale"), 1);
    assert_eq!(
        counter(&envoy, "pci_guard.control_failures.jwks_unavailable"),
        1
    );
    assert_eq!(counter(&envoy, "pci_guard.jwks.fetches_failed.idp"), 1);
    assert_eq!(counter(&envoy, "pci_guard.jwks.fetches_ok.idp"), 1);
    let age = envoy
        .host
        .0
        .borrow()
        .gauges
        .iter()
        .find(|(n, _)| n == "pci_guard.jwks.age_seconds.idp")
        .map(|(_, v)| *v);
    assert!(age.is_some_and(|a| a >= 30), "{age:?}");
}

#[test]
fn a_refused_body_is_a_control_failure_naming_the_request() {
    let mut envoy = Envoy::start(&policy(json!({})));
    let (id, _) = envoy.request(&health());
    envoy.response_headers(
        id,
        &[
            (":status", "200"),
            ("content-type", "application/json"),
            ("content-encoding", "br"),
        ],
        false,
    );
    let e = envoy.log(id);
    assert_eq!(e["redaction"]["refused"], "body_undecodable");
    envoy.tick();
    let written = envoy.run_self_requests(SELF_CLUSTER);
    assert_eq!(written[0]["control"]["reason"], "body_refused");
    assert_eq!(written[0]["control"]["request_id"], "req-1");
}

#[test]
fn checkpoints_sign_the_chain_and_verify_with_the_public_key() {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([5; 32]));
    // The key must be in the VM's environment before the policy loads: start by hand.
    let host = FakeHost::default();
    host.world().env.insert("CP_KEY".into(), pair.sk.to_pem());
    host.world().now_ms = 1_800_000_000_000;
    host.world().config = Some(policy(
        json!({"checkpoint": {"signing_key_env": "CP_KEY", "every": "5s"}}),
    ));
    let audit = Rc::new(RefCell::new(VmAudit::new(0)));
    let mut root = Root::new(host.clone(), lease(&host), audit.clone());
    assert!(root.on_vm_start() && root.on_configure());
    let mut written = Vec::new();
    for _ in 0..12 {
        host.advance(500);
        root.on_tick();
        let calls: Vec<u32> = host
            .world()
            .calls
            .iter()
            .filter(|c| c.cluster == SELF_CLUSTER)
            .map(|c| c.token)
            .collect();
        for t in calls {
            if written.iter().any(|(tok, _)| *tok == t) {
                continue;
            }
            let now = host.world().now_ms;
            let line = audit.borrow_mut().write_owed(&host, None, now).unwrap();
            written.push((t, line));
        }
    }
    let lines: Vec<Vec<u8>> = written.into_iter().map(|(_, l)| l).collect();
    let events: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_slice::<Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(events.contains(&"checkpoint".to_string()), "{events:?}");
    let mut v = Verifier::with(Options {
        public_key: Some(
            pci_guard_core::audit::checkpoint::Verifier::from_pem(&pair.pk.to_pem()).unwrap(),
        ),
        ..Options::default()
    });
    for l in &lines {
        v.push(l);
    }
    v.finish();
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[test]
fn a_policy_update_continues_the_chain_and_only_the_last_root_ends_it() {
    let mut envoy = Envoy::start(&policy(json!({})));
    // A second root context in the same VM (Envoy's new filter config after an update).
    envoy.host.world().config = Some(policy(json!({"heartbeat": "30s"})));
    let mut second = Root::new(envoy.host.clone(), lease(&envoy.host), envoy.audit.clone());
    assert!(second.on_configure());
    assert!(
        envoy.root.on_done(),
        "the first root goes; the VM and its chain stay"
    );
    let (id, _) = envoy.request(&health());
    assert_eq!(envoy.log(id)["chain"]["seq"], 1, "no new start record");
    assert!(
        !second.on_done(),
        "the VM's last root waits for its end record"
    );
    let written = envoy.run_self_requests(SELF_CLUSTER);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["event"], "end");
    assert!(!envoy.host.world().done);
    second.on_tick();
    assert!(envoy.host.world().done, "done once the end is written");
    let lines = lines_of(&envoy);
    assert!(verify(&lines).is_empty(), "{:?}", verify(&lines));
}

#[test]
fn a_vm_that_stops_saying_it_is_alive_is_reported_once_by_a_sibling() {
    let host = FakeHost::default();
    let a = VmEntry {
        id: "a".into(),
        alive_ms: 0,
        writes: true,
        ended: false,
    };
    let b = VmEntry {
        id: "b".into(),
        alive_ms: 0,
        writes: true,
        ended: false,
    };
    let (writers, crashed) = shared::alive(&host, &a, 0).unwrap();
    assert_eq!((writers, crashed), (vec!["a".to_string()], vec![]));
    let (writers, _) = shared::alive(&host, &b, 1000).unwrap();
    assert_eq!(writers, ["a", "b"]);
    let later = shared::DEAD_AFTER_MS + 2000;
    let b = VmEntry {
        alive_ms: later,
        ..b
    };
    let (writers, crashed) = shared::alive(&host, &b, later).unwrap();
    assert_eq!(writers, ["b"]);
    assert_eq!(crashed.len(), 1);
    assert_eq!(crashed[0].id, "a");
    let (_, again) = shared::alive(&host, &b, later + 1).unwrap();
    assert!(again.is_empty(), "reported once");
}

#[test]
fn without_a_self_request_path_only_the_first_requests_wait_and_only_until_it_fails() {
    let (host, _audit, mut root, _waiting) = before_the_start();
    host.advance(5);
    root.on_tick(); // the start's self-request goes out
    let token = host
        .world()
        .calls
        .iter()
        .find(|c| c.cluster == SELF_CLUSTER)
        .unwrap()
        .token;
    host.world().current = 0;
    root.on_http_call_response(token, 0, 0); // no internal listener: the call fails
    assert!(host.stream(7).resumed, "released as soon as the path fails");
    host.stream(8).request_headers = health()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    host.world().current = 8;
    let mut later = root.create_stream(8);
    assert_eq!(
        later.on_request_headers(true),
        Action::Continue,
        "never waits again"
    );
}

/// The dynamic module's audit: no self-request is ever made and no request waits for one;
/// the start record and every record owed since (a heartbeat here) go out, sealed in order,
/// in the log entry of the next request, before its event. The chain verifies.
#[test]
fn a_carried_audit_writes_owed_records_with_the_next_request_and_never_calls_out() {
    let mut envoy = Envoy::start_carried(&policy(json!({"heartbeat": "2s"})));
    let (a, action) = envoy.request(&health());
    assert_eq!(action, Action::Continue, "no wait for a start record");
    envoy.on(a, |s| s.on_log());
    envoy.host.advance(2000);
    envoy.tick();
    let (b, _) = envoy.request(&health());
    envoy.on(b, |s| s.on_log());
    let w = envoy.host.world();
    assert!(
        w.calls.iter().all(|c| c.cluster != SELF_CLUSTER),
        "a carried audit never calls out: {:?}",
        w.calls
    );
    drop(w);
    let lines = lines_of(&envoy);
    let kinds: Vec<(Value, Value)> = lines
        .iter()
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .map(|e| (e["chain"]["seq"].clone(), e["event"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!(0), json!("start")),
            (json!(1), Value::Null),
            (json!(2), json!("heartbeat")),
            (json!(3), Value::Null),
        ]
    );
    assert!(verify(&lines).is_empty(), "{:?}", verify(&lines));
}
