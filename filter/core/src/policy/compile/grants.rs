//! `approvals.grants`: how the filter takes the grants the approvals service signs. The keys
//! and the revocation list are fetched through one Envoy cluster; their paths default to the
//! service's own under the issuer's path, the authority to the issuer's host.

use super::provider::is_header_name;
use super::Compiler;
use crate::identity::{KeySet, KeySource, RemoteJwks};
use crate::policy::model::GrantSettings;
use crate::policy::spec::{FetchSpec, GrantsSpec};
use std::sync::Arc;

/// The header that carries a grant when the policy does not say.
pub const DEFAULT_GRANT_HEADER: &str = "x-pci-guard-grant";
/// The service's key set, under the issuer's path.
pub const KEYS_PATH: &str = "/.well-known/jwks.json";
/// The service's revocation list, under the issuer's path.
pub const REVOCATIONS_PATH: &str = "/v1/revocations";
/// The names the filter shares the service's keys and revocation list under, beside the
/// providers' key sets (and in logs and metrics): no provider may take them.
pub const GRANT_KEYS_NAME: &str = "approvals-keys";
pub const GRANT_REVOCATIONS_NAME: &str = "approvals-revocations";

const DEFAULT_KEYS_REFRESH_MS: u64 = 5 * 60_000;
const DEFAULT_KEYS_MAX_STALE_MS: u64 = 60 * 60_000;
/// A revoked grant is refused within one refresh.
pub const DEFAULT_REVOCATIONS_REFRESH_MS: u64 = 5_000;
/// Six missed polls: a restart of the service passes, an outage does not.
pub const DEFAULT_REVOCATIONS_MAX_STALE_MS: u64 = 30_000;
const DEFAULT_TIMEOUT_MS: u64 = 2_000;

/// `https://host:port/base` → (`host:port`, `/base`); the issuer was checked before.
fn split_issuer(issuer: &str) -> (&str, &str) {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

impl Compiler {
    /// `token_headers`: the headers providers read tokens from; a grant header among them
    /// would be taken for an access token.
    pub(super) fn grants(
        &mut self,
        g: GrantsSpec,
        issuer: &str,
        providers: &[&str],
        token_headers: &[&str],
    ) -> Arc<GrantSettings> {
        let at = "/approvals/grants";
        for p in providers {
            if [GRANT_KEYS_NAME, GRANT_REVOCATIONS_NAME].contains(p) {
                self.err(
                    format!("/providers/{p}"),
                    "is the name the grants' keys and revocation list are shared under; rename the provider",
                );
            }
        }
        let header = g
            .header
            .unwrap_or_else(|| DEFAULT_GRANT_HEADER.to_string())
            .to_ascii_lowercase();
        if !is_header_name(&header) || header.starts_with(':') {
            self.err(
                format!("{at}/header"),
                format!("{header:?} is not a header name"),
            );
        } else if header == "authorization" || token_headers.contains(&header.as_str()) {
            self.err(
                format!("{at}/header"),
                format!("{header:?} is where a provider reads access tokens; name another header"),
            );
        }
        if g.cluster.is_empty() {
            self.err(
                format!("{at}/cluster"),
                "must name the Envoy cluster of the approvals service",
            );
        }
        let (host, base) = split_issuer(issuer);
        let authority = g.authority.unwrap_or_else(|| host.to_string());
        if authority.is_empty() {
            self.err(format!("{at}/authority"), "must not be empty");
        }
        let mut fetch = |name: &str, spec: Option<FetchSpec>, path: &str, refresh, stale| {
            let at = format!("{at}/{name}");
            let spec = spec.unwrap_or_default();
            let path = spec.path.unwrap_or_else(|| format!("{base}{path}"));
            if !path.starts_with('/') {
                self.err(format!("{at}/path"), "must start with '/'");
            }
            let refresh_ms =
                self.duration_ms(&format!("{at}/refresh"), spec.refresh.as_deref(), refresh);
            let timeout_ms = self.duration_ms(
                &format!("{at}/timeout"),
                spec.timeout.as_deref(),
                DEFAULT_TIMEOUT_MS,
            );
            let max_stale_ms =
                self.duration_ms(&format!("{at}/max_stale"), spec.max_stale.as_deref(), stale);
            if max_stale_ms <= refresh_ms {
                self.err(
                    format!("{at}/max_stale"),
                    format!(
                        "must be longer than refresh ({refresh_ms} ms), or every copy is stale before the next poll"
                    ),
                );
            }
            RemoteJwks {
                cluster: g.cluster.clone(),
                authority: authority.clone(),
                path,
                refresh_ms,
                timeout_ms,
                max_stale_ms,
            }
        };
        let revocations = fetch(
            "revocations",
            g.revocations,
            REVOCATIONS_PATH,
            DEFAULT_REVOCATIONS_REFRESH_MS,
            DEFAULT_REVOCATIONS_MAX_STALE_MS,
        );
        let keys = match (g.jwks, g.keys) {
            (Some(_), Some(_)) => {
                self.err(
                    at,
                    "give either \"jwks\" (inline) or \"keys\" (fetched), not both",
                );
                KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
            }
            (Some(inline), None) => match KeySet::from_json(&inline) {
                Ok(ks) => KeySource::Inline(Arc::new(ks)),
                Err(e) => {
                    self.err(
                        format!("{at}/jwks"),
                        format!("not a usable JSON Web Key Set: {e}"),
                    );
                    KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
                }
            },
            (None, keys) => KeySource::Remote(fetch(
                "keys",
                keys,
                KEYS_PATH,
                DEFAULT_KEYS_REFRESH_MS,
                DEFAULT_KEYS_MAX_STALE_MS,
            )),
        };
        Arc::new(GrantSettings {
            header,
            keys,
            revocations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_issuer;

    #[test]
    fn the_issuer_gives_the_authority_and_the_base_path() {
        assert_eq!(split_issuer("https://a.example.com"), ("a.example.com", ""));
        assert_eq!(
            split_issuer("http://127.0.0.1:8787/jit"),
            ("127.0.0.1:8787", "/jit")
        );
    }
}
