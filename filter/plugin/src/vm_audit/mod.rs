//! The VM's audit chain, and the records the VM writes about itself through the same
//! access-log sinks as its request events.
//!
//! ```text
//! tick ─► due? (heartbeat, checkpoint) + failed controls ─► owed records (core Outbox)
//!      ─► one self-request per owed record: dispatch_http_call(audit.self_cluster)
//!           └─► Envoy's internal listener (same worker thread, so the same VM)
//!                 └─► this filter: Stream sees x-pci-guard-audit == this VM's nonce,
//!                     answers 204 locally, and its on_log writes the next owed record,
//!                     sealed there and then ─► filter state ─► the access loggers
//! ```
//!
//! Why a self-request: Envoy's access loggers write once per stream and have no API to write
//! a line on their own; a stream is the only way through every sink the operator configured
//! (file, stdout, OpenTelemetry, gRPC ALS), so a sink that drops lines drops these too and
//! the gap shows. An internal listener keeps the request in-process and on the worker that
//! sent it: the VM that owes the record is the one that logs it, and seals it in log order.
//! The request is recognised by a random nonce only this VM knows, never by anything a
//! client could send; a client's request is judged like any other.
//!
//! A host without that path (the dynamic module: no timer per worker, no call that its own
//! worker answers) makes a *carried* audit ([`VmAudit::carried`]): the owed records are sealed
//! and written with the next request's line, in the same log entry, before the request's
//! event. Nothing waits for a self-request then; the records only go out with traffic, so an
//! idle worker's chain is silent (README, "Audit").
//!
//! One state per VM (module memory), shared by all of the VM's root contexts: a policy update
//! adds a root context to the same VM, and the chain goes on. [`self_request`] sends and
//! recognises the self-requests; [`shared`] is what the process's VMs tell each other (who
//! writes, who died, the process's failed controls).

mod self_request;
mod shared;

use super::host::Host;
use super::metrics::Metrics;
use pci_guard_core::audit::checkpoint::Signer;
use pci_guard_core::audit::control::ControlFailure;
use pci_guard_core::audit::record::{ControlRef, VmEvent, VmRecord, VmRef};
use pci_guard_core::audit::schedule::{Outbox, Owed, Schedule};
use pci_guard_core::audit::{rfc3339_millis, Chain, PolicyRef};
use pci_guard_core::policy::Policy;
use std::collections::{BTreeMap, BTreeSet};

pub use shared::VmEntry;

/// The header that marks a VM's own self-request; its value is the VM's nonce.
pub const SELF_HEADER: &str = "x-pci-guard-audit";
/// Self-requests in flight at most: enough for a tick's records.
const MAX_IN_FLIGHT: usize = 8;
/// A self-request unanswered for this long is given up (its record stays owed).
const SELF_TIMEOUT_MS: u64 = 5_000;
/// How often a VM tells the others it is alive.
const ALIVE_EVERY_MS: u64 = 2_000;
/// The longest a VM's first requests wait for its start record (it takes about a millisecond
/// when the self-request path works).
pub const START_WAIT_MS: u64 = 1_000;
/// After `on_done`, how long the VM waits for its end record to be written.
const END_WAIT_MS: u64 = 2_000;

/// 64 random bits from the randomness WASI gives std's hasher, mixed with `salt`.
fn random_hex(salt: u64) -> String {
    use std::hash::BuildHasher;
    let seed = std::collections::hash_map::RandomState::new().hash_one(salt);
    format!("{seed:016x}")
}

pub struct VmAudit {
    /// The chain's id (a new one if the chain key changes).
    id: String,
    nonce: String,
    chain: Option<Chain>,
    /// SHA-256 of the chain key, to notice a policy that changes it.
    key_digest: Option<String>,
    started_ms: u64,
    schedule: Option<Schedule>,
    /// The start record, sealed (seq 0) when the chain began, until a line carries it.
    unwritten_start: Option<Vec<u8>>,
    outbox: Outbox,
    signer: Option<Signer>,
    policy: PolicyRef,
    self_cluster: String,
    /// Self-request token → when it was sent.
    in_flight: BTreeMap<u32, u64>,
    /// A self-request reached the log: this VM writes (the main thread's VM never does).
    writes: bool,
    ended: bool,
    /// Root contexts alive in this VM.
    roots: usize,
    /// When the last root context's `on_done` asked for the end record.
    ending_since: Option<u64>,
    siblings: Vec<String>,
    alive_at: Option<u64>,
    /// Providers whose keys this VM saw expire, with the fetch time of those keys.
    stale: BTreeSet<(String, u64)>,
    warned: bool,
    /// A self-request could not be sent or failed.
    path_failed: bool,
    /// No self-requests: owed records go out with the next request's line.
    carried: bool,
}

