//! An identity provider as the policy compiles it: where its tokens come from, where its keys
//! come from, and the checks a token of it must pass ([`ProviderConfig`]).

use std::fmt;
use std::sync::Arc;

use super::alg::Alg;
use super::extract::TokenSource;
use super::keyset::KeySet;

/// One provider, compiled from the policy's `providers` map. Immutable once built.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    /// What [`super::checks`] enforces. `hmac_secret` is filled from `hmac_secret_env` when
    /// the policy's secrets are resolved.
    pub config: ProviderConfig,
    /// Where its tokens come from (`authorization: Bearer` by default).
    pub sources: Vec<TokenSource>,
    pub keys: KeySource,
    pub hmac_secret_env: Option<String>,
    /// `(claim, lower-case header)`.
    pub claim_to_headers: Vec<(String, String)>,
    pub forward_token: bool,
}

/// Where a provider's keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// The JWKS written in the policy, parsed at load time.
    Inline(Arc<KeySet>),
    Remote(RemoteJwks),
}

/// A key set fetched over HTTP through an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub refresh_ms: u64,
    pub timeout_ms: u64,
    pub max_stale_ms: u64,
}

/// Which subjects a provider accepts: any exact match or any prefix match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectMatch {
    pub exact: Vec<String>,
    pub prefixes: Vec<String>,
}

impl SubjectMatch {
    pub fn matches(&self, sub: &str) -> bool {
        self.exact.iter().any(|e| e == sub) || self.prefixes.iter().any(|p| sub.starts_with(p))
    }
}

/// One identity provider's rules, compiled from the policy.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub name: String,
    /// Exact `iss`. Empty means "not checked" (jwt_authn semantics); the policy should
    /// require one.
    pub issuer: String,
    /// Any one must appear in `aud`. Empty means "not checked".
    pub audiences: Vec<String>,
    pub subjects: Option<SubjectMatch>,
    pub clock_skew_seconds: u64,
    pub require_expiration: bool,
    /// Largest `exp − iat` (or `exp − nbf`, or `exp − now` without either).
    pub max_lifetime_seconds: Option<u64>,
    pub algorithms: Vec<Alg>,
    /// Shared secret for HS*; without it HS* tokens are refused whatever `algorithms` says.
    pub hmac_secret: Option<Vec<u8>>,
    /// The claims scopes are read from, in order ([`DEFAULT_SCOPE_CLAIMS`] unless the policy
    /// names others).
    pub scope_claims: Vec<String>,
}

/// Where scopes are read from unless a provider says otherwise: OAuth's `scope`
/// (space-delimited, RFC 8693) and `scp` (a list or a string, as Okta and Entra ID send it).
pub const DEFAULT_SCOPE_CLAIMS: [&str; 2] = ["scope", "scp"];

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("subjects", &self.subjects)
            .field("clock_skew_seconds", &self.clock_skew_seconds)
            .field("require_expiration", &self.require_expiration)
            .field("max_lifetime_seconds", &self.max_lifetime_seconds)
            .field("algorithms", &self.algorithms)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scope_claims", &self.scope_claims)
            .finish()
    }
}

impl ProviderConfig {
    /// A provider with the defaults: skew 60 s, `exp` required, no lifetime cap, every
    /// asymmetric algorithm, no HMAC, scopes from `scope` and `scp`.
    pub fn new(name: impl Into<String>, issuer: impl Into<String>) -> Self {
        ProviderConfig {
            name: name.into(),
            issuer: issuer.into(),
            audiences: Vec::new(),
            subjects: None,
            clock_skew_seconds: 60,
            require_expiration: true,
            max_lifetime_seconds: None,
            algorithms: Alg::DEFAULT_ALLOWED.to_vec(),
            hmac_secret: None,
            scope_claims: DEFAULT_SCOPE_CLAIMS.map(str::to_owned).to_vec(),
        }
    }

    /// Configuration mistakes, for the policy loader to report (with its JSON pointer) at
    /// load time. Empty when the provider is usable.
    pub fn problems(&self) -> Vec<ProviderProblem> {
        let mut out = Vec::new();
        let mut push =
            |field: &'static str, message: String| out.push(ProviderProblem { field, message });
        if self.name.is_empty() {
            push("name", "must not be empty".into());
        }
        if self.issuer.is_empty() {
            push(
                "issuer",
                "must be set: tokens from any issuer would do".into(),
            );
        }
        if self.algorithms.is_empty() {
            push("algorithms", "must list at least one algorithm".into());
        }
        let hmac_listed: Vec<Alg> = self
            .algorithms
            .iter()
            .copied()
            .filter(|a| a.is_hmac())
            .collect();
        match (&self.hmac_secret, hmac_listed.is_empty()) {
            (None, false) => push(
                "hmac_secret",
                "HS* algorithms are listed but no shared secret is configured".into(),
            ),
            (Some(_), true) => push(
                "algorithms",
                "a shared secret is configured but no HS* algorithm is listed".into(),
            ),
            (Some(secret), false) => {
                // RFC 7518 §3.2: a key at least as long as the hash output.
                let need = hmac_listed
                    .iter()
                    .filter_map(|a| a.fixed_signature_len())
                    .max()
                    .unwrap_or(32);
                if secret.len() < need {
                    push(
                        "hmac_secret",
                        format!("is {} bytes; HS* needs at least {need}", secret.len()),
                    );
                }
                if hmac_listed.len() != self.algorithms.len() {
                    push(
                        "algorithms",
                        "mixes HS* with public-key algorithms; use one provider for each".into(),
                    );
                }
            }
            (None, true) => {}
        }
        if self.clock_skew_seconds > 300 {
            push("clock_skew_seconds", "above 300 s".into());
        }
        if self.max_lifetime_seconds == Some(0) {
            push("max_lifetime", "must be positive".into());
        }
        out
    }

    /// Whether a token with this `alg` may be verified at all.
    pub fn allows(&self, alg: Alg) -> bool {
        self.algorithms.contains(&alg) && (!alg.is_hmac() || self.hmac_secret.is_some())
    }
}

/// One configuration mistake in a [`ProviderConfig`] (see [`ProviderConfig::problems`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderProblem {
    /// The field, as named in the policy.
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for ProviderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_problems() {
        assert!(ProviderConfig::new("p", "https://i").problems().is_empty());
        let fields = |p: &ProviderConfig| -> Vec<&'static str> {
            p.problems().iter().map(|x| x.field).collect()
        };
        let mut p = ProviderConfig::new("p", "");
        p.algorithms.push(Alg::HS256);
        assert_eq!(fields(&p), vec!["issuer", "hmac_secret"]);
        p.issuer = "https://i".into();
        p.hmac_secret = Some(vec![1; 16]);
        assert_eq!(fields(&p), vec!["hmac_secret", "algorithms"]);
        p.algorithms = vec![Alg::HS256];
        p.hmac_secret = Some(vec![1; 32]);
        assert!(p.problems().is_empty());
        // The message never repeats the secret.
        p.hmac_secret = Some(b"short-secret".to_vec());
        assert!(!format!("{:?}", p.problems()).contains("short-secret"));
    }

    #[test]
    fn provider_debug_hides_secret() {
        let mut p = ProviderConfig::new("p", "i");
        p.hmac_secret = Some(b"topsecret".to_vec());
        assert!(!format!("{p:?}").contains("topsecret"));
    }
}
