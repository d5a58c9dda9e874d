//! The push parser: a [`Redactor`] masks card numbers, security codes and track data in a body
//! fed to it in chunks, holding back at most [`MAX_HELD`] bytes between them.
//!
//! `feed` puts the held tail and the new input in the caller's output vector (one copy, which
//! the caller needed anyway) and masks that region in place. In pseudo-code:
//!
//! ```text
//! feed(input):
//!     buf = held ++ input
//!     end = scan(buf)                      // masks in place; buf[..end] is final
//!     emit buf[..end]; held = buf[end..]
//!     ctx = the last CTX bytes emitted      // what the next call sees behind it
//!
//! scan(buf):                                                  blocks.rs
//!     for each 64-byte block:
//!         m = one bit per ASCII digit; high = whether any byte is not ASCII
//!         if high and a digit of another script starts in the block (`４`, `٤`):
//!             visit every candidate of the block in order, then next block
//!         for each run of ones in m, first to last:
//!             if it runs into the next block and does not start this one:
//!                 start the next block at it, next block
//!             if the run decides nothing: next run          // from m and its neighbours
//!             match visit(first digit of the run):
//!                 Ok(next)   => go on from next (clear the bits of m below it)
//!                 Err(from)  => return from                 // hold from there
//!     visit each candidate after the last whole block the same way
//!     if the body goes on: hold a trailing `d.` or a digit of another script cut in two
//!     return buf.len()
//!
//! visit(i):
//!     if i starts the fraction of a number whose integer part is one digit d (`d.ddd…`):
//!         decide(d)                                       // see step 4
//!     elif a fast path knows the run's shape: its answer      fast.rs
//!     else decide(i):                                          decide.rs
//!         1. track data (%B…^…^…?, ;…=…?) whose PAN starts at i: mask it whole
//!         2. i inside a %XX or \uXXXX escape: skip the escape
//!         3. a digit right before i, in any script and through the invisible characters that
//!            join it (the tail of a group too long for a card): skip the run
//!         4. i a lone integer digit before a point: a card in scientific notation
//!            (`4.111111111111111e15`): mask it                      number.rs
//!         5. the longest card window of the digit groups from i, in any spelling (pan/,
//!            chars/): mask it, each byte of a multi-byte digit;
//!            else a 3–4 digit group after a security-code key (cvv/): mask it
//! ```
//!
//! A card goes before a code in step 5, so `cvv: 4111 1111 1111 1111` is a card, and a second
//! pass over the output finds nothing new (redaction is idempotent).
//!
//! Translated line for line, that is correct but slow: most digits in real bodies are ids,
//! amounts and timestamps, and the general decision parses a cluster of digit groups at each.
//! The tricks:
//!
//! 1. **One digit mask per 64 bytes.** `scanner::block_masks` (SSE2, wasm `simd128` or
//!    portable SWAR) gives one bit per byte. The loop reads runs from it with `trailing_zeros`,
//!    and a run's length from the carry of adding its lowest bit (`m + (m & -m)`): no
//!    variable shift, which on x86 ties up `cl` and makes V8 spill around it.
//! 2. **Runs passed over from the mask.** Every 1–2 digit run that ends inside the block is
//!    dropped at once (`blocks::without_short_runs`; in a block with bytes that are not ASCII,
//!    those followed by an ASCII byte). A block of ASCII text without a digit hands over to a
//!    loop that passes over the like blocks after it (`scanner::skip_ascii_text`), one
//!    yes-or-no test per block. Of the other runs not followed by a
//!    separator, `blocks::passes_over` drops those that decide nothing, judged from the run's
//!    length (one load from a 64-entry table of length classes) and the bytes around it: 9–11
//!    digits; 5–8 digits no escape can precede; 3–4 digits after no key glue, after a key that
//!    no configured key ends like (`"amount":1234`) or before a decimal point; in text, a run
//!    glued to a letter, and 12–19 plain digits no card brand starts with (millisecond
//!    timestamps, most ids). A 3–4 digit run after plain glue goes straight to the
//!    security-code check.
//!    A run that goes on into the next block is not judged where it is cut: the next block
//!    starts at the run, which then ends inside it (unless it fills a whole block) and is
//!    judged like any other, instead of a visit finding its end and neighbours again.
//! 3. **Fast paths for the common shapes** (`fast.rs`), decided from the run and its
//!    neighbours without parsing a cluster: an isolated 12–19 digit run (`"number":"4111…"`,
//!    also next to a `%XX` escape) is a card iff brand and Luhn say so; an isolated 4-4-4-4
//!    grouping with one separator kind (`4111 1111 1111 1111`) is one when they say yes (when
//!    they say no, the general decision tries the shorter windows); a 3–4 digit run after
//!    plain glue needs only the security-code check.
//! 4. **The loop's state in locals.** The `Window` (context, buffer, end of body) is built
//!    only for the calls that need it: in wasm, a value whose address is taken lives in linear
//!    memory, and every read of the buffer through it would load its pointer and length again.
//! 5. **Only what may still matter is held.** A run cut by the end of a chunk is held only
//!    while it may still start a card or be a code (`chunk_end::open_run`): a timestamp or an
//!    id cut there is final at once, so the host neither rewrites nor pauses the chunk for it.
//! 6. **The rare spellings cost the common case one OR per block and a class bit.** The block
//!    pass ORs the four loads it already made and takes one more movemask: a block of ASCII
//!    bytes (almost every block of a JSON API) drops its 1–2 digit runs and is read as before;
//!    only a block with a non-ASCII byte keeps them (a raw invisible character or a digit of
//!    another script may join them to more digits) and tests the loaded vectors for bytes
//!    that may lead a digit of another script; only a block holding one looks for those
//!    digits (`chars::other_digit_starts`, out of line). After a run, the class table answers
//!    "may a separator follow?" for most bytes (` `, `-`, `/`, tab, … yes; letters, quotes,
//!    `:` no); `.` `,` (after four digits only: a class bit of their own), `&` `=` and eight
//!    UTF-8 leads (out of line) get a closer look (`neighbours::continues`):
//!    `"amount":1234,"currency"` and
//!    `"price":19.99` are still passed over from the mask. Escapes, entities, UTF-8 and the
//!    separator grammar are decoded only in the general path (`chars`).
//!
//! Every decision reads at most `MAX_LOOKBACK` (224) bytes behind its candidate and
//! `MAX_LOOKAHEAD` (192) ahead (see `window`: a cluster of groups spans at most 128 bytes,
//! and a separator and a character after it at most 48 more). When it needs bytes that have
//! not arrived, the scan stops at the candidate: everything before it is final, the rest is
//! held (fewer than `MAX_LOOKAHEAD` bytes) and scanned again with the next chunk. The integer
//! digit of a number in scientific notation is the candidate of its fraction, so it is held
//! with it, and a trailing `d.` is held at the end of an input too (two bytes). A decision depends only on
//! the bytes around its candidate, never on where chunks were cut, so the output is
//! byte-identical however the input is split (`tests/redact_stream.rs`: every split point,
//! 1-byte chunks, random splits).
//!
//! The trade-off: tricks 2, 3, 5 and 6 restate, for one shape each, what the general decision
//! would do, and must agree with it byte for byte and count for count; every spelling the
//! general path reads is one more neighbour they must recognise as "not plain" (a byte after a
//! run that may continue it, a non-ASCII byte or a soft line break before one). `tests.rs`
//! scans with and without them (`blocks::scan_with::<false>`) over every shape they take
//! between every neighbour that could change the answer (the spellings of `chars` included),
//! every mask character and keep option, and random input, and so does the redaction fuzz
//! check (`fast_and_general_scans`). A change to what `decide` masks must keep those tests
//! passing, or narrow a fast path.
//!
//! Invariants, checked with `debug_assert!` where noted:
//! - the output is as long as the input: masks are written in place over a `&mut [u8]`, and
//!   a call splits its region into what it emits and what it holds (by construction);
//! - after every call `held() <= MAX_HELD` (`Core::feed`, `Core::feed_in_place`) and the
//!   context is at most `CTX` bytes (`Core::remember`);
//! - a scan stops early only at a candidate fewer than `MAX_LOOKAHEAD` bytes from the end,
//!   or at a trailing `d.` or cut digit of another script (at most 3 bytes), never once the
//!   body has ended (`blocks::visit`, `blocks::scan_with`, `Core::finish`);
//! - every visit returns a position past its candidate (`blocks::scan_with`), and writes only
//!   from its candidate (or the integer digit it moved back to, which no earlier visit
//!   reached) up to that position, so what precedes a held candidate is final and the block's
//!   mask stays true after it (proved by the chunking tests, not asserted);
//! - a candidate is an ASCII digit or the first byte of a raw digit of another script, and a
//!   run the block loop hands over with its end ends there (`fast::fast_path`); a run
//!   `open_run` lets pass reaches the end of the input.

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
pub enum Mode {
    /// Text (JSON, XML, forms, anything): the default.
    #[default]
    Text,
    /// Protobuf message bytes inside gRPC frames (see `redact::pan`).
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
    /// Bytes held back for the next call.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Scans the held tail and `input`: appends what is now final to `out`, holds the rest.
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

/// A whole body scanned with and without the fast paths: the two outputs and counts, which
/// must be equal. For the tests and, with the `scan-oracle` feature, the testkit's fuzz checks.
#[cfg(any(test, feature = "scan-oracle"))]
pub fn fast_and_general_scans(
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
