//! Length-preserving masking.
//!
//! Only bytes that are digits of a match change; separators (`-`, ` `, `%20`, `\u0020`,
//! `&nbsp;`, a no-break space) and invisible characters stay, so the body keeps its length
//! (Content-Length stays right) and its shape. A digit of several bytes (`４` is three, `٤`
//! two) becomes that many mask characters: the length is kept byte for byte, and replacing a
//! whole UTF-8 character by ASCII keeps the body valid UTF-8 (one mask character per digit
//! would shorten it and shift everything after). For PANs the
//! [`Keep`] option decides which digits stay readable (PCI DSS 3.4.1 allows at most the first
//! six and the last four); CVVs and track data are always masked whole.

use crate::redact::chars::char_at;
use crate::redact::pan::Cluster;

/// Which digits of a PAN stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Keep {
    /// The last four digits (`**** **** **** 1111`). The default.
    #[default]
    Last4,
    /// The first six and the last four (`411111******1111`).
    First6Last4,
    /// Nothing.
    NoneKept,
}

impl Keep {
    /// Parses the policy names `last4`, `first6_last4`, `none`.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Keep> {
        match s.trim().to_ascii_lowercase().as_str() {
            "last4" => Some(Keep::Last4),
            "first6_last4" | "first6last4" => Some(Keep::First6Last4),
            "none" | "none_kept" => Some(Keep::NoneKept),
            _ => None,
        }
    }

    /// (leading digits kept, trailing digits kept).
    pub(crate) fn kept(self) -> (usize, usize) {
        match self {
            Keep::Last4 => (0, 4),
            Keep::First6Last4 => (6, 4),
            Keep::NoneKept => (0, 0),
        }
    }
}

/// Overwrites every byte of `range` with `mask`.
pub(crate) fn mask_all(buf: &mut [u8], start: usize, end: usize, mask: u8) {
    fill_short(&mut buf[start..end], mask);
}

/// `dst.fill(b)` for the short ranges masking writes (3–19 bytes): two overlapping 8- or
/// 4-byte stores instead of a call to `memset`, which cost more than the store itself here
/// (6% of the time on a body of bare card numbers, measured with `perf`).
#[inline]
fn fill_short(dst: &mut [u8], b: u8) {
    let n = dst.len();
    if (8..=16).contains(&n) {
        dst[..8].copy_from_slice(&[b; 8]);
        dst[n - 8..].copy_from_slice(&[b; 8]);
    } else if (4..8).contains(&n) {
        dst[..4].copy_from_slice(&[b; 4]);
        dst[n - 4..].copy_from_slice(&[b; 4]);
    } else if (2..4).contains(&n) {
        // Not a byte loop: LLVM turns that into a `memset` call.
        dst[..2].copy_from_slice(&[b; 2]);
        dst[n - 2..].copy_from_slice(&[b; 2]);
    } else if n < 2 {
        if let Some(x) = dst.first_mut() {
            *x = b;
        }
    } else {
        dst.fill(b);
    }
}

/// Masks the digits of groups `0..=k` of `c`, keeping what `keep` allows. A digit of several
/// bytes (full-width, Arabic-Indic) becomes as many mask characters as it has bytes, so the
/// body keeps its length and stays valid UTF-8; invisible characters between digits stay.
/// Returns where the scan goes on: at the first digit kept at the end of group `k`, or after it
/// (see `engine::decide::resume_after_mask`).
pub(crate) fn mask_groups(buf: &mut [u8], c: &Cluster, k: usize, keep: Keep, mask: u8) -> usize {
    let total: usize = (0..=k).map(|g| c.len(g)).sum();
    let (first, last) = keep.kept();
    if (0..=k).all(|g| c.is_plain(g)) {
        mask_digits(
            buf,
            (0..=k).map(|g| (c.start[g], c.end[g])),
            total,
            keep,
            mask,
        );
        return match last {
            0 => c.end[k],
            last => c.start[k].max(c.end[k].saturating_sub(last)),
        };
    }
    let (lo, hi) = (first, total.saturating_sub(last));
    let mut idx = 0;
    let mut resume = c.end[k];
    for g in 0..=k {
        let mut p = c.start[g];
        while p < c.end[g] {
            let Ok(Some(ch)) = char_at(buf, true, p, false) else {
                break;
            };
            if ch.digit().is_some() {
                if (lo..hi).contains(&idx) {
                    buf[p..p + ch.len].fill(mask);
                } else if g == k && idx >= hi && resume == c.end[k] {
                    resume = p;
                }
                idx += 1;
            }
            p += ch.len;
        }
    }
    resume
}

