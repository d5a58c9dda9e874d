//! The fast paths: the common shapes decided from a digit run and its neighbours alone, with
//! exactly the general decision's result (`tests.rs` scans with and without them).

use crate::redact::brands::brand_of;
use crate::redact::cvv::{ends_glue, is_cvv_value};
use crate::redact::luhn::luhn_valid_digits;
use crate::redact::mask::{mask_all, mask_grouped16, mask_run};
use crate::redact::scanner::{digit_run_end, ends_number, hex_pair, is_alnum, is_digit, is_hex};
use crate::redact::window::Window;
use crate::redact::{RedactOptions, RedactionCounts};

use super::chunk_end::open_run;
use super::decide::resume_after_mask;
use super::neighbours::{
    continues, escape_before, escape_may_hold, glued_to_letter, no_card_after, soft_break_before,
};
use super::Mode;

/// Where a digit run the block loop found ends, and whether the bytes after it may continue
/// it (`neighbours::continues`, which the loop has asked already).
#[derive(Clone, Copy)]
pub(super) struct RunEnd {
    pub end: usize,
    pub continues: bool,
}

/// The common cases, decided from the raw digit run and its two neighbours alone. Returns
/// `None` when the general path must decide; otherwise exactly what the general path would.
///
/// - A run `[i, e)` not followed by a separator start cannot extend into a multi-group
///   window; escapes (`%20`, `\u0020`) can only shorten its first group, by at most 4 digits.
///   So runs of 1–2 digits and of 9–11 digits hold nothing, nor do runs of 5–8 digits that
///   no escape can precede, nor (in text) runs glued to a letter.
/// - A run of 3–4 digits can only be a code, whose value follows glue: after plain glue and
///   before a plain byte, only the code check runs ([`code_at`]).
/// - A run of 12–19 digits (text mode) with a plain byte before it (not alphanumeric, not `.`,
///   `;` or `%`: no escape, no track sentinel, no decimal) and a plain byte after it (not
///   alphanumeric, not `.`): it is a PAN exactly when brand and Luhn say so. This is the
///   `"number":"4111111111111111"` case; next to a `%XX` escape, [`card_by_escapes`].
/// - Four digits and a separator start the `4111 1111 1111 1111` shape ([`grouped_card`]).
/// - A run the input ends inside: [`open_run`].
#[inline]
pub(super) fn fast_path(
    opts: &RedactOptions,
    mode: Mode,
    w: &mut Window<'_>,
    i: usize,
    run_end: Option<RunEnd>,
    counts: &mut RedactionCounts,
) -> Option<usize> {
    let buf = &*w.buf;
    debug_assert!(is_digit(buf[i]));
    debug_assert!(
        run_end.is_none_or(|r| r.end == digit_run_end(buf, i, usize::MAX)
            && r.continues == continues(buf, r.end, r.end - i))
    );
    // The block loop knows where the run ends (its digit mask) and what follows it; a run over
    // 19 digits falls to the general path either way.
    let e = run_end.map_or_else(|| digit_run_end(buf, i, 20), |r| r.end);
    let Some(&after) = buf.get(e) else {
        return open_run(opts, mode, w, i);
    };
    if run_end.map_or_else(|| continues(buf, e, e - i), |r| r.continues) {
        if e - i == 4 && mode == Mode::Text {
            return grouped_card(opts, w, i, counts);
        }
        if after == b'%' && mode == Mode::Text && (12..=19).contains(&(e - i)) {
            return card_by_escapes(opts, w, i, e, counts);
        }
        return None;
    }
    match e - i {
        // `4.111111111111111e15`: a lone integer digit before a point is decided at the digit
        // (two digits may be one after an escape: `%A04.111…`).
        1 | 2 if after == b'.' && mode == Mode::Text => None,
        1 | 2 | 9..=11 => Some(e),
        3..=19 if mode == Mode::Text && glued_to_letter(buf, i) => Some(e),
        // Only a CVV could start here, and its value follows glue (see `cvv`).
        3 | 4 => {
            let b1 = w.back(i as isize - 1);
            if !b1.is_some_and(ends_glue) {
                return Some(e);
            }
            if b1.is_some_and(is_alnum) || soft_break_before(buf, i) {
                return None;
            }
            // Plain glue byte before (no escape, decoded left char is `b1`) and a plain byte
            // after: the general path would only run the CVV check, so run it here. After a
            // point that starts no separator (`continues` said so): it would run it unless a
            // decimal fraction follows (`"amount":123.45`; `"cvv": 123.0` is a code).
            if after == b'.' {
                match fraction_after(buf, e)? {
                    Fraction::Free => code_at(opts, w, i, e, counts),
                    Fraction::Decimal => {}
                }
                return Some(e);
            }
            if !ends_number(after) {
                return None;
            }
            code_at(opts, w, i, e, counts);
            Some(e)
        }
        5..=8 => (!escape_may_hold(w, i)).then_some(e),
        12..=19 if mode == Mode::Text => {
            let b1 = w.back(i as isize - 1);
            if b1.is_some_and(no_card_after) || !ends_number(after) || soft_break_before(buf, i) {
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

/// What the `.` after a number leaves it, as `pan::cluster` reads it.
enum Fraction {
    /// Free on that side: zeros that end the number (`.0`, `.00`), or no digit after the point.
    Free,
    /// A decimal fraction: not free.
    Decimal,
}

/// [`Fraction`] of the `.` at `e`, judged from `buf` alone (`None` when it runs off its end):
/// zeros (at most 19) before a byte that is no letter, digit or point, or no digit at all.
#[inline]
fn fraction_after(buf: &[u8], e: usize) -> Option<Fraction> {
    if !buf.get(e + 1)?.is_ascii_digit() {
        return Some(Fraction::Free);
    }
    let mut q = e + 1;
    while q - e <= 20 && *buf.get(q)? == b'0' {
        q += 1;
    }
    let next = *buf.get(q)?;
    Some(
        if q > e + 1 && q - e <= 20 && !is_alnum(next) && next != b'.' {
            Fraction::Free
        } else {
            Fraction::Decimal
        },
    )
}

/// Masks the 3–4 digit value `[i, e)` if it is a security code (its key says so).
#[inline]
pub(super) fn code_at(
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

/// The fast path for a run of 12–19 digits at `i..e` in text with a `%XX` escape on either
/// side (`number%3D4111111111111111%26`), reading the escapes as the general path does: on the
/// left, the character the escape decodes to stands for the byte before; on the right, an
/// escape that decodes to a plain ASCII character (no space, mark, digit, letter, or a byte of
/// a multi-byte character, any of which may continue the card) leaves the run free, as a plain
/// byte does. Then it is the isolated run of [`fast_path`]: a card iff brand and Luhn say so.
/// `None` for anything else (the general path decides). Out of line: rare beside the plain
/// shapes.
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
        match buf.get(e + 1..e + 3) {
            Some(&[h, l]) => match hex_pair(h, l) {
                Some(c) => !is_sep_char(c) && ends_number(c) && c < 0x80,
                // Not an escape: a `%` like any plain byte.
                None => true,
            },
            _ => false,
        }
    } else {
        ends_number(after) && !continues(buf, e, e - i)
    };
    let b1 = escape_before(buf, i).or_else(|| w.back(i as isize - 1));
    if !right_free || b1.is_some_and(no_card_after) || soft_break_before(buf, i) {
        return None;
    }
    Some(isolated_card(opts, w, i, e, counts))
}

/// Whether an ASCII character is a space or mark `chars` reads between groups.
#[inline]
fn is_sep_char(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b'\r' | b'-' | b'.' | b'/' | b'_' | b','
    )
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
        || continues(w.buf, i + 19, 4)
        || w.back(i as isize - 1)
            .is_some_and(|c| no_card_after(c) || matches!(c, b' ' | b'-' | b'+'))
        || soft_break_before(w.buf, i)
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
/// character could end the glue of a key (`"` or `:`, say), no code (every fast path masks
/// only before bytes that [`continues`] says start no separator). With such a mask character,
/// the general path's way.
#[inline]
fn after_masked_card(start: usize, end: usize, opts: &RedactOptions) -> usize {
    if ends_glue(opts.mask_char) {
        resume_after_mask(start, end, opts.keep)
    } else {
        end
    }
}
