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

use crate::redact::brands::brand_of;
use crate::redact::cvv::{ends_glue, is_cvv_value, no_cvv_key_before, CvvKeys};
use crate::redact::luhn::luhn_valid_digits;
use crate::redact::mask::{mask_all, mask_digits, mask_grouped16, mask_groups, mask_run, Keep};
use crate::redact::pan::{
    find_pan, left_free, multi_group_may_start, parse_cluster, Cluster, PanHit,
};
use crate::redact::scanner::{
    digit_mask64, digit_run_end, ends_number, find_digit, hex_val, is_alnum, is_digit, is_hex,
    is_sep_start,
};
use crate::redact::track::find_track;
use crate::redact::window::{Need, Window, CTX, MAX_LOOKAHEAD};
use crate::redact::{RedactOptions, RedactionCounts};

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

/// [`scan`]; with `FAST = false` (tests and fuzz checks) every digit run goes through the
/// general decision, which the fast paths must agree with.
fn scan_with<const FAST: bool>(
    opts: &RedactOptions,
    mode: Mode,
    ctx: &[u8],
    buf: &mut [u8],
    eof: bool,
    counts: &mut RedactionCounts,
) -> usize {
    let len = buf.len();
    let mut pos = 0;
    // Block loop: one 64-bit digit mask per 64 bytes; runs that cannot hold anything are
    // passed over from the mask and their neighbours (`without_short_runs`, `passes_over`),
    // anything else goes to `visit`. `visit` only writes below the position it returns, so the
    // mask stays valid for the bytes after it. The window is built only for the calls that need
    // it, so the loop reads `buf` from locals (in wasm, a window whose address is taken lives in
    // linear memory and every read of `buf` would load its pointer and length again).
    while pos + 64 <= len {
        let base = pos;
        let mut m = digit_mask64(buf, base) & (!0u64 << (pos - base));
        if FAST {
            m = without_short_runs(m);
        }
        while m != 0 {
            let k = m.trailing_zeros() as usize;
            let i = base + k;
            // Adding the run's lowest bit carries through the run: `m & carried` is `m` without
            // it, and bit `k + ones` of `carried` (the byte after the run) is set unless the
            // run reaches bit 63 (then `k + ones` = 64). No variable shift: on x86 that ties
            // up `cl`, and V8 then spills around it.
            let carried = m.wrapping_add(m & m.wrapping_neg());
            let ones = carried.trailing_zeros() as usize - k;
            if FAST && k + ones < 64 {
                // The run ends inside the block, so the byte after it is in `buf` too.
                let passed = !is_sep_start(buf[i + ones])
                    && passes_over(buf, i, ones, mode == Mode::Text, &opts.cvv_keys);
                if passed || plain_code_candidate(buf, i, ones) {
                    if !passed {
                        code_at(opts, &mut Window { ctx, buf, eof }, i, i + ones, counts);
                    }
                    m &= carried;
                    continue;
                }
            }
            let run_end = (k + ones < 64).then_some(i + ones);
            let next = match visit::<FAST>(
                opts,
                mode,
                &mut Window { ctx, buf, eof },
                i,
                run_end,
                counts,
            ) {
                Ok(next) => next,
                Err(Need) => {
                    debug_assert!(!eof);
                    debug_assert!(len - i < MAX_LOOKAHEAD);
                    return i;
                }
            };
            debug_assert!(next > i);
            pos = next;
            if next >= base + 64 {
                break;
            }
            m &= !0u64 << (next - base);
        }
        if m == 0 {
            pos = pos.max(base + 64);
        }
    }
    let mut w = Window { ctx, buf, eof };
    while let Some(i) = find_digit(w.buf, pos) {
        match visit::<FAST>(opts, mode, &mut w, i, None, counts) {
            Ok(next) => {
                debug_assert!(next > i);
                pos = next;
            }
            Err(Need) => {
                debug_assert!(!eof);
                debug_assert!(len - i < MAX_LOOKAHEAD);
                return i;
            }
        }
    }
    len
}

