//! When a VM writes its own records, and which it still owes.
//!
//! Envoy's access loggers write once per request, so a VM's records travel as requests it
//! sends itself (see `filter/plugin/src/vm_audit/self_request.rs`). The [`Outbox`] says what is owed;
//! each self-request's log callback takes the next record, and only then is it sealed, so the
//! chain's order is the order lines reach the log. Records are coalesced (one heartbeat, one
//! checkpoint, one record per failed control and subject), so a broken self-request path
//! keeps a few records waiting, never a growing queue.

use super::control::ControlFailure;
use super::record::ControlRef;

/// When heartbeats and checkpoints are due.
#[derive(Debug, Clone)]
pub struct Schedule {
    heartbeat_ms: u64,
    /// (every_ms, every_events)
    checkpoint: Option<(u64, u64)>,
    next_heartbeat_ms: u64,
    last_checkpoint_ms: u64,
    last_checkpoint_seq: u64,
}

/// What a tick found due.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub heartbeat: bool,
    pub checkpoint: bool,
}

impl Schedule {
    pub fn new(heartbeat_ms: u64, checkpoint: Option<(u64, u64)>, now_ms: u64) -> Self {
        Self {
            heartbeat_ms: heartbeat_ms.max(1),
            checkpoint,
            next_heartbeat_ms: now_ms.saturating_add(heartbeat_ms),
            last_checkpoint_ms: now_ms,
            last_checkpoint_seq: 0,
        }
    }

    /// A new policy with other intervals: the next heartbeat keeps its time if it comes
    /// sooner than the new interval would put it.
    pub fn reconfigure(&mut self, heartbeat_ms: u64, checkpoint: Option<(u64, u64)>, now_ms: u64) {
        self.heartbeat_ms = heartbeat_ms.max(1);
        self.next_heartbeat_ms = self
            .next_heartbeat_ms
            .min(now_ms.saturating_add(self.heartbeat_ms));
        self.checkpoint = checkpoint;
    }

    pub fn heartbeat_s(&self) -> u64 {
        self.heartbeat_ms.div_ceil(1000)
    }

    pub fn checkpoint_s(&self) -> u64 {
        self.checkpoint.map_or(0, |(ms, _)| ms.div_ceil(1000))
    }

    /// What is due at `now_ms`, the chain having sealed `next_seq` lines so far.
    pub fn due(&mut self, now_ms: u64, next_seq: u64) -> Due {
        let mut due = Due::default();
        if now_ms >= self.next_heartbeat_ms {
            due.heartbeat = true;
            // A late tick does not bunch heartbeats: the next is one interval from now.
            self.next_heartbeat_ms = now_ms.saturating_add(self.heartbeat_ms);
        }
        if let Some((every_ms, every_events)) = self.checkpoint {
            let grown = next_seq > self.last_checkpoint_seq;
            let by_time = now_ms.saturating_sub(self.last_checkpoint_ms) >= every_ms;
            let by_count = next_seq.saturating_sub(self.last_checkpoint_seq) >= every_events;
            if grown && (by_time || by_count) {
                due.checkpoint = true;
                self.last_checkpoint_ms = now_ms;
                self.last_checkpoint_seq = next_seq;
            }
        }
        due
    }
}

/// One record the VM owes its log (the start record is sealed when the chain begins and
/// waits apart: it must hold seq 0, whichever line reaches the log first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owed {
    Control(ControlRef),
    Heartbeat,
    End,
    Checkpoint,
}

/// The records owed, in the order they are written: failed controls; a heartbeat; the end;
/// a checkpoint last, so it signs everything before it.
#[derive(Debug, Default, Clone)]
pub struct Outbox {
    controls: Vec<ControlRef>,
    heartbeat: bool,
    end: bool,
    checkpoint: bool,
}

/// Distinct failed controls kept waiting; more are folded into the last one's count.
pub const MAX_CONTROLS: usize = 32;

impl Outbox {
    pub fn heartbeat(&mut self) {
        self.heartbeat = true;
    }

    pub fn end(&mut self) {
        self.end = true;
    }

    pub fn checkpoint(&mut self) {
        self.checkpoint = true;
    }

