//! What only the dynamic-module build has to show through a real Envoy: its shipped configs
//! load as shipped, it tells Envoy the ABI it was built for, its counters reach Envoy's stats
//! under the same names as the wasm build's (in Envoy's namespace for dynamic modules), and
//! remote key sets are fetched by one fetcher for the whole process. Everything else runs on
//! both builds in the other test files (`with_runtimes!`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn validate_shipped(config: &str) -> (bool, String) {
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "--use-dynamic-base-id", "-c", config])
        .env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", dynamic_module_dir())
        .current_dir(root())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

#[test]
fn the_shipped_dynamic_module_configs_load_as_shipped_policy_included() {
    // pci-guard-dynamic.yaml names the module's file (relative to the repository root, as
    // the wasm config does); demo-dynamic.yaml loads it by name from the search path.
    dynamic_module_dir();
    for config in ["envoy/pci-guard-dynamic.yaml", "envoy/demo-dynamic.yaml"] {
        let (ok, out) = validate_shipped(config);
        assert!(ok, "{config} failed validation:\n{out}");
        assert!(
            out.contains("pci-guard: policy") && out.contains("loaded"),
            "{config}: validation must load the module and its policy:\n{out}"
        );
    }
}

#[test]
fn the_module_tells_envoy_the_abi_of_the_envoy_it_was_built_for() {
    let up = Upstream::ok();
    let envoy = Harness::new(
        "pci-guard.yaml",
        r#"{"version": "abi", "routes": []}"#,
        up.port,
    )
    .runtime(Runtime::Dynamic)
    .start();
    // Envoy compares the version the module returns with its own and logs the outcome: a
    // mismatch ("is deprecated") means the bindings must be checked against the new header.
    assert!(
        envoy
            .stderr()
            .contains("Dynamic module ABI version v0.2.0 matched."),
        "{}",
        envoy.stderr()
    );
}

#[test]
fn a_policy_that_does_not_load_keeps_envoy_from_starting_and_says_why() {
    let up = Upstream::ok();
    let failed = Harness::new(
        "pci-guard.yaml",
        r#"{"version": "bad", "routes": 7}"#,
        up.port,
    )
    .runtime(Runtime::Dynamic)
    .try_start()
    .err()
    .expect("Envoy started with a broken policy");
    assert!(
        failed.stderr.contains("pci-guard: policy rejected"),
        "{}",
        failed.stderr
    );
}

#[test]
fn decisions_are_counted_under_the_wasm_builds_names_in_the_modules_namespace() {
    let up = Upstream::ok();
    let policy = std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap();
    let envoy = Harness::new("pci-guard.yaml", policy, up.port)
        .runtime(Runtime::Dynamic)
        .start();
    envoy.send("GET", "/healthz", &[], b"");
    envoy.send("GET", "/admin", &[], b"");
    envoy.send("GET", "/admin", &[], b"");
    // A worker hands its counts to Envoy when a stream ends: no tick to wait for.
    let deny = Runtime::Dynamic.stat("pci_guard.requests.deny");
    assert_eq!(envoy.wait_for_stat(&deny, 2, Duration::from_secs(5)), 2);
    let stat = |n: &str| envoy.stat(&Runtime::Dynamic.stat(n));
    assert_eq!(stat("pci_guard.requests.allow"), Some(1));
    assert_eq!(stat("pci_guard.decisions.no_route"), Some(2));
    assert_eq!(stat("pci_guard.decisions.public"), Some(1));
    let prom = request(envoy.admin_port, "GET", "/stats/prometheus", &[], b"").unwrap();
    let text = String::from_utf8_lossy(&prom.body);
    assert!(
        text.contains("envoy_dynamicmodulescustom_pci_guard_requests_deny{} 2"),
        "{text}"
    );
}

/// An identity provider on loopback that counts the key-set fetches it answers.
fn counting_idp() -> (Upstream, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let jwks = std::fs::read_to_string(root().join("testdata/keys/rsa1.jwks.json")).unwrap();
    let idp = Upstream::start(Arc::new(move |r: &Received| {
        s.lock().unwrap().push(r.path.clone());
        Reply::json(&jwks)
    }));
    (idp, seen)
}

#[test]
fn keys_fetched_on_the_main_thread_verify_tokens_on_the_worker_at_the_refresh_pace() {
    let (idp, fetches) = counting_idp();
    let up = Upstream::ok();
    let policy = std::fs::read_to_string(root().join("testdata/policies/payments.json"))
        .unwrap()
        .replace(r#""refresh": "1h""#, r#""refresh": "1s""#);
    let envoy = Harness::new("pci-guard.yaml", policy, up.port)
        .runtime(Runtime::Dynamic)
        .var("IDP_PORT", idp.port)
        .start();
    let token = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        let r = envoy.send(
            "GET",
            "/v2/cards/c_1",
            &[("authorization", &bearer(&token))],
            b"",
        );
        assert_eq!(
            r.status, 200,
            "the worker's root verified with adopted keys"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // rotating-idp refreshes every second: one fetch a second for the whole process (the
    // worker's root asks the main thread's fetcher, never the IdP).
    let n = fetches
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.as_str() == "/rotating/jwks.json")
        .count();
    let secs = start.elapsed().as_secs() + 1;
    assert!(n >= 3, "{n} fetches: the keys were not refreshed");
    assert!(
        n as u64 <= secs + 1,
        "{n} fetches in {secs} s: more than one fetcher"
    );
}

/// A worker's root ticks only when its streams end: after an idle spell longer than
/// `max_stale` its own keys are too old, while the main thread's fetcher kept them fresh. It
/// adopts the published keys before it judges, so the first request after the spell is
/// served, not refused as `jwks_unavailable`.
#[test]
fn a_worker_idle_past_max_stale_judges_with_the_keys_fetched_meanwhile() {
    let (idp, fetches) = counting_idp();
    let up = Upstream::ok();
    let policy = std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap();
    let envoy = Harness::new("pci-guard.yaml", policy, up.port)
        .runtime(Runtime::Dynamic)
        .var("IDP_PORT", idp.port)
        .start();
    let token = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let get = || {
        envoy.send(
            "GET",
            "/v3/cards/c_1",
            &[("authorization", &bearer(&token))],
            b"",
        )
    };
    let start = Instant::now();
    while get().status != 200 {
        assert!(start.elapsed() < Duration::from_secs(10), "no first keys");
        std::thread::sleep(Duration::from_millis(100));
    }
    // flaky-idp: refresh 1 s, max_stale 3 s. Idle for 4.5 s while the fetcher refreshes.
    std::thread::sleep(Duration::from_millis(4500));
    let r = get();
    assert_eq!(
        (r.status, r.header("x-pci-guard-reason")),
        (200, None),
        "the idle worker judged with its own stale keys"
    );
    let n = fetches
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.as_str() == "/flaky/jwks.json")
        .count();
    assert!(n >= 3, "{n} fetches: the fetcher did not refresh meanwhile");
}