/// `m` without the digit bits of the 1–2 digit runs that end inside the block (before bit
/// 63, so the byte after them is in the block too), all at once. Such a run decides nothing
/// whatever follows it: no window that starts with a group under three digits is a card
/// grouping, a code has 3–4 digits, track data 12–19, and when the run is inside an escape, the
/// run after it is inside the same escape and is passed over as well. `m`: the block's digit
/// bits, those before the scan position cleared.
#[inline]
fn without_short_runs(m: u64) -> u64 {
    // Bits of runs of three or more: every start of three digits in a row, spread over them.
    let three = m & (m >> 1) & (m >> 2);
    let long = three | (three << 1) | (three << 2);
    // A run that reaches bit 63 goes on into the next block: keep it whatever its length
    // here (its last two bits; a longer one is in `long`).
    let open = m & ((m as i64 >> 63) as u64) & (0b11 << 62);
    long | open
}

/// Whether the run of `ones` digits at `i`, followed by a byte that is not a separator start,
/// is one [`fast_path`] would pass over without a change, judged from the bytes of `buf` alone
/// (near the start of `buf`, where the look-back reaches into the context, it says no and the
/// run is visited): runs of 1–2 and 9–11 digits; 3–4 digits not after glue (no CVV value),
/// after the glue of a key no configured key ends like (`"amount":1234`), or before a decimal
/// point (`"amount":123.45`); 5–8 digits no escape can precede;
/// in text, 3–19 digits glued to a letter, and 12–19 plain digits whose first two
/// no card brand starts with (ms timestamps, most ids).
#[inline]
fn passes_over(buf: &[u8], i: usize, ones: usize, text: bool, keys: &CvvKeys) -> bool {
    let plain_after = || ends_number(buf[i + ones]);
    // One load instead of a chain of range tests (V8 compiles the `match` on `ones` to one).
    match RUN_LENGTHS[ones & 63] {
        RunLength::Decides => true,
        RunLength::Code => {
            i >= 1
                && (!ends_glue(buf[i - 1])
                    || (text && glued_to_letter(buf, i))
                    || (plain_after() && no_cvv_key_before(buf, i, keys))
                    // `"amount":123.45`: a decimal point (a `.` before a digit) after it, so
                    // no code, and too short for a card. An escape before it changes neither:
                    // one that decodes to a digit ends in a digit, which would be in the run.
                    || (buf[i + ones] == b'.'
                        && buf.get(i + ones + 1).is_some_and(u8::is_ascii_digit)))
        }
        RunLength::Mid => no_escape_before(buf, i),
        RunLength::Card => {
            text && if may_start_card(buf[i], buf[i + 1]) {
                glued_to_letter(buf, i)
            } else {
                i >= 1
                    && !(is_alnum(buf[i - 1]) || matches!(buf[i - 1], b'.' | b';' | b'%'))
                    && plain_after()
                    || glued_to_letter(buf, i)
            }
        }
        RunLength::Long => false,
    }
}

/// The classes of run length [`passes_over`] tells apart.
#[derive(Clone, Copy)]
enum RunLength {
    /// 1–2 and 9–11 digits: no code, no card grouping starts with it, no card on its own.
    Decides,
    /// 3–4 digits: a security code's length.
    Code,
    /// 5–8 digits.
    Mid,
    /// 12–19 digits: a card's length.
    Card,
    /// 20 and more (and 0): left to the general path.
    Long,
}

/// [`RunLength`] by the run's length (a run inside a 64-byte block has at most 63 digits).
const RUN_LENGTHS: [RunLength; 64] = {
    let mut t = [RunLength::Long; 64];
    let mut n = 1;
    while n < 20 {
        t[n] = match n {
            1 | 2 | 9..=11 => RunLength::Decides,
            3 | 4 => RunLength::Code,
            5..=8 => RunLength::Mid,
            _ => RunLength::Card,
        };
        n += 1;
    }
    t
};

/// Whether the run of `ones` digits at `i` (not passed over) is 3–4 digits after glue that is
/// no letter or digit, with a plain byte after (no letter, digit, `.` or separator start):
/// [`fast_path`] would run the security-code check and nothing else, so the block loop runs it
/// ([`code_at`]) without a visit.
#[inline]
fn plain_code_candidate(buf: &[u8], i: usize, ones: usize) -> bool {
    matches!(ones, 3 | 4) && i >= 1 && {
        let (b1, a) = (buf[i - 1], buf[i + ones]);
        ends_glue(b1) && !is_alnum(b1) && ends_number(a) && !is_sep_start(a)
    }
}