impl VmAudit {
    pub fn new(now_ms: u64) -> Self {
        Self {
            id: random_hex(now_ms),
            nonce: random_hex(now_ms ^ 0x5eed) + &random_hex(now_ms.rotate_left(17)),
            chain: None,
            key_digest: None,
            started_ms: now_ms,
            schedule: None,
            unwritten_start: None,
            outbox: Outbox::default(),
            signer: None,
            policy: PolicyRef::default(),
            self_cluster: String::new(),
            in_flight: BTreeMap::new(),
            writes: false,
            ended: false,
            roots: 0,
            ending_since: None,
            siblings: Vec::new(),
            alive_at: None,
            stale: BTreeSet::new(),
            warned: false,
            path_failed: false,
            carried: false,
        }
    }

    /// An audit whose records ride on request lines instead of self-requests: for a host
    /// that cannot send a self-request its own worker answers.
    pub fn carried(now_ms: u64) -> Self {
        Self {
            carried: true,
            ..Self::new(now_ms)
        }
    }

    /// A root context loaded `policy` (its chain key and checkpoint signer resolved): the
    /// chain starts with the VM's first policy and goes on across later ones; a new chain
    /// key starts a new chain (the old one stops there, without an end).
    pub fn configure(
        &mut self,
        policy: &Policy,
        key: Option<Vec<u8>>,
        signer: Option<Signer>,
        now_ms: u64,
    ) {
        let key_digest = key.as_deref().map(pci_guard_core::digest::sha256);
        if self.chain.is_some() && key_digest != self.key_digest {
            self.id = random_hex(now_ms);
            self.chain = None;
        }
        let begins = self.chain.is_none();
        if begins {
            self.chain = Some(Chain::new(self.id.clone(), key));
            self.started_ms = now_ms;
        }
        self.key_digest = key_digest;
        self.signer = signer;
        self.policy = PolicyRef {
            version: policy.version.clone(),
            digest: policy.digest.clone(),
        };
        self.self_cluster = policy.audit.self_cluster.clone();
        let checkpoints = self
            .signer
            .as_ref()
            .and(policy.audit.checkpoint.as_ref())
            .map(|c| (c.every_ms, c.every_events));
        match &mut self.schedule {
            Some(s) => s.reconfigure(policy.audit.heartbeat_ms, checkpoints, now_ms),
            None => {
                self.schedule = Some(Schedule::new(
                    policy.audit.heartbeat_ms,
                    checkpoints,
                    now_ms,
                ))
            }
        }
        if begins {
            self.unwritten_start = self.seal_record(VmEvent::Start, None, now_ms);
        }
    }

    pub fn root_started(&mut self) {
        self.roots += 1;
    }

    /// A root context is done. When it was the VM's last, the end record (and a final
    /// checkpoint) is owed: returns true if the caller should wait for it to be written.
    pub fn root_done(&mut self, now_ms: u64) -> bool {
        self.roots = self.roots.saturating_sub(1);
        if self.roots > 0 || self.chain.is_none() || !self.writes || self.ended {
            return false;
        }
        self.outbox.end();
        if self.signer.is_some() {
            self.outbox.checkpoint();
        }
        self.ending_since = Some(now_ms);
        true
    }

    /// Whether a delayed `on_done` may now finish: the end was written, or the wait is over.
    pub fn end_settled(&self, now_ms: u64) -> bool {
        self.ending_since
            .is_some_and(|t| self.ended || now_ms.saturating_sub(t) >= END_WAIT_MS)
    }

    /// A failed control this VM saw itself; it is written to this VM's chain.
    pub fn control(&mut self, metrics: Option<&Metrics>, c: ControlRef) {
        if let Some(m) = metrics {
            m.control_failure(c.reason);
        }
        self.outbox.control(c);
    }

