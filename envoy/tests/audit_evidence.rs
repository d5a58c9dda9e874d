//! Audit evidence an assessor can trust, through a real Envoy with two workers: each VM's
//! chain opens with its start record, beats every second, signs checkpoints; `pci-guard audit
//! verify` catches each way of covering tracks in the recorded log; failed controls (a JWKS
//! outage past max_stale, a rejected policy update) are records in the same log and
//! labelled metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY_ENV: &str = "PCI_GUARD_CHECKPOINT_KEY";

fn payments() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap(),
    )
    .unwrap()
}

/// payments.json with heartbeats every second and, with a key, checkpoints every 2 s.
fn policy(checkpoints: bool) -> String {
    let mut p = payments();
    p["audit"] = json!({"heartbeat": "1s"});
    if checkpoints {
        p["audit"]["checkpoint"] = json!({"signing_key_env": KEY_ENV, "every": "2s"});
    }
    p.to_string()
}

/// A checkpoint key pair made by `pci-guard audit keygen`: (private PEM, public key file).
fn keygen(dir: &Path) -> (String, PathBuf) {
    let (private, public) = (dir.join("checkpoint.key"), dir.join("checkpoint.pub"));
    let (code, out) = pci_guard_audit(&[
        "keygen",
        "--private",
        private.to_str().unwrap(),
        "--public",
        public.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    (std::fs::read_to_string(private).unwrap(), public)
}

/// The VM's environment gets the checkpoint signing key.
fn with_signing_key(h: Harness, pem: &str) -> Harness {
    with_vm_env(h, KEY_ENV, pem)
}

/// The complete lines of the access log (a line still being written is left out).
fn complete_lines(envoy: &Envoy) -> Vec<String> {
    let text = std::fs::read_to_string(&envoy.access_log).unwrap();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn time_ms(line: &str) -> u64 {
    let v: Value = serde_json::from_str(line).unwrap();
    pci_guard_core::audit::parse_rfc3339_millis(v["time"].as_str().unwrap()).unwrap()
}

fn chain_of(line: &str) -> String {
    parse_audit_line(line)["chain"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs `pci-guard audit verify` over `lines` (written to a file) with `args`.
fn verify(dir: &Path, name: &str, lines: &[String], args: &[&str]) -> (i32, String) {
    let f = dir.join(name);
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let mut a = vec!["verify"];
    a.extend_from_slice(args);
    a.push(f.to_str().unwrap());
    pci_guard_audit(&a)
}

/// Recomputes every link and seal of chain `id` (unkeyed) after an edit, as someone covering
/// their tracks would: the hashes then prove nothing, only the signed checkpoints do.
fn recompute(lines: &mut [String], id: &str) {
    use pci_guard_core::audit::{link, unseal};
    let mut prev: Option<String> = None;
    for l in lines.iter_mut().filter(|l| chain_of(l) == id) {
        let (sealed, _) = unseal(l.as_bytes()).unwrap();
        let sealed = String::from_utf8(sealed).unwrap();
        let at = sealed.rfind("\"prev\":").unwrap();
        let prev_json = prev
            .as_ref()
            .map_or("null".to_string(), |p| format!("\"{p}\""));
        let body = format!("{}\"prev\":{prev_json}}}}}", &sealed[..at]);
        let seal = link(None, body.as_bytes());
        *l = format!("{},\"seal\":\"{seal}\"}}}}", &body[..body.len() - 2]);
        prev = Some(link(None, l.as_bytes()));
    }
}

#[test]
fn verify_catches_each_tampering_of_a_two_worker_log() {
    let dir = TempDir::new("evidence");
    let (pem, public) = keygen(dir.path());
    let up = Upstream::ok();
    let envoy = with_signing_key(
        Harness::new("pci-guard.yaml", policy(true), up.port).workers(2),
        &pem,
    )
    .start();
    // Fresh connections spread over both workers; allowed and denied requests.
    for i in 0..24 {
        let path = if i % 3 == 0 { "/admin" } else { "/healthz" };
        envoy.send("GET", path, &[("x-request-id", &format!("ev-{i}"))], b"");
    }
    // Heartbeats every second, checkpoints every 2 s: the log's tail is their lines. Waited
    // for by count, not by time: a loaded machine ticks late.
    let count = |lines: &[String], event: &str| {
        lines
            .iter()
            .filter(|l| parse_audit_line(l)["event"] == event)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let lines = loop {
        std::thread::sleep(Duration::from_secs(1));
        let lines = complete_lines(&envoy);
        let enough = count(&lines, "heartbeat") >= 10 && count(&lines, "checkpoint") >= 4;
        if enough || Instant::now() > deadline {
            break lines;
        }
    };
    drop(envoy);
    let chains: Vec<String> = {
        let mut c: Vec<String> = lines.iter().map(|l| chain_of(l)).collect();
        c.sort();
        c.dedup();
        c
    };
    assert_eq!(chains.len(), 2, "one chain per worker's VM");
    let events = |event: &str| count(&lines, event);
    assert_eq!(events("start"), 2);
    assert!(events("heartbeat") >= 10, "{}", events("heartbeat"));
    assert!(events("checkpoint") >= 4, "{}", events("checkpoint"));
    assert_eq!(lines.iter().filter(|l| !is_vm_record(l)).count(), 24);
    // The reference time: when the log was collected, just after its newest line.
    let newest = lines.iter().map(|l| time_ms(l)).max().unwrap();
    let until = pci_guard_core::audit::rfc3339_millis(newest + 500);
    let public = public.to_str().unwrap();
    let args = ["--until", until.as_str(), "--public-key", public];
    let d = dir.path();

    let (code, out) = verify(d, "intact.log", &lines, &args);
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with(": intact"), "{out}");

    let caught = |name: &str, tampered: &[String], want: &str| {
        let (code, out) = verify(d, name, tampered, &args);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains(want), "{name}: wanted {want:?} in:\n{out}");
    };
    caught("first-line-deleted.log", &lines[1..], "begins at seq 1");
    // The last 5 s of lines: heartbeats and checkpoints of both chains.
    let tail = lines.iter().filter(|l| time_ms(l) + 5000 > newest).count();
    assert!(tail >= 10, "{tail}");
    caught(
        "last-lines-deleted.log",
        &lines[..lines.len() - tail],
        "its last lines were cut",
    );
    let mut l = lines.clone();
    let last = l.len() - 1;
    assert!(l[last].contains("\"heartbeat_s\":1,"), "{}", l[last]);
    l[last] = l[last].replacen("\"heartbeat_s\":1,", "\"heartbeat_s\":9,", 1);
    caught("last-line-edited.log", &l, "does not match its own seal");
    let l: Vec<String> = lines
        .iter()
        .filter(|l| chain_of(l) != chains[1])
        .cloned()
        .collect();
    caught(
        "chain-deleted.log",
        &l,
        &format!(
            "chain {}: named as a sibling by chain {}",
            chains[1], chains[0]
        ),
    );
    let mut l = lines.clone();
    let mid = l.iter().position(|x| x.contains("\"ev-12\"")).unwrap();
    l.insert(mid + 1, l[mid].clone());
    caught("line-duplicated.log", &l, "is a duplicate of line");
    let mut l = lines.clone();
    l[mid] = l[mid].replacen("\"/admin\"", "\"/health\"", 1);
    assert_ne!(l[mid], lines[mid]);
    caught("middle-line-edited.log", &l, "does not match its own seal");

    // An edit with every hash after it recomputed: the unkeyed chain cannot tell, the
    // checkpoints signed before the edit can.
    let mut l = lines.clone();
    let denied = l.iter().position(|x| x.contains("\"ev-3\"")).unwrap();
    l[denied] = l[denied].replacen("\"result\":\"deny\"", "\"result\":\"allow\"", 1);
    let id = chain_of(&l[denied]);
    recompute(&mut l, &id);
    let (code, out) = verify(d, "recomputed.log", &l, &["--until", until.as_str()]);
    assert_eq!(code, 0, "without the public key the rewrite passes:\n{out}");
    caught(
        "recomputed.log",
        &l,
        "but those lines are not the ones signed (rewritten after signing)",
    );
}

/// The JWKS outage of identity.rs, seen by the audit trail: each failed fetch and the keys
/// passing max_stale are control-failure records, and labelled metrics.
#[test]
fn a_jwks_outage_past_max_stale_is_a_control_failure_in_the_log_and_the_metrics() {
    let up = Upstream::ok();
    let jwks_ok = Arc::new(Mutex::new(true));
    let ok = jwks_ok.clone();
    let idp = Upstream::start(Arc::new(move |r: &Received| {
        if r.path == "/flaky/jwks.json" && *ok.lock().unwrap() {
            let body = std::fs::read(root().join("testdata/keys/rsa1.jwks.json")).unwrap();
            Reply::with("application/json", body)
        } else {
            Reply {
                framing: Framing::ContentLength,
                status: 503,
                headers: vec![],
                body: vec![],
            }
        }
    }));
    let envoy = Harness::new("pci-guard.yaml", policy(false), up.port)
        .var("IDP_PORT", idp.port)
        .start();
    let t = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let get = || {
        envoy.send(
            "GET",
            "/v3/cards/c_1",
            &[("authorization", &bearer(&t))],
            b"",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while get().status != 200 {
        assert!(Instant::now() < deadline, "keys never fetched");
        std::thread::sleep(Duration::from_millis(100));
    }
    *jwks_ok.lock().unwrap() = false;
    let deadline = Instant::now() + Duration::from_secs(15);
    let failures = loop {
        let found: Vec<Value> = complete_lines(&envoy)
            .iter()
            .map(|l| parse_audit_line(l))
            .filter(|e| e["event"] == "control_failure" && e["control"]["provider"] == "flaky-idp")
            .collect();
        let stale = found.iter().any(|e| e["control"]["reason"] == "jwks_stale");
        if stale || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let reasons: Vec<&str> = failures
        .iter()
        .map(|e| e["control"]["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"jwks_unavailable"), "{failures:#?}");
    assert_eq!(
        reasons.iter().filter(|r| **r == "jwks_stale").count(),
        1,
        "{failures:#?}"
    );
    let r = get();
    assert_eq!(
        (r.status, r.header("x-pci-guard-reason")),
        (401, Some("jwks_unavailable"))
    );
    let metrics = prometheus_until(
        &envoy,
        "pci_guard_control_failures{reason=\"jwks_stale\"}",
        1,
    );
    assert!(
        metric(
            &metrics,
            "pci_guard_control_failures{reason=\"jwks_unavailable\"}"
        ) >= 1,
        "{metrics}"
    );
    assert!(
        metric(
            &metrics,
            "pci_guard_jwks_fetches_failed{provider=\"flaky-idp\"}"
        ) >= 1
    );
    assert!(
        metric(
            &metrics,
            "pci_guard_jwks_fetches_ok{provider=\"flaky-idp\"}"
        ) >= 1
    );
    assert!(
        metric(
            &metrics,
            "pci_guard_jwks_age_seconds{provider=\"flaky-idp\"}"
        ) >= 3
    );
    let metrics = prometheus_until(
        &envoy,
        "pci_guard_decisions{reason=\"jwks_unavailable\"}",
        1,
    );
    assert!(metric(&metrics, "pci_guard_decisions{reason=\"jwks_unavailable\"}") >= 1);
    // The review a daily reviewer runs shows the failed control.
    let log = envoy.access_log.to_str().unwrap().to_string();
    let (code, out) = pci_guard_audit(&["review", &log]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[control_failure]") && out.contains("jwks_stale"),
        "{out}"
    );
}

/// `/stats/prometheus` once `name` reaches `at_least` (or after 10 s).
fn prometheus_until(envoy: &Envoy, name: &str, at_least: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = request(envoy.admin_port, "GET", "/stats/prometheus", &[], b"").unwrap();
        let text = String::from_utf8_lossy(&r.body).to_string();
        if metric(&text, name) >= at_least || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A sample's value in Prometheus text (0 when absent).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ecds_resource(policy: &str, version: &str) -> String {
    let template = std::fs::read_to_string(root().join("envoy/ecds/filter.yaml")).unwrap();
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("VERSION", version.to_string());
    vars.insert("POLICY", policy_scalar(policy));
    vars.insert("WASM_PATH", wasm_path().display().to_string());
    render(&template, &vars)
}

/// A policy pushed by ECDS that does not load: Envoy keeps the last good one (its
/// `update_rejected` stat), and the trail says so: a control-failure record written by a
/// worker's VM (the rejecting config lived only on Envoy's main thread) and a labelled
/// metric; a policy that does load shows as a digest change in the review.
#[test]
fn a_rejected_policy_update_is_a_control_failure_in_the_log_and_the_metrics() {
    const REJECTED: &str = "extension_config_discovery.http_filter.pci_guard.update_rejected";
    let dir = TempDir::new("ecds-audit");
    let file = dir.path().join("pci-guard.yaml");
    let good = |version: &str, items: &str| {
        json!({"version": version, "audit": {"heartbeat": "1s"}, "routes": [
            {"name": "items", "match": {"path": items}, "auth": "public"}]})
        .to_string()
    };
    replace_file(
        &file,
        &ecds_resource(&good("ecds-a", "/v1/items/{id}"), "a"),
    );
    let up = Upstream::ok();
    let envoy = Harness::new("ecds/bootstrap.yaml", "", up.port)
        .var("ECDS_DIR", dir.path().display())
        .workers(2)
        .start();
    assert_eq!(envoy.send("GET", "/v1/items/1", &[], b"").status, 200);
    replace_file(
        &file,
        &ecds_resource(&good("ecds-b", "/v2/items/{id}"), "b"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while envoy.send("GET", "/v2/items/1", &[], b"").status != 200 {
        assert!(Instant::now() < deadline, "policy b never applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    let bad = json!({"version": "ecds-c", "routes": [{"name": "items", "match": {"path": 7}}]});
    replace_file(&file, &ecds_resource(&bad.to_string(), "c"));
    assert!(envoy.wait_for_stat(REJECTED, 1, Duration::from_secs(10)) >= 1);
    assert_eq!(
        envoy.send("GET", "/v2/items/1", &[], b"").status,
        200,
        "the last good policy stays"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let rejected = loop {
        let found: Vec<Value> = complete_lines(&envoy)
            .iter()
            .map(|l| parse_audit_line(l))
            .filter(|e| e["control"]["reason"] == "policy_rejected")
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        rejected.len(),
        1,
        "written once for the process: {rejected:#?}"
    );
    let detail = rejected[0]["control"]["detail"].as_str().unwrap();
    assert!(detail.contains("/routes/0/match/path"), "{detail}");
    assert_eq!(
        rejected[0]["policy"]["version"], "ecds-b",
        "the policy in force"
    );
    let metrics = prometheus_until(
        &envoy,
        "pci_guard_control_failures{reason=\"policy_rejected\"}",
        1,
    );
    assert_eq!(
        metric(
            &metrics,
            "pci_guard_control_failures{reason=\"policy_rejected\"}"
        ),
        1,
        "{metrics}"
    );
    // The policy change continued each VM's chain; the review shows the change and the
    // rejection, and the log verifies.
    let log = envoy.access_log.to_str().unwrap().to_string();
    let (code, out) = pci_guard_audit(&["review", &log]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[policy_changed]") && out.contains("ecds-b"),
        "{out}"
    );
    assert!(
        out.contains("[control_failure]") && out.contains("policy_rejected"),
        "{out}"
    );
    let lines = complete_lines(&envoy);
    let starts: BTreeMap<String, usize> = lines.iter().fold(BTreeMap::new(), |mut m, l| {
        if parse_audit_line(l)["event"] == "start" {
            *m.entry(chain_of(l)).or_default() += 1;
        }
        m
    });
    assert!(
        starts.values().all(|n| *n == 1),
        "one start per chain: {starts:?}"
    );
    let (code, out) = verify(dir.path(), "ecds.log", &lines, &[]);
    assert_eq!(code, 0, "{out}");
}

/// The fault-injection build (`make wasm-fault`).
fn fault_wasm() -> PathBuf {
    let p = match std::env::var("PCI_GUARD_FAULT_WASM") {
        Ok(p) => PathBuf::from(p),
        Err(_) => wasm_path().with_file_name("pci_guard_fault.wasm"),
    };
    assert!(
        p.exists(),
        "no fault-injection build at {}: `make wasm-fault`",
        p.display()
    );
    p
}

/// A VM that panics is replaced by Envoy (FAIL_RELOAD); the dead VM's chain stops without an
/// end, a sibling reports it as a control failure within seconds, and `verify` reads the two
/// chains as a restart (a note), not as a cut.
#[test]
fn a_vm_started_after_a_crash_is_a_control_failure_and_verify_reads_a_restart() {
    let up = Upstream::ok();
    // The template ships FAIL_RELOAD, the recovering policy this test relies on.
    let envoy = Harness::new("pci-guard.yaml", policy(false), up.port)
        .replace("failure_policy: FAIL_RELOAD", "failure_policy: FAIL_RELOAD")
        .wasm(&fault_wasm())
        .start();
    assert_eq!(envoy.send("GET", "/healthz", &[], b"").status, 200);
    let r = envoy.send("GET", "/healthz", &[("x-pci-guard-fault", "panic")], b"");
    assert_ne!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let crashed = loop {
        let _ = envoy.send("GET", "/healthz", &[], b"");
        let found: Vec<Value> = complete_lines(&envoy)
            .iter()
            .filter(|l| *l != "-")
            .map(|l| parse_audit_line(l))
            .filter(|e| e["control"]["reason"] == "vm_crashed")
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let lines = complete_lines(&envoy);
    assert_eq!(
        crashed.len(),
        1,
        "{crashed:#?}\n{lines:#?}\n{}",
        envoy.stderr()
    );
    let starts: Vec<Value> = lines
        .iter()
        .filter(|l| *l != "-")
        .map(|l| parse_audit_line(l))
        .filter(|e| e["event"] == "start")
        .collect();
    assert_eq!(starts.len(), 2, "the first VM's chain and its successor's");
    let dead = starts[0]["vm"]["id"].as_str().unwrap();
    let detail = crashed[0]["control"]["detail"].as_str().unwrap();
    assert!(detail.contains(dead), "{detail}");
    assert_ne!(crashed[0]["chain"]["id"], dead, "written by the new VM");
    let metrics = prometheus_until(
        &envoy,
        "pci_guard_control_failures{reason=\"vm_crashed\"}",
        1,
    );
    assert_eq!(
        metric(
            &metrics,
            "pci_guard_control_failures{reason=\"vm_crashed\"}"
        ),
        1
    );
    // While Envoy reloads the VM it answers 503 without the filter: those requests have no
    // event, and Envoy logs `-` for them. verify names each; the chains themselves are whole:
    // the dead VM's chain stops, a note, since another started after it.
    let dir = TempDir::new("crash");
    let (_, out) = verify(dir.path(), "crash.log", &lines, &[]);
    let dashes = lines.iter().filter(|l| *l == "-").count();
    let findings: Vec<&str> = out.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(findings.len(), dashes, "{out}");
    assert!(
        findings
            .iter()
            .all(|f| f.contains("not a pci-guard audit event (`-`")),
        "{out}"
    );
    assert!(
        out.contains("note: line") && out.contains(&format!("chain {dead}: stops at")),
        "{out}"
    );
}
