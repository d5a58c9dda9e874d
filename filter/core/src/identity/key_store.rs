//! One provider's remote key set as pure state: no timers, no I/O. The glue asks
//! [`KeyStore::should_fetch`] on each tick, makes the HTTP call, and reports back with
//! [`KeyStore::on_fetch_ok`] / [`KeyStore::on_fetch_err`]; requests ask
//! [`KeyStore::keys`].
//!
//! Ages (from the last successful fetch): younger than `refresh` → [`KeyState::Fresh`];
//! younger than `max_stale` → [`KeyState::Stale`] (keys still used, a refetch is due);
//! older → [`KeyState::Expired`] (keys no longer used: [`JwksUnavailable`](crate::reason::Reason::JwksUnavailable)).
//! Never fetched → [`KeyState::Missing`].
//!
//! Failed fetches back off exponentially from `retry` up to `refresh`. An unknown `kid`
//! asks for an early refetch, at most once per `unknown_kid_interval` (an attacker sending
//! random `kid`s must not turn us into a JWKS hammer). One fetch at a time: a fetch in
//! flight for longer than `fetch_timeout` is considered lost.
//!
//! The store owns the provider's verified-token cache and empties it whenever its keys
//! change: no caller has to remember to.

use std::sync::Arc;

use super::checks::Identity;
use super::keyset::{JwksError, KeySet};
use super::token_cache::{TokenCache, TokenKey, DEFAULT_CAPACITY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStoreConfig {
    pub refresh_secs: u64,
    pub max_stale_secs: u64,
    pub retry_secs: u64,
    pub unknown_kid_interval_secs: u64,
    pub fetch_timeout_secs: u64,
    /// Verified tokens remembered for this provider.
    pub cache_entries: usize,
}

impl Default for KeyStoreConfig {
    fn default() -> Self {
        KeyStoreConfig {
            refresh_secs: 300,
            max_stale_secs: 3600,
            retry_secs: 1,
            unknown_kid_interval_secs: 30,
            fetch_timeout_secs: 10,
            cache_entries: DEFAULT_CAPACITY,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Missing,
    Fresh,
    Stale,
    Expired,
}

#[derive(Debug)]
pub struct KeyStore {
    cfg: KeyStoreConfig,
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<u64>,
    /// Never expires (keys given inline in the policy).
    fixed: bool,
    last_attempt: Option<u64>,
    failures: u32,
    in_flight_since: Option<u64>,
    want_refetch: bool,
    last_unknown_kid_refetch: Option<u64>,
    /// Bumped on every key change.
    generation: u64,
    cache: TokenCache,
}

impl KeyStore {
    pub fn new(cfg: KeyStoreConfig) -> Self {
        KeyStore {
            cfg,
            keys: None,
            fetched_at: None,
            fixed: false,
            last_attempt: None,
            failures: 0,
            in_flight_since: None,
            want_refetch: false,
            last_unknown_kid_refetch: None,
            generation: 0,
            cache: TokenCache::new(cfg.cache_entries),
        }
    }

    /// Keys given in the policy: always fresh, never fetched.
    pub fn fixed(keys: KeySet) -> Self {
        let mut s = KeyStore::new(KeyStoreConfig::default());
        s.keys = Some(Arc::new(keys));
        s.fixed = true;
        s.generation = 1;
        s
    }

    pub fn state(&self, now: u64) -> KeyState {
        let (Some(_), Some(at)) = (&self.keys, self.fetched_at) else {
            return if self.fixed && self.keys.is_some() {
                KeyState::Fresh
            } else {
                KeyState::Missing
            };
        };
        let age = now.saturating_sub(at);
        if age < self.cfg.refresh_secs {
            KeyState::Fresh
        } else if age < self.cfg.max_stale_secs {
            KeyState::Stale
        } else {
            KeyState::Expired
        }
    }

    /// The keys to verify with at `now`, if any (fresh or stale).
    pub fn keys(&self, now: u64) -> Option<&Arc<KeySet>> {
        match self.state(now) {
            KeyState::Fresh | KeyState::Stale => self.keys.as_ref(),
            KeyState::Missing | KeyState::Expired => None,
        }
    }

    /// The identity a token verified to earlier, if it is still valid at `now`.
    pub fn cached(&self, key: &TokenKey, now: u64) -> Option<Arc<Identity>> {
        self.cache.get(key, now)
    }

    /// Remembers a token verified against this store's current keys.
    pub fn remember(&mut self, key: TokenKey, identity: Arc<Identity>, skew: u64, now: u64) {
        self.cache.insert(key, identity, skew, now);
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }

    fn backoff(&self) -> u64 {
        let shift = self.failures.saturating_sub(1).min(16);
        self.cfg
            .retry_secs
            .saturating_mul(1u64 << shift)
            .min(self.cfg.refresh_secs.max(self.cfg.retry_secs))
    }

    /// Whether the glue should start a fetch now.
    pub fn should_fetch(&self, now: u64) -> bool {
        if self.fixed {
            return false;
        }
        if let Some(since) = self.in_flight_since {
            if now < since.saturating_add(self.cfg.fetch_timeout_secs) {
                return false;
            }
        }
        let retry_ok = match self.last_attempt {
            None => true,
            Some(t) if self.failures > 0 => now >= t.saturating_add(self.backoff()),
            Some(_) => true,
        };
        match self.state(now) {
            KeyState::Missing | KeyState::Stale | KeyState::Expired => retry_ok,
            KeyState::Fresh => self.want_refetch && retry_ok,
        }
    }

    /// The glue started a fetch.
    pub fn on_fetch_start(&mut self, now: u64) {
        self.in_flight_since = Some(now);
        self.last_attempt = Some(now);
    }

    /// A fetch returned `bytes`. On a parse error the old keys stay and it counts as a
    /// failure.
    pub fn on_fetch_ok(&mut self, bytes: &[u8], now: u64) -> Result<(), JwksError> {
        self.in_flight_since = None;
        self.last_attempt = Some(now);
        match KeySet::parse(bytes) {
            Ok(set) => {
                self.keys = Some(Arc::new(set));
                self.fetched_at = Some(now);
                self.failures = 0;
                self.want_refetch = false;
                self.generation += 1;
                self.cache.clear();
                Ok(())
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                Err(e)
            }
        }
    }

    /// Keys another VM fetched (read from shared data): the same as this VM's own
    /// successful fetch at `fetched_at`, so ages agree across VMs.
    pub fn adopt(&mut self, bytes: &[u8], fetched_at: u64) -> Result<(), JwksError> {
        if self.fetched_at.is_some_and(|t| t >= fetched_at) {
            return Ok(()); // not newer than what we have
        }
        self.on_fetch_ok(bytes, fetched_at)
    }

    /// A fetch failed (network, status, timeout).
    pub fn on_fetch_err(&mut self, now: u64) {
        self.in_flight_since = None;
        self.last_attempt = Some(now);
        self.failures = self.failures.saturating_add(1);
    }

    /// A token named a `kid` we do not have. Returns whether a refetch was requested (at
    /// most once per `unknown_kid_interval_secs`).
    pub fn on_unknown_kid(&mut self, now: u64) -> bool {
        if self.fixed {
            return false;
        }
        let allowed = self
            .last_unknown_kid_refetch
            .is_none_or(|t| now >= t.saturating_add(self.cfg.unknown_kid_interval_secs));
        if allowed {
            self.last_unknown_kid_refetch = Some(now);
            self.want_refetch = true;
        }
        allowed
    }

    pub fn wants_refetch(&self) -> bool {
        self.want_refetch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &[u8] = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    fn cfg() -> KeyStoreConfig {
        KeyStoreConfig {
            refresh_secs: 100,
            max_stale_secs: 1000,
            retry_secs: 2,
            unknown_kid_interval_secs: 30,
            fetch_timeout_secs: 10,
            cache_entries: 4,
        }
    }

    #[test]
    fn lifecycle_missing_fresh_stale_expired() {
        let mut s = KeyStore::new(cfg());
        assert_eq!(s.state(0), KeyState::Missing);
        assert!(s.should_fetch(0));
        s.on_fetch_start(0);
        assert!(!s.should_fetch(1), "one fetch at a time");
        s.on_fetch_ok(JWKS, 1).unwrap();
        assert_eq!(s.state(50), KeyState::Fresh);
        assert!(!s.should_fetch(50));
        assert_eq!(s.state(101), KeyState::Stale);
        assert!(s.should_fetch(101));
        assert!(s.keys(101).is_some());
        assert_eq!(s.state(1001), KeyState::Expired);
        assert!(s.keys(1001).is_none());
    }

    #[test]
    fn failures_back_off_and_keep_old_keys() {
        let mut s = KeyStore::new(cfg());
        s.on_fetch_ok(JWKS, 0).unwrap();
        s.on_fetch_start(100);
        s.on_fetch_err(100);
        assert!(!s.should_fetch(101));
        assert!(s.should_fetch(102));
        s.on_fetch_start(102);
        assert!(s.on_fetch_ok(b"garbage", 102).is_err());
        assert!(!s.should_fetch(105));
        assert!(s.should_fetch(106));
        assert!(s.keys(106).is_some());
    }

    #[test]
    fn unknown_kid_refetch_is_rate_limited() {
        let mut s = KeyStore::new(cfg());
        s.on_fetch_ok(JWKS, 0).unwrap();
        assert!(!s.should_fetch(5));
        assert!(s.on_unknown_kid(5));
        assert!(s.should_fetch(5));
        s.on_fetch_start(5);
        s.on_fetch_ok(JWKS, 6).unwrap();
        assert!(!s.on_unknown_kid(10), "within the interval");
        assert!(!s.should_fetch(10));
        assert!(s.on_unknown_kid(35));
    }

    #[test]
    fn adopting_keys_from_another_vm_keeps_their_age() {
        let mut s = KeyStore::new(cfg());
        s.adopt(JWKS, 10).unwrap();
        assert_eq!(s.fetched_at(), Some(10));
        assert_eq!(s.state(109), KeyState::Fresh);
        assert_eq!(s.state(110), KeyState::Stale);
        let g = s.generation();
        s.adopt(JWKS, 5).unwrap();
        assert_eq!(s.generation(), g, "older keys are ignored");
    }

    #[test]
    fn fixed_keys_never_fetch_or_expire() {
        let s = KeyStore::fixed(KeySet::parse(JWKS).unwrap());
        assert_eq!(s.state(u64::MAX), KeyState::Fresh);
        assert!(!s.should_fetch(0));
    }

    fn identity(exp: u64) -> Arc<Identity> {
        Arc::new(crate::identity::checks::test_identity(Some(exp), None))
    }

    #[test]
    fn new_keys_empty_the_verified_token_cache() {
        let mut s = KeyStore::new(cfg());
        s.on_fetch_ok(JWKS, 0).unwrap();
        let key = TokenKey::new("t");
        s.remember(key, identity(500), 0, 1);
        assert!(s.cached(&key, 2).is_some());
        s.adopt(JWKS, 1).unwrap();
        assert!(s.cached(&key, 2).is_none(), "keys adopted from another VM");
        s.remember(key, identity(500), 0, 2);
        s.on_fetch_ok(JWKS, 3).unwrap();
        assert!(s.cached(&key, 4).is_none(), "keys fetched by this VM");
        s.remember(key, identity(500), 0, 4);
        assert!(s.on_fetch_ok(b"garbage", 5).is_err());
        assert!(
            s.cached(&key, 6).is_some(),
            "a failed fetch keeps keys and cache"
        );
    }
}
