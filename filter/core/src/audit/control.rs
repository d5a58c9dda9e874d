//! Failures of the security controls pci-guard runs (PCI DSS 10.7.2): each becomes an audit
//! record (`kind: "vm"`, `event: "control_failure"`) and a count in
//! `pci_guard.control_failures.<reason>`. One flat enum, like [`crate::reason::Reason`]: the
//! same stable string is the record's `control.reason` and the metric's `reason` label.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlFailure {
    /// A provider's key set could not be fetched (status, timeout, unusable body); the last
    /// good keys stay in use while they are younger than `max_stale`.
    JwksUnavailable,
    /// A provider's keys are older than `max_stale`: its tokens are refused until a fetch
    /// succeeds.
    JwksStale,
    /// A new policy was refused (it does not load, or a secret it names is not set); the
    /// last good one stays in force.
    PolicyRejected,
    /// A VM stopped without ending its chain (it crashed) and Envoy started another.
    VmCrashed,
    /// A response body could not be inspected (undecodable encoding, unscannable type, a
    /// scan failure) and was refused.
    BodyRefused,
    /// The list of revoked just-in-time grants is older than allowed (the hook the JIT
    /// revocation work fills; nothing raises it yet).
    RevocationListStale,
    /// The VM could not write its own records (start, heartbeats, checkpoints, control
    /// failures) through the access-log sinks: the self-request failed.
    AuditUndeliverable,
}

impl ControlFailure {
    pub const ALL: [ControlFailure; 7] = [
        ControlFailure::JwksUnavailable,
        ControlFailure::JwksStale,
        ControlFailure::PolicyRejected,
        ControlFailure::VmCrashed,
        ControlFailure::BodyRefused,
        ControlFailure::RevocationListStale,
        ControlFailure::AuditUndeliverable,
    ];

    /// The stable name (record field and metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            ControlFailure::JwksUnavailable => "jwks_unavailable",
            ControlFailure::JwksStale => "jwks_stale",
            ControlFailure::PolicyRejected => "policy_rejected",
            ControlFailure::VmCrashed => "vm_crashed",
            ControlFailure::BodyRefused => "body_refused",
            ControlFailure::RevocationListStale => "revocation_list_stale",
            ControlFailure::AuditUndeliverable => "audit_undeliverable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}
