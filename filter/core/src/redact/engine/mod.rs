//! The push parser: [`Redactor`] (`feed` / `finish`) and the scan loop it drives.
//!
//! ## How a chunk is processed
//! `feed` appends the held tail and the new input to the caller's output vector and scans
//! that region in place (one copy, which the caller needed anyway). The scan computes one
//! 64-bit digit mask per 64 bytes (SSE2, wasm `simd128` or portable SWAR, see `scanner`) and
//! walks its runs; the runs that can hold nothing are passed over from the mask and the run's
//! neighbours alone (every 1–2 digit run of the block at once; 9–11 digits not followed by a
//! separator; others by the shapes in `passes_over`; a 3–4 digit run after plain glue goes
//! straight to the CVV check). At each other *candidate* digit it decides, in order:
//! 0. fast paths for the common shapes: an isolated 12–19 digit run (`"number":"4111…"`) is a
//!    PAN iff brand and Luhn say so, and so is an isolated 4-4-4-4 grouping with one separator
//!    kind (`4111 1111 1111 1111`) when they say yes; a 3–4 digit run after plain glue runs
//!    only the CVV check;
//! 1. track data (`%B…^…^…?`, `;…=…?`) whose PAN starts here: mask it whole;
//! 2. a digit inside a `%XX` / `\uXXXX` escape: skip the escape;
//! 3. a digit right after another digit (the tail of a run too long for a PAN): skip the run;
//! 4. otherwise the start of a digit group: the longest PAN window of the cluster starting
//!    here is masked; failing that, a 3–4 digit group after a security-code key is a CVV.
//!    (PAN first, so `cvv: 4111 1111 1111 1111` is a card and redaction is idempotent.)
//!
//! The fast paths (step 0 and the runs passed over) mask exactly what the general path would:
//! the tests below scan with and without them (`scan_with`) over every shape they take and its
//! neighbours, every mask character, and random input, and so does the redaction fuzz check.
//!
//! Each decision reads at most `MAX_LOOKBACK` (224) bytes behind and
//! `MAX_LOOKAHEAD` (96) ahead. When it needs bytes that have not arrived, the scan stops *at the
//! candidate*: everything before it is final and is emitted, the rest is held (fewer than
//! `MAX_LOOKAHEAD` bytes, so [`MAX_HELD`] bounds memory) and rescanned with the next chunk.
//! A run cut by the end of a chunk is held only while it may still start a card or be a code
//! (`open_run`): a timestamp or an id cut there is final at once.
//! Because a decision depends only on the bytes around its candidate, never on where chunks
//! were cut, output is byte-identical however the input is split (proved by the tests in
//! `tests/redact_stream.rs`: every split point, 1-byte chunks, random splits).
//!
//! Invariants (checked with `debug_assert!`): output length == input length; `held() <=
//! MAX_HELD`; masking never touches a byte before the current candidate.

use std::sync::Arc;

use crate::redact::window::{CTX, MAX_LOOKAHEAD};
use crate::redact::{RedactOptions, RedactionCounts};

use blocks::scan_with;

mod blocks;
mod chunk_end;
mod decide;
mod fast;
mod neighbours;

/// The most bytes a [`Redactor`] ever holds back between calls.
pub const MAX_HELD: usize = MAX_LOOKAHEAD;

/// How the bytes are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Mode {
    /// Text (JSON, XML, forms, anything): the default.
    #[default]
    Text,
    /// Protobuf message bytes inside gRPC frames (see [`super::pan`]).
    Proto,
}

/// Per-stream state, without the options (shared by [`Redactor`] and the one-shot helpers).
#[derive(Default)]
pub(crate) struct Core {
    pub mode: Mode,
    ctx: Vec<u8>,
    held: Vec<u8>,
    pub counts: RedactionCounts,
}

impl Core {
    pub fn held(&self) -> usize {
        self.held.len()
    }

    pub fn feed(&mut self, opts: &RedactOptions, input: &[u8], out: &mut Vec<u8>) {
        self.counts.bytes_scanned += input.len() as u64;
        let base = out.len();
        if self.held.is_empty() && input.is_empty() {
            return;
        }
        out.extend_from_slice(&self.held);
        out.extend_from_slice(input);
        let region_len = out.len() - base;
        let commit = scan(
            opts,
            self.mode,
            &self.ctx,
            &mut out[base..],
            false,
            &mut self.counts,
        );
        debug_assert!(commit <= region_len);
        self.held.clear();
        self.held.extend_from_slice(&out[base + commit..]);
        out.truncate(base + commit);
        debug_assert!(
            self.held.len() <= MAX_HELD,
            "held {} > MAX_HELD",
            self.held.len()
        );
        self.remember(&out[base..]);
    }

