//! The policy: parsed from JSON, validated with errors that name the field (as a JSON
//! pointer), and compiled once into immutable structures the request path only reads.
//!
//! [`Policy::parse`] is the one entry point: the plugin calls it in `on_configure`, the
//! `pci-guard` command in `policy check` and `explain`. A policy that does not pass is never
//! half-applied: the caller gets every error found, and the plugin refuses to start.
//!
//! - [`spec`]: the document as written (serde, unknown fields rejected).
//! - `compile`: spec → model, collecting every error with its pointer.
//! - `model`: the compiled [`Policy`] the request path reads.
//! - `error`: [`PolicyError`] and the JSON-pointer helpers.
//! - [`lint`]: warnings for `policy check` about policies that load but look wrong.

mod compile;
pub mod duration;
mod error;
pub mod lint;
mod model;
pub mod spec;

pub use crate::identity::ProviderConfig;
pub use compile::approvals::{
    DEFAULT_GRANT_AUDIENCE, DEFAULT_MAX_JUSTIFICATION_BYTES, DEFAULT_PENDING_TTL_SECONDS,
    MAX_JUSTIFICATION_BYTES, WEBHOOK_EVENTS,
};
pub use compile::grants::{
    DEFAULT_GRANT_HEADER, DEFAULT_REVOCATIONS_MAX_STALE_MS, DEFAULT_REVOCATIONS_REFRESH_MS,
    GRANT_KEYS_NAME, GRANT_REVOCATIONS_NAME, KEYS_PATH, REVOCATIONS_PATH,
};
pub use error::{PolicyError, PolicyErrors};
pub use model::{
    Approvals, Audit, Auth, Checkpoints, GrantSettings, JitRequirement, KeySource, Policy,
    ProtectedResource, Provider, Redaction, RemoteJwks, Route, Rule, Webhook, WebhookUrl,
    DEFAULT_SELF_CLUSTER,
};
pub use spec::{DefaultAction, Keep, Mode, NoncanonicalPaths, RuleAction};

/// Largest policy document accepted, in bytes. A policy is configuration, but a generated one
/// can grow unnoticed, and each VM holds it in memory.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Most routes in a policy: every request walks the list (first match wins).
pub const MAX_ROUTES: usize = 1024;
/// Most operation rules in a policy: every request walks the list.
pub const MAX_RULES: usize = 1024;
/// Most identity providers: each may hold a key set (at most `jwks::MAX_KEYS` keys).
pub const MAX_PROVIDERS: usize = 32;

impl Policy {
    /// Parses, validates and compiles a policy from its JSON text.
    pub fn parse(json: &[u8]) -> Result<Policy, PolicyErrors> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(PolicyErrors::document(format!(
                "the policy is {} bytes, more than the {MAX_POLICY_BYTES} allowed",
                json.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| PolicyErrors::document(format!("not valid JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Compiles a policy already parsed as JSON (e.g. converted from YAML).
    pub fn from_value(value: &serde_json::Value) -> Result<Policy, PolicyErrors> {
        let spec: spec::PolicySpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let pointer = error::pointer_of(e.path());
            let message = error::strip_position(&e.inner().to_string());
            PolicyErrors(vec![PolicyError { pointer, message }])
        })?;
        // serde_json's map keeps keys sorted, so this is the canonical form.
        let canonical = serde_json::to_vec(value).unwrap_or_default();
        let digest = crate::digest::sha256(&canonical);
        compile::compile(spec, digest)
    }

    /// Reads the shared secrets that `hmac_secret_env` names, through `env` (the VM's or the
    /// shell's environment). A named variable that is missing or too short is an error: a
    /// provider must never silently run without the secret it was configured with.
    pub fn resolve_secrets(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), PolicyErrors> {
        let mut errors = Vec::new();
        for p in &mut self.providers {
            let Some(var) = &p.hmac_secret_env else {
                continue;
            };
            let at = format!("/providers/{}/hmac_secret_env", error::escape(&p.name));
            match env(var) {
                Some(v) if !v.is_empty() => p.config.hmac_secret = Some(v.into_bytes()),
                _ => {
                    errors.push(PolicyError {
                        pointer: at,
                        message: format!("the environment variable {var} is not set"),
                    });
                    continue;
                }
            }
            for problem in p.config.problems() {
                errors.push(PolicyError {
                    pointer: at.clone(),
                    message: format!("{}: {}", problem.field, problem.message),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests;
