//! What the block loop learns from one pass over 64 bytes.
//!
//! Bytes that may lead a digit of another script are tested only in blocks with a byte that is
//! not ASCII, and with reductions: the four vectors' unsigned maximum answers both "any byte
//! not ASCII?" and "any byte `>= 0xEF`?", and their unsigned minimum after subtracting `0xD9`
//! "any byte in `0xD9..=0xE1`?", so a block of text in a script without such digits (Japanese,
//! Chinese, Cyrillic) pays a dozen vector operations and no call.

#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use super::{any_high_swar, digit_mask64_swar};

/// What one pass over the 64 bytes at `i` (`i + 64 <= len`) finds: bit `k` of `digits` set
/// iff `hay[i + k]` is an ASCII digit; `high`, whether any of the bytes is not ASCII;
/// `maybe_lead`, whether any is in `0xD9..=0xE1` or `0xEF..=0xFF`, a superset of the leads of
/// digits of other scripts ([`lead_mask64`](super::lead_mask64)), only ever set with `high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockMasks {
    pub digits: u64,
    pub high: bool,
    pub maybe_lead: bool,
}

/// [`BlockMasks`] of the 64 bytes at `i`.
#[inline(always)]
pub(crate) fn block_masks(hay: &[u8], i: usize) -> BlockMasks {
    debug_assert!(i + 64 <= hay.len());
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        sse2_block(hay, i)
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // One bounds check for the block (V8 keeps each of four separate ones).
        simd128_block(&hay[i..i + 64])
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        let high = any_high_swar(hay, i);
        BlockMasks {
            digits: digit_mask64_swar(hay, i),
            high,
            maybe_lead: high
                && hay[i..i + 64]
                    .iter()
                    .any(|&b| matches!(b, 0xD9..=0xE1 | 0xEF..=0xFF)),
        }
    }
}

/// Bit `k` set iff `hay[i + k]` is not ASCII, for the 64 bytes at `i` (`i + 64 <= len`).
#[inline]
pub(crate) fn high_mask64(hay: &[u8], i: usize) -> u64 {
    debug_assert!(i + 64 <= hay.len());
    let block = &hay[i..i + 64];
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8};
        // SAFETY: SSE2 is enabled for the whole compilation (cfg above); `block` has 64
        // readable bytes, each load reads 16 of them, `_mm_loadu_si128` has no alignment
        // requirement.
        let bits = |k: usize| unsafe {
            u64::from(
                _mm_movemask_epi8(_mm_loadu_si128(block.as_ptr().add(k).cast::<__m128i>())) as u16,
            )
        };
        bits(0) | bits(16) << 16 | bits(32) << 32 | bits(48) << 48
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{u8x16_bitmask, v128, v128_load};
        let bits = |k: usize| {
            let chunk = &block[k..k + 16];
            // SAFETY: `chunk` has exactly 16 readable bytes; `v128_load` has no alignment
            // requirement.
            u64::from(u8x16_bitmask(unsafe {
                v128_load(chunk.as_ptr().cast::<v128>())
            }))
        };
        bits(0) | bits(16) << 16 | bits(32) << 32 | bits(48) << 48
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        high_mask64_swar(block)
    }
}

/// Portable [`high_mask64`] of a 64-byte block.
#[cfg_attr(
    any(all(target_arch = "x86_64", target_feature = "sse2"), all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code) // the SIMD paths replace it there; it is still tested everywhere
)]
pub(crate) fn high_mask64_swar(block: &[u8]) -> u64 {
    super::gather64_swar(block, 0, |x| x)
}

/// [`block_masks`] with SSE2 (which has the unsigned byte minimum and maximum).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2_block(hay: &[u8], i: usize) -> BlockMasks {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128, _mm_sub_epi8, _mm_subs_epu8,
    };
    let block = &hay[i..i + 64];
    // SAFETY: SSE2 is enabled for the whole compilation (cfg above), so these intrinsics are
    // available; `block` has 64 readable bytes, each load reads 16 of them at offsets 0, 16,
    // 32, 48, and `_mm_loadu_si128` has no alignment requirement.
    unsafe {
        let load = |k: usize| _mm_loadu_si128(block.as_ptr().add(k).cast::<__m128i>());
        let (a, b, c, d) = (load(0), load(16), load(32), load(48));
        let digits = |v: __m128i| u64::from(_mm_movemask_epi8(super::sse2_digit_lanes(v)) as u16);
        let m = digits(a) | digits(b) << 16 | digits(c) << 32 | digits(d) << 48;
        let top = _mm_max_epu8(_mm_max_epu8(a, b), _mm_max_epu8(c, d));
        let high = _mm_movemask_epi8(top) != 0;
        let maybe_lead = high && {
            let from = |v: __m128i| _mm_sub_epi8(v, _mm_set1_epi8(0xD9u8 as i8));
            let low = _mm_min_epu8(
                _mm_min_epu8(from(a), from(b)),
                _mm_min_epu8(from(c), from(d)),
            );
            // Non-zero lanes: some byte in `0xD9..=0xE1` (`low < 9`) or `>= 0xEF`.
            let hit = _mm_or_si128(
                _mm_subs_epu8(_mm_set1_epi8(9), low),
                _mm_subs_epu8(top, _mm_set1_epi8(0xEEu8 as i8)),
            );
            _mm_movemask_epi8(_mm_cmpeq_epi8(hit, _mm_setzero_si128())) != 0xFFFF
        };
        BlockMasks {
            digits: m,
            high,
            maybe_lead,
        }
    }
}

/// [`block_masks`] with wasm `simd128` over one 64-byte block.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn simd128_block(block: &[u8]) -> BlockMasks {
    use core::arch::wasm32::{
        i8x16_sub, u8x16_bitmask, u8x16_max, u8x16_min, u8x16_splat, u8x16_sub_sat, v128,
        v128_any_true, v128_load, v128_or,
    };
    debug_assert_eq!(block.len(), 64);
    let load = |k: usize| {
        let chunk = &block[k..k + 16];
        // SAFETY: `chunk` has exactly 16 readable bytes; `v128_load` has no alignment requirement.
        unsafe { v128_load(chunk.as_ptr().cast::<v128>()) }
    };
    let (a, b, c, d) = (load(0), load(16), load(32), load(48));
    let m = u64::from(super::simd128_digits(a))
        | u64::from(super::simd128_digits(b)) << 16
        | u64::from(super::simd128_digits(c)) << 32
        | u64::from(super::simd128_digits(d)) << 48;
    let top = u8x16_max(u8x16_max(a, b), u8x16_max(c, d));
    let high = u8x16_bitmask(top) != 0;
    let maybe_lead = high && {
        let from = |v: v128| i8x16_sub(v, u8x16_splat(0xD9));
        let low = u8x16_min(u8x16_min(from(a), from(b)), u8x16_min(from(c), from(d)));
        // Non-zero lanes: some byte in `0xD9..=0xE1` (`low < 9`) or `>= 0xEF`.
        v128_any_true(v128_or(
            u8x16_sub_sat(u8x16_splat(9), low),
            u8x16_sub_sat(top, u8x16_splat(0xEE)),
        ))
    };
    BlockMasks {
        digits: m,
        high,
        maybe_lead,
    }
}
