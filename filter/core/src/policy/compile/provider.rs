//! Identity providers: issuer checks, where the keys come from, which algorithms, where the
//! token is read from, which claims hold scopes and which are copied to headers.

use super::Compiler;
use crate::identity::extract::TokenSource;
use crate::identity::provider::{ProviderConfig, SubjectMatch, DEFAULT_SCOPE_CLAIMS};
use crate::identity::{Alg, KeySet, KeySource, Provider, RemoteJwks};
use crate::policy::error::escape;
use crate::policy::spec::ProviderSpec;
use std::sync::Arc;

const DEFAULT_JWKS_REFRESH_MS: u64 = 5 * 60_000;
const DEFAULT_JWKS_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_JWKS_MAX_STALE_MS: u64 = 60 * 60_000;

impl Compiler {
    pub(super) fn provider(&mut self, name: String, p: ProviderSpec) -> Provider {
        let at = format!("/providers/{}", escape(&name));
        if p.issuer.is_empty() {
            self.err(format!("{at}/issuer"), "must not be empty");
        }
        let keys = match (p.jwks, p.remote_jwks) {
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
            (None, Some(r)) => {
                let ra = format!("{at}/remote_jwks");
                for (field, v) in [("cluster", &r.cluster), ("authority", &r.authority)] {
                    if v.is_empty() {
                        self.err(format!("{ra}/{field}"), "must not be empty");
                    }
                }
                if !r.path.starts_with('/') {
                    self.err(format!("{ra}/path"), "must start with '/'");
                }
                let refresh_ms = self.duration_ms(
                    &format!("{ra}/refresh"),
                    r.refresh.as_deref(),
                    DEFAULT_JWKS_REFRESH_MS,
                );
                let timeout_ms = self.duration_ms(
                    &format!("{ra}/timeout"),
                    r.timeout.as_deref(),
                    DEFAULT_JWKS_TIMEOUT_MS,
                );
                let max_stale_ms = self.duration_ms(
                    &format!("{ra}/max_stale"),
                    r.max_stale.as_deref(),
                    DEFAULT_JWKS_MAX_STALE_MS,
                );
                KeySource::Remote(RemoteJwks {
                    cluster: r.cluster,
                    authority: r.authority,
                    path: r.path,
                    refresh_ms,
                    timeout_ms,
                    max_stale_ms,
                })
            }
            (Some(_), Some(_)) => {
                self.err(
                    at.clone(),
                    "give either \"jwks\" or \"remote_jwks\", not both",
                );
                KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
            }
            (None, None) => {
                self.err(
                    at.clone(),
                    "needs keys: \"jwks\" (inline) or \"remote_jwks\"",
                );
                KeySource::Inline(Arc::new(KeySet::from_keys(Vec::new())))
            }
        };
        let algorithms: Vec<Alg> = match p.algorithms {
            None => Alg::DEFAULT_ALLOWED.to_vec(),
            Some(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/algorithms"),
                        "must list at least one algorithm",
                    );
                }
                let mut algs = Vec::new();
                for (i, a) in list.iter().enumerate() {
                    match Alg::from_name(a).filter(|_| Alg::NAMES.contains(&a.as_str())) {
                        None => self.err(
                            format!("{at}/algorithms/{i}"),
                            format!(
                                "unknown algorithm {a:?}; allowed: {}",
                                Alg::NAMES.join(", ")
                            ),
                        ),
                        Some(alg) if alg.is_hmac() && p.hmac_secret_env.is_none() => self.err(
                            format!("{at}/algorithms/{i}"),
                            format!("{a} needs a shared secret: set \"hmac_secret_env\""),
                        ),
                        Some(alg) => algs.push(alg),
                    }
                }
                let hmac = algs.iter().filter(|a| a.is_hmac()).count();
                if hmac > 0 && hmac < algs.len() {
                    self.err(
                        format!("{at}/algorithms"),
                        "mixes HS* with public-key algorithms; use one provider for each",
                    );
                }
                algs
            }
        };
        if p.hmac_secret_env.is_some() && !algorithms.iter().any(|a| a.is_hmac()) {
            self.err(
                format!("{at}/hmac_secret_env"),
                "a shared secret is set but no HS* algorithm is listed",
            );
        }
        if p.clock_skew_seconds > 300 {
            self.err(
                format!("{at}/clock_skew_seconds"),
                "at most 300: a larger skew keeps expired tokens alive",
            );
        }
        let sources = match p.from_headers {
            None => vec![TokenSource::bearer()],
            Some(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/from_headers"),
                        "must name at least one header",
                    );
                }
                list.into_iter()
                    .enumerate()
                    .map(|(i, h)| {
                        if !is_header_name(&h.name) {
                            self.err(
                                format!("{at}/from_headers/{i}/name"),
                                format!("{:?} is not a valid header name", h.name),
                            );
                        }
                        TokenSource::new(h.name, h.prefix)
                    })
                    .collect()
            }
        };
        let claim_to_headers = p
            .claim_to_headers
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if !is_header_name(&c.header) {
                    self.err(
                        format!("{at}/claim_to_headers/{i}/header"),
                        format!("{:?} is not a valid header name", c.header),
                    );
                }
                (c.claim, c.header.to_ascii_lowercase())
            })
            .collect();
        let scope_claims = match p.scope_claims {
            None => DEFAULT_SCOPE_CLAIMS.map(str::to_owned).to_vec(),
            Some(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/scope_claims"),
                        "must name at least one claim (leave it out for \"scope\" and \"scp\")",
                    );
                }
                for (i, c) in list.iter().enumerate() {
                    if c.is_empty() {
                        self.err(format!("{at}/scope_claims/{i}"), "must not be empty");
                    } else if list[..i].contains(c) {
                        self.err(
                            format!("{at}/scope_claims/{i}"),
                            format!("{c:?} is named twice"),
                        );
                    }
                }
                list
            }
        };
        let max_lifetime_seconds = p
            .max_lifetime
            .as_deref()
            .map(|s| self.duration_ms(&format!("{at}/max_lifetime"), Some(s), 0) / 1000);
        let config = ProviderConfig {
            name: name.clone(),
            issuer: p.issuer,
            audiences: p.audiences,
            subjects: p.subjects.map(|s| SubjectMatch {
                exact: s.exact,
                prefixes: s.prefixes,
            }),
            clock_skew_seconds: p.clock_skew_seconds,
            require_expiration: p.require_expiration,
            max_lifetime_seconds,
            algorithms,
            hmac_secret: None,
            scope_claims,
        };
        Provider {
            name,
            config,
            sources,
            keys,
            hmac_secret_env: p.hmac_secret_env,
            claim_to_headers,
            forward_token: p.forward_token,
        }
    }
}

pub(super) fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
