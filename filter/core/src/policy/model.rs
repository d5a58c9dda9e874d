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
    /// The approvals service's settings; `None` when the policy has no `approvals` section.
    pub approvals: Option<Approvals>,
    /// The most request-body bytes read to find an operation (`operations.max_body_bytes`).
    pub max_body_bytes: usize,
    /// RFC 9728 metadata, when the policy publishes it (`protected_resource`).
    pub protected_resource: Option<ProtectedResource>,
}

/// What `/.well-known/oauth-protected-resource` says (RFC 9728 §2).
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    /// `None`: the URL the client used.
    pub resource: Option<String>,
    pub resource_name: Option<String>,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
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
    /// Subjects allowed to approve; `None` (and no groups): anyone but the requester.
    pub approvers: Option<Vec<String>>,
    /// Groups (values of [`Approvals::groups_claim`]) whose members may approve, besides
    /// [`Self::approvers`]. Enforced by the approvals service.
    pub approver_groups: Vec<String>,
}

impl JitRequirement {
    /// Whether the policy names who may approve (subjects or groups), rather than anyone.
    pub fn names_approvers(&self) -> bool {
        self.approvers.is_some() || !self.approver_groups.is_empty()
    }
}

/// The approvals service's settings (`approvals` in the policy).
#[derive(Debug, Clone)]
pub struct Approvals {
    /// `iss` of the grants the service signs, and its public base URL.
    pub issuer: String,
    /// Where access is asked for: `<issuer>/v1/requests`, named in 403 answers.
    pub requests_url: String,
    /// `aud` of the grants.
    pub audience: String,
    /// Indices into [`Policy::providers`] whose tokens the service accepts.
    pub providers: Vec<usize>,
    pub groups_claim: Option<String>,
    pub pending_ttl_seconds: u64,
    pub max_justification_bytes: usize,
    pub webhooks: Vec<Webhook>,
    /// How the filter checks the grants the service signs; `None`: it counts none from a
    /// header.
    pub grants: Option<Arc<GrantSettings>>,
}

/// How the filter takes grants (`approvals.grants`).
#[derive(Debug)]
pub struct GrantSettings {
    /// The lower-case request header that carries a grant.
    pub header: String,
    /// The grant-signing keys: inline, or fetched from the service like a remote JWKS.
    pub keys: KeySource,
    /// Where and how often the revocation list is polled; older than its `max_stale_ms`, no
    /// grant from the header counts.
    pub revocations: RemoteJwks,
}

/// Where a webhook's URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookUrl {
    Literal(String),
    /// An environment variable, read by the service when it starts.
    Env(String),
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: WebhookUrl,
    /// Event names it receives; empty: all.
    pub events: Vec<String>,
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

    /// Every matcher: routes in order, then rules.
    pub fn matchers(&self) -> impl Iterator<Item = &Matcher> {
        self.routes
            .iter()
            .map(|r| &r.matcher)
            .chain(self.rules.iter().map(|r| &r.matcher))
    }
}
