//! The `approvals` section as written: the approvals service's own settings, and `grants`,
//! which tells the filter how to check the grants that service signs.

use serde::Deserialize;

/// The approvals service's settings: who may sign in to it, how grants it signs are named, how
/// long requests wait, where it notifies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsSpec {
    /// The service's public base URL: the `iss` of every grant it signs and where agents ask.
    pub issuer: String,
    /// The `aud` of every grant (default `pci-guard`).
    #[serde(default)]
    pub audience: Option<String>,
    /// Providers whose tokens the service accepts from requesters and approvers.
    pub providers: Vec<String>,
    /// Claim listing the caller's groups (an array of strings), for `approver_groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// How long a request waits for its approvals before it expires (default `1h`).
    #[serde(default)]
    pub pending_ttl: Option<String>,
    /// Longest justification accepted, in bytes (default 1024).
    #[serde(default)]
    pub max_justification_bytes: Option<usize>,
    #[serde(default)]
    pub webhooks: Vec<WebhookSpec>,
    /// How the filter checks the grants the service signs.
    #[serde(default)]
    pub grants: Option<GrantsSpec>,
}

/// A notification endpoint (Slack-compatible JSON). Slack's URLs are secrets: name an
/// environment variable with `url_env` rather than writing them into the policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub url_env: Option<String>,
    /// Which events to send (default: all): `filed`, `approved`, `denied`, `expired`,
    /// `revoked`, `grant_issued`.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

/// How the filter takes grants signed by the approvals service: from which header, with which
/// keys, and how it learns of revocations. Without this section the filter counts no grant
/// from a header (the in-token `jit` claim still works).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsSpec {
    /// The request header carrying a grant (default `x-pci-guard-grant`); stripped before the
    /// request goes upstream.
    #[serde(default)]
    pub header: Option<String>,
    /// The Envoy cluster leading to the service (Istio: `outbound|443||approvals.example.com`).
    pub cluster: String,
    /// `:authority` of the calls (default: the issuer's host).
    #[serde(default)]
    pub authority: Option<String>,
    /// The grant-signing keys: fetched like a provider's `remote_jwks`.
    #[serde(default)]
    pub keys: Option<FetchSpec>,
    /// The signing keys written inline instead of fetched (air-gapped set-ups, tests).
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// The revocation list: polled; JIT checks fail closed once it is older than `max_stale`.
    #[serde(default)]
    pub revocations: Option<FetchSpec>,
}

/// One document the filter polls from the approvals service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchSpec {
    /// Default: the issuer's path followed by the service's own path.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub refresh: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub max_stale: Option<String>,
}
