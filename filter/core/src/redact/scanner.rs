//! Finding the next ASCII digit fast, and byte classes.
//!
//! Every construct the redactor looks for (a PAN group, a CVV value, track data) begins
//! with an ASCII digit, so the engine only ever asks one question of the bytes it skips:
//! *where is the next `0`–`9`?* This module answers it with one dispatch point,
//! [`find_digit`]:
//!
//! - x86_64: SSE2 (part of the x86_64 baseline, so no runtime detection), 16 bytes a step;
//! - wasm32 built with `-C target-feature=+simd128`: the same with `core::arch::wasm32`;
//! - everywhere else, and always under test: [`find_digit_swar`], 8 bytes a step in a `u64`.
//!
//! The SWAR test is the "has byte between" trick: with `t = x & 0x7f..`, the high bit of
//! `(0x80+57−t) & (t+0x80−48) & !x` is set exactly in bytes `0x30..=0x39`; no carry crosses a
//! byte because every per-byte sum stays within 0..=255.
//!
//! Class tables (`CLASS`) answer "alphanumeric?", "hex digit?" in one load.

/// Byte is an ASCII digit.
pub(crate) const DIGIT: u16 = 1;
/// Byte is an ASCII letter.
pub(crate) const ALPHA: u16 = 2;
/// Byte is a hex digit (`0-9a-fA-F`).
pub(crate) const HEX: u16 = 4;

/// Byte can end the glue between a key and its value (`"`, `'`, `:`, `=`, `>`, whitespace,
/// `\`, `;` of an entity, `]`, or the last hex digit of `%22` `%27` `%3A` `%3D` `%3E` `%20`):
/// see `cvv::ends_glue`.
pub(crate) const GLUE_END: u16 = 8;

/// Byte can be part of a key: ASCII letter, digit, `_` or `-`.
pub(crate) const KEY: u16 = 16;

/// Byte is a key byte that normalisation changes or drops: uppercase letter, `_`, `-`.
pub(crate) const NOT_NORMAL: u16 = 32;

/// Byte after a digit run that always starts a possible continuation of its card: a space or
/// mark that begins a separator (` `, tab, line feed, carriage return, `-`, `+`, `/`, `_`) or an
/// escape that may hide one (`%`, `\`).
pub(crate) const SEP_START: u16 = 64;
/// Byte is `.` (a decimal point after a digit run: the run is part of a number).
pub(crate) const DOT: u16 = 128;
/// Byte after a digit run that continues its card only in some spellings, decided by a closer
/// look (`engine::neighbours::continues`): `.` and `,` (a mark only between digits), `&` (an
/// entity), `=` (quoted-printable), and the UTF-8 leads of the spaces, dashes, invisible
/// characters and digits `chars` reads (`C2`, `D9`, `DB`, `E0`, `E1`, `E2`, `E3`, `EF`).
pub(crate) const MAYBE_SEP: u16 = 256;
/// Byte is not ASCII.
pub(crate) const HIGH: u16 = 512;
/// Byte is `,` or `.`: a mark only between the groups of a canonical grouping, so after a
/// digit run it may continue the run only when the run has four digits.
pub(crate) const WEAK_MARK: u16 = 1024;

