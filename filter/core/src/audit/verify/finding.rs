//! What `verify` reports: one flat enum, each finding an error (lines lost, edited, forged)
//! or a notice (something an assessor should know that is not tampering: a VM restart, a
//! chain older than the files given).

use std::fmt;

/// Something found at a line of the log, or about a whole chain at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based, counted across all files given, in order; for chain findings, the chain's
    /// last line seen (0 when the chain has none).
    pub line: u64,
    pub kind: FindingKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingKind {
    NotJson(String),
    /// A line that is not a pci-guard event; `-` is Envoy's line for a request whose
    /// filter state had no event.
    NotAnEvent(String),
    /// The event does not match the published audit JSON Schema.
    Schema(String),
    /// The chain's lines carry no `seal` (written by a pci-guard before seals): its last
    /// line is not protected.
    Unsealed {
        chain: String,
    },
    /// The line's `seal` does not cover it: the line was edited (or the key is wrong).
    SealBroken {
        chain: String,
        seq: u64,
    },
    /// The chain's first line in the files is not its first: its head, the start record
    /// included, is missing.
    MissingStart {
        chain: String,
        first_seq: u64,
        continued: bool,
    },
    /// The chain begins with a request event, not a start record (an older pci-guard).
    NoStartRecord {
        chain: String,
    },
    Gap {
        chain: String,
        expected: u64,
        found: u64,
    },
    OutOfOrder {
        chain: String,
        previous: u64,
        found: u64,
    },
    /// The very same line again.
    Duplicate {
        chain: String,
        seq: u64,
        of_line: u64,
    },
    /// `prev` does not hash the chain's previous line (that line or this one was edited).
    BrokenLink {
        chain: String,
        seq: u64,
        previous_line: u64,
    },
    /// A line of a chain after its end record.
    AfterEnd {
        chain: String,
        seq: u64,
        end_line: u64,
    },
    /// A checkpoint signed by another key than the one given.
    CheckpointOtherKey {
        chain: String,
        key_id: String,
    },
    /// A checkpoint whose signature does not verify: forged or edited.
    CheckpointForged {
        chain: String,
        seq: u64,
    },
    /// A valid signature over lines that are not the ones in the files.
    CheckpointMismatch {
        chain: String,
        from: u64,
        to: u64,
    },
    /// A checkpoint over lines before the first one in the files.
    CheckpointUnchecked {
        chain: String,
        from: u64,
    },
    /// Lines of a chain no valid checkpoint covers over longer than its interval.
    Uncovered {
        chain: String,
        from: String,
        to: String,
        interval_s: u64,
    },
    /// No end record and nothing for longer than the heartbeat allows before the reference
    /// time: the chain's last lines were cut.
    TailCut {
        chain: String,
        last: String,
        silent_s: u64,
        heartbeat_s: u64,
        reference: String,
    },
    /// No end record, but another VM started after this chain went silent: a VM restart.
    NoEnd {
        chain: String,
        last: String,
        restarted_as: String,
    },
    /// A chain another chain's records name as a sibling, with no line in the files.
    ChainMissing {
        chain: String,
        named_by: String,
    },
}

