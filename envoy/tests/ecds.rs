//! Live policy updates in plain Envoy: the filter's configuration comes by ECDS from a file
//! (`envoy/ecds/bootstrap.yaml`, resource template `envoy/ecds/filter.yaml`). Replacing the
//! file applies the new policy without a restart; requests already running finish; a policy
//! that does not load is rejected and the last good one stays in force.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::*;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

// Envoy 1.40 counts `config_reload` for rejected updates too: `update_success` and
// `update_rejected` tell the two apart.
const SUCCESS: &str = "extension_config_discovery.http_filter.pci_guard.update_success";
const REJECTED: &str = "extension_config_discovery.http_filter.pci_guard.update_rejected";

/// Policy "A" lets `/v1/items/{id}` through, policy "B" moves it to `/v2/items/{id}`; both let
/// the slow route through.
fn policy(version: &str, items: &str) -> String {
    json!({
        "version": version,
        "routes": [
            {"name": "slow", "match": {"path": "/slow/{n}"}, "auth": "public"},
            {"name": "items", "match": {"methods": ["GET"], "path": items}, "auth": "public"}
        ]
    })
    .to_string()
}

fn ecds_resource(runtime: Runtime, policy_json: &str, version: &str) -> String {
    let template = std::fs::read_to_string(root().join("envoy/ecds/filter.yaml")).unwrap();
    let template = match runtime {
        Runtime::Wasm => template,
        Runtime::Dynamic => to_dynamic(&template),
    };
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("VERSION", version.to_string());
    vars.insert("POLICY", policy_scalar(policy_json));
    vars.insert("WASM_PATH", wasm_path().display().to_string());
    render(&template, &vars)
}

struct Setup {
    envoy: Envoy,
    up: Upstream,
    file: PathBuf,
    _dir: TempDir,
}

/// Envoy with policy A delivered by ECDS; the upstream answers `/slow/…` after `slow`.
fn setup(runtime: Runtime, slow: Duration) -> Setup {
    let dir = TempDir::new("ecds");
    let file = dir.path().join("pci-guard.yaml");
    replace_file(
        &file,
        &ecds_resource(runtime, &policy("ecds-a", "/v1/items/{id}"), "a"),
    );
    let up = Upstream::start(Arc::new(move |r: &Received| {
        if r.path.starts_with("/slow/") {
            thread::sleep(slow);
        }
        Reply::json("{\"ok\":true}")
    }));
    let envoy = Harness::new("ecds/bootstrap.yaml", "", up.port)
        .runtime(runtime)
        .var("ECDS_DIR", dir.path().display())
        .start();
    Setup {
        envoy,
        up,
        file,
        _dir: dir,
    }
}

/// Audit events of requests to `path`, in log order.
fn events_for(envoy: &Envoy, path: &str, n_total: usize) -> Vec<serde_json::Value> {
    envoy
        .audit_events(n_total)
        .into_iter()
        .filter(|e| e["request"]["path"] == path)
        .collect()
}

#[test]
fn ecds_bootstrap_passes_envoy_validate() {
    let dir = TempDir::new("ecds-validate");
    std::fs::write(
        dir.path().join("pci-guard.yaml"),
        ecds_resource(Runtime::Wasm, &policy("v", "/x"), "1"),
    )
    .unwrap();
    let text = std::fs::read_to_string(root().join("envoy/ecds/bootstrap.yaml")).unwrap();
    let mut vars: HashMap<&str, String> = HashMap::new();
    for (k, v) in [
        ("LISTEN_PORT", "10000"),
        ("ADMIN_PORT", "9901"),
        ("UPSTREAM_PORT", "8081"),
        ("IDP_PORT", "18001"),
        ("ACCESS_LOG", "/dev/null"),
    ] {
        vars.insert(k, v.to_string());
    }
    vars.insert("ECDS_DIR", dir.path().display().to_string());
    let (ok, out) = validate(&render(&text, &vars));
    assert!(ok, "envoy/ecds/bootstrap.yaml failed validation:\n{out}");
}

