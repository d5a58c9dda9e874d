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
/// The furthest any detector looks ahead of a candidate: a cluster's groups reach at most
/// `pan::MAX_SPAN` (128) bytes, and what is read after its last group (invisible characters,
/// a separator and the character after it, each at most `chars::MAX_CHAR` bytes, or a zero
/// fraction) at most 48 more; track 1 is 79 bytes, a card in scientific notation 27.
pub(crate) const MAX_LOOKAHEAD: usize = 192;

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
    #[inline(always)]
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

use crate::redact::scanner::is_hex;

impl Window<'_> {
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
