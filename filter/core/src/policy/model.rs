//! The compiled policy: what the request path reads. Built once by [`super::Policy::parse`],
//! immutable afterwards, and shared by every request of a VM; names are resolved to indices
//! and templates to segments at load time, so nothing here can fail at request time.

use super::spec::{DefaultAction, Mode, NoncanonicalPaths, RuleAction};
pub use crate::identity::{KeySource, Provider, RemoteJwks};
use crate::redact::RedactOptions;
use crate::routes::Matcher;
use std::sync::Arc;

/// A validated, compiled policy. Immutable once built; shared by every request of a VM.
#[derive(Debug)]
pub struct Policy {
    pub version: String,
    /// `sha256:<hex>` of the policy's canonical JSON (keys sorted, no whitespace), so an
    /// auditor can tell which policy decided a request.
    pub digest: String,
    pub mode: Mode,
    pub default: DefaultAction,
    pub noncanonical_paths: NoncanonicalPaths,
    pub providers: Vec<Provider>,
    pub jit_claim: String,
    pub rules: Vec<Rule>,
    pub routes: Vec<Route>,
    pub redaction: Redaction,
    pub audit: Audit,
}

#[derive(Debug)]
pub enum Auth {
    Public,
    /// Indices into [`Policy::providers`]; any one may vouch for the caller.
    AnyOf(Vec<usize>),
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    pub auth: Auth,
    pub scopes: Vec<String>,
    pub jit: Option<JitRequirement>,
    pub redact: bool,
    pub skip_content_types: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct JitRequirement {
    pub max_ttl_seconds: u64,
    pub min_approvals: u32,
    pub approvers: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub action: RuleAction,
    pub matcher: Matcher,
    pub message: Option<String>,
    pub scopes: Vec<String>,
    pub jit: JitRequirement,
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct Redaction {
    pub enabled: bool,
    /// The compiled engine options, shared by every stream.
    pub options: Arc<RedactOptions>,
    pub skip_content_types: Vec<String>,
}

#[derive(Debug)]
pub struct Audit {
    pub chain_secret_env: Option<String>,
    /// Heartbeat interval of each VM's chain, in milliseconds.
    pub heartbeat_ms: u64,
    pub checkpoint: Option<Checkpoints>,
    /// The cluster of the self-request listener (see `envoy/audit-sinks.yaml`).
    pub self_cluster: String,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            chain_secret_env: None,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            checkpoint: None,
            self_cluster: DEFAULT_SELF_CLUSTER.to_string(),
        }
    }
}

pub const DEFAULT_HEARTBEAT_MS: u64 = 60_000;
pub const DEFAULT_SELF_CLUSTER: &str = "pci_guard_audit";
pub const DEFAULT_CHECKPOINT_MS: u64 = 60_000;
pub const DEFAULT_CHECKPOINT_EVENTS: u64 = 1000;

/// Signed checkpoints: when the chain's head is signed.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    pub signing_key_env: String,
    pub every_ms: u64,
    pub every_events: u64,
}

impl Policy {
    /// Whether any route or rule matches on Envoy's route name: if none does, the filter
    /// need not ask the host for it on every request.
    #[must_use]
    pub fn matches_route_names(&self) -> bool {
        self.routes
            .iter()
            .map(|r| &r.matcher)
            .chain(self.rules.iter().map(|r| &r.matcher))
            .any(|m| m.route_name.is_some())
    }
}
