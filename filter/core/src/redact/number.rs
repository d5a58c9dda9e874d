//! Card numbers written as floating-point numbers: a JSON serialiser that holds a card number
//! in a double prints `4111111111111111.0` (Python), or `4.111111111111111E15` (Java), or
//! `4.111111111111111e+15`.
//!
//! The first form is the card's digits followed by a zero fraction; `pan` reads it (a fraction
//! of zeros leaves the digits before it free). The scientific form is read here, at its
//! mantissa's integer digit:
//!
//! ```text
//! lone_digit(i):                      // d . fraction, d one digit
//!     if fraction has 12–18 digits, then e|E [+] exponent (1–2 digits), then no letter,
//!        digit or point, and fraction ≤ exponent, and 12 ≤ 1 + exponent ≤ 19:
//!         digits = d, fraction, (exponent − fraction) zeros
//!         if brand and Luhn say so: mask d and the fraction as a card of those digits
//!     go on after the number (or after the fraction: on its own, a fraction, whose left is a
//!     decimal point after a digit, starts nothing)
//! ```
//!
//! Why at least 12 fraction digits: the scan reaches this form through its fraction (the
//! integer digit is a 1-digit run, which the block loop passes over without a visit), and only
//! a fraction of 12 or more digits is always visited. A card whose last digits are zeros that
//! the serialiser drops is missed if fewer than 13 digits remain; every other card keeps at
//! least 13.
//!
//! Masking follows the card's digits: the integer digit is the first, the fraction the next;
//! zeros the exponent implies are not in the text and so not masked.

use crate::redact::brands::brand_of;
use crate::redact::luhn::luhn_valid_digits;
use crate::redact::pan::{left_free, Left, MAX_PAN};
use crate::redact::scanner::{digit_run_end, is_alnum, is_digit};
use crate::redact::window::{Need, Window};
use crate::redact::{RedactOptions, RedactionCounts};

/// Whether the digit at `i` is the integer part of a decimal number with one integer digit:
/// `d.` and a digit (the caller knows no digit precedes it).
pub(crate) fn is_lone_digit(w: &Window<'_>, i: usize) -> Result<bool, Need> {
    Ok(w.fwd(i + 1)? == Some(b'.') && w.fwd_is(i + 2, is_digit)?)
}

/// At the lone integer digit `i` of a decimal number (see [`is_lone_digit`]): masks the number
/// if it is a card in scientific notation; returns where the scan goes on.
pub(crate) fn lone_digit(
    opts: &RedactOptions,
    w: &mut Window<'_>,
    i: usize,
    left: &Left,
    counts: &mut RedactionCounts,
) -> Result<usize, Need> {
    let fs = i + 2;
    let fe = digit_run_end(w.buf, fs, MAX_PAN + 1);
    let f = fe - fs;
    if f > MAX_PAN {
        // Too long to matter: past the whole run.
        return Ok(digit_run_end(w.buf, fe, usize::MAX));
    }
    if fe == w.len() && !w.eof {
        return Err(Need);
    }
    if !(12..MAX_PAN).contains(&f) || !matches!(w.fwd(fe)?, Some(b'e' | b'E')) {
        return Ok(fe);
    }
    let mut q = fe + 1;
    if w.fwd(q)? == Some(b'+') {
        q += 1;
    }
    let xe = digit_run_end(w.buf, q, 3);
    if xe == w.len() && !w.eof {
        return Err(Need);
    }
    if !(1..=2).contains(&(xe - q)) || w.fwd(xe)?.is_some_and(|b| is_alnum(b) || b == b'.') {
        return Ok(fe);
    }
    let exp = w.buf[q..xe]
        .iter()
        .fold(0usize, |v, &d| v * 10 + usize::from(d - b'0'));
    let len = 1 + exp;
    if f > exp || !(12..=MAX_PAN).contains(&len) || !left_free(w, left, false) {
        return Ok(fe);
    }
    let mut digits = [b'0'; MAX_PAN];
    digits[0] = w.buf[i];
    digits[1..=f].copy_from_slice(&w.buf[fs..fe]);
    let digits = &digits[..len];
    if brand_of(digits, opts.brands).is_none() || !luhn_valid_digits(digits) {
        return Ok(fe);
    }
    // Card digit `k` is the integer digit (k = 0) or fraction digit k − 1.
    let (first, last) = opts.keep.kept();
    for k in first..len.saturating_sub(last) {
        match k {
            0 => w.buf[i] = opts.mask_char,
            _ if k <= f => w.buf[fs + k - 1] = opts.mask_char,
            _ => break,
        }
    }
    counts.pan += 1;
    Ok(xe)
}
