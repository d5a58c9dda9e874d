//! Finding candidates: ASCII digits, and the first bytes of raw digits of other scripts.

use crate::redact::scanner::{find_digit, lead_mask64};

use super::{char_at, Class};

/// Bit `k` set iff a raw decimal digit of another script (see
/// [`DIGIT_ZEROS`](super::DIGIT_ZEROS)) starts at `hay[i + k]`, for the 64 bytes at `i`. Only
/// called for a block with a non-ASCII byte: the leads those digits start with are found
/// with SIMD ([`lead_mask64`]), then each is decoded.
#[inline(never)]
pub(crate) fn other_digit_starts(hay: &[u8], i: usize) -> u64 {
    let mut leads = lead_mask64(hay, i);
    let mut m = 0u64;
    while leads != 0 {
        let k = leads.trailing_zeros();
        if other_digit_at(hay, i + k as usize) {
            m |= 1 << k;
        }
        leads &= leads - 1;
    }
    m
}

/// Whether a raw decimal digit of another script starts at `hay[p]` (read from `hay` alone: a
/// digit cut by its end is not one yet).
#[inline]
pub(crate) fn other_digit_at(hay: &[u8], p: usize) -> bool {
    let b = |k: usize| hay.get(p + k).copied().unwrap_or(0);
    match b(0) {
        // The two commonest, decoded directly: U+0660–0669 `D9 A0`–`D9 A9`, U+06F0–06F9
        // `DB B0`–`DB B9`, U+FF10–FF19 `EF BC 90`–`EF BC 99`.
        0xD9 => (0xA0..=0xA9).contains(&b(1)),
        0xDB => (0xB0..=0xB9).contains(&b(1)),
        0xEF => b(1) == 0xBC && (0x90..=0x99).contains(&b(2)),
        0xE0 | 0xE1 => matches!(
            char_at(hay, true, p, true),
            Ok(Some(c)) if c.raw && matches!(c.class, Class::Digit(_)) && p + c.len <= hay.len()
        ),
        _ => false,
    }
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
