//! The policy as written: the serde model of the JSON document (Istio `pluginConfig`, Envoy
//! `configuration`). Every struct rejects unknown fields, so a typo in security configuration
//! is an error, not a silently ignored line. `policy-schema/policy.schema.json` describes the
//! same document; a test keeps the two in agreement.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::BTreeMap;

mod approvals;
pub use approvals::{ApprovalsSpec, FetchSpec, GrantsSpec, WebhookSpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Where editors find the JSON Schema; ignored by the filter.
    #[serde(default, rename = "$schema")]
    pub schema: Option<String>,
    /// The operator's name for this policy revision; it is copied into every audit event.
    pub version: String,
    #[serde(default)]
    pub mode: Mode,
    /// What happens to a request that matches no route.
    #[serde(default)]
    pub default: DefaultAction,
    /// Paths with dot segments, `//`, encoded slashes and the like: rejected with 400 unless
    /// set to `allow`.
    #[serde(default)]
    pub noncanonical_paths: NoncanonicalPaths,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSpec>,
    #[serde(default)]
    pub jit: JitSettingsSpec,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    #[serde(default)]
    pub redaction: RedactionSpec,
    #[serde(default)]
    pub audit: AuditSpec,
    /// The approvals service (`pci-guard-approvals`) that files, approves and signs
    /// just-in-time grants; the service reads the same file. The filter reads its `grants`.
    #[serde(default)]
    pub approvals: Option<ApprovalsSpec>,
    /// How request bodies are read for operation matchers.
    #[serde(default)]
    pub operations: OperationsSpec,
    /// RFC 9728 protected-resource metadata, answered at
    /// `/.well-known/oauth-protected-resource` and named in `WWW-Authenticate` challenges.
    #[serde(default)]
    pub protected_resource: Option<ProtectedResourceSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsSpec {
    /// The most request-body bytes read to find the operation (default 64 KiB); a larger
    /// body on a route that needs it is refused with 413.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectedResourceSpec {
    /// The resource identifier (an https URL); default: the URL the client used.
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Default: the issuers of the providers the routes accept.
    #[serde(default)]
    pub authorization_servers: Option<Vec<String>>,
    /// Default: every scope the routes and rules name.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    /// Nothing is blocked; audit events say what would have been (`would_deny`).
    DryRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAction {
    #[default]
    Deny,
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoncanonicalPaths {
    #[default]
    Reject,
    Allow,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub issuer: String,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub subjects: Option<SubjectsSpec>,
    /// Inline JSON Web Key Set.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub remote_jwks: Option<RemoteJwksSpec>,
    #[serde(default)]
    pub from_headers: Option<Vec<HeaderSourceSpec>>,
    #[serde(default = "default_clock_skew")]
    pub clock_skew_seconds: u64,
    #[serde(default = "default_true")]
    pub require_expiration: bool,
    #[serde(default)]
    pub max_lifetime: Option<String>,
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    /// Name of an environment variable (Istio `vmConfig.env`) holding an HS* shared secret.
    /// Shared secrets are off unless this is set.
    #[serde(default)]
    pub hmac_secret_env: Option<String>,
    #[serde(default)]
    pub claim_to_headers: Vec<ClaimToHeaderSpec>,
    /// The claims a token's scopes are read from (default `scope` and `scp`), each a
    /// space-delimited string or an array of strings: Entra ID app roles are `roles`.
    #[serde(default)]
    pub scope_claims: Option<Vec<String>>,
    /// Keep the token on the request sent upstream (jwt_authn's `forward`); default: strip it.
    #[serde(default)]
    pub forward_token: bool,
}

fn default_clock_skew() -> u64 {
    60
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectsSpec {
    #[serde(default)]
    pub exact: Vec<String>,
    #[serde(default)]
    pub prefixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteJwksSpec {
    /// Envoy cluster that serves the key set (Istio: `outbound|443||idp.example.com`).
    pub cluster: String,
    pub authority: String,
    pub path: String,
    #[serde(default)]
    pub refresh: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub max_stale: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSourceSpec {
    pub name: String,
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimToHeaderSpec {
    pub claim: String,
    pub header: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitSettingsSpec {
    /// The token claim that carries a just-in-time grant.
    #[serde(default = "default_jit_claim")]
    pub claim: String,
}

impl Default for JitSettingsSpec {
    fn default() -> Self {
        Self {
            claim: default_jit_claim(),
        }
    }
}

fn default_jit_claim() -> String {
    "jit".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub action: RuleAction,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub max_ttl: Option<String>,
    #[serde(default)]
    pub min_approvals: Option<u32>,
    #[serde(default)]
    pub approvers: Option<Vec<String>>,
    /// Groups (values of `approvals.groups_claim`) whose members may approve.
    #[serde(default)]
    pub approver_groups: Option<Vec<String>>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Deny,
    RequireApproval,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// Exact path, or a template: `{name}` and `*` match one segment, a final `**` the rest.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// `package.Service/Method` or `package.Service/*`; only gRPC requests match.
    #[serde(default)]
    pub grpc: Option<String>,
    /// Envoy route name (`xds.route_name`).
    #[serde(default)]
    pub route_name: Option<String>,
    /// JSON-RPC calls (MCP): read from the request body.
    #[serde(default)]
    pub jsonrpc: Option<JsonRpcMatchSpec>,
    /// GraphQL operations: read from the request body (or a GET's query string).
    #[serde(default)]
    pub graphql: Option<GraphQlMatchSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRpcMatchSpec {
    /// Method globs (`tools/call`, `tools/*`).
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// MCP tool-name globs: only `tools/call` requests naming one match.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphQlMatchSpec {
    /// `query`, `mutation`, `subscription`.
    #[serde(default)]
    pub types: Option<Vec<crate::operation::OpKind>>,
    /// Operation-name globs.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// Root-field globs (a route: every root field; a rule: any).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Persisted-query SHA-256 hashes (hex).
    #[serde(default)]
    pub hashes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    pub auth: AuthSpec,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub jit: Option<JitRequirementSpec>,
    #[serde(default)]
    pub redaction: Option<RouteRedactionSpec>,
}

/// `"public"`, or the providers a route accepts (any one of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSpec {
    Public,
    AnyOf(Vec<String>),
}

impl<'de> Deserialize<'de> for AuthSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "public" => Ok(AuthSpec::Public),
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(de::Error::custom("provider names must be strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(AuthSpec::AnyOf),
            _ => Err(de::Error::custom(
                "expected \"public\" or a list of provider names, e.g. [\"corp-idp\"]",
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitRequirementSpec {
    #[serde(default = "default_true")]
    pub required: bool,
    pub max_ttl: String,
    #[serde(default = "default_one")]
    pub min_approvals: u32,
    #[serde(default)]
    pub approvers: Option<Vec<String>>,
    /// Groups (values of `approvals.groups_claim`) whose members may approve.
    #[serde(default)]
    pub approver_groups: Option<Vec<String>>,
}

fn default_one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRedactionSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub skip_content_types: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub pan: PanSpec,
    #[serde(default)]
    pub cvv: CvvSpec,
    #[serde(default = "default_true")]
    pub track_data: bool,
    #[serde(default)]
    pub skip_content_types: Option<Vec<String>>,
    #[serde(default)]
    pub undecodable: Undecodable,
}

impl Default for RedactionSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            pan: PanSpec::default(),
            cvv: CvvSpec::default(),
            track_data: true,
            skip_content_types: None,
            undecodable: Undecodable::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanSpec {
    #[serde(default)]
    pub keep: Keep,
    #[serde(default = "default_mask_char")]
    pub mask_char: String,
    /// `"all"` or a list of brand names.
    #[serde(default)]
    pub brands: Option<serde_json::Value>,
}

impl Default for PanSpec {
    fn default() -> Self {
        Self {
            keep: Keep::default(),
            mask_char: default_mask_char(),
            brands: None,
        }
    }
}

fn default_mask_char() -> String {
    "*".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    #[default]
    Last4,
    First6Last4,
    NoneKept,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CvvSpec {
    /// `"default"` or a list of key names (case-insensitive).
    #[serde(default)]
    pub keys: Option<serde_json::Value>,
    /// Keys added to the default list.
    #[serde(default)]
    pub extra_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undecodable {
    /// Answer 502 (or reset if headers already left): clear card data never passes.
    #[default]
    Reject,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    /// Environment variable holding the key of the audit hash chain.
    #[serde(default)]
    pub chain_secret_env: Option<String>,
    /// How often each VM writes a heartbeat record (default 60s).
    #[serde(default)]
    pub heartbeat: Option<String>,
    /// Signed checkpoints of each VM's chain.
    #[serde(default)]
    pub checkpoint: Option<CheckpointSpec>,
    /// The cluster that leads to the listener the VM writes its own records through
    /// (default `pci_guard_audit`).
    #[serde(default)]
    pub self_cluster: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// Environment variable holding the Ed25519 signing key (PKCS#8 PEM).
    pub signing_key_env: String,
    /// The most time between two checkpoints while the chain grows (default 60s).
    #[serde(default)]
    pub every: Option<String>,
    /// A checkpoint also once this many lines were written since the last (default 1000).
    #[serde(default)]
    pub every_events: Option<u64>,
}
