//! Every provider's key state for one policy: a [`KeyStore`] per provider, in the policy's
//! provider order, each with its own verified-token cache. Built when a policy loads and
//! dropped with it, so keys and cached tokens never outlive the providers they belong to.

use std::sync::Arc;

use super::key_store::{KeyState, KeyStore, KeyStoreConfig};
use super::keyset::KeySet;
use super::provider::{KeySource, Provider};
use super::token_cache::DEFAULT_CAPACITY;

/// Fewest cache entries a provider gets when several share the budget.
const MIN_CACHE_ENTRIES: usize = 32;

#[derive(Debug)]
pub struct Keyring {
    stores: Vec<KeyStore>,
    /// Fetch timeout per provider (ms); `None` for inline keys.
    timeouts_ms: Vec<Option<u64>>,
    /// Host time (ms) the policy was loaded: requests wait for first keys only in a short
    /// window after it, so an IdP that is down at startup does not pile up paused requests.
    loaded_ms: u64,
}

impl Keyring {
    /// One store per provider. Inline keys are ready at once; remote ones wait for a fetch.
    pub fn new(providers: &[Provider], loaded_ms: u64) -> Self {
        let cache_entries = (DEFAULT_CAPACITY / providers.len().max(1)).max(MIN_CACHE_ENTRIES);
        let stores = providers
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
                        cache_entries,
                    })
                }
            })
            .collect();
        let timeouts_ms = providers
            .iter()
            .map(|p| match &p.keys {
                KeySource::Remote(r) => Some(r.timeout_ms),
                KeySource::Inline(_) => None,
            })
            .collect();
        Self {
            stores,
            timeouts_ms,
            loaded_ms,
        }
    }

    /// Gives every remote provider `set` as if fetched at `now`: the `pci-guard` command's
    /// stand-in for key sets it cannot fetch (`explain --jwks`).
    pub fn stand_in(&mut self, set: &[u8], now: u64) -> Result<(), super::keyset::JwksError> {
        for (store, timeout) in self.stores.iter_mut().zip(&self.timeouts_ms) {
            if timeout.is_some() {
                store.on_fetch_ok(set, now)?;
            }
        }
        Ok(())
    }

    pub fn store(&self, provider: usize) -> Option<&KeyStore> {
        self.stores.get(provider)
    }

    pub fn store_mut(&mut self, provider: usize) -> Option<&mut KeyStore> {
        self.stores.get_mut(provider)
    }

    /// The usable key set of `provider` at `now` (Unix seconds).
    pub fn keys(&self, provider: usize, now: u64) -> Option<Arc<KeySet>> {
        self.stores.get(provider)?.keys(now).cloned()
    }

    /// Whether any of `providers` has usable keys at `now`.
    pub fn has_keys(&self, providers: &[usize], now: u64) -> bool {
        providers
            .iter()
            .any(|&i| self.stores.get(i).is_some_and(|s| s.keys(now).is_some()))
    }

    /// When a request for a route of `providers` found no keys: if one of them is remote and
    /// has never had keys, and the policy loaded less than two fetch timeouts (the first fetch
    /// and one retry) plus a second ago, the request may wait until the returned deadline (host
    /// ms). `None`: decide now.
    pub fn first_keys_deadline(&self, providers: &[usize], now_ms: u64) -> Option<u64> {
        let now = now_ms / 1000;
        let timeout_ms = providers
            .iter()
            .filter(|&&i| {
                self.stores
                    .get(i)
                    .is_some_and(|s| s.state(now) == KeyState::Missing)
            })
            .filter_map(|&i| self.timeouts_ms.get(i).copied().flatten())
            .max()?;
        let deadline_ms = self.loaded_ms + 2 * timeout_ms + 1000;
        (now_ms < deadline_ms).then_some(deadline_ms)
    }
}