/// Masks the 3–4 digit value `[i, e)` if it is a security code (its key says so).
#[inline]
fn code_at(
    opts: &RedactOptions,
    w: &mut Window<'_>,
    i: usize,
    e: usize,
    counts: &mut RedactionCounts,
) {
    if !opts.cvv_keys.is_empty() && is_cvv_value(w, i, &opts.cvv_keys) {
        mask_all(w.buf, i, e, opts.mask_char);
        counts.cvv += 1;
    }
}

/// Whether no `%XX` or `\uXXXX` escape can end right before the run at `i` or hold its first
/// digits (no `%` in the two bytes before it, no `u` in the four): a 5–8 digit run then
/// decides nothing (too long for a code, too short for a card, and no decoded digit joins it).
/// [`escape_may_hold`] negated, read from `buf` alone for the block loop (near the start of
/// `buf`, where the look-back would reach into the context, it says no).
#[inline]
fn no_escape_before(buf: &[u8], i: usize) -> bool {
    i >= 4 && !buf[i - 2..i].contains(&b'%') && !buf[i - 4..i].contains(&b'u')
}

/// Whether a card of some brand can start with the digits `a b` (the two-digit IIN prefixes of
/// the table in [`crate::redact::brands`], every brand): a run starting otherwise is no card.
#[inline]
fn may_start_card(a: u8, b: u8) -> bool {
    // Two words, not a `u128`: wasm32 has no 128-bit shift, and `u128 >> n` there is a call.
    const PREFIXES: [u64; 2] = {
        let mut m = [0u64; 2];
        let mut p = 0;
        while p < 100 {
            if matches!(p, 22..=27 | 30 | 34..=39 | 40..=59 | 60 | 62..=65 | 67 | 81) {
                m[p / 64] |= 1 << (p % 64);
            }
            p += 1;
        }
        m
    };
    let p2 = usize::from(a.wrapping_sub(b'0')) * 10 + usize::from(b.wrapping_sub(b'0'));
    p2 >= 100 || PREFIXES[p2 / 64] >> (p2 % 64) & 1 == 1
}

/// Whether the digit run at `i` follows a letter that is itself, not the end of an escape:
/// no `%` two or three bytes back (`%3D`, `%B`), no `\` two back (`\n`), no `u` two to five
/// back (`\u0041`). Such a run (`jane1234@`, `SKU-A123`'s digits) touches a letter, so in text
/// it starts neither a card nor a security code, nor is it inside an escape: the general path
/// would only step to its end. (Judged from `buf` alone; near its start, says no.)
#[inline(always)]
fn glued_to_letter(buf: &[u8], i: usize) -> bool {
    i >= 5
        && buf[i - 1].is_ascii_alphabetic()
        && !matches!(buf[i - 2], b'%' | b'\\' | b'u')
        && buf[i - 3] != b'%'
        && !buf[i - 5..i - 2].contains(&b'u')
}

/// Decides the candidate digit at `i`; returns where the scan continues.
fn visit<const FAST: bool>(
    opts: &RedactOptions,
    mode: Mode,
    w: &mut Window<'_>,
    i: usize,
    run_end: Option<usize>,
    counts: &mut RedactionCounts,
) -> Result<usize, Need> {
    if FAST {
        if let Some(next) = fast_path(opts, mode, w, i, run_end, counts) {
            return Ok(next);
        }
    }
    decide(opts, mode, w, i, counts)
}

