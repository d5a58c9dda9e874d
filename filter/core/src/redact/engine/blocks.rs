//! The scan loop: one digit mask per 64-byte block, the runs that hold nothing passed over
//! from the mask and their neighbours, every other candidate digit visited (the fast path for
//! its shape, else the general decision). A block with a non-ASCII byte keeps the short runs
//! a non-ASCII byte follows (an invisible character or a space of another script may join them
//! to more digits), and one holding a digit of another script is visited candidate by
//! candidate. The bytes after the last whole block are visited one candidate at a time.

use crate::redact::chars::{find_candidate, other_digit_starts};
use crate::redact::cvv::{ends_glue, no_cvv_key_before, CvvKeys};
use crate::redact::pan::left_of;
use crate::redact::scanner::{
    block_masks, ends_number, high_mask64, is_alnum, is_digit, skip_ascii_text,
};
use crate::redact::window::{Window, MAX_LOOKAHEAD};
use crate::redact::{RedactOptions, RedactionCounts};

use super::chunk_end::held_at_end;
use super::decide::decide;
use super::fast::{code_at, fast_path, RunEnd};
use super::neighbours::{
    continues, glued_to_letter, may_start_card, no_escape_before, soft_break_before, zero_fraction,
};
use super::Mode;

/// [`super::scan`]; with `FAST = false` (tests and fuzz checks) every digit run goes through
/// the general decision, which the fast paths must agree with.
pub(super) fn scan_with<const FAST: bool>(
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
    // anything else goes to `visit`. `visit` only writes at or after `pos`, below the position
    // it returns, so the mask stays valid for the bytes after it. The window is built only for
    // the calls that need it, so the loop reads `buf` from locals (in wasm, a window whose
    // address is taken lives in linear memory and every read of `buf` would load its pointer
    // and length again).
    let text = mode == Mode::Text;
    while pos + 64 <= len {
        let base = pos;
        let block = block_masks(buf, base);
        let mut m = block.digits;
        if block.high {
            if block.maybe_lead {
                match other_script_block::<FAST>(opts, mode, ctx, buf, eof, base, m, counts) {
                    Some(Ok(next)) => {
                        pos = next;
                        continue;
                    }
                    Some(Err(hold)) => return hold,
                    None => {}
                }
            } else if FAST && m != 0 {
                m = without_short_runs_before_ascii(m, high_mask64(buf, base));
            }
        } else if FAST {
            // A block of ASCII text without a digit (most of a text-heavy body) leaves before
            // the short-run arithmetic, and in wasm so do the like blocks after it.
            if m == 0 {
                pos = skip_ascii_text(buf, base + 64);
                continue;
            }
            m = without_short_runs(m);
        }
        if m == 0 {
            pos = base + 64;
            continue;
        }
        while m != 0 {
            let k = m.trailing_zeros() as usize;
            let i = base + k;
            // Adding the run's lowest bit carries through the run: `m & carried` is `m` without
            // it, and bit `k + ones` of `carried` (the byte after the run) is set unless the
            // run reaches bit 63 (then `k + ones` = 64). No variable shift: on x86 that ties
            // up `cl`, and V8 then spills around it.
            let carried = m.wrapping_add(m & m.wrapping_neg());
            let end_bit = carried.trailing_zeros() as usize;
            let (e, ones) = (base + end_bit, end_bit - k);
            // The run ends inside the block, so the byte after it is in `buf` too.
            let inside = end_bit < 64;
            if FAST && !inside && m != u64::MAX {
                // It goes on into the next block (and, `m` not all ones, does not start the
                // block: the scan moves on): start that block at the run, which then ends
                // inside it and is passed over or handed to `visit` with its end known, like
                // the others. Visited here, a timestamp, an amount or a card cut by the
                // block's end would be read again from the start by the general path.
                pos = i;
                break;
            }
            let cont = FAST && inside && continues(buf, e, ones);
            if FAST && inside && !cont {
                if passes_over(buf, i, ones, text, &opts.cvv_keys) {
                    m &= carried;
                    continue;
                }
                if plain_code_candidate(buf, i, ones) {
                    code_at(opts, &mut Window { ctx, buf, eof }, i, e, counts);
                    m &= carried;
                    continue;
                }
            }
            let run_end = inside.then_some(RunEnd {
                end: e,
                continues: cont,
            });
            let next = match visit::<FAST>(
                opts,
                mode,
                &mut Window { ctx, buf, eof },
                i,
                run_end,
                counts,
            ) {
                Ok(next) => next,
                Err(hold) => return hold,
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
    while let Some(i) = find_candidate(w.buf, pos) {
        match visit::<FAST>(opts, mode, &mut w, i, None, counts) {
            Ok(next) => {
                debug_assert!(next > i);
                pos = next;
            }
            Err(hold) => return hold,
        }
    }
    if !eof {
        if let Some(hold) = held_at_end(mode, &w) {
            return hold;
        }
    }
    len
}

/// The block at `base`, holding a byte that may lead a digit of another script, if such a
/// digit starts in it: its candidates (ASCII digits `digits` and those digits' first bytes)
/// visited in order.
/// Returns where the scan goes on (`Ok`), or where to hold from (`Err`); `None` if no digit of
/// another script starts in the block (the block loop reads it, keeping its short runs).
#[allow(clippy::too_many_arguments)]
#[cold]
#[inline(never)]
fn other_script_block<const FAST: bool>(
    opts: &RedactOptions,
    mode: Mode,
    ctx: &[u8],
    buf: &mut [u8],
    eof: bool,
    base: usize,
    digits: u64,
    counts: &mut RedactionCounts,
) -> Option<Result<usize, usize>> {
    let mut cands = other_digit_starts(buf, base);
    if cands == 0 {
        return None;
    }
    cands |= digits;
    let mut pos = base;
    let mut w = Window { ctx, buf, eof };
    while cands != 0 {
        let i = base + cands.trailing_zeros() as usize;
        let next = match visit::<FAST>(opts, mode, &mut w, i, None, counts) {
            Ok(next) => next,
            Err(hold) => return Some(Err(hold)),
        };
        debug_assert!(next > i);
        pos = next;
        if next >= base + 64 {
            break;
        }
        cands &= !0u64 << (next - base);
    }
    Some(Ok(pos.max(base + 64)))
}

/// `m` without the digit bits of the 1–2 digit runs that end inside the block (before bit
/// 63, so the byte after them is in the block too), all at once. Such a run decides nothing
/// whatever follows it: no window that starts with a group under three digits is a card
/// grouping, a code has 3–4 digits, track data 12–19, and when the run is inside an escape, the
/// run after it is inside the same escape and is passed over as well. `m`: the block's digit
/// bits, those before the scan position cleared.
#[inline]
pub(super) fn without_short_runs(m: u64) -> u64 {
    // Bits of runs of three or more: every start of three digits in a row, spread over them.
    // The shifts are arithmetic: a run that reaches bit 63 goes on into the next block, and
    // copies of bit 63 shifted in above it keep it whatever its length here.
    let s = m as i64;
    let three = m & ((s >> 1) as u64) & ((s >> 2) as u64);
    three | (three << 1) | (three << 2)
}

/// [`without_short_runs`] for a block with bytes that are not ASCII and no digit of another
/// script (`high`: bit `k` set iff byte `k` is not ASCII): a 1–2 digit run followed by such a
/// byte is kept (an invisible character or a space of another script may join it to more
/// digits); one followed by an ASCII byte decides nothing, as in an ASCII block.
#[inline]
pub(super) fn without_short_runs_before_ascii(m: u64, high: u64) -> u64 {
    let long = without_short_runs(m);
    let short = m & !long;
    // The byte after each short run where it is not ASCII, moved back onto the run's last
    // digit; the bit before that is the run's first digit when the run has two.
    let last = ((short << 1) & !m & high) >> 1;
    long | ((last | (last >> 1)) & short)
}

/// Whether the run of `ones` digits at `i`, followed by a byte that is not a separator start,
/// is one [`fast_path`] would pass over without a change. Judged from `buf` alone: near its
/// start, where the look-back reaches into the context, it says no and the run is visited.
/// - 1–2 and 9–11 digits;
/// - 3–4 digits not after glue (no code value), after the glue of a key no configured key
///   ends like (`"amount":1234`), or before a decimal point (`"amount":123.45`);
/// - 5–8 digits no escape can precede;
/// - in text, 3–19 digits glued to a letter, and 12–19 plain digits whose first two no card
///   brand starts with (millisecond timestamps, most ids).
#[inline]
fn passes_over(buf: &[u8], i: usize, ones: usize, text: bool, keys: &CvvKeys) -> bool {
    // The run ends inside its block: `ones & 63` below only spares the table's bounds check.
    debug_assert!(ones < 64 && i + ones < buf.len());
    let plain_after = || ends_number(buf[i + ones]);
    // One load instead of a chain of range tests (V8 compiles the `match` on `ones` to one).
    match RUN_LENGTHS[ones & 63] {
        RunLength::Decides => true,
        RunLength::Code => {
            // `"amount":123.45`: a decimal point (a `.` before a digit) after it, so no code
            // unless the fraction is zeros (`"cvv": 123.0`), and too short for a card. An
            // escape before it changes neither: one that decodes to a digit ends in a digit,
            // which would be in the run.
            let decimal =
                || buf[i + ones] == b'.' && buf.get(i + ones + 1).is_some_and(u8::is_ascii_digit);
            i >= 1
                && (!ends_glue(buf[i - 1])
                    || (text && glued_to_letter(buf, i))
                    || ((plain_after() || decimal()) && no_cvv_key_before(buf, i, keys))
                    || (decimal() && !zero_fraction(buf, i + ones)))
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

/// Whether the run of `ones` digits at `i` (not passed over, not followed by what may continue
/// it) is 3–4 digits after glue that is no letter or digit (nor a soft line break that may join
/// it to digits before), with a plain byte after (no letter, digit or `.`):
/// [`fast_path`] would run the security-code check and nothing else, so the block loop runs it
/// ([`code_at`]) without a visit.
#[inline]
fn plain_code_candidate(buf: &[u8], i: usize, ones: usize) -> bool {
    matches!(ones, 3 | 4) && i >= 1 && {
        let (b1, a) = (buf[i - 1], buf[i + ones]);
        ends_glue(b1) && !is_alnum(b1) && ends_number(a) && !soft_break_before(buf, i)
    }
}

/// Decides the candidate at `i`; returns where the scan continues, or `Err` of where to hold
/// from when it needs more input.
///
/// The fraction of a number whose integer part is one digit (`4.111111111111111e15`) is
/// decided at that digit, so a card in scientific notation is masked whole: the block loop
/// passes over the 1-digit run and reaches the number through its fraction. No visit reached
/// that digit before: one that did would have decided it as a lone digit (and returned past
/// the fraction), or ended with it as the last digit of a group or an escape, and then a digit
/// or an escape precedes it, which the conditions below exclude.
#[inline(never)]
fn visit<const FAST: bool>(
    opts: &RedactOptions,
    mode: Mode,
    w: &mut Window<'_>,
    i: usize,
    run_end: Option<RunEnd>,
    counts: &mut RedactionCounts,
) -> Result<usize, usize> {
    let at_digit = is_digit(w.buf[i]);
    let c = if mode == Mode::Text
        && at_digit
        && i >= 2
        && w.buf[i - 1] == b'.'
        && is_digit(w.buf[i - 2])
        && !left_of(w, i - 2, false).digit
        && matches!(w.escape_containing(i - 2), Ok(None))
    {
        i - 2
    } else {
        if FAST && at_digit {
            if let Some(next) = fast_path(opts, mode, w, i, run_end, counts) {
                return Ok(next);
            }
        }
        i
    };
    decide(opts, mode, w, c, counts).map_err(|_| {
        debug_assert!(!w.eof);
        debug_assert!(w.len() - c < MAX_LOOKAHEAD);
        c
    })
}
