//! The approvals service, in-process on its own runtime and thread, on a port chosen before it
//! starts (the Envoy config names it), and a small client of its API.

use pci_guard_approvals::config::{Args, Settings};
use pci_guard_e2e::{request, Response};
use std::path::{Path, PathBuf};

/// A scratch directory removed on drop; the shape the approvals tests' PostgreSQL harness
/// (`approvals/tests/common/pg.rs`, shared with these tests) expects.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("pci-guard-e2e-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Service {
    pub port: u16,
    _running: pci_guard_approvals::embedded::Running,
}

impl Service {
    /// Starts the service on `policy` with the database at `database_url`.
    pub fn start(dir: &Path, policy: &serde_json::Value, database_url: &str) -> Service {
        let policy_file = dir.join("policy.json");
        std::fs::write(&policy_file, serde_json::to_vec_pretty(policy).unwrap()).unwrap();
        let args = Args {
            policy: policy_file,
            database_url: database_url.to_string(),
            listen: "127.0.0.1:0".parse().unwrap(),
            audit_log: dir.join("approvals-audit.log").display().to_string(),
            audit_key_env: None,
            key_lifetime: "30d".into(),
            key_publish_ahead: "1h".into(),
            jwks_urls: Vec::new(),
            max_connections: 4,
            webhook_retry: "1s".into(),
        };
        let settings = Settings::from_args(&args, |_| None).unwrap();
        let running = pci_guard_approvals::embedded::Running::start(settings)
            .expect("the approvals service starts");
        Service {
            port: running.port,
            _running: running,
        }
    }

    /// A JSON call as `token`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let auth = format!("Bearer {token}");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers = vec![("authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let r = request(self.port, method, path, &headers, body.as_bytes()).unwrap();
        (r.status, json_of(&r))
    }

    /// RFC 8693: the requester's access token for the grant of request `id`.
    pub fn exchange(&self, token: &str, id: &str) -> (u16, serde_json::Value) {
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &subject_token={token}\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &request_id={id}"
        );
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let r = request(
            self.port,
            "POST",
            "/oauth2/token",
            &headers,
            form.as_bytes(),
        )
        .unwrap();
        (r.status, json_of(&r))
    }
}

fn json_of(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
}