/// Masks the digit run `[start, end)` (a whole card) keeping what `keep` allows: the one-range
/// case of [`mask_digits`], inlined where the fast paths mask.
#[inline]
pub(crate) fn mask_run(buf: &mut [u8], start: usize, end: usize, keep: Keep, mask: u8) {
    let (first, last) = keep.kept();
    let (lo, hi) = (start + first, end.saturating_sub(last));
    if lo < hi {
        fill_short(&mut buf[lo..hi], mask);
    }
}

/// Masks the card `dddd?dddd?dddd?dddd` at `start` (four groups of four, one separator
/// between) keeping what `keep` allows: [`mask_digits`] for that shape, a 4-byte store per
/// whole group instead of the general range arithmetic.
#[inline]
pub(crate) fn mask_grouped16(buf: &mut [u8], start: usize, keep: Keep, mask: u8) {
    let (first, last) = keep.kept();
    let (lo, hi) = (first, 16usize.saturating_sub(last));
    for g in 0..4 {
        let (a, b) = (4 * g, 4 * g + 4);
        let at = start + 5 * g;
        if lo <= a && b <= hi {
            buf[at..at + 4].copy_from_slice(&[mask; 4]);
        } else {
            let (from, to) = (lo.clamp(a, b), hi.clamp(a, b));
            if from < to {
                fill_short(&mut buf[at + from - a..at + to - a], mask);
            }
        }
    }
}

/// Masks the digits in the given contiguous digit ranges (which hold `total` digits).
pub(crate) fn mask_digits(
    buf: &mut [u8],
    ranges: impl Iterator<Item = (usize, usize)>,
    total: usize,
    keep: Keep,
    mask: u8,
) {
    let (first, last) = keep.kept();
    // Digit indices [first, total - last) are masked.
    let (lo, hi) = (first, total.saturating_sub(last));
    let mut idx = 0;
    for (s, e) in ranges {
        debug_assert!(buf[s..e].iter().all(u8::is_ascii_digit));
        let n = e - s;
        let from = lo.clamp(idx, idx + n) - idx;
        let to = hi.clamp(idx, idx + n) - idx;
        if from < to {
            fill_short(&mut buf[s + from..s + to], mask);
        }
        idx += n;
    }
}

#[cfg(test)]
mod tests {
    use super::{fill_short, mask_digits, mask_grouped16, mask_run, Keep};

    #[test]
    fn a_grouped_card_masks_as_its_four_ranges_of_digits_for_every_keep() {
        for keep in [Keep::Last4, Keep::First6Last4, Keep::NoneKept] {
            let input = b"x4111 1111 1111 1111y".to_vec();
            let (mut a, mut b) = (input.clone(), input.clone());
            mask_grouped16(&mut a, 1, keep, b'#');
            let ranges = [0, 5, 10, 15].map(|g| (1 + g, 1 + g + 4));
            mask_digits(&mut b, ranges.into_iter(), 16, keep, b'#');
            assert_eq!(a, b, "{keep:?}");
        }
    }

    #[test]
    fn a_run_masks_as_one_range_of_digits_for_every_keep_and_card_length() {
        for keep in [Keep::Last4, Keep::First6Last4, Keep::NoneKept] {
            for n in 10..=19 {
                let input: Vec<u8> = (0..n + 4).map(|k| b'0' + (k % 10) as u8).collect();
                let (mut a, mut b) = (input.clone(), input.clone());
                mask_run(&mut a, 2, 2 + n, keep, b'*');
                mask_digits(&mut b, std::iter::once((2, 2 + n)), n, keep, b'*');
                assert_eq!(a, b, "{keep:?} {n}");
            }
        }
    }

    #[test]
    fn short_fill_writes_exactly_its_range_at_every_length() {
        for n in 0..40 {
            let mut v = vec![b'7'; n + 2];
            fill_short(&mut v[1..=n], b'*');
            assert_eq!(v[0], b'7');
            assert_eq!(v[n + 1], b'7');
            assert!(v[1..=n].iter().all(|&c| c == b'*'), "n={n}");
        }
    }
}