    /// A failed control of the whole process: written once, by whichever writing VM takes
    /// it. `repeat`: the same failure again (one more occurrence under the same key, one
    /// record per key); otherwise every VM may see it, and it is counted once, by the VM
    /// that posts it first.
    pub fn post(
        &mut self,
        host: &impl Host,
        metrics: Option<&Metrics>,
        key: &str,
        c: ControlRef,
        repeat: bool,
    ) {
        if shared::post(host, key, &c, repeat, host.now_ms()) {
            if let Some(m) = metrics {
                m.control_failure(c.reason);
            }
        }
    }

    /// This VM's state is dropped after a failure its host caught (the dynamic module's
    /// panic): its chain stops without an end, which is a failed control of the process,
    /// written by the VM that takes its place (or another).
    pub fn crashed(&mut self, host: &impl Host, metrics: Option<&Metrics>) {
        if self.chain.is_none() || self.ended {
            return;
        }
        let c = ControlRef {
            reason: ControlFailure::VmCrashed,
            detail: format!(
                "VM {} failed and was dropped without ending its chain; a new one takes its place",
                self.id
            ),
            provider: None,
            request_id: None,
            count: 1,
        };
        self.post(host, metrics, &format!("vm_crashed/{}", self.id), c, false);
    }

    /// `provider`'s keys (fetched at `fetched_at`, Unix s) are past `max_stale`: a control
    /// failure, once per set of keys across the process.
    pub fn keys_expired(
        &mut self,
        host: &impl Host,
        metrics: Option<&Metrics>,
        provider: &str,
        fetched_at: u64,
        max_stale_s: u64,
    ) {
        if !self.stale.insert((provider.to_string(), fetched_at)) {
            return;
        }
        let c = ControlRef {
            reason: ControlFailure::JwksStale,
            detail: format!(
                "keys fetched at {} are older than max_stale ({max_stale_s} s): tokens of this provider are refused until a fetch succeeds",
                rfc3339_millis(fetched_at.saturating_mul(1000))
            ),
            provider: Some(provider.to_string()),
            request_id: None,
            count: 1,
        };
        self.post(
            host,
            metrics,
            &format!("jwks_stale/{provider}/{fetched_at}"),
            c,
            false,
        );
    }

    /// On the timer: say this VM is alive (and report VMs that died), pick up the process's
    /// failed controls, note what is due, and send the self-requests the owed records need.
    pub fn tick(&mut self, host: &impl Host, metrics: Option<&Metrics>, now_ms: u64) {
        if self.chain.is_none() || self.ended {
            return;
        }
        self.alive(host, metrics, now_ms);
        if self.writes {
            for c in shared::take(host) {
                self.outbox.control(c);
            }
        }
        let next_seq = self.chain.as_ref().map_or(0, Chain::next_seq);
        if let Some(s) = &mut self.schedule {
            let due = s.due(now_ms, next_seq);
            if due.heartbeat {
                self.outbox.heartbeat();
            }
            if due.checkpoint {
                self.outbox.checkpoint();
            }
        }
        self.in_flight
            .retain(|_, sent| now_ms.saturating_sub(*sent) < SELF_TIMEOUT_MS);
        self.dispatch(host, now_ms);
    }

    fn alive(&mut self, host: &impl Host, metrics: Option<&Metrics>, now_ms: u64) {
        if self
            .alive_at
            .is_some_and(|t| now_ms.saturating_sub(t) < ALIVE_EVERY_MS)
        {
            return;
        }
        self.alive_at = Some(now_ms);
        let me = VmEntry {
            id: self.id.clone(),
            alive_ms: now_ms,
            writes: self.writes,
            ended: self.ended,
        };
        let Some((siblings, crashed)) = shared::alive(host, &me, now_ms) else {
            return;
        };
        self.siblings = siblings;
        if self.carried {
            // A carried audit says it is alive only with traffic: its silence is idleness,
            // not death.
            return;
        }
        for dead in crashed {
            let c = ControlRef {
                reason: ControlFailure::VmCrashed,
                detail: format!(
                    "VM {} stopped without ending its chain (last alive {}); Envoy runs a new VM in its place",
                    dead.id,
                    rfc3339_millis(dead.alive_ms)
                ),
                provider: None,
                request_id: None,
                count: 1,
            };
            self.post(host, metrics, &format!("vm_crashed/{}", dead.id), c, false);
        }
    }

    /// Whether the chain's start record still waits for a line to carry it.
    pub fn start_unwritten(&self) -> bool {
        self.unwritten_start.is_some()
    }