    /// A failed control; one already waiting for the same reason and provider only counts
    /// up (it keeps the first request it names), so a flood of refused bodies is one record
    /// per tick, not one per request.
    pub fn control(&mut self, c: ControlRef) {
        let same = |w: &&mut ControlRef| w.reason == c.reason && w.provider == c.provider;
        if let Some(w) = self.controls.iter_mut().find(same) {
            w.count = w.count.saturating_add(c.count);
            if w.request_id.is_none() {
                w.detail = c.detail;
            }
            return;
        }
        if self.controls.len() >= MAX_CONTROLS {
            if let Some(last) = self.controls.last_mut() {
                last.count = last.count.saturating_add(c.count);
            }
            return;
        }
        self.controls.push(c);
    }

    /// Records owed.
    pub fn len(&self) -> usize {
        self.controls.len()
            + usize::from(self.heartbeat)
            + usize::from(self.end)
            + usize::from(self.checkpoint)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a failed control of this reason waits.
    pub fn has_control(&self, reason: ControlFailure) -> bool {
        self.controls.iter().any(|c| c.reason == reason)
    }

    /// The next record to write, taken out.
    pub fn take(&mut self) -> Option<Owed> {
        if !self.controls.is_empty() {
            return Some(Owed::Control(self.controls.remove(0)));
        }
        if std::mem::take(&mut self.heartbeat) {
            return Some(Owed::Heartbeat);
        }
        if std::mem::take(&mut self.end) {
            return Some(Owed::End);
        }
        if std::mem::take(&mut self.checkpoint) {
            return Some(Owed::Checkpoint);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_come_every_interval_and_a_late_tick_does_not_bunch_them() {
        let mut s = Schedule::new(1000, None, 0);
        assert!(!s.due(999, 1).heartbeat);
        assert!(s.due(1000, 1).heartbeat);
        assert!(!s.due(1500, 2).heartbeat);
        // A tick 5 s late: one heartbeat, the next a full interval later.
        assert!(s.due(7000, 3).heartbeat);
        assert!(!s.due(7999, 3).heartbeat);
        assert!(s.due(8000, 3).heartbeat);
    }

    #[test]
    fn checkpoints_come_by_time_or_count_and_only_when_the_chain_grew() {
        let mut s = Schedule::new(60_000, Some((5000, 100)), 0);
        assert!(!s.due(4999, 10).checkpoint);
        assert!(s.due(5000, 10).checkpoint);
        assert!(!s.due(20_000, 10).checkpoint, "nothing new since");
        assert!(s.due(20_001, 11).checkpoint);
        assert!(s.due(20_002, 111).checkpoint, "100 lines since the last");
    }

    #[test]
    fn outbox_writes_the_checkpoint_last_and_coalesces() {
        let mut o = Outbox::default();
        o.checkpoint();
        o.heartbeat();
        o.heartbeat();
        let c = |n| ControlRef {
            reason: ControlFailure::JwksUnavailable,
            detail: format!("fetch {n} failed"),
            provider: Some("idp".into()),
            request_id: None,
            count: 1,
        };
        o.control(c(1));
        o.control(c(2));
        o.end();
        assert_eq!(o.len(), 4);
        match o.take() {
            Some(Owed::Control(c)) => {
                assert_eq!((c.count, c.detail.as_str()), (2, "fetch 2 failed"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(o.take(), Some(Owed::Heartbeat));
        assert_eq!(o.take(), Some(Owed::End));
        assert_eq!(o.take(), Some(Owed::Checkpoint));
        assert_eq!(o.take(), None);
    }

    #[test]
    fn outbox_stays_bounded_whatever_fails_and_refused_bodies_fold_into_one() {
        let mut o = Outbox::default();
        for i in 0..1000 {
            o.control(ControlRef {
                reason: ControlFailure::BodyRefused,
                detail: String::new(),
                provider: None,
                request_id: Some(format!("r{i}")),
                count: 1,
            });
        }
        assert_eq!(o.len(), 1);
        match o.take() {
            Some(Owed::Control(c)) => {
                assert_eq!((c.count, c.request_id.as_deref()), (1000, Some("r0")))
            }
            other => panic!("{other:?}"),
        }
        for i in 0..1000u32 {
            o.control(ControlRef {
                reason: ControlFailure::JwksUnavailable,
                detail: String::new(),
                provider: Some(format!("idp{i}")),
                request_id: None,
                count: 1,
            });
        }
        assert_eq!(o.len(), MAX_CONTROLS);
    }
}
