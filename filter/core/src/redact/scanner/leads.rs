//! The first bytes of raw digits of other scripts, found per 64-byte block (see
//! `chars::find::other_digit_starts`, which decodes each).

use super::{HI, LO};

/// Bit `k` set iff `hay[i + k]` is a UTF-8 lead of a digit of another script read raw
/// (`0xD9`, `0xDB`: Arabic-Indic; `0xE0`, `0xE1`: Indic and South-East Asian scripts; `0xEF`:
/// full-width), for the 64 bytes at `i` (`i + 64 <= len`). Three byte tests: `x | 2 == 0xDB`,
/// `x & !1 == 0xE0`, `x == 0xEF`. Only called for a block with a non-ASCII byte.
#[inline]
pub(crate) fn lead_mask64(hay: &[u8], i: usize) -> u64 {
    debug_assert!(i + 64 <= hay.len());
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use core::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        let block = &hay[i..i + 64];
        let mut m = 0u64;
        for k in 0..4 {
            // SAFETY: SSE2 is enabled for the whole compilation (cfg above); `block` has 64
            // readable bytes and this load reads 16 of them at 16k; `_mm_loadu_si128` has no
            // alignment requirement.
            let bits = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
                let arabic = _mm_cmpeq_epi8(
                    _mm_or_si128(v, _mm_set1_epi8(2)),
                    _mm_set1_epi8(0xDBu8 as i8),
                );
                let indic = _mm_cmpeq_epi8(
                    _mm_and_si128(v, _mm_set1_epi8(!1)),
                    _mm_set1_epi8(0xE0u8 as i8),
                );
                let wide = _mm_cmpeq_epi8(v, _mm_set1_epi8(0xEFu8 as i8));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(arabic, indic), wide)) as u16
            };
            m |= u64::from(bits) << (16 * k);
        }
        m
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{
            u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_and, v128_load, v128_or,
        };
        let block = &hay[i..i + 64];
        let mut m = 0u64;
        for k in 0..4 {
            let chunk = &block[16 * k..16 * k + 16];
            // SAFETY: `chunk` has exactly 16 readable bytes; `v128_load` has no alignment
            // requirement.
            let v = unsafe { v128_load(chunk.as_ptr().cast::<v128>()) };
            let arabic = u8x16_eq(v128_or(v, u8x16_splat(2)), u8x16_splat(0xDB));
            let indic = u8x16_eq(v128_and(v, u8x16_splat(!1)), u8x16_splat(0xE0));
            let wide = u8x16_eq(v, u8x16_splat(0xEF));
            m |= u64::from(u8x16_bitmask(v128_or(v128_or(arabic, indic), wide))) << (16 * k);
        }
        m
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        lead_mask64_swar(hay, i)
    }
}

/// Portable [`lead_mask64`]: per 8-byte word, the three byte tests as zero-byte tests.
#[inline]
#[cfg_attr(
    any(all(target_arch = "x86_64", target_feature = "sse2"), all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code) // the SIMD paths replace it there; it is still tested everywhere
)]
pub(crate) fn lead_mask64_swar(hay: &[u8], i: usize) -> u64 {
    // High bit of each zero byte of `x`, exactly (no borrow between bytes).
    let zero = |x: u64| !(((x & !HI).wrapping_add(!HI)) | x | !HI);
    super::gather64_swar(hay, i, |x| {
        zero((x | (LO * 2)) ^ (LO * 0xDB)) | zero((x & !LO) ^ (LO * 0xE0)) | zero(x ^ (LO * 0xEF))
    })
}
