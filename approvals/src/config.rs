//! The command line and what it loads: the policy file (the filter's own, JSON or YAML), its
//! `approvals` section, and the service's operational settings (database, listen address,
//! audit log, key rotation).

use pci_guard_core::policy::{duration, Approvals, Policy, WebhookUrl};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// `pci-guard-approvals --policy FILE [--database-url URL] [--listen ADDR]`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pci-guard-approvals",
    version,
    about = "pci-guard's approvals service: just-in-time access requests, approvals, signed grants and revocations"
)]
pub struct Args {
    /// The policy file the filter reads (JSON or YAML); its `approvals` section configures
    /// this service.
    #[arg(long)]
    pub policy: PathBuf,
    /// `sqlite://FILE` (created if missing) or `postgres://user@host/db`. Several replicas
    /// may share one PostgreSQL database; SQLite serves one replica.
    #[arg(
        long,
        env = "PCI_GUARD_APPROVALS_DATABASE_URL",
        default_value = "sqlite://pci-guard-approvals.db"
    )]
    pub database_url: String,
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Where the audit events go: a file (appended) or `-` for stdout.
    #[arg(long, default_value = "-")]
    pub audit_log: String,
    /// Environment variable holding the audit chain key (default: the policy's
    /// `audit.chain_secret_env`).
    #[arg(long)]
    pub audit_key_env: Option<String>,
    /// How long one signing key signs before the next takes over.
    #[arg(long, default_value = "30d")]
    pub key_lifetime: String,
    /// How long before it signs a new key is published in the JWKS (longer than the filter's
    /// key refresh interval).
    #[arg(long, default_value = "1h")]
    pub key_publish_ahead: String,
    /// Where to fetch a remote provider's keys, `NAME=URL` (default
    /// `https://<authority><path>` from the policy's `remote_jwks`).
    #[arg(long = "jwks-url", value_name = "NAME=URL")]
    pub jwks_urls: Vec<String>,
    /// Database connections of this replica.
    #[arg(long, default_value_t = 8)]
    pub max_connections: u32,
    /// First retry delay of a failed webhook delivery (doubles each time, at most 5 min).
    #[arg(long, default_value = "1s")]
    pub webhook_retry: String,
}

/// Everything the service runs with, checked once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Arc<Policy>,
    pub approvals: Approvals,
    pub database_url: String,
    pub listen: SocketAddr,
    pub audit_log: String,
    pub audit_key: Option<Vec<u8>>,
    pub key_lifetime: u64,
    pub key_publish_ahead: u64,
    /// Provider index → JWKS URL, for the remote providers the service accepts.
    pub jwks_urls: Vec<(usize, String)>,
    /// Resolved webhook URLs with their event filters.
    pub webhooks: Vec<(String, Vec<String>)>,
    pub max_connections: u32,
    pub webhook_retry_ms: u64,
}

fn secs(flag: &str, v: &str) -> Result<u64, String> {
    match duration::parse_millis(v) {
        Some(ms) if ms >= 1000 => Ok(ms / 1000),
        _ => Err(format!(
            "--{flag} {v:?}: use {}, at least 1s",
            duration::FORMS
        )),
    }
}

/// Reads a policy file as the `pci-guard` command does: JSON, or YAML by its extension.
pub fn load_policy(path: &std::path::Path) -> Result<Policy, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let mut policy = if is_yaml {
        let v: serde_json::Value = serde_yaml_ng::from_slice(&text)
            .map_err(|e| format!("{}: not YAML: {e}", path.display()))?;
        Policy::from_value(&v)
    } else {
        Policy::parse(&text)
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    policy
        .resolve_secrets(|v| std::env::var(v).ok())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(policy)
}

impl Settings {
    /// Checks `args` and the policy; every error names the flag or policy field to fix.
    pub fn from_args(a: &Args, env: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let policy = load_policy(&a.policy)?;
        let Some(approvals) = policy.approvals.clone() else {
            return Err(format!(
                "{}: no \"approvals\" section: name at least its issuer and providers (docs/jit-access.md)",
                a.policy.display()
            ));
        };
        let mut jwks_urls = Vec::new();
        for &i in &approvals.providers {
            let Some(p) = policy.providers.get(i) else {
                continue;
            };
            if let pci_guard_core::policy::KeySource::Remote(r) = &p.keys {
                let flag = a
                    .jwks_urls
                    .iter()
                    .find_map(|s| s.strip_prefix(&format!("{}=", p.name)));
                let url = flag
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("https://{}{}", r.authority, r.path));
                jwks_urls.push((i, url));
            }
        }
        for s in &a.jwks_urls {
            let known = s
                .split_once('=')
                .is_some_and(|(n, _)| policy.providers.iter().any(|p| p.name == n));
            if !known {
                return Err(format!(
                    "--jwks-url {s:?}: expected NAME=URL with NAME a provider of the policy"
                ));
            }
        }
        let mut webhooks = Vec::new();
        for (i, w) in approvals.webhooks.iter().enumerate() {
            let url = match &w.url {
                WebhookUrl::Literal(u) => u.clone(),
                WebhookUrl::Env(v) => env(v).filter(|u| !u.is_empty()).ok_or_else(|| {
                    format!(
                        "approvals.webhooks[{i}].url_env: the environment variable {v} is not set"
                    )
                })?,
            };
            webhooks.push((url, w.events.clone()));
        }
        let key_env = a
            .audit_key_env
            .clone()
            .or_else(|| policy.audit.chain_secret_env.clone());
        let audit_key = match key_env {
            None => None,
            Some(v) => Some(
                env(&v)
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| {
                        format!("audit chain key: the environment variable {v} is not set")
                    })?
                    .into_bytes(),
            ),
        };
        let key_lifetime = secs("key-lifetime", &a.key_lifetime)?;
        let key_publish_ahead = secs("key-publish-ahead", &a.key_publish_ahead)?;
        if key_publish_ahead >= key_lifetime {
            return Err("--key-publish-ahead must be shorter than --key-lifetime".into());
        }
        let webhook_retry_ms = duration::parse_millis(&a.webhook_retry)
            .filter(|ms| *ms > 0)
            .ok_or_else(|| {
                format!(
                    "--webhook-retry {:?}: use {}",
                    a.webhook_retry,
                    duration::FORMS
                )
            })?;
        if !(a.database_url.starts_with("sqlite:") || a.database_url.starts_with("postgres")) {
            return Err("--database-url: sqlite://FILE or postgres://…".into());
        }
        Ok(Settings {
            policy: Arc::new(policy),
            approvals,
            database_url: a.database_url.clone(),
            listen: a.listen,
            audit_log: a.audit_log.clone(),
            audit_key,
            key_lifetime,
            key_publish_ahead,
            jwks_urls,
            webhooks,
            max_connections: a.max_connections.max(1),
            webhook_retry_ms,
        })
    }

    /// The longest grant any rule or route allows: old signing keys stay published this long
    /// after they stop signing, so every grant they signed still verifies until its `exp`.
    pub fn longest_grant(&self) -> u64 {
        let rules = self.policy.rules.iter().map(|r| r.jit.max_ttl_seconds);
        let routes = self
            .policy
            .routes
            .iter()
            .filter_map(|r| r.jit.as_ref().map(|j| j.max_ttl_seconds));
        rules.chain(routes).max().unwrap_or(0)
    }
}
