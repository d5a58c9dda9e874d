//! The records a VM writes about itself, beside its request events and in the same chain:
//! `kind: "vm"` tells them apart (request events have no `kind`; the approvals service's
//! events have `kind: "approvals"`).
//!
//! | `event` | when | what it proves |
//! |---|---|---|
//! | `start` | the chain's first line | where the chain begins: a chain seen without it lost its head |
//! | `heartbeat` | every `audit.heartbeat` (60 s) | the VM was alive and writing: a chain silent for longer was cut |
//! | `checkpoint` | every `audit.checkpoint.every` / `every_events` | an Ed25519 signature over the lines before it |
//! | `control_failure` | a security control failed (10.7.2) | what failed, why, how often |
//! | `end` | the VM stops cleanly (when Envoy lets it write) | the chain ends here on purpose |
//!
//! `vm.siblings` names the other VMs of the process that write (from shared data), so a chain
//! deleted whole is missed by its siblings' heartbeats.

use super::checkpoint::CheckpointRef;
use super::control::ControlFailure;
use super::event::{cap, ChainRef, PolicyRef, EVENT_VERSION};
use serde::{Deserialize, Serialize};

/// The `kind` of every VM record.
pub const VM_KIND: &str = "vm";

/// Most sibling chains a record names; a process runs one VM per worker.
pub const MAX_SIBLINGS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VmEvent {
    Start,
    Heartbeat,
    Checkpoint,
    ControlFailure,
    End,
}

impl VmEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            VmEvent::Start => "start",
            VmEvent::Heartbeat => "heartbeat",
            VmEvent::Checkpoint => "checkpoint",
            VmEvent::ControlFailure => "control_failure",
            VmEvent::End => "end",
        }
    }
}

/// The VM that writes the chain.
#[derive(Debug, Default, Clone, Serialize)]
pub struct VmRef {
    /// The VM's chain id.
    pub id: String,
    /// When the VM loaded its first policy (RFC 3339 UTC ms).
    pub started_at: String,
    /// The heartbeat interval: a chain silent for longer than this (plus slack) was cut.
    pub heartbeat_s: u64,
    /// The most seconds between two signed checkpoints; 0 without checkpoints.
    pub checkpoint_s: u64,
    /// The other chains of this process that write, as of this record.
    pub siblings: Vec<String>,
}

/// A failed control: what, why and how often since the last record of the same failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRef {
    pub reason: ControlFailure,
    /// What happened, for a person: never a secret or a caller's value.
    pub detail: String,
    /// The identity provider concerned (JWKS failures).
    pub provider: Option<String>,
    /// The request concerned (a refused body): its `x-request-id`, to find its event.
    pub request_id: Option<String>,
    /// Occurrences folded into this record (failures are coalesced per tick).
    pub count: u64,
}

/// One VM record.
#[derive(Debug, Clone, Serialize)]
pub struct VmRecord {
    pub version: u32,
    /// Always [`VM_KIND`].
    pub kind: &'static str,
    pub event: VmEvent,
    /// When it was written (RFC 3339 UTC ms).
    pub time: String,
    pub vm: VmRef,
    /// The policy in force when it was written.
    pub policy: PolicyRef,
    pub control: Option<ControlRef>,
    pub checkpoint: Option<CheckpointRef>,
    /// Set by [`super::Chain::seal`]; always last.
    pub chain: Option<ChainRef>,
}

impl VmRecord {
    pub fn new(event: VmEvent, time: String, vm: VmRef, policy: PolicyRef) -> Self {
        Self {
            version: EVENT_VERSION,
            kind: VM_KIND,
            event,
            time,
            vm,
            policy,
            control: None,
            checkpoint: None,
            chain: None,
        }
    }
}

impl super::chain::Chained for VmRecord {
    fn cap_fields(&mut self) {
        cap(&mut self.policy.version);
        self.vm.siblings.truncate(MAX_SIBLINGS);
        if let Some(c) = &mut self.control {
            cap(&mut c.detail);
            c.provider.iter_mut().for_each(cap);
            c.request_id.iter_mut().for_each(cap);
        }
    }

    fn set_chain(&mut self, chain: ChainRef) {
        self.chain = Some(chain);
    }

    fn to_json(&self) -> Vec<u8> {
        // Plain strings and numbers cannot fail to serialize; an empty line would still be
        // written, and verify would report it.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
