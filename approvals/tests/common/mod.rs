//! The service's test harness: a policy, test tokens (signed with the repository's test key,
//! through pci-guard-testkit), service instances each on their own runtime and thread (so one
//! can be stopped and started again on the same database), a PostgreSQL cluster of their own,
//! a webhook receiver, and the scenarios every backend runs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod pg;
pub mod scenarios;
pub mod webhook;

use pci_guard_approvals::config::{Args, Settings};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub const ISSUER: &str = "https://approvals.example.com";

/// A fresh directory under the system's temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "pci-guard-approvals-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test policy: the test IdP (`corp-idp`, the ec256 test key) and three things that need
/// grants: route `refund` (two approvers from group `payments-approvers`), rule `bulk-export`
/// (one of alice or bob), gRPC route `cards-grpc` (one of alice or bob).
pub fn policy(pending_ttl: &str, webhook: Option<&str>) -> Value {
    let jwks: Value = serde_json::from_slice(
        &std::fs::read(pci_guard_testkit::keys::keys_dir().join("ec256.jwks.json")).unwrap(),
    )
    .unwrap();
    let mut approvals = json!({"issuer": ISSUER, "providers": ["corp-idp"], "groups_claim": "groups",
        "pending_ttl": pending_ttl, "max_justification_bytes": 256});
    if let Some(url) = webhook {
        approvals["webhooks"] = json!([{"url": url}]);
    }
    json!({
        "version": "approvals-test",
        "providers": {"corp-idp": {"issuer": pci_guard_testkit::ISSUER,
            "audiences": [pci_guard_testkit::AUDIENCE], "jwks": jwks}},
        "rules": [{"id": "bulk-export", "action": "require_approval",
                   "match": {"methods": ["POST"], "path": "/v1/exports/**"},
                   "scopes": ["exports:run"], "max_ttl": "15m", "approvers": ["alice", "bob"]}],
        "routes": [
            {"name": "refund", "match": {"methods": ["POST"], "path": "/v1/payments/{id}/refunds"},
             "auth": ["corp-idp"], "scopes": ["payments:refund"],
             "jit": {"max_ttl": "30m", "min_approvals": 2, "approver_groups": ["payments-approvers"]}},
            {"name": "cards-grpc", "match": {"grpc": "payments.v1.Cards/GetCard"}, "auth": ["corp-idp"],
             "scopes": ["cards:read"], "jit": {"max_ttl": "10m", "approvers": ["alice", "bob"]}}
        ],
        "approvals": approvals
    })
}

/// A token of the test IdP for `sub`, listing `groups`.
pub fn token(sub: &str, groups: &[&str]) -> String {
    let mut c = pci_guard_testkit::claims(sub, &[]);
    c["groups"] = json!(groups);
    pci_guard_testkit::mint_as("ec256", &c)
}

/// A verified token that names nobody.
pub fn token_without_sub() -> String {
    let mut c = pci_guard_testkit::claims("x", &[]);
    c.as_object_mut().unwrap().remove("sub");
    pci_guard_testkit::mint_as("ec256", &c)
}

pub fn agent() -> String {
    token("agent-7", &[])
}
pub fn alice() -> String {
    token("alice", &["payments-approvers"])
}
pub fn bob() -> String {
    token("bob", &["payments-approvers"])
}
pub fn mallory() -> String {
    token("mallory", &["sales"])
}

/// How a service instance is started.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub dir: PathBuf,
    pub pending_ttl: String,
    pub webhook: Option<String>,
    pub key_lifetime: String,
    pub key_publish_ahead: String,
    /// Fetch the IdP's keys from this URL (`remote_jwks` and `--jwks-url`) instead of inline.
    pub remote_jwks: Option<String>,
}

impl Config {
    pub fn new(database_url: String, dir: &Path) -> Config {
        Config {
            database_url,
            dir: dir.to_path_buf(),
            pending_ttl: "1h".into(),
            webhook: None,
            key_lifetime: "30d".into(),
            key_publish_ahead: "1h".into(),
            remote_jwks: None,
        }
    }

    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("approvals-audit.log")
    }
}

/// One running service instance: its own runtime on its own thread.
pub struct Service {
    pub url: String,
    running: pci_guard_approvals::embedded::Running,
}

impl Service {
    pub fn start(c: &Config) -> Service {
        let policy_file = c.dir.join("policy.json");
        let mut p = policy(&c.pending_ttl, c.webhook.as_deref());
        if c.remote_jwks.is_some() {
            let idp = &mut p["providers"]["corp-idp"];
            idp.as_object_mut().unwrap().remove("jwks");
            idp["remote_jwks"] = json!({"cluster": "idp", "authority": "idp.example.com",
                                        "path": "/.well-known/jwks.json", "refresh": "1s"});
        }
        std::fs::write(&policy_file, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
        let args = Args {
            policy: policy_file,
            database_url: c.database_url.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            audit_log: c.audit_log().display().to_string(),
            audit_key_env: None,
            key_lifetime: c.key_lifetime.clone(),
            key_publish_ahead: c.key_publish_ahead.clone(),
            jwks_urls: c
                .remote_jwks
                .iter()
                .map(|u| format!("corp-idp={u}"))
                .collect(),
            max_connections: 4,
            webhook_retry: "300ms".into(),
        };
        let settings = Settings::from_args(&args, |_| None).unwrap();
        let running =
            pci_guard_approvals::embedded::Running::start(settings).expect("the service starts");
        Service {
            url: running.url.clone(),
            running,
        }
    }

    /// Stops the instance: its server, tasks and database connections.
    pub fn stop(self) {
        self.running.stop();
    }
}

/// A JSON client of one instance.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.to_string(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn file_refund(&self, token: &str) -> String {
        let (s, v) = self
            .post(
                "/v1/requests",
                token,
                json!({"route": "refund", "duration": "10m",
                       "operation": {"methods": ["POST"], "path": "/v1/payments/pay_123/refunds"},
                       "justification": "chargeback #7731"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn file_export(&self, token: &str) -> String {
        let (s, v) = self
            .post(
                "/v1/requests",
                token,
                json!({"rule": "bulk-export", "duration_seconds": 300, "justification": "quarterly report"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// RFC 8693 token exchange with `subject` for `request_id` (if given).
    pub async fn exchange(&self, subject: &str, request_id: Option<&str>) -> (u16, Value) {
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange".to_string(),
            ),
            ("subject_token", subject.to_string()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token".to_string(),
            ),
        ];
        if let Some(id) = request_id {
            form.push(("request_id", id.to_string()));
        }
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}

/// The audit log's lines, parsed.
pub fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A runtime for the test's client side.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