/// The general decision at a candidate (steps 1–4 of the module docs), which every fast path
/// must agree with.
fn decide(
    opts: &RedactOptions,
    mode: Mode,
    w: &mut Window<'_>,
    i: usize,
    counts: &mut RedactionCounts,
) -> Result<usize, Need> {
    if opts.track_data {
        if let Some((s, e)) = find_track(w, i)? {
            mask_all(w.buf, s, e, opts.mask_char);
            counts.track += 1;
            return Ok(e + 1);
        }
    }
    if let Some(next) = w.escape_containing(i)? {
        return Ok(next);
    }
    let (lc, lstart) = w.left_char(i as isize);
    if lc.is_some_and(is_digit) {
        return Ok(skip_run(w, i));
    }
    let mut c = Cluster::new();
    if !parse_cluster(w, i, &mut c)? {
        return Ok(skip_run(w, i));
    }
    let proto = mode == Mode::Proto;
    let left_ok = left_free(w, lc, lstart, proto);
    // A PAN first: `cvv: 4111 1111 1111 1111` is a card, not a code followed by digits.
    if !opts.brands.is_empty() {
        let multi_ok = c.n > 1 && multi_group_may_start(w, i, opts.mask_char);
        match find_pan(w, &c, left_ok, multi_ok, opts.brands, proto) {
            Some(PanHit::Groups(k)) => {
                mask_groups(w.buf, &c, k, opts.keep, opts.mask_char);
                counts.pan += 1;
                return Ok(resume_after_mask(c.start[k], c.end[k], opts.keep));
            }
            Some(PanHit::Trimmed(s, e)) => {
                mask_digits(
                    w.buf,
                    std::iter::once((s, e)),
                    e - s,
                    opts.keep,
                    opts.mask_char,
                );
                counts.pan += 1;
                return Ok(resume_after_mask(s, e, opts.keep));
            }
            None => {}
        }
    }
    // Then a CVV: a 3–4 digit group free on both sides (what follows a separator does not
    // matter, so the decision is the same before and after that neighbour is masked).
    let len0 = c.len(0);
    let right0_free = c.n > 1 || c.cont || c.right_free;
    if (3..=4).contains(&len0)
        && left_ok
        && right0_free
        && !opts.cvv_keys.is_empty()
        && is_cvv_value(w, i, &opts.cvv_keys)
    {
        mask_all(w.buf, c.start[0], c.end[0], opts.mask_char);
        counts.cvv += 1;
    }
    Ok(c.end[0])
}

/// Where the scan goes on after masking a card whose last digit group is `[start, end)`: at the
/// digits the mask kept readable in that group, if any, else after it. The kept digits are
/// still digits: with what follows they may form another card (`… 4006 111111111` after a
/// 19-digit card kept `4006`), which a second pass over the output would find. Scanning them
/// again masks that card now (over-masking, the safe way) and keeps redaction idempotent.
/// Always past the candidate: a group kept whole is not the first group, and a single group
/// holds at least 12 digits.
#[inline]
fn resume_after_mask(start: usize, end: usize, keep: Keep) -> usize {
    match keep.kept().1 {
        0 => end,
        last => start.max(end.saturating_sub(last)),
    }
}

/// The common cases, decided from the raw digit run and its two neighbours alone. Returns
/// `None` when the general path must decide; otherwise exactly what the general path would.
///
/// - A run `[i, e)` not followed by a separator start cannot extend into a multi-group
///   window; escapes (`%20`, `\u0020`) can only shorten its first group, by at most 4 digits.
///   So runs of 1–2 digits and of 9–11 digits hold nothing, nor do runs of 5–8 digits that
///   no escape can precede.
/// - A run of 12–19 digits (text mode) with a plain byte before it (not alphanumeric, not `.`,
///   `;` or `%`: no escape, no track sentinel, no decimal) and a plain byte after it (not
///   alphanumeric, not `.`): it is a PAN exactly when brand and Luhn say so. This is the
///   `"number":"4111111111111111"` case.
#[inline]
fn fast_path(
    opts: &RedactOptions,
    mode: Mode,
    w: &mut Window<'_>,
    i: usize,
    run_end: Option<usize>,
    counts: &mut RedactionCounts,
) -> Option<usize> {
    let buf = &*w.buf;
    // The block loop knows where the run ends (its digit mask); a run over 19 digits falls
    // to the general path either way.
    let e = run_end.unwrap_or_else(|| digit_run_end(buf, i, 20));
    let Some(&after) = buf.get(e) else {
        return open_run(opts, mode, w, i);
    };
    if is_sep_start(after) {
        if e - i == 4 && mode == Mode::Text {
            return grouped_card(opts, w, i, counts);
        }
        if after == b'%' && mode == Mode::Text && (12..=19).contains(&(e - i)) {
            return card_by_escapes(opts, w, i, e, counts);
        }
        return None;
    }
    match e - i {
        1 | 2 | 9..=11 => Some(e),
        3..=19 if mode == Mode::Text && glued_to_letter(buf, i) => Some(e),
        // Only a CVV could start here, and its value follows glue (see `cvv`).
        3 | 4 => {
            let b1 = w.back(i as isize - 1);
            if !b1.is_some_and(ends_glue) {
                return Some(e);
            }
            // Plain glue byte before (no escape, decoded left char is `b1`) and a plain byte
            // after: the general path would only run the CVV check, so run it here.
            if b1.is_some_and(is_alnum) || !ends_number(after) {
                return None;
            }
            code_at(opts, w, i, e, counts);
            Some(e)
        }
        5..=8 => (!escape_may_hold(w, i)).then_some(e),
        12..=19 if mode == Mode::Text => {
            let b1 = w.back(i as isize - 1);
            if b1.is_some_and(no_card_after) || !ends_number(after) {
                if b1.is_some_and(is_hex) && escape_before(buf, i).is_some() {
                    return card_by_escapes(opts, w, i, e, counts);
                }
                return None;
            }
            Some(isolated_card(opts, w, i, e, counts))
        }
        _ => None,
    }
}