    /// [`Core::feed`] with the output in the input's buffer: no copy unless bytes were held
    /// (then they are put in front of the new ones).
    pub fn feed_in_place(&mut self, opts: &RedactOptions, buf: &mut Vec<u8>) {
        self.counts.bytes_scanned += buf.len() as u64;
        if !self.held.is_empty() {
            buf.splice(0..0, self.held.drain(..));
        }
        if buf.is_empty() {
            return;
        }
        let commit = scan(opts, self.mode, &self.ctx, buf, false, &mut self.counts);
        self.held.clear();
        self.held.extend_from_slice(&buf[commit..]);
        buf.truncate(commit);
        debug_assert!(self.held.len() <= MAX_HELD);
        self.remember(buf);
    }

    /// End of a body (or of one gRPC message): decide the held tail, emit it, forget context.
    pub fn finish(&mut self, opts: &RedactOptions, out: &mut Vec<u8>) {
        let base = out.len();
        out.extend_from_slice(&self.held);
        let commit = scan(
            opts,
            self.mode,
            &self.ctx,
            &mut out[base..],
            true,
            &mut self.counts,
        );
        debug_assert_eq!(commit, out.len() - base);
        self.held.clear();
        self.ctx.clear();
    }

    /// Keeps the last [`CTX`] emitted bytes as look-behind context.
    fn remember(&mut self, emitted: &[u8]) {
        if emitted.len() >= CTX {
            self.ctx.clear();
            self.ctx.extend_from_slice(&emitted[emitted.len() - CTX..]);
        } else {
            let drop = (self.ctx.len() + emitted.len()).saturating_sub(CTX);
            self.ctx.drain(..drop);
            self.ctx.extend_from_slice(emitted);
        }
        debug_assert!(self.ctx.len() <= CTX);
    }
}

/// Scans `buf` (with `ctx` the bytes emitted before it), masking in place. Returns how many
/// bytes are final; with `eof`, all of them.
pub(crate) fn scan(
    opts: &RedactOptions,
    mode: Mode,
    ctx: &[u8],
    buf: &mut [u8],
    eof: bool,
    counts: &mut RedactionCounts,
) -> usize {
    scan_with::<true>(opts, mode, ctx, buf, eof, counts)
}

/// A whole body scanned with and without the fast paths: the two outputs and counts, for the
/// tests and fuzz checks (they must be equal).
#[cfg(any(test, feature = "testkit"))]
pub(crate) fn fast_and_general_scans(
    opts: &RedactOptions,
    body: &[u8],
    mode: Mode,
) -> [(Vec<u8>, RedactionCounts); 2] {
    let (mut fast, mut general) = (body.to_vec(), body.to_vec());
    let (mut cf, mut cg) = (RedactionCounts::default(), RedactionCounts::default());
    scan_with::<true>(opts, mode, &[], &mut fast, true, &mut cf);
    scan_with::<false>(opts, mode, &[], &mut general, true, &mut cg);
    [(fast, cf), (general, cg)]
}

/// Streaming redactor for one response body.
///
/// Cheap to create (no allocation until the first byte), bounded (holds at most
/// [`MAX_HELD`] bytes, remembers 256 bytes of context).
pub struct Redactor {
    opts: Arc<RedactOptions>,
    core: Core,
}

impl std::fmt::Debug for Redactor {
    /// Never prints body bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("held", &self.core.held())
            .field("counts", &self.core.counts)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for one stream.
    #[must_use]
    pub fn new(opts: Arc<RedactOptions>) -> Self {
        Redactor {
            opts,
            core: Core::default(),
        }
    }

    pub(crate) fn new_proto(opts: Arc<RedactOptions>) -> Self {
        let mut r = Redactor::new(opts);
        r.core.mode = Mode::Proto;
        r
    }

    /// Scans `input`; appends to `out` every byte that is now final (masked where needed).
    /// Holds back only the shortest ambiguous tail (at most [`MAX_HELD`] bytes).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.core.feed(&self.opts, input, out);
    }

    /// [`Redactor::feed`] with `buf` as both input and output: on return it holds exactly the
    /// bytes now final. Saves copying every byte when nothing was held (the common case).
    pub fn feed_in_place(&mut self, buf: &mut Vec<u8>) {
        self.core.feed_in_place(&self.opts, buf);
    }

    /// End of body: decides and flushes the held tail. The redactor can then start a new
    /// body (context is forgotten; counts keep accumulating).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.core.finish(&self.opts, out);
    }

    /// Bytes currently held back.
    #[must_use]
    pub fn held(&self) -> usize {
        self.core.held()
    }

    /// What was masked so far, and how many bytes were fed.
    #[must_use]
    pub fn counts(&self) -> RedactionCounts {
        self.core.counts
    }
}

/// Redacts a whole buffer in place (the body has ended at its end).
pub fn redact_in_place(opts: &RedactOptions, buf: &mut [u8]) -> RedactionCounts {
    let mut counts = RedactionCounts {
        bytes_scanned: buf.len() as u64,
        ..RedactionCounts::default()
    };
    let n = scan(opts, Mode::Text, &[], buf, true, &mut counts);
    debug_assert_eq!(n, buf.len());
    counts
}

#[cfg(test)]
mod tests;
