//! What a VM keeps to check grants from the header: the approvals service's keys (a
//! [`KeyStore`], fetched like a provider's) and its revocation list. Built when a policy with
//! `approvals.grants` loads, dropped with it.

use super::revocations::{Revocations, RevocationsConfig};
use super::token::{self, Refusal};
use super::Presented;
use crate::identity::error::JwtError;
use crate::identity::key_store::{KeyStore, KeyStoreConfig};
use crate::identity::signature::SignatureVerifier;
use crate::identity::{Alg, KeySet, KeySource, ProviderConfig};
use crate::policy::{Approvals, GrantSettings};
use std::sync::Arc;

#[derive(Debug)]
pub struct GrantState {
    pub settings: Arc<GrantSettings>,
    /// The service as a token issuer: its `iss`, the grants' `aud`, ES256 only.
    config: ProviderConfig,
    pub keys: KeyStore,
    pub revocations: Revocations,
}

fn secs(ms: u64) -> u64 {
    (ms / 1000).max(1)
}

impl GrantState {
    /// `None` when the policy takes no grants from a header.
    pub fn for_policy(approvals: Option<&Approvals>) -> Option<Self> {
        let a = approvals?;
        let settings = a.grants.clone()?;
        let mut config = ProviderConfig::new("approvals", a.issuer.clone());
        config.audiences = vec![a.audience.clone()];
        config.algorithms = vec![Alg::ES256];
        let keys = match &settings.keys {
            KeySource::Inline(set) => KeyStore::fixed(KeySet::clone(set)),
            KeySource::Remote(r) => KeyStore::new(KeyStoreConfig {
                refresh_secs: secs(r.refresh_ms),
                max_stale_secs: secs(r.max_stale_ms),
                retry_secs: 1,
                unknown_kid_interval_secs: secs(r.refresh_ms).min(30),
                fetch_timeout_secs: r.timeout_ms.div_ceil(1000).max(1),
                cache_entries: 1,
            }),
        };
        let r = &settings.revocations;
        let revocations = Revocations::new(RevocationsConfig {
            refresh_secs: secs(r.refresh_ms),
            max_stale_secs: secs(r.max_stale_ms),
            retry_secs: 1,
            fetch_timeout_secs: r.timeout_ms.div_ceil(1000).max(1),
        });
        Some(Self {
            settings,
            config,
            keys,
            revocations,
        })
    }

    /// The header grants come in.
    pub fn header(&self) -> &str {
        &self.settings.header
    }

    /// Checks the grant header's value at `now` (Unix seconds). An unknown `kid` asks for an
    /// early key refetch (rate-limited), as for access tokens.
    pub fn verify(&mut self, raw: &str, now: u64, crypto: &dyn SignatureVerifier) -> Presented {
        let Some(keys) = self.keys.keys(now).cloned() else {
            return Presented::Refused(Refusal::Token(JwtError::NoKeys).reason());
        };
        match token::verify(&self.config, &keys, &self.revocations, raw, now, crypto) {
            Ok(g) => Presented::Verified(Box::new(g)),
            Err(e) => {
                if matches!(e, Refusal::Token(JwtError::UnknownKid)) {
                    self.keys.on_unknown_kid(now);
                }
                Presented::Refused(e.reason())
            }
        }
    }
}

#[cfg(test)]
mod tests;
