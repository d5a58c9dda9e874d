//! The general decision at a candidate digit: track data, an escape, the tail of a long run, a
//! card, then a security code (steps 1–4 in the [engine](super) docs). Every fast path masks
//! exactly what it would.

use crate::redact::cvv::is_cvv_value;
use crate::redact::mask::{mask_all, mask_digits, mask_groups, Keep};
use crate::redact::pan::{
    find_pan, left_free, multi_group_may_start, parse_cluster, Cluster, PanHit,
};
use crate::redact::scanner::{digit_run_end, is_digit};
use crate::redact::track::find_track;
use crate::redact::window::{Need, Window};
use crate::redact::{RedactOptions, RedactionCounts};

use super::Mode;

/// The general decision at a candidate (steps 1–4 of the [engine](super) docs), which every
/// fast path must agree with.
pub(super) fn decide(
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
pub(super) fn resume_after_mask(start: usize, end: usize, keep: Keep) -> usize {
    match keep.kept().1 {
        0 => end,
        last => start.max(end.saturating_sub(last)),
    }
}

/// The end of the digit run containing `i` (or the end of the input).
fn skip_run(w: &Window<'_>, i: usize) -> usize {
    digit_run_end(w.buf, i, usize::MAX)
}
