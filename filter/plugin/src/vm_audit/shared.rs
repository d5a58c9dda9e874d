//! What the VMs of one Envoy process tell each other through shared data (one map per VM
//! id, process-wide, compare-and-swap): which VMs are alive and write (so each VM's records
//! name their siblings, and a VM that died without ending is noticed), and the failed
//! controls of the process as a whole, each written by exactly one VM.
//!
//! Both values are small JSON lists, updated read-modify-write with the read's CAS token and
//! retried a few times; a VM that loses every retry tries again on its next tick.

use super::super::host::Host;
use pci_guard_core::audit::record::ControlRef;
use serde::{Deserialize, Serialize};

const VMS: &str = "pci_guard/audit/vms";
const CONTROLS: &str = "pci_guard/audit/controls";
const RETRIES: usize = 4;

/// A VM that has not said it is alive for this long has died.
pub const DEAD_AFTER_MS: u64 = 10_000;
/// Failed controls are remembered this long, so the same failure seen by every VM is
/// written once.
const REMEMBER_MS: u64 = 3_600_000;
/// Most failed controls kept in the process list.
const MAX_POSTED: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmEntry {
    pub id: String,
    pub alive_ms: u64,
    /// It has written a line through the sinks (workers do; the main thread's VM does not).
    pub writes: bool,
    /// It ended its chain on purpose.
    pub ended: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Posted {
    key: String,
    at_ms: u64,
    taken: bool,
    control: ControlRef,
}

/// Reads a JSON list, changes it, writes it back if nobody wrote in between.
fn update<T, R>(host: &impl Host, key: &str, f: impl Fn(&mut Vec<T>) -> R) -> Option<R>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    for _ in 0..RETRIES {
        let (bytes, cas) = host.shared_data(key)?;
        let mut list: Vec<T> = bytes
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let out = f(&mut list);
        let Ok(value) = serde_json::to_vec(&list) else {
            return None;
        };
        if host.set_shared_data(key, &value, cas) {
            return Some(out);
        }
    }
    None
}

/// Says `me` is alive. Returns the chains of the VMs that write (this one included), and
/// the VMs found dead that had written: each is returned to one caller only, which reports
/// it.
pub fn alive(host: &impl Host, me: &VmEntry, now_ms: u64) -> Option<(Vec<String>, Vec<VmEntry>)> {
    update(host, VMS, |list: &mut Vec<VmEntry>| {
        list.retain(|e| e.id != me.id);
        list.push(me.clone());
        let (dead, live): (Vec<VmEntry>, Vec<VmEntry>) = std::mem::take(list)
            .into_iter()
            .partition(|e| e.ended || now_ms.saturating_sub(e.alive_ms) > DEAD_AFTER_MS);
        *list = live;
        let writers = list
            .iter()
            .filter(|e| e.writes)
            .map(|e| e.id.clone())
            .collect();
        let crashed = dead.into_iter().filter(|e| e.writes && !e.ended).collect();
        (writers, crashed)
    })
}

/// Posts a failed control of the whole process under `key`. With `merge`, a control
/// already posted under the same key and not yet written counts one more occurrence (the
/// same failure again); without, the same key is the same failure seen by another VM, and
/// is left alone. Returns whether this call added an occurrence.
pub fn post(host: &impl Host, key: &str, control: &ControlRef, merge: bool, now_ms: u64) -> bool {
    update(host, CONTROLS, |list: &mut Vec<Posted>| {
        list.retain(|p| now_ms.saturating_sub(p.at_ms) < REMEMBER_MS);
        if let Some(p) = list.iter_mut().find(|p| p.key == key) {
            if merge && !p.taken {
                p.control.count = p.control.count.saturating_add(control.count);
                p.control.detail = control.detail.clone();
            }
            return merge;
        }
        if list.len() >= MAX_POSTED {
            list.remove(0);
        }
        list.push(Posted {
            key: key.to_string(),
            at_ms: now_ms,
            taken: false,
            control: control.clone(),
        });
        true
    })
    .unwrap_or(false)
}

/// Takes the failed controls no VM has taken yet, for this VM to write.
pub fn take(host: &impl Host) -> Vec<ControlRef> {
    // Most ticks find nothing: read without writing then.
    let waiting = host
        .shared_data(CONTROLS)
        .and_then(|(b, _)| b)
        .and_then(|b| serde_json::from_slice::<Vec<Posted>>(&b).ok())
        .is_some_and(|l| l.iter().any(|p| !p.taken));
    if !waiting {
        return Vec::new();
    }
    update(host, CONTROLS, |list: &mut Vec<Posted>| {
        list.iter_mut()
            .filter(|p| !p.taken)
            .map(|p| {
                p.taken = true;
                p.control.clone()
            })
            .collect::<Vec<_>>()
    })
    .unwrap_or_default()
}
