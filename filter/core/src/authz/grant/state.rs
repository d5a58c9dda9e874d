//! What a VM keeps to check grants from the header: the approvals service's keys (a
//! [`KeyStore`], fetched like a provider's), its revocation list, and the grants verified with
//! the current keys. Built when a policy with `approvals.grants` loads, dropped with it.
//!
//! An agent sends the same grant with every request of its task: a repeated grant costs one
//! SHA-256 and a lookup, not a signature check. The cache holds verified grants only (never
//! the token), is emptied whenever the keys change, and is bounded (emptied when full: a
//! stream of distinct grants costs what it would without it). The revocation list and the
//! window are checked on every request, cached or not.

use super::revocations::{Revocations, RevocationsConfig};
use super::token::{self, Refusal};
use super::{Presented, SignedGrant};
use crate::identity::error::JwtError;
use crate::identity::key_store::{KeyStore, KeyStoreConfig};
use crate::identity::signature::SignatureVerifier;
use crate::identity::token_cache::TokenKey;
use crate::identity::{Alg, KeySet, KeySource, ProviderConfig};
use crate::policy::{Approvals, GrantSettings};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug)]
pub struct GrantState {
    pub settings: Arc<GrantSettings>,
    /// The service as a token issuer: its `iss`, the grants' `aud`, ES256 only.
    config: ProviderConfig,
    pub keys: KeyStore,
    pub revocations: Revocations,
    verified: HashMap<TokenKey, Arc<SignedGrant>>,
    /// The key generation `verified` belongs to.
    verified_with: u64,
}

/// Most verified grants a VM remembers.
pub const CACHE_ENTRIES: usize = 128;

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
            verified: HashMap::new(),
            verified_with: 0,
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
        if self.verified_with != self.keys.generation() {
            self.verified.clear();
            self.verified_with = self.keys.generation();
        }
        let key = TokenKey::new(raw);
        let grant = match self.verified.get(&key) {
            Some(g) => g.clone(),
            None => match token::verify(&self.config, &keys, raw, crypto) {
                Ok(g) => {
                    if self.verified.len() >= CACHE_ENTRIES {
                        self.verified.clear();
                    }
                    let g = Arc::new(g);
                    self.verified.insert(key, g.clone());
                    g
                }
                Err(e) => {
                    if matches!(e, Refusal::Token(JwtError::UnknownKid)) {
                        self.keys.on_unknown_kid(now);
                    }
                    return Presented::Refused(e.reason());
                }
            },
        };
        match self.revocations.check(&grant.id, now) {
            Ok(()) => Presented::Verified(grant),
            Err(true) => Presented::Withheld(grant, Refusal::Revoked.reason()),
            Err(false) => Presented::Withheld(grant, Refusal::RevocationsStale.reason()),
        }
    }
}

#[cfg(test)]
mod tests;
