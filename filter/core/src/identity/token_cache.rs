//! A provider's verified-token cache: a repeated token costs one SHA-256 and a lookup
//! instead of a signature check. Each provider's [`super::key_store::KeyStore`] owns one and
//! empties it whenever its keys change, so a token signed by a key that was just rotated out
//! (or revoked as compromised) never outlives the key, as it can in jwt_authn; the cost is
//! one signature check per distinct token per key refresh.
//!
//! - Key: [`TokenKey`], SHA-256 of the token, computed once per request and used for both the
//!   lookup and, on a miss, the insert. The token itself is never stored: a dump of the VM's
//!   memory yields no bearer token to replay.
//! - Lifetime: an entry is served only while `nbf − skew ≤ now < exp`: never past `exp`
//!   (stricter than verification, which allows `exp + skew`), and tokens without `exp` are
//!   not cached at all.
//! - Bound: at most `capacity` entries. When full, expired entries are swept (at most once
//!   per second of `now`, so a stream of distinct tokens does not rescan the map on every
//!   insert); if none expired, the oldest insertion goes, found in O(1) from a queue of
//!   insertions.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::checks::Identity;

/// jwt_authn keeps 100; we default a little higher for several agents per VM.
pub const DEFAULT_CAPACITY: usize = 256;

/// A token's cache key (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn new(token: &str) -> Self {
        TokenKey(Sha256::digest(token.as_bytes()).into())
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

#[derive(Debug)]
struct Entry {
    identity: Arc<Identity>,
    valid_from: u64,
    valid_until: u64,
    seq: u64,
}

/// See the module docs.
#[derive(Debug)]
pub struct TokenCache {
    map: HashMap<TokenKey, Entry>,
    /// Insertions, oldest first, as `(key, seq)`; an item whose entry was replaced or
    /// removed since is stale and skipped.
    order: VecDeque<(TokenKey, u64)>,
    capacity: usize,
    seq: u64,
    swept_at: Option<u64>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(DEFAULT_CAPACITY)
    }
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            map: HashMap::with_capacity(capacity.min(1024)),
            order: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            seq: 0,
            swept_at: None,
        }
    }

    /// The identity for a token verified earlier (same key), if still within its validity
    /// at `now`.
    pub fn get(&self, key: &TokenKey, now: u64) -> Option<Arc<Identity>> {
        let e = self.map.get(key)?;
        (e.valid_from <= now && now < e.valid_until).then(|| Arc::clone(&e.identity))
    }

    /// Remembers a token that `verify` accepted at `now` with the provider's
    /// `clock_skew_seconds`. Tokens without `exp`, or already at/after it, are not kept.
    pub fn insert(
        &mut self,
        key: TokenKey,
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
        self.order.push_back((key, self.seq));
        // Replacements leave stale items behind; keep the queue within twice the bound.
        if self.order.len() > 2 * self.capacity {
            self.drop_stale_order();
        }
        debug_assert!(self.map.len() <= self.capacity);
    }

    fn make_room(&mut self, now: u64) {
        if self.swept_at != Some(now) {
            self.swept_at = Some(now);
            self.map.retain(|_, e| now < e.valid_until);
            if self.map.len() < self.capacity {
                return;
            }
        }
        while let Some((key, seq)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|e| e.seq == seq) {
                self.map.remove(&key);
                return;
            }
        }
    }

    fn drop_stale_order(&mut self) {
        let map = &self.map;
        self.order
            .retain(|(k, seq)| map.get(k).is_some_and(|e| e.seq == *seq));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(token: &str) -> TokenKey {
        TokenKey::new(token)
    }

    fn ident(exp: Option<u64>, nbf: Option<u64>) -> Arc<Identity> {
        Arc::new(crate::identity::checks::test_identity(exp, nbf))
    }

    #[test]
    fn expires_exactly_at_exp() {
        let mut c = TokenCache::default();
        c.insert(k("t"), ident(Some(100), None), 60, 50);
        assert!(c.get(&k("t"), 99).is_some());
        assert!(c.get(&k("t"), 100).is_none());
        assert!(c.get(&k("t"), 1000).is_none());
    }

    #[test]
    fn respects_nbf_with_skew() {
        let mut c = TokenCache::default();
        c.insert(k("t"), ident(Some(1000), Some(500)), 60, 450);
        assert!(c.get(&k("t"), 439).is_none());
        assert!(c.get(&k("t"), 440).is_some());
    }

    #[test]
    fn no_exp_or_expired_is_not_cached() {
        let mut c = TokenCache::default();
        c.insert(k("t"), ident(None, None), 60, 50);
        c.insert(k("u"), ident(Some(50), None), 60, 50);
        assert!(c.is_empty());
    }

    #[test]
    fn a_different_token_misses() {
        let mut c = TokenCache::default();
        c.insert(k("t"), ident(Some(100), None), 60, 50);
        assert!(c.get(&k("t2"), 60).is_none());
    }

    #[test]
    fn bound_respected_oldest_evicted() {
        let mut c = TokenCache::new(3);
        for i in 0..3 {
            c.insert(k(&format!("t{i}")), ident(Some(100), None), 0, 1);
        }
        c.insert(k("t3"), ident(Some(100), None), 0, 1);
        assert_eq!(c.len(), 3);
        assert!(c.get(&k("t0"), 2).is_none());
        assert!(c.get(&k("t3"), 2).is_some());
    }

    #[test]
    fn expired_entries_go_first() {
        let mut c = TokenCache::new(2);
        c.insert(k("old"), ident(Some(10), None), 0, 1);
        c.insert(k("live"), ident(Some(100), None), 0, 1);
        c.insert(k("new"), ident(Some(100), None), 0, 20);
        assert_eq!(c.len(), 2);
        assert!(c.get(&k("live"), 21).is_some());
        assert!(c.get(&k("new"), 21).is_some());
    }

    #[test]
    fn a_replaced_entry_is_not_evicted_by_its_stale_insertion() {
        let mut c = TokenCache::new(2);
        c.insert(k("t0"), ident(Some(100), None), 0, 1);
        c.insert(k("t1"), ident(Some(100), None), 0, 1);
        // t0 again (e.g. re-verified): its first insertion is now stale, t1 is the oldest.
        c.insert(k("t0"), ident(Some(100), None), 0, 1);
        c.insert(k("t2"), ident(Some(100), None), 0, 1);
        assert_eq!(c.len(), 2);
        assert!(c.get(&k("t0"), 2).is_some());
        assert!(c.get(&k("t1"), 2).is_none());
        assert!(c.get(&k("t2"), 2).is_some());
    }

    #[test]
    fn the_insertion_queue_stays_within_twice_the_bound() {
        let mut c = TokenCache::new(4);
        for i in 0..1000 {
            c.insert(k(&format!("t{}", i % 3)), ident(Some(100), None), 0, 1);
            assert!(c.order.len() <= 8, "{}", c.order.len());
        }
        assert_eq!(c.len(), 3);
    }
}