fn swapping_the_policy_file_applies_it_live_and_in_flight_requests_complete(runtime: Runtime) {
    let s = setup(runtime, Duration::from_millis(1500));
    let envoy = &s.envoy;
    let pid = envoy.pid();
    let applied = envoy.stat(SUCCESS).unwrap_or(0);

    let r = envoy.send("GET", "/v1/items/1", &[], b"");
    assert_eq!(r.status, 200, "policy A lets /v1/items through");
    let before = events_for(envoy, "/v1/items/1", 1);
    assert_eq!(before[0]["policy"]["version"], "ecds-a");
    let digest_a = before[0]["policy"]["digest"].as_str().unwrap().to_string();

    // Requests that have reached the upstream (so past pci-guard) when the policy changes.
    let port = envoy.port;
    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                request(port, "GET", &format!("/slow/{i}"), &[], b"")
                    .map(|r| r.status)
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s
        .up
        .received()
        .iter()
        .filter(|r| r.path.starts_with("/slow/"))
        .count()
        < 4
    {
        assert!(
            Instant::now() < deadline,
            "slow requests never reached the upstream"
        );
        thread::sleep(Duration::from_millis(20));
    }

    replace_file(
        &s.file,
        &ecds_resource(runtime, &policy("ecds-b", "/v2/items/{id}"), "b"),
    );
    let now = envoy.wait_for_stat(SUCCESS, applied + 1, Duration::from_secs(10));
    assert!(
        now > applied,
        "Envoy did not take the new config (update_success {now}):\n{}",
        envoy.stderr()
    );

    assert!(
        in_flight.iter().all(|h| !h.is_finished()),
        "the swap landed after the slow requests had finished: nothing was in flight"
    );
    for (i, h) in in_flight.into_iter().enumerate() {
        assert_eq!(
            h.join().unwrap(),
            Ok(200),
            "in-flight request {i} did not complete"
        );
    }

    let old = envoy.send("GET", "/v1/items/1", &[], b"");
    assert_eq!(old.status, 403, "policy B no longer has /v1/items");
    assert_eq!(old.header("x-pci-guard-reason"), Some("no_route"));
    let new = envoy.send("GET", "/v2/items/1", &[], b"");
    assert_eq!(new.status, 200, "policy B lets /v2/items through");
    assert_eq!(envoy.pid(), pid, "same Envoy process: no restart");

    // 1 + 4 in flight + 2 after.
    let all = envoy.audit_events(7);
    assert_eq!(all.len(), 7, "{all:#?}");
    for e in all.iter().filter(|e| e["request"]["route"] == "slow") {
        assert_eq!(
            e["policy"]["version"], "ecds-a",
            "an in-flight request is decided and logged by the policy it started under"
        );
    }
    let after = events_for(envoy, "/v2/items/1", 7);
    assert_eq!(after[0]["policy"]["version"], "ecds-b");
    let digest_b = after[0]["policy"]["digest"].as_str().unwrap();
    assert!(digest_b.starts_with("sha256:"));
    assert_ne!(digest_b, digest_a, "the audit digest names the new policy");
    let denied = events_for(envoy, "/v1/items/1", 7);
    assert_eq!(denied.len(), 2);
    assert_eq!(denied[1]["policy"]["digest"], digest_b);
    assert_eq!(denied[1]["decision"]["reason"], "no_route");
    assert!(
        envoy.critical_lines().is_empty(),
        "{:?}",
        envoy.critical_lines()
    );
}

fn a_broken_policy_is_rejected_and_the_last_good_one_stays_in_force(runtime: Runtime) {
    let s = setup(runtime, Duration::from_millis(0));
    let envoy = &s.envoy;
    let fails = envoy.stat(REJECTED).unwrap_or(0);
    let applied = envoy.stat(SUCCESS).unwrap_or(0);
    assert_eq!(envoy.send("GET", "/v1/items/1", &[], b"").status, 200);

    let broken = json!({"version": "ecds-broken", "mode": "audit", "routes": []}).to_string();
    replace_file(&s.file, &ecds_resource(runtime, &broken, "broken"));
    let now = envoy.wait_for_stat(REJECTED, fails + 1, Duration::from_secs(10));
    assert!(
        now > fails,
        "Envoy did not reject the broken config (update_rejected {now}):\n{}",
        envoy.stderr()
    );
    assert!(
        envoy
            .stderr()
            .contains("/mode: unknown variant `audit`, expected `enforce` or `dry_run`"),
        "the rejection names the field:\n{}",
        envoy.stderr()
    );
    assert_eq!(
        envoy.stat(SUCCESS).unwrap_or(0),
        applied,
        "the broken config must not count as applied"
    );

    // Still policy A: not "no policy" (503), not the broken one.
    let r = envoy.send("GET", "/v1/items/2", &[], b"");
    assert_eq!(r.status, 200, "the last good policy stays in force");
    let e = &events_for(envoy, "/v1/items/2", 2)[0];
    assert_eq!(e["policy"]["version"], "ecds-a");
    assert_eq!(envoy.send("GET", "/v2/items/2", &[], b"").status, 403);

    // A good policy after the broken one applies.
    replace_file(
        &s.file,
        &ecds_resource(runtime, &policy("ecds-b", "/v2/items/{id}"), "b"),
    );
    envoy.wait_for_stat(SUCCESS, applied + 1, Duration::from_secs(10));
    assert_eq!(envoy.send("GET", "/v2/items/3", &[], b"").status, 200);
    let e = &events_for(envoy, "/v2/items/3", 4)[0];
    assert_eq!(e["policy"]["version"], "ecds-b");
}