impl FindingKind {
    /// Whether the finding means lost, edited or forged lines (exit status 1).
    pub fn is_error(&self) -> bool {
        !matches!(
            self,
            FindingKind::Unsealed { .. }
                | FindingKind::NoStartRecord { .. }
                | FindingKind::CheckpointUnchecked { .. }
                | FindingKind::NoEnd { .. }
                | FindingKind::MissingStart {
                    continued: true,
                    ..
                }
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.line;
        let level = if self.kind.is_error() { "" } else { "note: " };
        match &self.kind {
            FindingKind::NotJson(e) => write!(f, "line {l}: not JSON ({e})"),
            FindingKind::NotAnEvent(e) => write!(f, "line {l}: not a pci-guard audit event ({e})"),
            FindingKind::Schema(e) => write!(f, "line {l}: does not match the audit event schema: {e}"),
            FindingKind::Unsealed { chain } => write!(
                f,
                "{level}line {l}: chain {chain}: lines carry no seal (an older pci-guard): its last line is not protected"
            ),
            FindingKind::SealBroken { chain, seq } => write!(
                f,
                "line {l}: chain {chain}: seq {seq} does not match its own seal (the line was edited, or the chain key is wrong)"
            ),
            FindingKind::MissingStart { chain, first_seq, continued } => {
                write!(f, "{level}line {l}: chain {chain}: begins at seq {first_seq}: its first {first_seq} event(s), the start record included, are missing")?;
                if *continued {
                    write!(f, " (--continued: an earlier file holds them)")
                } else {
                    write!(f, " (lines deleted from its beginning? give every file since the chain started, or --continued)")
                }
            }
            FindingKind::NoStartRecord { chain } => write!(
                f,
                "{level}line {l}: chain {chain}: begins with a request, not a start record (an older pci-guard)"
            ),
            FindingKind::Gap { chain, expected, found } => write!(
                f,
                "line {l}: chain {chain}: seq {found} where {expected} was expected: {} event(s) missing (deleted lines?)",
                found - expected
            ),
            FindingKind::OutOfOrder { chain, previous, found } => write!(
                f,
                "line {l}: chain {chain}: seq {found} after seq {previous} (lines reordered or duplicated)"
            ),
            FindingKind::Duplicate { chain, seq, of_line } => write!(
                f,
                "line {l}: chain {chain}: seq {seq} is a duplicate of line {of_line}"
            ),
            FindingKind::BrokenLink { chain, seq, previous_line } => write!(
                f,
                "line {l}: chain {chain}: seq {seq} does not link to line {previous_line} (one of the two lines was edited)"
            ),
            FindingKind::AfterEnd { chain, seq, end_line } => write!(
                f,
                "line {l}: chain {chain}: seq {seq} comes after the chain's end record (line {end_line}): appended?"
            ),
            FindingKind::CheckpointOtherKey { chain, key_id } => write!(
                f,
                "line {l}: chain {chain}: checkpoint signed by key {key_id}, not the public key given"
            ),
            FindingKind::CheckpointForged { chain, seq } => write!(
                f,
                "line {l}: chain {chain}: checkpoint seq {seq} has an invalid signature (forged or edited)"
            ),
            FindingKind::CheckpointMismatch { chain, from, to } => write!(
                f,
                "line {l}: chain {chain}: checkpoint signs seq {from}..{to}, but those lines are not the ones signed (rewritten after signing)"
            ),
            FindingKind::CheckpointUnchecked { chain, from } => write!(
                f,
                "{level}line {l}: chain {chain}: checkpoint from seq {from} covers lines before the files given: not checked"
            ),
            FindingKind::Uncovered { chain, from, to, interval_s } => write!(
                f,
                "line {l}: chain {chain}: events from {from} to {to} carry no valid checkpoint, though one is due every {interval_s} s (checkpoints removed, or the chain rewritten)"
            ),
            FindingKind::TailCut { chain, last, silent_s, heartbeat_s, reference } => write!(
                f,
                "line {l}: chain {chain}: nothing after {last}, {silent_s} s before {reference}, though it writes a heartbeat every {heartbeat_s} s and has no end record: its last lines were cut (or Envoy stopped then: --until should be when it stopped)"
            ),
            FindingKind::NoEnd { chain, last, restarted_as } => write!(
                f,
                "{level}line {l}: chain {chain}: stops at {last} without an end record; chain {restarted_as} started after it (a VM restart)"
            ),
            FindingKind::ChainMissing { chain, named_by } => write!(
                f,
                "line {l}: chain {chain}: named as a sibling by chain {named_by}, but none of its lines are in the files (a whole chain deleted, or lost by a sink)"
            ),
        }
    }
}
