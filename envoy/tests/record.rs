//! Records `testdata/audit/recorded.log`, the audit log the `pci-guard audit` tests read
//! (verify, review goldens, OCSF and ECS exports): a real Envoy with two workers, so two
//! interleaved chains, each with its start record, heartbeats every second, checkpoints
//! signed every 2 s with `testdata/keys/audit-checkpoint.pem`, control failures (the
//! policy's remote key sets cannot be fetched: nobody listens on IDP_PORT), and a mix of
//! allowed, denied, dry-run, JIT and redacted requests. Ignored in `make test`; run by hand
//! when the event format changes:
//! `cargo test -p pci-guard-e2e --test record -- --ignored`, then re-bless the goldens
//! (`UPDATE_GOLDEN=1 cargo test -p pci-guard --test cli_audit`) and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use std::sync::Arc;
use std::time::Duration;

#[test]
#[ignore = "writes testdata/audit/recorded.log; run by hand"]
fn record_audit_log() {
    let up = Upstream::start(Arc::new(|_: &Received| {
        Reply::json(
            r#"{"cards":[{"number":"4111 1111 1111 1111","cvv":"123"},{"number":"5555555555554444"}]}"#,
        )
    }));
    let mut policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap(),
    )
    .unwrap();
    policy["audit"] = serde_json::json!({
        "heartbeat": "1s",
        "checkpoint": {"signing_key_env": "PCI_GUARD_CHECKPOINT_KEY", "every": "2s"}
    });
    let key = std::fs::read_to_string(root().join("testdata/keys/audit-checkpoint.pem")).unwrap();
    let envoy = with_vm_env(
        Harness::new("pci-guard.yaml", policy.to_string(), up.port).workers(2),
        "PCI_GUARD_CHECKPOINT_KEY",
        &key,
    )
    .start();
    // The start records go out on each VM's first tick.
    std::thread::sleep(Duration::from_millis(1500));
    let n = now();
    let reader = sign("rsa1", &claims("agent-7", &["cards:read"]));
    let mut jit = claims("agent-7", &[]);
    jit["jit"] = grant("AR-1042", &["payments:refund"], &["alice"], n - 60, 1800);
    let refund = sign("rsa1", &jit);
    let prober = sign("rsa1", &claims("agent-9", &["payments:read"]));
    let get = |path: &str, t: &str| envoy.send("GET", path, &[("authorization", &bearer(t))], b"");
    get("/v1/cards/c_1", &reader);
    get("/v1/cards/c_2", &reader);
    get("/v1/cards/search", &reader); // dry-run rule: would_deny
    envoy.send(
        "POST",
        "/v1/payments/p_1/refunds",
        &[("authorization", &bearer(&refund))],
        b"",
    );
    for i in 0..6 {
        get(&format!("/v1/cards/c_{i}"), &prober); // a burst of denials
    }
    envoy.send("GET", "/admin", &[], b"");
    envoy.send("GET", "/healthz", &[], b"");
    assert_eq!(envoy.audit_lines(12).len(), 12);
    std::thread::sleep(Duration::from_secs(4));
    let text = std::fs::read_to_string(&envoy.access_log).unwrap();
    let complete = &text[..text.rfind('\n').unwrap() + 1];
    for line in complete.lines() {
        parse_audit_line(line);
    }
    std::fs::write(root().join("testdata/audit/recorded.log"), complete).unwrap();
}
