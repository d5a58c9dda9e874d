//! Who is calling: find the token a route's providers accept, verify it (or find it in that
//! provider's verified-token cache), and hand back a [`Verified`] caller or the [`Reason`]
//! there is none.
//!
//! Every host (the plugin, the `pci-guard` command) calls this with its [`Keyring`], so
//! `pci-guard explain` decides exactly as the filter does.

use std::sync::Arc;

use super::checks::{self, Identity};
use super::extract;
use super::keyring::Keyring;
use super::provider::Provider;
use super::signature::SignatureVerifier;
use super::token;
use super::token_cache::TokenKey;
use crate::headers::Headers;
use crate::reason::Reason;

/// A caller whose token verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Index into the policy's providers.
    pub provider: usize,
    pub identity: Arc<Identity>,
    pub clock_skew_seconds: u64,
    /// Served from the verified-token cache (no signature check this time).
    pub from_cache: bool,
}

/// Authenticates a request for a route that accepts `providers` (indices, any one of them).
///
/// Each provider looks for its token in its own headers. When several find one, the token's
/// `iss` picks the provider; when none matches, the first provider's verdict stands (it will
/// say `token_bad_issuer`).
pub fn authenticate<H: Headers + ?Sized>(
    all: &[Provider],
    providers: &[usize],
    headers: &H,
    now: u64,
    keyring: &mut Keyring,
    crypto: &dyn SignatureVerifier,
) -> Result<Verified, Reason> {
    // Each token's cache key is hashed once: for the lookup and, on a miss, the insert.
    let mut found: Vec<(usize, &str, TokenKey)> = Vec::with_capacity(providers.len());
    for &i in providers {
        let Some(p) = all.get(i) else {
            continue;
        };
        match extract::extract(&p.sources, headers) {
            Ok(Some(token)) => found.push((i, token, TokenKey::new(token))),
            Ok(None) => {}
            Err(e) => return Err(e.reason()),
        }
    }
    let Some(&(first, first_token, first_key)) = found.first() else {
        return Err(Reason::TokenMissing);
    };
    for (i, _, key) in &found {
        let (Some(p), Some(store)) = (all.get(*i), keyring.store(*i)) else {
            continue;
        };
        // No keys (never fetched, or stale past max_stale): fail closed, cached or not.
        if store.keys(now).is_none() {
            continue;
        }
        if let Some(identity) = store.cached(key, now) {
            return Ok(Verified {
                provider: *i,
                identity,
                clock_skew_seconds: p.config.clock_skew_seconds,
                from_cache: true,
            });
        }
    }
    let parsed = token::parse(first_token).map_err(|e| e.reason())?;
    let (chosen, key, parsed) = if found.len() == 1 {
        (first, first_key, parsed)
    } else {
        let iss = parsed.claims.iss.clone();
        let by_issuer = found
            .iter()
            .find(|(i, _, _)| all.get(*i).map(|p| &p.config.issuer) == iss.as_ref());
        match by_issuer {
            Some(&(i, t, key)) if t == first_token => (i, key, parsed),
            Some(&(i, t, key)) => (i, key, token::parse(t).map_err(|e| e.reason())?),
            None => (first, first_key, parsed),
        }
    };
    let (Some(p), Some(store)) = (all.get(chosen), keyring.store_mut(chosen)) else {
        return Err(Reason::JwksUnavailable);
    };
    let Some(set) = store.keys(now).cloned() else {
        return Err(Reason::JwksUnavailable);
    };
    match checks::verify_parsed(&p.config, &set, parsed, now, crypto) {
        Ok(identity) => {
            let identity = Arc::new(identity);
            store.remember(key, identity.clone(), p.config.clock_skew_seconds, now);
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
                store.on_unknown_kid(now);
            }
            Err(reason)
        }
    }
}
