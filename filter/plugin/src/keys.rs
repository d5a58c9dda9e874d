//! How the roots of one Envoy process share remote key sets, so that the identity provider is
//! called once per refresh, not once per worker.
//!
//! Every root adopts key sets another root fetched ([`KeyShare::newer`]) and fetches only
//! what it has claimed ([`KeyShare::claim`]). The two runtimes answer differently:
//! - proxy-wasm ([`SharedDataLease`]): every VM ticks and any may fetch; a lease taken with
//!   compare-and-swap in the host's shared data lets one at a time, and the key set goes to
//!   shared data for the others;
//! - the dynamic module (`pci-guard-dynamic`): one fetcher per filter config on Envoy's main
//!   thread claims every fetch; worker roots only adopt what it published (process memory,
//!   no lease) and pass their wish for an early refetch (a token with an unknown `kid`) on
//!   to it ([`KeyShare::claim`] records it, [`KeyShare::refetch_wanted`] reads it).

use super::host::Host;

/// The key sets of a process's roots for one policy (`digest`), by provider name.
pub trait KeyShare {
    /// A key set another root fetched, when it is newer than `mine` (this root's own fetch
    /// time): its fetch time (host seconds) and its JWKS bytes.
    fn newer(&self, digest: &str, provider: &str, mine: Option<u64>) -> Option<(u64, Vec<u8>)>;
    /// Whether this root fetches `provider` now (a fetch is due here). At most one root of
    /// the process holds a claim at a time; it ends with [`KeyShare::publish`] or
    /// [`KeyShare::release`], or after `timeout_ms` (and a second).
    fn claim(&self, digest: &str, provider: &str, now: u64, timeout_ms: u64) -> bool;
    /// A key set this root fetched at `fetched_at`, for the others; ends the claim.
    fn publish(&self, digest: &str, provider: &str, fetched_at: u64, jwks: &[u8]);
    /// Ends the claim without a key set (the fetch failed).
    fn release(&self, digest: &str, provider: &str);
    /// Whether a root that cannot fetch asked for an early refetch of `provider` (and the
    /// wish is taken). Only the fetcher of a process where other roots cannot fetch sees one.
    fn refetch_wanted(&self, _digest: &str, _provider: &str) -> bool {
        false
    }
}

/// proxy-wasm: key sets and fetch leases in the host's shared data (one map per VM id,
/// process-wide, compare-and-swap).
pub struct SharedDataLease<H: Host> {
    host: H,
}

impl<H: Host> SharedDataLease<H> {
    pub fn new(host: H) -> Self {
        Self { host }
    }
}

fn jwks_key(digest: &str, provider: &str) -> String {
    format!("pci_guard/jwks/{digest}/{provider}")
}

fn lease_key(digest: &str, provider: &str) -> String {
    format!("pci_guard/jwks_lease/{digest}/{provider}")
}

impl<H: Host> KeyShare for SharedDataLease<H> {
    fn newer(&self, digest: &str, provider: &str, mine: Option<u64>) -> Option<(u64, Vec<u8>)> {
        let Some((Some(bytes), _)) = self.host.shared_data(&jwks_key(digest, provider)) else {
            return None;
        };
        let (at, body) = bytes.split_first_chunk::<8>()?;
        let fetched_at = u64::from_le_bytes(*at);
        mine.is_none_or(|m| fetched_at > m)
            .then(|| (fetched_at, body.to_vec()))
    }

    /// Takes the lease for `timeout_ms` (plus a second) if nobody holds a live one.
    fn claim(&self, digest: &str, provider: &str, now: u64, timeout_ms: u64) -> bool {
        let key = lease_key(digest, provider);
        let Some((current, cas)) = self.host.shared_data(&key) else {
            return false;
        };
        let held_until = current
            .as_deref()
            .and_then(|b| b.first_chunk::<8>())
            .map(|b| u64::from_le_bytes(*b))
            .unwrap_or(0);
        if held_until > now {
            return false;
        }
        let until = now + timeout_ms.div_ceil(1000) + 1;
        self.host.set_shared_data(&key, &until.to_le_bytes(), cas)
    }

    fn publish(&self, digest: &str, provider: &str, fetched_at: u64, jwks: &[u8]) {
        let mut value = fetched_at.to_le_bytes().to_vec();
        value.extend_from_slice(jwks);
        self.host
            .set_shared_data(&jwks_key(digest, provider), &value, None);
        self.release(digest, provider);
    }

    fn release(&self, digest: &str, provider: &str) {
        self.host
            .set_shared_data(&lease_key(digest, provider), &0u64.to_le_bytes(), None);
    }
}