/// 256-entry class table.
pub(crate) static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_digit() {
            c |= DIGIT | HEX;
        }
        if b.is_ascii_alphabetic() {
            c |= ALPHA;
        }
        if matches!(b, b'a'..=b'f' | b'A'..=b'F') {
            c |= HEX;
        }
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            c |= KEY;
        }
        if b.is_ascii_uppercase() || b == b'_' || b == b'-' {
            c |= NOT_NORMAL;
        }
        if matches!(
            b,
            b' ' | b'-' | b'+' | b'%' | b'\\' | b'\t' | b'\n' | b'\r' | b'/' | b'_'
        ) {
            c |= SEP_START;
        }
        if matches!(
            b,
            b'.' | b',' | b'&' | b'=' | 0xC2 | 0xD9 | 0xDB | 0xE0 | 0xE1 | 0xE2 | 0xE3 | 0xEF
        ) {
            c |= MAYBE_SEP;
        }
        if b >= 0x80 {
            c |= HIGH;
        }
        if b == b'.' {
            c |= DOT;
        }
        if matches!(b, b'.' | b',') {
            c |= WEAK_MARK;
        }
        if matches!(
            b,
            b'"' | b'\''
                | b':'
                | b'='
                | b'>'
                | b' '
                | b'\t'
                | b'\n'
                | b'\r'
                | b'\\'
                | b';'
                | b']'
                | b'A'
                | b'a'
                | b'D'
                | b'd'
                | b'E'
                | b'e'
                | b'0'
                | b'2'
                | b'7'
        ) {
            c |= GLUE_END;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// Whether `b` always starts a possible continuation after a digit run (see [`SEP_START`]).
#[cfg(test)]
pub(crate) fn is_sep_start(b: u8) -> bool {
    CLASS[usize::from(b)] & SEP_START != 0
}

/// Whether `b` after a digit run needs a closer look (see [`MAYBE_SEP`]).
#[cfg(test)]
pub(crate) fn is_maybe_sep(b: u8) -> bool {
    CLASS[usize::from(b)] & MAYBE_SEP != 0
}

/// Whether a digit run followed by `b` stands alone on that side: `b` is no letter, digit
/// or `.`.
#[inline]
pub(crate) fn ends_number(b: u8) -> bool {
    CLASS[usize::from(b)] & (DIGIT | ALPHA | DOT) == 0
}

#[inline]
pub(crate) fn is_alnum(b: u8) -> bool {
    CLASS[usize::from(b)] & (DIGIT | ALPHA) != 0
}

#[inline]
pub(crate) fn is_hex(b: u8) -> bool {
    CLASS[usize::from(b)] & HEX != 0
}

/// The byte two hex digits spell (`3D` of `%3D`), if both are hex digits: one class test for
/// the two, and each value from its low nibble (plus 9 for a letter, whose bit 6 is set)
/// without a branch.
#[inline(always)]
pub(crate) fn hex_pair(h: u8, l: u8) -> Option<u8> {
    if CLASS[usize::from(h)] & CLASS[usize::from(l)] & HEX == 0 {
        return None;
    }
    let value = |c: u8| (c & 0xf) + 9 * (c >> 6);
    Some(value(h) << 4 | value(l))
}

/// Index of the first ASCII digit in `hay[from..]`, as an index into `hay`.
#[inline]
pub(crate) fn find_digit(hay: &[u8], from: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        find_digit_sse2(hay, from)
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // simd128 is enabled for this whole compilation (the cfg above); on wasm32 calling a
        // `#[target_feature]` function is safe.
        find_digit_simd128(hay, from)
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        find_digit_swar(hay, from)
    }
}

/// The end of the run of ASCII digits starting at `i` (at most `cap` digits are counted:
/// returns `min(run end, i + cap, hay.len())`).
#[inline]
pub(crate) fn digit_run_end(hay: &[u8], i: usize, cap: usize) -> usize {
    let limit = hay.len().min(i.saturating_add(cap));
    let mut e = i;
    while e + 8 <= limit {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hay[e..e + 8]);
        let non_digit = !digit_bits(u64::from_le_bytes(w)) & HI;
        if non_digit != 0 {
            return e + (non_digit.trailing_zeros() / 8) as usize;
        }
        e += 8;
    }
    while e < limit && is_digit(hay[e]) {
        e += 1;
    }
    e
}

/// Whether any of the 64 bytes at `i` is not ASCII (portable).
#[inline]
#[cfg_attr(
    any(all(target_arch = "x86_64", target_feature = "sse2"), all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code) // the SIMD paths replace it there; it is still tested everywhere
)]
pub(crate) fn any_high_swar(hay: &[u8], i: usize) -> bool {
    let mut acc = 0u64;
    for k in 0..8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hay[i + 8 * k..i + 8 * k + 8]);
        acc |= u64::from_le_bytes(w);
    }
    acc & HI != 0
}

/// Portable digit mask of [`block_masks`] (bit `k` set iff `hay[i + k]` is an ASCII digit).
#[inline]
#[cfg_attr(
    any(all(target_arch = "x86_64", target_feature = "sse2"), all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code) // the SIMD paths replace it there; it is still tested everywhere
)]
pub(crate) fn digit_mask64_swar(hay: &[u8], i: usize) -> u64 {
    gather64_swar(hay, i, digit_bits)
}

/// Bit `k` set iff the high bit of byte `k % 8` of `flags(word)` is, for the 8-byte words of
/// the 64 bytes at `i`. Each word's flags are gathered into one byte by a multiply: after `>> 7`
/// flag `j` sits at bit `8j`; times `Σ 2^(56−7j)` puts it at bit `56 + j`; all partial products
/// have distinct exponents, so nothing carries into the top byte.
#[inline(always)]
pub(super) fn gather64_swar(hay: &[u8], i: usize, flags: impl Fn(u64) -> u64) -> u64 {
    let mut m = 0u64;
    for k in 0..8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hay[i + 8 * k..i + 8 * k + 8]);
        let f = (flags(u64::from_le_bytes(w)) & HI) >> 7;
        m |= (f.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    m
}

