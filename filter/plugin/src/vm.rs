//! What one VM (one Envoy worker thread) keeps for one policy: the compiled policy, its
//! providers' key state (with their verified-token caches), the signature checker, and the
//! approvals service's keys and revocation list when the policy takes grants.
//! Streams borrow it for the length of a callback; a policy change replaces it whole.

use pci_guard_core::authz::grant::GrantState;
use pci_guard_core::identity::signature::SignatureVerifier;
use pci_guard_core::identity::{KeySource, Keyring};
use pci_guard_core::judge::State;
use pci_guard_core::policy::Policy;
use std::rc::Rc;

pub struct Vm {
    pub policy: Rc<Policy>,
    /// Whether requests need Envoy's route name (`Policy::matches_route_names`).
    pub reads_route_name: bool,
    pub keyring: Keyring,
    pub crypto: Box<dyn SignatureVerifier>,
    /// The approvals service's keys and revocation list, when the policy takes grants.
    pub grants: Option<GrantState>,
}

impl Vm {
    pub fn new(policy: Rc<Policy>, crypto: Box<dyn SignatureVerifier>, now_ms: u64) -> Self {
        Self {
            reads_route_name: policy.matches_route_names(),
            keyring: Keyring::new(&policy.providers, now_ms),
            grants: GrantState::for_policy(policy.approvals.as_ref()),
            policy,
            crypto,
        }
    }

    /// What the core's request entry borrows for one call.
    pub fn state(&mut self) -> State<'_> {
        State {
            policy: &self.policy,
            keyring: &mut self.keyring,
            crypto: &*self.crypto,
            grants: self.grants.as_mut(),
        }
    }

    pub fn has_remote_keys(&self) -> bool {
        self.policy
            .providers
            .iter()
            .any(|p| matches!(p.keys, KeySource::Remote(_)))
    }
}
