//! What one VM (one Envoy worker thread) keeps between requests: the compiled policy, the key
//! stores of its providers, the verified-token cache and the signature verifier. Streams
//! borrow it for the length of a callback; nothing here outlives a policy change.

use super::stream::Waiter;
use crate::host_crypto::{envoy_verifier, EnvoyVerifier};
use pci_guard_core::authn::Keys;
use pci_guard_core::jwks::KeySet;
use pci_guard_core::jwt_cache::JwtCache;
use pci_guard_core::key_store::{KeyState, KeyStore, KeyStoreConfig};
use pci_guard_core::policy::{Auth, KeySource, Policy, Route};
use std::rc::Rc;
use std::sync::Arc;

/// Verified tokens remembered per VM (jwt_authn keeps 100).
pub const TOKEN_CACHE_ENTRIES: usize = 256;

pub struct Vm {
    pub policy: Rc<Policy>,
    /// Whether requests need Envoy's route name (`Policy::matches_route_names`).
    pub reads_route_name: bool,
    /// Host time (ms) this policy was loaded: requests wait for first keys only in a short
    /// window after it, so an IdP that is down at startup does not pile up paused requests.
    pub loaded_ms: u64,
    /// Requests paused until their provider's first keys arrive (or the fetch times out).
    pub waiting: Vec<Waiter>,
    pub stores: Vec<KeyStore>,
    pub cache: JwtCache,
    pub crypto: EnvoyVerifier,
}

impl Vm {
    pub fn new(policy: Rc<Policy>) -> Self {
        let stores = policy
            .providers
            .iter()
            .map(|p| match &p.keys {
                KeySource::Inline(set) => KeyStore::fixed(KeySet::clone(set)),
                KeySource::Remote(r) => {
                    let refresh = (r.refresh_ms / 1000).max(1);
                    KeyStore::new(KeyStoreConfig {
                        refresh_secs: refresh,
                        max_stale_secs: (r.max_stale_ms / 1000).max(1),
                        retry_secs: 1,
                        // At most one refetch per refresh interval for unknown `kid`s.
                        unknown_kid_interval_secs: refresh,
                        fetch_timeout_secs: r.timeout_ms.div_ceil(1000).max(1),
                    })
                }
            })
            .collect();
        Self {
            reads_route_name: policy.matches_route_names(),
            policy,
            loaded_ms: super::host::now_ms(),
            waiting: Vec::new(),
            stores,
            cache: JwtCache::new(TOKEN_CACHE_ENTRIES),
            crypto: envoy_verifier(),
        }
    }

    /// When a request on `route` found no keys: if one of its providers is remote and has never
    /// had keys, and the policy was loaded less than two fetch timeouts (the first fetch and
    /// one retry) plus a second ago, the request may wait until then. `None`: deny now.
    pub fn first_keys_wait(&self, route: &Route, now_ms: u64) -> Option<(u64, Vec<usize>)> {
        let Auth::AnyOf(providers) = &route.auth else {
            return None;
        };
        let now = now_ms / 1000;
        let timeout_ms = providers
            .iter()
            .filter(|&&i| {
                self.stores
                    .get(i)
                    .is_some_and(|s| s.state(now) == KeyState::Missing)
            })
            .filter_map(|&i| match &self.policy.providers.get(i)?.keys {
                KeySource::Remote(r) => Some(r.timeout_ms),
                KeySource::Inline(_) => None,
            })
            .max()?;
        let deadline_ms = self.loaded_ms + 2 * timeout_ms + 1000;
        (now_ms < deadline_ms).then(|| (deadline_ms, providers.clone()))
    }

    /// Whether any of `providers` has usable keys now.
    pub fn has_keys(&self, providers: &[usize], now: u64) -> bool {
        providers
            .iter()
            .any(|&i| self.stores.get(i).is_some_and(|s| s.keys(now).is_some()))
    }

    pub fn has_remote_keys(&self) -> bool {
        self.policy
            .providers
            .iter()
            .any(|p| matches!(p.keys, KeySource::Remote(_)))
    }
}

/// The VM's key stores as the core's [`Keys`].
pub struct StoreKeys<'a>(pub &'a mut [KeyStore]);

impl Keys for StoreKeys<'_> {
    fn keys(&self, provider: usize, now: u64) -> Option<Arc<KeySet>> {
        self.0.get(provider).and_then(|s| s.keys(now)).cloned()
    }
    fn unknown_kid(&mut self, provider: usize, now: u64) {
        if let Some(s) = self.0.get_mut(provider) {
            s.on_unknown_kid(now);
        }
    }
}
