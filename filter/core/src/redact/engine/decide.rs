//! The general decision at a candidate digit: track data, an escape, the tail of a long group,
//! a number in scientific notation, a card, then a security code (steps 1–5 in the
//! [engine](super) docs). Every fast path masks exactly what it would.

use crate::redact::chars::Kind;
use crate::redact::cvv::is_cvv_value;
use crate::redact::mask::{mask_all, mask_digits, mask_groups, Keep};
use crate::redact::number::{is_lone_digit, lone_digit};
use crate::redact::pan::{
    before, find_pan, left_free, left_of, parse_cluster, Before, Cluster, PanHit,
};
use crate::redact::scanner::{digit_run_end, is_digit};
use crate::redact::track::find_track;
use crate::redact::window::{Need, Window};
use crate::redact::{RedactOptions, RedactionCounts};

use super::Mode;

/// The general decision at a candidate (steps 1–5 of the [engine](super) docs), which every
/// fast path must agree with. A candidate is an ASCII digit or the first byte of a raw digit
/// of another script.
pub(super) fn decide(
    opts: &RedactOptions,
    mode: Mode,
    w: &mut Window<'_>,
    i: usize,
    counts: &mut RedactionCounts,
) -> Result<usize, Need> {
    let proto = mode == Mode::Proto;
    let ascii = is_digit(w.buf[i]);
    if ascii {
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
    }
    let left = left_of(w, i, proto);
    if left.digit {
        return Ok(skip_run(w, i));
    }
    if ascii && !proto && is_lone_digit(w, i)? {
        return lone_digit(opts, w, i, &left, counts);
    }
    let mut c = Cluster::new();
    if !parse_cluster(w, i, &mut c, proto)? {
        return Ok(skip_run(w, i));
    }
    let left_ok = left_free(w, &left, proto);
    // A PAN first: `cvv: 4111 1111 1111 1111` is a card, not a code followed by digits.
    if !opts.brands.is_empty() {
        let before = if c.n > 1 {
            before(w, i, opts.mask_char, c.sep[0].kind, proto)
        } else {
            Before {
                multi_ok: false,
                same_kind: false,
            }
        };
        match find_pan(w, &c, left_ok, &before, opts.brands, proto) {
            Some(PanHit::Groups(k)) => {
                let next = mask_groups(w.buf, &c, k, opts.keep, opts.mask_char);
                counts.pan += 1;
                return Ok(next);
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
    // Then a CVV: a 3–4 digit group of ASCII digits, free on both sides (what follows a
    // separator does not matter, so the decision is the same before and after that neighbour
    // is masked; a point before digits is a decimal point, not a separator).
    let len0 = c.len(0);
    let right0_free = if c.n > 1 || c.cont {
        c.sep[0].kind != Kind::Dot
    } else {
        c.right_free
    };
    if c.is_plain(0)
        && (3..=4).contains(&len0)
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
pub(super) fn resume_after_mask(start: usize, end: usize, keep: Keep) -> usize {
    match keep.kept().1 {
        0 => end,
        last => start.max(end.saturating_sub(last)),
    }
}

/// Past the digit run at `i` (to the end of the input at most), or past the one character at
/// `i` when it is a digit of another script.
fn skip_run(w: &Window<'_>, i: usize) -> usize {
    let e = digit_run_end(w.buf, i, usize::MAX);
    if e > i {
        return e;
    }
    let lead = w.buf[i];
    let n = if lead >= 0xF0 {
        4
    } else if lead >= 0xE0 {
        3
    } else {
        2
    };
    (i + n).min(w.len())
}
