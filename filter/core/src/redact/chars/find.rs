//! Finding candidates: ASCII digits, and the first bytes of raw digits of other scripts.

use crate::redact::scanner::find_digit;

use super::{char_at, Class};

/// Bit `k` set iff a raw decimal digit of another script (see [`DIGIT_ZEROS`](super::DIGIT_ZEROS)) starts at
/// `hay[i + k]`, for the 64 bytes at `i`. Only called for a block with a non-ASCII byte.
#[inline(never)]
pub(crate) fn other_digit_starts(hay: &[u8], i: usize) -> u64 {
    let mut m = 0u64;
    for k in 0..64 {
        if matches!(hay[i + k], 0xD9 | 0xDB | 0xE0 | 0xE1 | 0xEF) && other_digit_at(hay, i + k) {
            m |= 1 << k;
        }
    }
    m
}

/// Whether a raw decimal digit of another script starts at `hay[p]` (read from `hay` alone: a
/// digit cut by its end is not one yet).
#[inline]
pub(crate) fn other_digit_at(hay: &[u8], p: usize) -> bool {
    hay[p] >= 0xC0
        && matches!(
            char_at(hay, true, p, true),
            Ok(Some(c)) if c.raw && matches!(c.class, Class::Digit(_)) && p + c.len <= hay.len()
        )
}

/// The first candidate at or after `from`: an ASCII digit or the first byte of a raw digit of
/// another script.
#[inline]
pub(crate) fn find_candidate(hay: &[u8], from: usize) -> Option<usize> {
    let d = find_digit(hay, from);
    let to = d.unwrap_or(hay.len());
    let rare = hay
        .get(from..to)?
        .iter()
        .position(|&b| b >= 0xC0)
        .and_then(|k| {
            (from + k..to).find(|&p| {
                matches!(hay[p], 0xD9 | 0xDB | 0xE0 | 0xE1 | 0xEF) && other_digit_at(hay, p)
            })
        });
    rare.or(d)
}
