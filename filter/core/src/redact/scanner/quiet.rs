//! Passing over ASCII text without digits, a 64-byte block at a time, in wasm.
//!
//! In wasm the block loop's live values outgrow the registers V8 gives it, so each block it
//! reads costs reloads as well. Once it meets a block of ASCII text without a digit (most of a
//! text-heavy body), this loop goes on with one yes-or-no test per block and hands the first
//! other block back. Natively the block loop keeps its values in registers and is as fast on
//! such blocks, and entering the loop costs a block's test whenever the next block is not
//! quiet: there it passes over nothing.

/// The first `j >= i`, stepping by 64, whose block `hay[j..j + 64]` holds an ASCII digit or a
/// byte that is not ASCII, or the first `j` with fewer than 64 bytes left; natively `i`.
#[inline]
pub(crate) fn skip_ascii_text(hay: &[u8], i: usize) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{u8x16_bitmask, v128, v128_load, v128_or};
        let mut i = i;
        let f = |v: v128| v128_or(v, super::simd128_digit_lanes(v));
        while i + 64 <= hay.len() {
            let block = &hay[i..i + 64];
            let load = |k: usize| {
                let chunk = &block[k..k + 16];
                // SAFETY: `chunk` has exactly 16 readable bytes; `v128_load` has no alignment
                // requirement.
                f(unsafe { v128_load(chunk.as_ptr().cast::<v128>()) })
            };
            // A digit's lane is all ones, a byte that is not ASCII has its high bit: either
            // shows in the high bits.
            if u8x16_bitmask(v128_or(
                v128_or(load(0), load(16)),
                v128_or(load(32), load(48)),
            )) != 0
            {
                break;
            }
            i += 64;
        }
        i
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = hay;
        i
    }
}