/// A run that reaches the end of the input (of a chunk, when more may come, so its length is
/// unknown) and that the general path would pass over whatever follows: its first digits start
/// no card brand, no escape holds its first digit, no track sentinel precedes it, and it is no
/// security code (not after a security-code key, or already over four digits). Returns the end
/// of the input: nothing is held, and the rest of the run, in the next chunk, follows a digit
/// and is passed over there. So a chunk that ends inside a timestamp or an id
/// (`"created":17485…`, `ord_0000…`) is not held back: the filter then neither rewrites the
/// chunk without its tail nor pauses it (and a large HTTP/2 chunk's tail is not left in the
/// filter when trailers may follow, which resets the stream). In text only
/// (protobuf mode may drop a run's first byte or two). At most once per chunk: out of line.
#[inline(never)]
fn open_run(opts: &RedactOptions, mode: Mode, w: &Window<'_>, i: usize) -> Option<usize> {
    let len = w.len();
    let digits = &w.buf[i..];
    let passed_over = mode == Mode::Text
        && !card_may_start_with(digits)
        // No track 2 sentinel; track 1's `%B` is a `%` two back, which the escape check sees.
        && w.back(i as isize - 1) != Some(b';')
        && !escape_may_hold(w, i)
        && (digits.len() > 4 || opts.cvv_keys.is_empty() || !is_cvv_value(w, i, &opts.cvv_keys));
    passed_over.then_some(len)
}

/// Whether an escape may hold the digit at `i` or end right before it, reading behind into the
/// context: a `%` one or two bytes back (`%XX`), a `u` up to four back (`\uXXXX`).
#[inline]
fn escape_may_hold(w: &Window<'_>, i: usize) -> bool {
    let ii = i as isize;
    w.back(ii - 1) == Some(b'%')
        || w.back(ii - 2) == Some(b'%')
        || (1..=4).any(|k| w.back(ii - k) == Some(b'u'))
}

/// Whether a card of some brand can start with `digits` (their first two; with only one, any
/// second digit).
fn card_may_start_with(digits: &[u8]) -> bool {
    match *digits {
        [] => true,
        [a] => (b'0'..=b'9').any(|b| may_start_card(a, b)),
        [a, b, ..] => may_start_card(a, b),
    }
}

/// The fast path for a run of 12–19 digits at `i..e` in text with a `%XX` escape on either
/// side (`number%3D4111111111111111%26`), reading the escapes as the general path does: on the
/// left, the character the escape decodes to stands for the byte before; on the right, any
/// escape but `%20` (an encoded group separator) leaves the run free, as a plain byte does.
/// Then it is the isolated run of [`fast_path`]: a card iff brand and Luhn say so. `None` for
/// anything else (the general path decides). Out of line: rare beside the plain shapes.
#[inline(never)]
fn card_by_escapes(
    opts: &RedactOptions,
    w: &mut Window<'_>,
    i: usize,
    e: usize,
    counts: &mut RedactionCounts,
) -> Option<usize> {
    let buf = &*w.buf;
    let after = *buf.get(e)?;
    let right_free = if after == b'%' {
        buf.get(e + 1..e + 3).is_some_and(|x| x != b"20")
    } else {
        ends_number(after) && !is_sep_start(after)
    };
    let b1 = escape_before(buf, i).or_else(|| w.back(i as isize - 1));
    if !right_free || b1.is_some_and(no_card_after) {
        return None;
    }
    Some(isolated_card(opts, w, i, e, counts))
}