/// Policies for the load test: `/v1/…` is public only under A, `/v2/…` only under B, and
/// `/secure/…` needs a verified token under both. Requests without a token are sent there
/// throughout: if any request were ever let through by no policy (a VM between configs), the
/// upstream would see it.
fn load_policy(version: &str, public: &str) -> String {
    let foundation: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap(),
    )
    .unwrap();
    json!({
        "version": version,
        "providers": foundation["providers"],
        "routes": [
            {"name": "items", "match": {"methods": ["GET"], "path": public}, "auth": "public"},
            {"name": "secure", "match": {"path": "/secure/{id}"}, "auth": ["corp-idp"]}
        ]
    })
    .to_string()
}

fn policy_swaps_under_load_leave_no_request_judged_by_no_policy(runtime: Runtime) {
    let s = setup(runtime, Duration::ZERO);
    let file = s.file.clone();
    let policies = [
        (load_policy("load-a", "/v1/items/{id}"), "load-a"),
        (load_policy("load-b", "/v2/items/{id}"), "load-b"),
    ];
    replace_file(&file, &ecds_resource(runtime, &policies[0].0, "load-0"));
    let mut applied = s.envoy.wait_for_stat(
        SUCCESS,
        s.envoy.stat(SUCCESS).unwrap_or(0) + 1,
        Duration::from_secs(10),
    );

    // Four clients, each cycling through the three kinds of request, until the swaps are done.
    let port = s.envoy.port;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut seen: Vec<(String, Result<u16, String>)> = Vec::new();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let path = match n % 3 {
                        0 => format!("/v1/items/{c}-{n}"),
                        1 => format!("/v2/items/{c}-{n}"),
                        _ => format!("/secure/{c}-{n}"),
                    };
                    let got = request(port, "GET", &path, &[], b"")
                        .map(|r| r.status)
                        .map_err(|e| e.to_string());
                    seen.push((path, got));
                    n += 1;
                }
                seen
            })
        })
        .collect();

    // Six swaps while the load runs, each waited for (Envoy took it) and then let run a while.
    for k in 1..=6 {
        thread::sleep(Duration::from_millis(300));
        let (p, _) = &policies[k % 2];
        replace_file(&file, &ecds_resource(runtime, p, &format!("load-{k}")));
        let now = s
            .envoy
            .wait_for_stat(SUCCESS, applied + 1, Duration::from_secs(10));
        assert!(
            now > applied,
            "swap {k} was not applied:\n{}",
            s.envoy.stderr()
        );
        applied = now;
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: Vec<(String, Result<u16, String>)> = clients
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();

    let total = seen.len();
    assert!(
        total >= 200,
        "too little load to prove anything: {total} requests"
    );
    for (path, got) in &seen {
        let status = got
            .as_ref()
            .unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
        let expected: &[u16] = if path.starts_with("/secure/") {
            &[401]
        } else {
            &[200, 403]
        };
        assert!(
            expected.contains(status),
            "{path} answered {status} during policy swaps"
        );
    }
    assert!(
        s.up.received()
            .iter()
            .all(|r| !r.path.starts_with("/secure/")),
        "a request without a token reached the upstream during a swap"
    );

    // One audit event per request, each decided by one of the two policies and consistent
    // with it: /v1 allowed exactly under A, /v2 exactly under B.
    let events = s.envoy.audit_events(total);
    assert_eq!(events.len(), total, "one audit event per request");
    let mut by_version: HashMap<String, usize> = HashMap::new();
    for e in &events {
        let version = e["policy"]["version"].as_str().unwrap_or_default();
        assert!(
            policies.iter().any(|(_, v)| *v == version),
            "an event without a known policy: {e}"
        );
        *by_version.entry(version.to_string()).or_default() += 1;
        let path = e["request"]["path"].as_str().unwrap();
        let result = e["decision"]["result"].as_str().unwrap();
        let allowed_here = (path.starts_with("/v1/") && version == "load-a")
            || (path.starts_with("/v2/") && version == "load-b");
        assert_eq!(
            result == "allow",
            allowed_here,
            "{path} was {result} under {version}: {e}"
        );
    }
    assert!(
        by_version.len() == 2,
        "both policies judged requests: {by_version:?}"
    );
    eprintln!("{total} requests across 6 swaps, judged per policy: {by_version:?}");
    assert!(
        s.envoy.critical_lines().is_empty(),
        "{:?}",
        s.envoy.critical_lines()
    );
}

with_runtimes!(
    swapping_the_policy_file_applies_it_live_and_in_flight_requests_complete,
    a_broken_policy_is_rejected_and_the_last_good_one_stays_in_force,
    policy_swaps_under_load_leave_no_request_judged_by_no_policy,
);
