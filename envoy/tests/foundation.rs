//! The foundation through a real Envoy: the plugin loads, decides, answers and audits; a bad
//! policy stops it from serving at all; every shipped config validates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::*;
use std::collections::HashMap;

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap()
}

/// The `.yaml` files directly in `dir`, sorted.
fn yaml_files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .collect();
    files.sort();
    files
}

/// The configs a user takes from `envoy/` run as they are: no placeholder to fill, and
/// `envoy --mode validate` (which also loads the plugin and its policy) accepts each one
/// unchanged, from the repository root where their relative plugin path points.
#[test]
fn every_shipped_envoy_config_passes_envoy_validate_as_shipped() {
    let files = yaml_files("envoy");
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for want in ["pci-guard.yaml", "demo.yaml", "audit-sinks.yaml"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            !text.contains("{{"),
            "{} has a placeholder: shipped configs must run as they are",
            path.display()
        );
        let (ok, out) = validate_file(path);
        assert!(
            ok,
            "{} failed envoy --mode validate as shipped:\n{out}",
            path.display()
        );
        assert!(
            out.contains("pci-guard: policy") && out.contains("loaded"),
            "{}: the plugin and its policy were not loaded:\n{out}",
            path.display()
        );
    }
}

/// Every config we ship or test with sets the recovering failure policy on the plugin: a
/// crashed VM is replaced and nothing passes unfiltered (faults.rs shows each policy; the Istio
/// manifests' `failStrategy` is checked in filter/tests/istio_manifests.rs).
#[test]
fn every_config_with_the_plugin_uses_fail_reload() {
    let mut files = yaml_files("envoy");
    files.extend(yaml_files("envoy/ecds"));
    files.extend(yaml_files(TEMPLATES));
    let mut with_plugin = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let policies: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("failure_policy:"))
            .map(str::trim)
            .collect();
        if text.contains("envoy.extensions.filters.http.wasm.v3.Wasm")
            && text.contains("root_id: pci_guard")
        {
            with_plugin += 1;
            assert_eq!(policies, ["FAIL_RELOAD"], "{}", path.display());
        } else {
            assert!(policies.is_empty(), "{}: {policies:?}", path.display());
        }
    }
    assert!(with_plugin >= 7, "{with_plugin} configs with the plugin");
}

/// The e2e tests' templates, rendered with dummy values, are valid Envoy configs too.
#[test]
fn every_test_template_passes_envoy_validate_once_rendered() {
    let files = yaml_files(TEMPLATES);
    assert!(files.len() >= 3, "{files:?}");
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
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
    }
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

/// Requests on fresh connections, enough that with two workers both get some: the kernel
/// spreads connections over the workers' listeners by a hash of the client's port.
const SPREAD: usize = 24;

/// Each VM (one per worker) keeps its own chain: with two workers the log holds two chains,
/// interleaved line by line, and each links up on its own; `pci-guard audit verify` checks
/// them all in the one file.
fn audit_events_form_a_hash_chain_per_vm(workers: u32) {
    use sha2::{Digest, Sha256};
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .workers(workers)
        .start();
    for _ in 0..SPREAD {
        envoy.send("GET", "/healthz", &[], b"");
    }
    // Each VM's start record opens its chain (seq 0), then its share of the requests.
    let lines = envoy.audit_log(SPREAD + workers as usize);
    assert_eq!(lines.len(), SPREAD + workers as usize);
    // chain id → (its lines in log order)
    let mut chains: Vec<(String, Vec<&String>)> = Vec::new();
    for line in &lines {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = e["chain"]["id"].as_str().unwrap().to_string();
        assert!(!id.is_empty());
        match chains.iter_mut().find(|(c, _)| *c == id) {
            Some((_, ls)) => ls.push(line),
            None => chains.push((id, vec![line])),
        }
    }
    assert_eq!(
        chains.len(),
        workers as usize,
        "one chain per worker's VM, each serving some of {SPREAD} connections"
    );
    for (id, ls) in &chains {
        for (i, line) in ls.iter().enumerate() {
            let e: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(e["chain"]["seq"], i as u64, "chain {id}");
            if i == 0 {
                assert_eq!(
                    e["event"], "start",
                    "chain {id} opens with its start record"
                );
                assert!(e["chain"]["prev"].is_null(), "chain {id}");
            } else {
                let want = format!("sha256:{:x}", Sha256::digest(ls[i - 1].as_bytes()));
                assert_eq!(
                    e["chain"]["prev"],
                    want.as_str(),
                    "chain {id}: line {i} must link to the chain's line {}",
                    i - 1
                );
            }
        }
    }
    if workers > 1 {
        let interleaved = lines.windows(2).any(|w| {
            parse_audit_line(&w[0])["chain"]["id"] != parse_audit_line(&w[1])["chain"]["id"]
        });
        assert!(interleaved, "the chains' lines alternate in the one log");
    }
    let (ok, out) = audit_verify(&envoy.access_log);
    assert!(ok, "pci-guard audit verify over the log:\n{out}");
}

/// Counts reach Envoy on each VM's tick (every 0.5 s), not per request; Envoy sums what
/// every worker's VM adds to a counter, so `/stats` equals the requests sent.
fn decisions_are_counted_in_envoy_prometheus_stats(workers: u32) {
    let up = Upstream::ok();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
        .workers(workers)
        .start();
    let (allowed, denied) = (SPREAD / 3, SPREAD - SPREAD / 3);
    for _ in 0..allowed {
        envoy.send("GET", "/healthz", &[], b"");
    }
    for _ in 0..denied {
        envoy.send("GET", "/admin", &[], b"");
    }
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
        let done = value(&text, "pci_guard_requests_deny") == Some(denied as u64)
            && value(&text, "pci_guard_requests_allow") == Some(allowed as u64);
        if done || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        value(&text, "pci_guard_requests_allow"),
        Some(allowed as u64),
        "{text}"
    );
    assert_eq!(value(&text, "pci_guard_requests_deny"), Some(denied as u64));
    // The config's stats_config makes the reason a label.
    assert_eq!(
        value(&text, "pci_guard_decisions{reason=\"no_route\"}"),
        Some(denied as u64)
    );
    assert_eq!(
        value(&text, "pci_guard_decisions{reason=\"public\"}"),
        Some(allowed as u64)
    );
    // The plain `/stats` view holds the same sums.
    let (stats_allow, stats_deny) = (
        envoy.stat("wasmcustom.pci_guard.requests.allow"),
        envoy.stat("wasmcustom.pci_guard.requests.deny"),
    );
    assert_eq!(
        (stats_allow, stats_deny),
        (Some(allowed as u64), Some(denied as u64))
    );
    // Both workers counted: their VMs' chains are both in the audit log.
    let chains: std::collections::BTreeSet<String> = envoy
        .audit_events(SPREAD)
        .iter()
        .map(|e| e["chain"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(chains.len(), workers as usize, "{chains:?}");
}

with_workers!(
    audit_events_form_a_hash_chain_per_vm,
    decisions_are_counted_in_envoy_prometheus_stats,
);
