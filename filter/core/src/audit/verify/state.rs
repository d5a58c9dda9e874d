//! What the verifier keeps per chain: where it stands, a few recent links (to tell a
//! duplicate from a reordering), its timing, and the digest its next checkpoint must match.

use sha2::{Digest as _, Sha256};
use std::collections::VecDeque;

/// Recent lines kept per chain to recognise duplicates.
const RECENT: usize = 64;
/// The checkpoint interval assumed before a chain says its own.
const DEFAULT_CHECKPOINT_MS: u64 = 60_000;
const DEFAULT_HEARTBEAT_MS: u64 = 60_000;

pub(super) struct ChainState {
    /// First seq of the chain seen in the files.
    pub first_seq: u64,
    pub seq: u64,
    /// The line that holds `seq`.
    pub line: u64,
    pub link: String,
    recent: VecDeque<(u64, String, u64)>,
    pub ended: Option<u64>,
    pub start_ms: Option<u64>,
    pub first_ms: Option<u64>,
    pub last_ms: u64,
    pub heartbeat_ms: u64,
    pub checkpoint_ms: u64,
    pub unsealed_reported: bool,
    /// SHA-256 of the lines since `digest_from`; `None` after lines were lost.
    digest: Sha256,
    digest_from: Option<u64>,
    /// The last time a valid checkpoint (or the chain's first event) covered the chain, and
    /// the longest span without one.
    last_cover_ms: Option<u64>,
    widest: Option<(u64, u64)>,
}

impl ChainState {
    pub fn new(seq: u64, line: u64, link: String) -> Self {
        let mut recent = VecDeque::with_capacity(RECENT);
        recent.push_back((seq, link.clone(), line));
        Self {
            first_seq: seq,
            seq,
            line,
            link,
            recent,
            ended: None,
            start_ms: None,
            first_ms: None,
            last_ms: 0,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            checkpoint_ms: DEFAULT_CHECKPOINT_MS,
            unsealed_reported: false,
            digest: Sha256::new(),
            digest_from: Some(seq),
            last_cover_ms: None,
            widest: None,
        }
    }

    /// The line that held `seq` with this very link, if it is recent.
    pub fn recent_line(&self, seq: u64, link: &str) -> Option<u64> {
        self.recent
            .iter()
            .find(|(s, l, _)| *s == seq && l == link)
            .map(|(_, _, line)| *line)
    }

    pub fn advance(&mut self, seq: u64, line: u64, link: String) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, link.clone(), line));
        self.seq = seq;
        self.line = line;
        self.link = link;
    }

    /// Lines are missing: no checkpoint can be checked until the next one restarts the digest.
    pub fn lost_lines(&mut self) {
        self.digest_from = None;
    }

    /// Adds a line to the running digest.
    pub fn feed(&mut self, raw: &[u8]) {
        if self.digest_from.is_some() {
            self.digest.update(raw);
            self.digest.update(b"\n");
        }
    }

    /// At a checkpoint line `seq`: the digest of the lines before it (with where it began),
    /// if they were all seen; the digest then restarts at `seq`.
    pub fn restart_digest(&mut self, seq: u64) -> Option<(u64, String)> {
        let digest = std::mem::take(&mut self.digest).finalize();
        let out = self
            .digest_from
            .map(|f| (f, format!("sha256:{}", crate::digest::hex(&digest))));
        self.digest_from = Some(seq);
        out
    }

    /// A valid checkpoint written at `time_ms` covers the chain up to it.
    pub fn covered(&mut self, time_ms: Option<u64>, interval_s: u64) {
        if interval_s > 0 {
            self.checkpoint_ms = interval_s.saturating_mul(1000);
        }
        let t = time_ms.unwrap_or(self.last_ms);
        self.span_to(t);
        self.last_cover_ms = Some(t);
    }

    fn span_to(&mut self, t: u64) {
        self.widest = self.wider(t);
    }

    /// The widest uncovered span once the chain's events up to `t` are counted.
    fn wider(&self, t: u64) -> Option<(u64, u64)> {
        let from = self.last_cover_ms.or(self.first_ms).unwrap_or(t);
        match self.widest {
            Some((a, b)) if b - a >= t.saturating_sub(from) => Some((a, b)),
            _ if t > from => Some((from, t)),
            w => w,
        }
    }

    /// The widest span of this chain's events that no valid checkpoint covered, if it is
    /// longer than the chain's checkpoint interval allows: (from ms, to ms, interval s).
    pub fn uncovered(&self) -> Option<(u64, u64, u64)> {
        let allowed = self.checkpoint_ms + 2 * self.heartbeat_ms + 1000;
        let (from, to) = self.wider(self.last_ms)?;
        (to - from > allowed).then_some((from, to, self.checkpoint_ms / 1000))
    }
}
