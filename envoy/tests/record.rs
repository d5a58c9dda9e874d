//! Records `testdata/audit/recorded.log`, the audit log the `pci-guard audit` golden tests
//! read: a real Envoy's events for a mix of allowed, denied, dry-run, JIT and redacted
//! requests. Ignored in `make test`; run by hand when the event format changes:
//! `cargo test -p pci-guard-e2e --test record -- --ignored`, then re-bless the goldens
//! (`UPDATE_GOLDEN=1 cargo test -p pci-guard --test cli_audit`) and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use std::sync::Arc;

#[test]
#[ignore = "writes testdata/audit/recorded.log; run by hand"]
fn record_audit_log() {
    let up = Upstream::start(Arc::new(|_: &Received| {
        Reply::json(
            r#"{"cards":[{"number":"4111 1111 1111 1111","cvv":"123"},{"number":"5555555555554444"}]}"#,
        )
    }));
    let policy = std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap();
    let envoy = Harness::new("pci-guard.yaml", policy, up.port).start();
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
    let lines = envoy.audit_lines(12);
    assert_eq!(lines.len(), 12);
    std::fs::write(
        root().join("testdata/audit/recorded.log"),
        lines.join("\n") + "\n",
    )
    .unwrap();
}