pub(super) const LO: u64 = 0x0101_0101_0101_0101;
pub(super) const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of the result is set iff that byte of `x` is an ASCII digit.
#[inline]
fn digit_bits(x: u64) -> u64 {
    let t = x & !HI;
    ((LO * (127 + 58)).wrapping_sub(t)) & (t.wrapping_add(LO * (127 - 47))) & !x & HI
}

/// Portable word-at-a-time digit search (used where no SIMD path applies; always tested).
#[inline]
pub(crate) fn find_digit_swar(hay: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 8 <= hay.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hay[i..i + 8]);
        let bits = digit_bits(u64::from_le_bytes(w));
        if bits != 0 {
            return Some(i + (bits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay.get(i..)?
        .iter()
        .position(|&b| is_digit(b))
        .map(|k| i + k)
}

/// 16 digit flags of `hay[i..i + 16]` as the low bits of a mask.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2_digit_mask(hay: &[u8], i: usize) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8,
        _mm_sub_epi8,
    };
    let chunk = &hay[i..i + 16];
    // SAFETY: SSE2 is enabled for the whole compilation (cfg above), so these intrinsics are
    // available; `chunk` has exactly 16 readable bytes and `_mm_loadu_si128` has no alignment
    // requirement. (No `#[target_feature]` attribute on purpose: it would stop inlining.)
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        // d <= 9 (unsigned) <=> min(d, 9) == d
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)) as u32
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
pub(crate) fn find_digit_sse2(hay: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 32 <= hay.len() {
        let m =
            u64::from(sse2_digit_mask(hay, i)) | (u64::from(sse2_digit_mask(hay, i + 16)) << 16);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 32;
    }
    if i + 16 <= hay.len() {
        let m = sse2_digit_mask(hay, i);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    find_digit_swar(hay, i)
}

/// Digit flags of 16 bytes. x86 has no unsigned byte compare, so V8 lowers `u8x16_lt` to
/// five instructions; shifted so that `'0'..='9'` become the 10 smallest signed bytes
/// (`b + 80` wraps `'0'` to −128), one signed compare does it.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn simd128_digits(v: core::arch::wasm32::v128) -> u16 {
    core::arch::wasm32::u8x16_bitmask(simd128_digit_lanes(v))
}

/// All ones in the lanes of `v` that hold an ASCII digit ([`simd128_digits`]).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn simd128_digit_lanes(v: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::{i8x16_add, i8x16_lt, i8x16_splat};
    const SHIFT: i8 = (128 - b'0') as i8;
    i8x16_lt(i8x16_add(v, i8x16_splat(SHIFT)), i8x16_splat(i8::MIN + 10))
}

/// All ones in the lanes of `v` that hold an ASCII digit: as the wasm path, shifted so that
/// `'0'..='9'` are the 10 smallest signed bytes, one signed compare (one instruction fewer than
/// the unsigned min-and-compare).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2_digit_lanes(v: core::arch::x86_64::__m128i) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::{_mm_add_epi8, _mm_cmpgt_epi8, _mm_set1_epi8};
    // SAFETY: SSE2 is enabled for the whole compilation (cfg above); these intrinsics only
    // compute on registers.
    unsafe {
        let x = _mm_add_epi8(v, _mm_set1_epi8((128 - b'0') as i8));
        _mm_cmpgt_epi8(_mm_set1_epi8(i8::MIN + 10), x)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[target_feature(enable = "simd128")]
#[inline]
pub(crate) fn find_digit_simd128(hay: &[u8], from: usize) -> Option<usize> {
    use core::arch::wasm32::{v128, v128_load};
    let mut i = from;
    while i + 16 <= hay.len() {
        // SAFETY: i + 16 <= len, so 16 bytes are readable; v128_load is unaligned.
        let m = simd128_digits(unsafe { v128_load(hay[i..].as_ptr().cast::<v128>()) });
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    find_digit_swar(hay, i)
}

mod block;
mod leads;
mod quiet;

#[cfg(test)]
use block::high_mask64_swar;
pub(crate) use block::{block_masks, high_mask64};
pub(crate) use leads::lead_mask64;
#[cfg(test)]
use leads::lead_mask64_swar;
pub(crate) use quiet::skip_ascii_text;

#[cfg(test)]
mod tests;