    /// Until when a request arriving at `now_ms` waits for the start record, if it does: only
    /// in the VM's first [`START_WAIT_MS`] and while the self-request path has not failed. A
    /// config without the path costs the first requests that second once, never every
    /// request.
    pub fn start_wait(&self, now_ms: u64) -> Option<u64> {
        let deadline = self.started_ms.saturating_add(START_WAIT_MS);
        (!self.carried && self.unwritten_start.is_some() && !self.path_failed && now_ms < deadline)
            .then_some(deadline)
    }

    /// The next owed record, sealed: the line a self-request's `on_log` writes. A
    /// self-request with nothing owed (a duplicate) writes a heartbeat.
    pub fn write_owed(
        &mut self,
        host: &impl Host,
        metrics: Option<&Metrics>,
        now_ms: u64,
    ) -> Option<Vec<u8>> {
        if let Some(start) = self.unwritten_start.take() {
            self.wrote(host, metrics, now_ms);
            return Some(start);
        }
        let owed = self.outbox.take().unwrap_or(Owed::Heartbeat);
        let line = self.seal_owed(owed, now_ms)?;
        self.wrote(host, metrics, now_ms);
        Some(line)
    }

    /// An owed record, sealed.
    fn seal_owed(&mut self, owed: Owed, now_ms: u64) -> Option<Vec<u8>> {
        match owed {
            Owed::Control(c) => self.seal_record(VmEvent::ControlFailure, Some(c), now_ms),
            Owed::Heartbeat => self.seal_record(VmEvent::Heartbeat, None, now_ms),
            Owed::End => {
                let line = self.seal_record(VmEvent::End, None, now_ms);
                self.ended = true;
                line
            }
            Owed::Checkpoint => self.seal_record(VmEvent::Checkpoint, None, now_ms),
        }
    }

    /// The records a request's log entry carries before its own event, sealed in order: the
    /// start record, if no line has carried it yet (a request logged before the start's
    /// self-request writes it first, so the start keeps seq 0 and the log's order; only
    /// requests in a VM's first second, when its self-request path does not work, take this
    /// path); and for a carried audit, every record owed.
    pub fn take_carried(
        &mut self,
        host: &impl Host,
        metrics: Option<&Metrics>,
        now_ms: u64,
    ) -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = self.unwritten_start.take().into_iter().collect();
        if self.carried {
            while let Some(owed) = self.outbox.take() {
                lines.extend(self.seal_owed(owed, now_ms));
            }
        }
        if !lines.is_empty() {
            self.wrote(host, metrics, now_ms);
        }
        lines
    }

    /// After a line reached the log: the first one makes this VM a writer, told to the
    /// others at once, so that a VM dying right after its start is still missed by them.
    fn wrote(&mut self, host: &impl Host, metrics: Option<&Metrics>, now_ms: u64) {
        if !self.writes {
            self.writes = true;
            self.alive_at = None;
            self.alive(host, metrics, now_ms);
        }
    }

    /// A VM record of `event`, sealed into the chain. A checkpoint with nothing new to sign
    /// (or no signer) becomes a heartbeat.
    fn seal_record(
        &mut self,
        mut event: VmEvent,
        control: Option<ControlRef>,
        now_ms: u64,
    ) -> Option<Vec<u8>> {
        let chain = self.chain.as_mut()?;
        let schedule = self.schedule.as_ref();
        let vm = VmRef {
            id: chain.id().to_string(),
            started_at: rfc3339_millis(self.started_ms),
            heartbeat_s: schedule.map_or(60, Schedule::heartbeat_s),
            checkpoint_s: schedule.map_or(0, Schedule::checkpoint_s),
            siblings: self.siblings.clone(),
        };
        let checkpoint = match (event, &self.signer) {
            (VmEvent::Checkpoint, Some(signer)) => chain
                .take_head()
                .map(|head| signer.sign(&head, schedule.map_or(0, Schedule::checkpoint_s))),
            _ => None,
        };
        if event == VmEvent::Checkpoint && checkpoint.is_none() {
            event = VmEvent::Heartbeat;
        }
        let mut r = VmRecord::new(event, rfc3339_millis(now_ms), vm, self.policy.clone());
        r.control = control;
        r.checkpoint = checkpoint;
        Some(chain.seal(&mut r))
    }

    /// The chain request events are sealed into.
    pub fn chain_mut(&mut self) -> Option<&mut Chain> {
        self.chain.as_mut()
    }
}

#[cfg(test)]
mod tests;
