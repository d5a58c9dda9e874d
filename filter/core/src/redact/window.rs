//! The view the detectors read: committed context behind, the undecided bytes ahead.
//!
//! A [`Window`] is the bytes being scanned in this call (`buf`: the held tail of the last
//! call followed by the new input) plus a short read-only copy of the bytes already emitted
//! before them (`ctx`, at most [`CTX`] bytes). Positions are indices into `buf`; negative
//! positions reach into `ctx`.
//!
//! Two rules make the output independent of how the body is split:
//! - **Look back at most [`MAX_LOOKBACK`] bytes** from any candidate (`MAX_LOOKBACK < CTX`),
//!   so a whole-body scan and a chunked scan see the same bytes behind.
//! - **Look ahead only through [`Window::fwd`]**, which reports [`Need`] when the answer lies
//!   past the end of the input and the body has not ended; the caller then holds the bytes
//!   from the candidate on and retries with more input. Detectors never write before they
//!   have read everything they need, so a retried attempt starts from identical bytes.

/// Bytes of emitted output remembered as look-behind context.
pub(crate) const CTX: usize = 256;
/// The furthest any detector looks behind a candidate.
pub(crate) const MAX_LOOKBACK: usize = 224;
/// The furthest any detector looks ahead of a candidate (track 1 is the longest: 79 bytes).
pub(crate) const MAX_LOOKAHEAD: usize = 96;

/// Not enough input to decide yet: hold from the candidate and retry with more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Need;

pub(crate) struct Window<'a> {
    pub ctx: &'a [u8],
    pub buf: &'a mut [u8],
    pub eof: bool,
}

impl Window<'_> {
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The byte at `i` behind or inside the window; `None` before the start of the stream.
    #[inline]
    pub fn back(&self, i: isize) -> Option<u8> {
        if i >= 0 {
            self.buf.get(i.unsigned_abs()).copied()
        } else {
            let k = self.ctx.len() as isize + i;
            if k >= 0 {
                self.ctx.get(k.unsigned_abs()).copied()
            } else {
                None
            }
        }
    }

    /// The byte at `i` (ahead of the candidate): `Ok(None)` past the end of the body,
    /// `Err(Need)` past the end of the input when more may come.
    #[inline]
    pub fn fwd(&self, i: usize) -> Result<Option<u8>, Need> {
        match self.buf.get(i) {
            Some(&b) => Ok(Some(b)),
            None if self.eof => Ok(None),
            None => Err(Need),
        }
    }

    /// Whether `fwd(i)` is a byte satisfying `f`.
    #[inline]
    pub fn fwd_is(&self, i: usize, f: impl Fn(u8) -> bool) -> Result<bool, Need> {
        Ok(self.fwd(i)?.is_some_and(f))
    }
}

use crate::redact::scanner::{hex_val, is_alnum, is_hex};

impl Window<'_> {
    /// The logical character that ends just before position `i`, decoding the escapes that
    /// hide a separator or a boundary in front of a number: `%XX` (so `%3D4111…` is preceded
    /// by `=`, not by the letter `D`), JSON `\uXXXX`, and JSON `\n`, `\r`, `\t`, `\b`, `\f`
    /// (a boundary, not the letter). Returns the decoded byte (`0x80` for any non-ASCII
    /// character, `None` at the start of the stream) and where that character starts.
    pub fn left_char(&self, i: isize) -> (Option<u8>, isize) {
        let b = |k: isize| self.back(i - k);
        // Every escape handled below ends in a hex digit or a letter.
        match b(1) {
            Some(c) if is_alnum(c) => {}
            other => return (other, i - 1),
        }
        if b(3) == Some(b'%') && b(2).is_some_and(is_hex) && b(1).is_some_and(is_hex) {
            let v = hex_val(b(2).unwrap_or(0)) * 16 + hex_val(b(1).unwrap_or(0));
            return (Some(if v >= 0x80 { 0x80 } else { v }), i - 3);
        }
        if b(6) == Some(b'\\') && b(5) == Some(b'u') && (1..=4).all(|k| b(k).is_some_and(is_hex)) {
            let hi = hex_val(b(4).unwrap_or(0)) * 16 + hex_val(b(3).unwrap_or(0));
            let lo = hex_val(b(2).unwrap_or(0)) * 16 + hex_val(b(1).unwrap_or(0));
            return (Some(if hi != 0 || lo >= 0x80 { 0x80 } else { lo }), i - 6);
        }
        if b(2) == Some(b'\\') && matches!(b(1), Some(b'n' | b'r' | b't' | b'b' | b'f')) {
            return (Some(b' '), i - 2);
        }
        (b(1), i - 1)
    }

    /// If the digit at `i` is one of the hex digits of a `%XX` or `\uXXXX` escape, the
    /// position just after that escape.
    pub fn escape_containing(&self, i: usize) -> Result<Option<usize>, Need> {
        let ii = i as isize;
        // Inside an escape, the byte before `i` is `%`, `u` or another hex digit.
        match self.back(ii - 1) {
            Some(b'%' | b'u') => {}
            Some(c) if is_hex(c) => {}
            _ => return Ok(None),
        }
        if self.back(ii - 1) == Some(b'%') && self.fwd_is(i + 1, is_hex)? {
            return Ok(Some(i + 2));
        }
        if self.back(ii - 2) == Some(b'%') && self.back(ii - 1).is_some_and(is_hex) {
            // `%B` + 12–19 digits + `^` is track 1, not the escape `%B4`: let the PAN through
            // (reached when track masking is off).
            if self.back(ii - 1) == Some(b'B') {
                let mut e = i;
                while e - i < 20 && self.fwd_is(e, crate::redact::scanner::is_digit)? {
                    e += 1;
                }
                if (12..=19).contains(&(e - i)) && self.fwd(e)? == Some(b'^') {
                    return Ok(None);
                }
            }
            return Ok(Some(i + 1));
        }
        for k in 2..=5isize {
            if self.back(ii - k) == Some(b'\\') && self.back(ii - k + 1) == Some(b'u') {
                let first = ii - k + 2; // first hex digit
                let mut all_hex = true;
                for p in first..first + 4 {
                    let h = if p <= ii {
                        self.back(p).is_some_and(is_hex)
                    } else {
                        self.fwd_is(p.unsigned_abs(), is_hex)?
                    };
                    all_hex &= h;
                }
                if all_hex {
                    return Ok(Some((first + 4).unsigned_abs()));
                }
            }
        }
        Ok(None)
    }
}