/// Whether the fast paths leave a run after `c` to the general path: a letter or digit (glued
/// to it), `.` (a decimal), `;` (a track 2 start sentinel) or `%` (an escape).
#[inline(always)]
fn no_card_after(c: u8) -> bool {
    is_alnum(c) || matches!(c, b'.' | b';' | b'%')
}

/// The isolated run of 12–19 digits `[i, e)` in text (free on both sides): a card iff brand
/// and Luhn say so, then masked and counted. Where the scan goes on.
#[inline(always)]
fn isolated_card(
    opts: &RedactOptions,
    w: &mut Window<'_>,
    i: usize,
    e: usize,
    counts: &mut RedactionCounts,
) -> usize {
    let digits = &w.buf[i..e];
    if brand_of(digits, opts.brands).is_some() && luhn_valid_digits(digits) {
        mask_run(w.buf, i, e, opts.keep, opts.mask_char);
        counts.pan += 1;
        return after_masked_card(i, e, opts);
    }
    e
}

/// The character the `%XX` escape ending right before `i` decodes to (0x80 for any byte over
/// 0x7f, as `Window::left_char` reads it), if one does; judged from `buf` alone.
#[inline]
fn escape_before(buf: &[u8], i: usize) -> Option<u8> {
    if i < 3 || buf[i - 3] != b'%' || !is_hex(buf[i - 2]) || !is_hex(buf[i - 1]) {
        return None;
    }
    let v = hex_val(buf[i - 2]) * 16 + hex_val(buf[i - 1]);
    Some(v.min(0x80))
}

/// The grouped card of the common shape, `4111 1111 1111 1111` (or with `-` or `+`), with
/// plain bytes around it: exactly four groups of four digits with one separator kind, then a
/// byte that is not a separator start, letter, digit or `.`; before it a byte that is not a
/// letter, digit, separator, `.`, `;` or `%` (no escape, track sentinel, decimal point or
/// earlier group). The general path then finds the same cluster, may start a multi-group
/// window (no group before it), and tries the 16-digit window first: it is the PAN exactly
/// when brand and Luhn say so. When they say no, shorter windows are left to the general path.
#[inline]
fn grouped_card(
    opts: &RedactOptions,
    w: &mut Window<'_>,
    i: usize,
    counts: &mut RedactionCounts,
) -> Option<usize> {
    let b: &[u8; 20] = w.buf.get(i..i + 20)?.try_into().ok()?;
    let sep = b[4];
    let groups_ok = matches!(sep, b' ' | b'-' | b'+')
        && b[9] == sep
        && b[14] == sep
        && [0, 5, 10, 15]
            .iter()
            .all(|&g| b[g..g + 4].iter().all(|&c| is_digit(c)));
    let after = b[19];
    if !groups_ok
        || !ends_number(after)
        || is_sep_start(after)
        || w.back(i as isize - 1)
            .is_some_and(|c| no_card_after(c) || matches!(c, b' ' | b'-' | b'+'))
    {
        return None;
    }
    let mut digits = [0u8; 16];
    for (k, g) in [0, 5, 10, 15].into_iter().enumerate() {
        digits[4 * k..4 * k + 4].copy_from_slice(&b[g..g + 4]);
    }
    if brand_of(&digits, opts.brands).is_none() || !luhn_valid_digits(&digits) {
        return None;
    }
    mask_grouped16(w.buf, i, opts.keep, opts.mask_char);
    counts.pan += 1;
    Some(after_masked_card(i + 15, i + 19, opts))
}

/// Where a fast path goes on after masking a card whose last group `[start, end)` is followed
/// by a plain byte (no separator, letter, digit or `.`): after it. The general path goes on at
/// the digits the mask kept ([`resume_after_mask`]), but between mask characters (or a
/// separator after them) and that plain byte they start no card and, unless the mask
/// character could end the glue of a key (`"` or `:`, say), no code. With such a mask
/// character, the general path's way.
#[inline]
fn after_masked_card(start: usize, end: usize, opts: &RedactOptions) -> usize {
    if ends_glue(opts.mask_char) {
        resume_after_mask(start, end, opts.keep)
    } else {
        end
    }
}

/// The end of the digit run containing `i` (or the end of the input).
fn skip_run(w: &Window<'_>, i: usize) -> usize {
    digit_run_end(w.buf, i, usize::MAX)
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
