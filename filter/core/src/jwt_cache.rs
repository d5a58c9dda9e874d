//! The verified-token cache, one per VM: a repeated token costs one SHA-256 and a lookup
//! instead of a signature check.
//!
//! - Key: SHA-256 over `provider name ‖ 0x00 ‖ token`. The token itself is never stored.
//! - Lifetime: an entry is served only while `nbf − skew ≤ now < exp`: never past `exp`
//!   (stricter than verification, which allows `exp + skew`), and tokens without `exp` are
//!   not cached at all.
//! - Bound: at most `capacity` entries. When full, expired entries are swept; if none
//!   expired, the oldest insertion goes (an O(capacity) scan, only on a full insert).
//! - The glue must [`JwtCache::clear`] it when the policy (providers) changes, and should
//!   [`JwtCache::clear_provider`] when a provider's key set changes (its
//!   [`crate::key_store::KeyStore::generation`] moves): otherwise tokens signed by a key
//!   that was just removed (rotated out, or compromised) would live on until their `exp`,
//!   as they do in jwt_authn. The cost is one signature check per distinct token per key
//!   refresh.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::verify::Identity;

/// jwt_authn keeps 100; we default a little higher for several agents per VM.
pub const DEFAULT_CAPACITY: usize = 256;

#[derive(Debug)]
struct Entry {
    identity: Arc<Identity>,
    valid_from: u64,
    valid_until: u64,
    seq: u64,
}

/// See the module docs.
#[derive(Debug)]
pub struct JwtCache {
    map: HashMap<[u8; 32], Entry>,
    capacity: usize,
    seq: u64,
}

impl Default for JwtCache {
    fn default() -> Self {
        JwtCache::new(DEFAULT_CAPACITY)
    }
}

fn cache_key(provider: &str, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(provider.as_bytes());
    h.update([0u8]);
    h.update(token.as_bytes());
    h.finalize().into()
}

impl JwtCache {
    pub fn new(capacity: usize) -> Self {
        JwtCache {
            map: HashMap::with_capacity(capacity.min(1024)),
            capacity,
            seq: 0,
        }
    }

    /// The identity for a token verified earlier for `provider`, if still within its
    /// validity at `now`.
    pub fn get(&self, provider: &str, token: &str, now: u64) -> Option<Arc<Identity>> {
        let e = self.map.get(&cache_key(provider, token))?;
        (e.valid_from <= now && now < e.valid_until).then(|| Arc::clone(&e.identity))
    }

    /// Remembers a token that `verify` accepted at `now` with the provider's
    /// `clock_skew_seconds`. Tokens without `exp`, or already at/after it, are not kept.
    pub fn insert(
        &mut self,
        provider: &str,
        token: &str,
        identity: Arc<Identity>,
        clock_skew_seconds: u64,
        now: u64,
    ) {
        let Some(exp) = identity.exp else {
            return;
        };
        if now >= exp || self.capacity == 0 {
            return;
        }
        let key = cache_key(provider, token);
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            self.make_room(now);
        }
        self.seq += 1;
        let valid_from = identity
            .nbf
            .map_or(0, |nbf| nbf.saturating_sub(clock_skew_seconds));
        self.map.insert(
            key,
            Entry {
                identity,
                valid_from,
                valid_until: exp,
                seq: self.seq,
            },
        );
        debug_assert!(self.map.len() <= self.capacity);
    }

    fn make_room(&mut self, now: u64) {
        self.map.retain(|_, e| now < e.valid_until);
        if self.map.len() < self.capacity {
            return;
        }
        if let Some(oldest) = self.map.iter().min_by_key(|(_, e)| e.seq).map(|(k, _)| *k) {
            self.map.remove(&oldest);
        }
    }

    /// Drops every entry of one provider (its key set changed).
    pub fn clear_provider(&mut self, provider: &str) {
        self.map.retain(|_, e| e.identity.provider != provider);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(exp: Option<u64>, nbf: Option<u64>) -> Arc<Identity> {
        Arc::new(Identity {
            provider: "p".into(),
            iss: None,
            sub: Some("s".into()),
            azp: None,
            jti: None,
            kid: None,
            alg: "RS256",
            aud: vec![],
            exp,
            iat: None,
            nbf,
            scopes: vec![],
            claims: Default::default(),
        })
    }

    #[test]
    fn expires_exactly_at_exp() {
        let mut c = JwtCache::default();
        c.insert("p", "t", ident(Some(100), None), 60, 50);
        assert!(c.get("p", "t", 99).is_some());
        assert!(c.get("p", "t", 100).is_none());
        assert!(c.get("p", "t", 1000).is_none());
    }

    #[test]
    fn respects_nbf_with_skew() {
        let mut c = JwtCache::default();
        c.insert("p", "t", ident(Some(1000), Some(500)), 60, 450);
        assert!(c.get("p", "t", 439).is_none());
        assert!(c.get("p", "t", 440).is_some());
    }

    #[test]
    fn no_exp_or_expired_is_not_cached() {
        let mut c = JwtCache::default();
        c.insert("p", "t", ident(None, None), 60, 50);
        c.insert("p", "u", ident(Some(50), None), 60, 50);
        assert!(c.is_empty());
    }

    #[test]
    fn different_provider_misses() {
        let mut c = JwtCache::default();
        c.insert("p", "t", ident(Some(100), None), 60, 50);
        assert!(c.get("q", "t", 60).is_none());
        assert!(c.get("p", "t2", 60).is_none());
    }

    #[test]
    fn clear_provider_drops_only_that_provider() {
        let mut c = JwtCache::default();
        c.insert("p", "t", ident(Some(100), None), 60, 50);
        let mut other = (*ident(Some(100), None)).clone();
        other.provider = "q".into();
        c.insert("q", "t", Arc::new(other), 60, 50);
        c.clear_provider("p");
        assert!(c.get("p", "t", 60).is_none());
        assert!(c.get("q", "t", 60).is_some());
    }

    #[test]
    fn bound_respected_oldest_evicted() {
        let mut c = JwtCache::new(3);
        for i in 0..3 {
            c.insert("p", &format!("t{i}"), ident(Some(100), None), 0, 1);
        }
        c.insert("p", "t3", ident(Some(100), None), 0, 1);
        assert_eq!(c.len(), 3);
        assert!(c.get("p", "t0", 2).is_none());
        assert!(c.get("p", "t3", 2).is_some());
    }

    #[test]
    fn expired_entries_go_first() {
        let mut c = JwtCache::new(2);
        c.insert("p", "old", ident(Some(10), None), 0, 1);
        c.insert("p", "live", ident(Some(100), None), 0, 1);
        c.insert("p", "new", ident(Some(100), None), 0, 20);
        assert_eq!(c.len(), 2);
        assert!(c.get("p", "live", 21).is_some());
        assert!(c.get("p", "new", 21).is_some());
    }
}
