//! `pci-guard explain` decides as the filter does: same policy, same token checks, same rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOW: u64 = 1_795_790_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn token(scopes: &[&str], extra: Value) -> String {
    let mut c = json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                       "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600, "scope": scopes.join(" ")});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    pci_guard_testkit::mint_as("rsa1", &c)
}

/// `pci-guard explain --policy payments.json ARGS` (at `NOW` unless ARGS name a time).
fn explain(args: &[&str]) -> Value {
    explain_in(&root().join("testdata/policies/payments.json"), args)
}

/// `pci-guard explain --policy POLICY ARGS` (at `NOW` unless ARGS name a time): its JSON.
fn explain_in(policy: &Path, args: &[&str]) -> Value {
    let now = NOW.to_string();
    let mut args = args.to_vec();
    if !args.contains(&"--now") {
        args.extend(["--now", &now]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .arg("explain")
        .args(["--policy", policy.to_str().unwrap()])
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn explain_allows_a_scoped_token() {
    let t = token(&["cards:read"], json!({}));
    let v = explain(&["--method", "GET", "--path", "/v1/cards/c_1", "--token", &t]);
    assert_eq!(
        v,
        json!({"allow": true, "status": 200, "reason": "ok", "rule": null, "route": "cards-read", "result": "allow"})
    );
}

#[test]
fn explain_names_the_missing_scope_and_the_blocking_rule() {
    let t = token(&["payments:read"], json!({}));
    let v = explain(&["--method", "GET", "--path", "/v1/cards/c_1", "--token", &t]);
    assert_eq!(
        (v["allow"].clone(), v["status"].clone(), v["reason"].clone()),
        (json!(false), json!(403), json!("scope_missing"))
    );
    let t = token(&["cards:write"], json!({}));
    let v = explain(&[
        "--method",
        "DELETE",
        "--path",
        "/v1/cards/c_1",
        "--token",
        &t,
    ]);
    assert_eq!(
        (v["reason"].clone(), v["rule"].clone()),
        (json!("rule_denied"), json!("no-card-delete"))
    );
}

/// A refund as `token`, no grant header.
fn run_without_grant(token: &str) -> Value {
    explain(&[
        "--method",
        "POST",
        "--path",
        "/v1/payments/p_1/refunds",
        "--token",
        token,
    ])
}

#[test]
fn explain_judges_grants_at_the_given_time() {
    let g = json!({"jit": {"id": "AR-1", "scopes": ["payments:refund"], "approved_by": ["alice"], "nbf": NOW - 60, "exp": NOW + 600}});
    let t = token(&[], g);
    assert_eq!(run_without_grant(&t)["reason"], "ok");
    // The token itself is still valid at NOW+601 (exp NOW+600 plus 60 s skew); the grant is not.
    let later = (NOW + 601).to_string();
    let v = explain(&[
        "--method",
        "POST",
        "--path",
        "/v1/payments/p_1/refunds",
        "--token",
        &t,
        "--now",
        &later,
    ]);
    assert_eq!(v["reason"], "jit_expired");
}

#[test]
fn explain_uses_the_jwks_file_for_remote_providers() {
    let t = token(&["cards:read"], json!({}));
    let v = explain(&["--method", "GET", "--path", "/v2/cards/c_1", "--token", &t]);
    assert_eq!(v["reason"], "jwks_unavailable");
    let jwks = root().join("testdata/keys/rsa1.jwks.json");
    let v = explain(&[
        "--method",
        "GET",
        "--path",
        "/v2/cards/c_1",
        "--token",
        &t,
        "--jwks",
        jwks.to_str().unwrap(),
    ]);
    assert_eq!(v["reason"], "ok");
}

#[test]
fn explain_without_token_and_for_grpc() {
    let v = explain(&[
        "--method",
        "POST",
        "--path",
        "/payments.v1.Cards/GetCard",
        "--grpc",
    ]);
    assert_eq!(
        (v["status"].clone(), v["reason"].clone()),
        (json!(401), json!("token_missing"))
    );
    let v = explain(&["--method", "GET", "--path", "/admin"]);
    assert_eq!(v["reason"], "no_route");
}

#[test]
fn explain_reads_a_body_for_the_operation_as_the_filter_does() {
    let dir = std::env::temp_dir().join(format!("pci-guard-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = dir.join("call.json");
    std::fs::write(
        &body,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_account"}}"#,
    )
    .unwrap();
    let t = token(&["mcp:use"], json!({}));
    let policy = root().join("testdata/policies/agents.json");
    let run = |extra: &[&str]| -> Value {
        let mut args = vec!["--method", "POST", "--path", "/mcp", "--token", &t];
        args.extend_from_slice(extra);
        explain_in(&policy, &args)
    };
    let v = run(&["--body", body.to_str().unwrap()]);
    assert_eq!(v["reason"], "rule_denied");
    assert_eq!(v["rule"], "no-account-delete");
    assert_eq!(v["operation"]["calls"][0]["tool"], "delete_account");
    assert_eq!(
        v["answer"]["id"], 3,
        "the JSON-RPC error the caller would get"
    );
    let v = run(&[
        "--body",
        body.to_str().unwrap(),
        "--content-type",
        "text/plain",
    ]);
    assert_eq!(v["reason"], "operation_content_type");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `explain` with a grant in the header: checked as the filter checks it, against the
/// approvals keys (fetched in the policy, so given as a file) and a revocation list.
#[test]
fn explain_checks_a_grant_from_the_header_against_keys_and_revocations() {
    let dir = std::env::temp_dir().join(format!("pci-guard-explain-g-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut policy: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/policies/payments.json")).unwrap(),
    )
    .unwrap();
    policy["approvals"] = json!({"issuer": pci_guard_testkit::APPROVALS, "providers": ["corp-idp"],
                                 "grants": {"cluster": "approvals"}});
    let policy_file = dir.join("policy.json");
    std::fs::write(&policy_file, policy.to_string()).unwrap();
    let revoked = dir.join("revoked.json");
    std::fs::write(&revoked, r#"{"version": 3, "revoked": [{"id": "grt_1"}]}"#).unwrap();
    let keys = root().join("testdata/keys/ec256.jwks.json");
    let grant = |sub: &str| {
        pci_guard_testkit::mint_grant(&pci_guard_testkit::signed_grant(
            "grt_1",
            sub,
            &["payments:refund"],
            &["alice"],
            NOW - 60,
            600,
            json!({"route": "refund"}),
        ))
    };
    let t = token(&[], json!({}));
    let run = |grant: &str, extra: &[&str]| -> Value {
        let path = "/v1/payments/p_1/refunds";
        let mut args = vec!["--method", "POST", "--path", path, "--token", &t];
        args.extend_from_slice(&["--grant", grant]);
        args.extend_from_slice(extra);
        explain_in(&policy_file, &args)
    };
    let mine = grant("agent-7");
    let k = ["--approvals-jwks", keys.to_str().unwrap()];
    assert_eq!(run(&mine, &k)["reason"], "ok");
    assert_eq!(run(&mine, &[])["reason"], "grant_keys_unavailable");
    assert_eq!(run(&grant("agent-8"), &k)["reason"], "grant_wrong_subject");
    let with_list = [k[0], k[1], "--revocations", revoked.to_str().unwrap()];
    assert_eq!(run(&mine, &with_list)["reason"], "grant_revoked");
    // Without --grant, the JIT route refuses the token alone, as the filter does.
    assert_eq!(run_without_grant(&t)["reason"], "jit_missing");
    std::fs::remove_dir_all(&dir).ok();
}
