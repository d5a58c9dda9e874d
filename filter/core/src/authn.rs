//! Who is calling: find the token a route's providers accept, verify it (or find it in the
//! verified-token cache), and hand authorization a [`Verified`] caller or the [`Reason`] there
//! is none.
//!
//! Shared by the plugin and the `pci-guard` command, so `pci-guard explain` decides exactly
//! as the filter does. Key material comes through [`Keys`]: the plugin backs it with its
//! per-VM key stores (inline, or fetched and shared between VMs), the command with files.

use crate::authz::Caller;
use crate::crypto::SignatureVerifier;
use crate::extractor;
use crate::jwks::KeySet;
use crate::jwt;
use crate::jwt_cache::{JwtCache, TokenKey};
use crate::policy::Policy;
use crate::reason::Reason;
use crate::verify::{self, Identity};
use std::sync::Arc;

/// Key sets by provider index, as of `now`.
pub trait Keys {
    /// The usable key set, or `None` when there are no keys or they are stale past
    /// `max_stale` (→ `jwks_unavailable`).
    fn keys(&self, provider: usize, now: u64) -> Option<Arc<KeySet>>;
    /// A token named a `kid` no key has: the owner may refetch (rate-limited).
    fn unknown_kid(&mut self, provider: usize, now: u64);
}

/// A caller whose token verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Index into [`Policy::providers`].
    pub provider: usize,
    pub identity: Arc<Identity>,
    pub clock_skew_seconds: u64,
    /// Served from the verified-token cache (no signature check this time).
    pub from_cache: bool,
}

impl Caller for Verified {
    fn subject(&self) -> Option<&str> {
        self.identity.sub.as_deref()
    }
    fn has_scope(&self, scope: &str) -> bool {
        self.identity.scopes.iter().any(|s| s == scope)
    }
    fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.identity.claims.get(name)
    }
    fn clock_skew_seconds(&self) -> u64 {
        self.clock_skew_seconds
    }
}

/// Authenticates a request for a route that accepts `providers` (indices, any one of them).
///
/// Each provider looks for its token in its own headers. When several find one, the token's
/// `iss` picks the provider; when none matches, the first provider's verdict stands (it will
/// say `token_bad_issuer`).
pub fn authenticate(
    policy: &Policy,
    providers: &[usize],
    headers: &[(String, String)],
    now: u64,
    keys: &mut dyn Keys,
    cache: &mut JwtCache,
    crypto: &dyn SignatureVerifier,
) -> Result<Verified, Reason> {
    // Each token's cache key is hashed once: for the lookup and, on a miss, the insert.
    let mut found: Vec<(usize, &str, TokenKey)> = Vec::with_capacity(providers.len());
    for &i in providers {
        let Some(p) = policy.providers.get(i) else {
            continue;
        };
        match extractor::extract(&p.sources, headers) {
            Ok(Some(token)) => found.push((i, token, TokenKey::new(&p.name, token))),
            Ok(None) => {}
            Err(e) => return Err(e.reason()),
        }
    }
    let Some(&(first, first_token, first_key)) = found.first() else {
        return Err(Reason::TokenMissing);
    };
    for (i, _, key) in &found {
        let p = &policy.providers[*i];
        // No keys (never fetched, or stale past max_stale): fail closed, cached or not.
        if keys.keys(*i, now).is_none() {
            continue;
        }
        if let Some(identity) = cache.get(key, now) {
            return Ok(Verified {
                provider: *i,
                identity,
                clock_skew_seconds: p.config.clock_skew_seconds,
                from_cache: true,
            });
        }
    }
    let parsed = jwt::parse(first_token).map_err(|e| e.reason())?;
    let (chosen, key, parsed) = if found.len() == 1 {
        (first, first_key, parsed)
    } else {
        let iss = parsed.claims.iss.clone();
        let by_issuer = found
            .iter()
            .find(|(i, _, _)| Some(&policy.providers[*i].config.issuer) == iss.as_ref());
        match by_issuer {
            Some(&(i, t, key)) if t == first_token => (i, key, parsed),
            Some(&(i, t, key)) => (i, key, jwt::parse(t).map_err(|e| e.reason())?),
            None => (first, first_key, parsed),
        }
    };
    let p = &policy.providers[chosen];
    let Some(set) = keys.keys(chosen, now) else {
        return Err(Reason::JwksUnavailable);
    };
    match verify::verify_parsed(&p.config, &set, parsed, now, crypto) {
        Ok(identity) => {
            let identity = Arc::new(identity);
            cache.insert(key, identity.clone(), p.config.clock_skew_seconds, now);
            Ok(Verified {
                provider: chosen,
                identity,
                clock_skew_seconds: p.config.clock_skew_seconds,
                from_cache: false,
            })
        }
        Err(e) => {
            let reason = e.reason();
            if reason == Reason::TokenUnknownKid {
                keys.unknown_kid(chosen, now);
            }
            Err(reason)
        }
    }
}

/// [`Keys`] for inline key sets only (remote providers have none): the `pci-guard` command
/// and tests. `overrides` stands in for remote key sets (`pci-guard explain --jwks`).
pub struct InlineKeys {
    sets: Vec<Option<Arc<KeySet>>>,
}

impl InlineKeys {
    pub fn new(policy: &Policy, remote_stand_in: Option<Arc<KeySet>>) -> Self {
        let sets = policy
            .providers
            .iter()
            .map(|p| match &p.keys {
                crate::policy::KeySource::Inline(k) => Some(k.clone()),
                crate::policy::KeySource::Remote(_) => remote_stand_in.clone(),
            })
            .collect();
        Self { sets }
    }
}

impl Keys for InlineKeys {
    fn keys(&self, provider: usize, _now: u64) -> Option<Arc<KeySet>> {
        self.sets.get(provider).cloned().flatten()
    }
    fn unknown_kid(&mut self, _provider: usize, _now: u64) {}
}
