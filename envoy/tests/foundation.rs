//! The foundation through a real Envoy: the plugin loads, decides, answers and audits; a bad
//! policy stops it from serving at all; every shipped config validates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::*;
use std::collections::HashMap;

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap()
}

#[test]
fn every_envoy_config_passes_envoy_validate() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("envoy")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Templates get dummy values; concrete configs (demo.yaml) are checked as they are.
        let mut vars: HashMap<&str, String> = HashMap::new();
        for (k, v) in [
            ("LISTEN_PORT", "10000"),
            ("ADMIN_PORT", "9901"),
            ("UPSTREAM_PORT", "8081"),
            ("ACCESS_LOG", "/dev/null"),
            ("OTLP_PORT", "4317"),
            ("ALS_PORT", "18000"),
            ("IDP_PORT", "18001"),
            ("GRPC_UPSTREAM_PORT", "18002"),
        ] {
            vars.insert(k, v.to_string());
        }
        vars.insert("WASM_PATH", wasm_path().display().to_string());
        vars.insert("POLICY", policy_scalar(&policy()));
        let (ok, out) = validate(&render(&text, &vars));
        assert!(
            ok,
            "{} failed envoy --mode validate:\n{out}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected pci-guard.yaml and demo.yaml, checked {checked}"
    );
}

#[test]
fn public_route_reaches_upstream_and_writes_one_audit_line() {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let r = envoy.send(
        "GET",
        "/healthz?probe=1",
        &[("x-request-id", "req-health-1")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(up.received().len(), 1);
    let events = envoy.audit_events(1);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["version"], 1);
    assert_eq!(e["request_id"], "req-health-1");
    assert_eq!(e["request"]["method"], "GET");
    assert_eq!(
        e["request"]["path"], "/healthz",
        "query string must not be logged"
    );
    assert_eq!(e["request"]["route"], "health");
    assert_eq!(e["decision"]["result"], "allow");
    assert_eq!(e["decision"]["reason"], "public");
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["policy"]["version"], "foundation-1");
    assert!(e["time"].as_str().unwrap().ends_with('Z'));
    assert!(
        envoy.critical_lines().is_empty(),
        "{:?}",
        envoy.critical_lines()
    );
}

#[test]
fn unmatched_request_is_denied_with_403_json_and_never_reaches_upstream() {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let r = envoy.send(
        "GET",
        "/admin/users",
        &[("x-request-id", "req-admin-1")],
        b"",
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-pci-guard-reason"), Some("no_route"));
    let body = r.json();
    assert_eq!(body["error"], "no_route");
    assert_eq!(body["request_id"], "req-admin-1");
    assert!(
        up.received().is_empty(),
        "a denied request reached the upstream"
    );
    let e = &envoy.audit_events(1)[0];
    assert_eq!(e["decision"]["result"], "deny");
    assert_eq!(e["decision"]["reason"], "no_route");
    assert_eq!(e["response"]["status"], 403);
}

#[test]
fn protected_route_without_token_gets_401_bearer_challenge() {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let r = envoy.send("GET", "/v1/cards/c_1", &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"pci-guard\"")
    );
    assert!(up.received().is_empty());
}

#[test]
fn blocked_operation_is_denied_with_rule_id_and_message() {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let r = envoy.send("DELETE", "/public/items/1", &[], b"");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-pci-guard-rule"), Some("catalog-read-only"));
    let body = r.json();
    assert_eq!(body["error"], "rule_denied");
    assert_eq!(body["message"], "The catalog is read-only");
    assert!(up.received().is_empty());
    let e = &envoy.audit_events(1)[0];
    assert_eq!(e["decision"]["rule"], "catalog-read-only");
    assert_eq!(e["decision"]["result"], "deny");
}

#[test]
fn bad_policy_stops_envoy_from_serving_and_names_the_field() {
    let up = Upstream::ok();
    let bad = policy().replace("\"mode\": \"enforce\"", "\"mode\": \"audit\"");
    assert_ne!(bad, policy());
    let failure = Harness::new("pci-guard.yaml", bad, up.port)
        .try_start()
        .err()
        .expect("Envoy must refuse a bad policy");
    assert_eq!(
        failure.exit_code,
        Some(1),
        "Envoy should exit with an error"
    );
    assert!(
        failure.stderr.contains("pci-guard: policy rejected: /mode: unknown variant `audit`, expected `enforce` or `dry_run`"),
        "the log must name the field:\n{}",
        failure.stderr
    );
    assert!(
        up.received().is_empty(),
        "no request may reach the upstream unprotected"
    );
}

#[test]
fn audit_events_form_a_hash_chain_per_vm() {
    use sha2::{Digest, Sha256};
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    for _ in 0..3 {
        envoy.send("GET", "/healthz", &[], b"");
    }
    // The VM's start record opens the chain (seq 0), then the three requests.
    let lines = envoy.audit_log(4);
    assert_eq!(lines.len(), 4);
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "start");
    let id = &events[0]["chain"]["id"];
    assert!(id.as_str().is_some_and(|s| !s.is_empty()));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(&e["chain"]["id"], id);
        assert_eq!(e["chain"]["seq"], i as u64);
    }
    assert!(events[0]["chain"]["prev"].is_null());
    for i in 1..4 {
        let want = format!("sha256:{:x}", Sha256::digest(lines[i - 1].as_bytes()));
        assert_eq!(
            events[i]["chain"]["prev"],
            want.as_str(),
            "line {i} must link to line {}",
            i - 1
        );
    }
}

/// Counts reach Envoy on the filter's tick (every 0.5 s), not per request.
#[test]
fn decisions_are_counted_in_envoy_prometheus_stats() {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    envoy.send("GET", "/healthz", &[], b"");
    envoy.send("GET", "/admin", &[], b"");
    envoy.send("GET", "/admin", &[], b"");
    let value = |text: &str, name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let stats = request(envoy.admin_port, "GET", "/stats/prometheus", &[], b"").unwrap();
        let text = String::from_utf8_lossy(&stats.body).to_string();
        if value(&text, "pci_guard_requests_deny") == Some(2)
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(value(&text, "pci_guard_requests_allow"), Some(1), "{text}");
    assert_eq!(value(&text, "pci_guard_requests_deny"), Some(2));
    // The config's stats_config makes the reason a label.
    assert_eq!(
        value(&text, "pci_guard_decisions{reason=\"no_route\"}"),
        Some(2)
    );
    assert_eq!(
        value(&text, "pci_guard_decisions{reason=\"public\"}"),
        Some(1)
    );
}
