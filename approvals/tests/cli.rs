//! `pci-guard access …` against a running service: the commands an agent and its approvers
//! type, end to end, over the API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{agent, alice, bob, rt, Config, Service, TempDir};
use std::path::PathBuf;
use std::process::Command;

/// The `pci-guard` command of this workspace, built if it is missing or older than its
/// `access` module (`make test` builds it before the tests run).
fn pci_guard() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("pci-guard");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../filter/src/cli/access.rs");
    let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if mtime(&bin).is_none() || mtime(&bin) < mtime(&source) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-q", "-p", "pci-guard", "--bin", "pci-guard"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "cargo build -p pci-guard failed");
    }
    bin
}

fn access(url: &str, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(pci_guard())
        .arg("access")
        .args(args)
        .env("PCI_GUARD_APPROVALS_URL", url)
        .env("PCI_GUARD_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn an_agent_and_two_approvers_walk_the_flow_on_the_command_line() {
    let dir = TempDir::new("cli");
    let cfg = Config::new(format!("sqlite://{}/approvals.db", dir.0.display()), &dir.0);
    let svc = Service::start(&cfg);
    let url = svc.url.clone();

    let (code, out, err) = access(
        &url,
        &agent(),
        &[
            "request",
            "--route",
            "refund",
            "--method",
            "post",
            "--path",
            "/v1/payments/pay_123/refunds",
            "--duration",
            "10m",
            "--justification",
            "chargeback #7731",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let filed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = filed["id"].as_str().unwrap().to_string();
    assert_eq!(filed["operation"]["methods"][0], "POST");

    let (code, _, err) = access(&url, &agent(), &["approve", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("self_approval (403)"), "{err}");

    let (code, out, _) = access(&url, &alice(), &["list", "--state", "pending"]);
    assert_eq!(code, 0);
    assert!(out.contains(&id), "{out}");

    assert_eq!(
        access(&url, &alice(), &["approve", &id, "--comment", "ok"]).0,
        0
    );
    assert_eq!(access(&url, &bob(), &["approve", &id]).0, 0);

    let (code, grant, err) = access(&url, &agent(), &["grant", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(grant.trim().starts_with("eyJ") && grant.trim().split('.').count() == 3);

    let (_, shown, _) = access(&url, &agent(), &["show", &id]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let grant_id = shown["grant"]["id"].as_str().unwrap().to_string();
    let (code, _, err) = access(&url, &alice(), &["revoke", &grant_id, "--comment", "done"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = access(&url, &agent(), &["grant", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid_grant"), "{err}");

    // Deny, and the refusal of a path-like id before any call.
    let id2 = rt().block_on(common::Client::new(&url).file_export(&agent()));
    assert_eq!(
        access(&url, &bob(), &["deny", &id2, "--comment", "not now"]).0,
        0
    );
    let (code, _, err) = access(&url, &bob(), &["approve", "../v1/revocations"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn missing_url_or_token_is_a_usage_error() {
    let out = Command::new(pci_guard())
        .args(["access", "list"])
        .env_remove("PCI_GUARD_APPROVALS_URL")
        .env_remove("PCI_GUARD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PCI_GUARD_TOKEN"));
}
