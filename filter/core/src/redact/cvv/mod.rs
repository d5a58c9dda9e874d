//! CVV/CVC detection by key.
//!
//! A security code is three or four digits, indistinguishable from any other small number:
//! only the key in front of it tells. When the engine meets a 3–4 digit value that stands
//! alone (free of letters, digits and decimal points on both sides), it looks *back* from the
//! value, at most `MAX_LOOKBACK` (224) bytes, for
//!
//! 1. glue with exactly one connector: `:` / `=` / `>` (also as `%3A` `%3D` `%3E` `&gt;`),
//!    with quotes (`"`, `'`, `\"`, `%22`, `&quot;`), backslashes, `]` and whitespace around it;
//! 2. a key: the run of `[A-Za-z0-9_-]` before the glue (the last segment of `card.cvv`,
//!    `card[cvc]`); after `>` it must be an XML start tag (`<cvv>`, `%3Ccvd%3E`, `&lt;cvv&gt;`).
//!
//! Keys compare after *normalisation*: ASCII-lowercased, `_` and `-` removed, so
//! `security_code`, `security-code` and `securityCode` are one key. Whole keys only: result
//! fields such as `cvvResultCode`, `cvv2_result`, `CardSecurityCodeMatch` normalise to
//! something else and are left alone.
//!
//! Three context rules cover keys that are too generic on their own:
//! - **filler words** (`CVV entered: 123`, `Security Code: 123`): if the key is one of
//!   `entered`, `is`, `number`, `no`, `num`, `code`, `value` and the word before it (spaces
//!   only between) is a key, or joins with it into one (`security`+`code`), it counts;
//! - **parent object** (`"securityCode":{"indicator":1,"value":"4444"}`): a `value`, `code` or
//!   `number` key directly inside a JSON object whose own key is a security-code key;
//! - **sibling of an expiry** (`"expiry":"0918","code":"999"`): a `code` key whose previous
//!   sibling key names an expiry (`exp…`), with no object closed in between (for XML, no
//!   element other than the expiry itself closed), so `</CARD><CODE>0100` stays.

use crate::redact::window::Window;

use context::{follows_expiry, parent_is_key, CODE, FILLERS, PARENT_CHILDREN};
use keys::{head16, packed, MAX_KEY};
use lookback::{key_before, norm_key, plain_key_before, word_before_spaces};

pub use keys::{CvvKeys, DEFAULT_CVV_KEYS};
pub(crate) use lookback::{ends_glue, no_cvv_key_before};

mod context;
mod keys;
mod lookback;

/// Whether the 3–4 digit value starting at `i` is the value of a security-code key.
pub(crate) fn is_cvv_value(w: &Window<'_>, at: usize, keys: &CvvKeys) -> bool {
    let i = at as isize;
    let floor = i - crate::redact::window::MAX_LOOKBACK as isize;
    // Fast reject: the byte before a value ends a glue token.
    if !w.back(i - 1).is_some_and(ends_glue) {
        return false;
    }
    let key = match plain_key_before(w.buf, at, keys) {
        Some(found) => found,
        None => key_before(w, i, floor, keys),
    };
    let Some(key) = key else {
        return false;
    };
    // Most keys lie in this chunk, lowercase with no `_` or `-`, and at most 16 bytes: already
    // normal, looked up straight from the buffer. Others are normalised into a buffer.
    let as_is = usize::try_from(key.start)
        .ok()
        .zip(usize::try_from(key.end).ok())
        .and_then(|(s, e)| w.buf.get(s..e))
        .filter(|r| key.as_is && r.len() <= 16);
    let found = as_is.map(|r| {
        let head = head16(r);
        (
            keys.contains_head(head, r.len()),
            (r.len() <= 8).then_some(head as u64),
        )
    });
    let kp = match found {
        Some((true, _)) => return true,
        Some((false, kp)) => kp,
        None => {
            let mut norm = [0u8; MAX_KEY];
            let Some(n) = norm_key(w, &key, &mut norm) else {
                return false;
            };
            if keys.contains_norm(&norm[..n]) {
                return true;
            }
            packed(&norm[..n])
        }
    };
    if let Some(filler) = kp.filter(|p| FILLERS.contains(p)) {
        // Filler words are at most 8 bytes: the packed form holds the word whole.
        let bytes = filler.to_le_bytes();
        let k = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(8)];
        let n = k.len();
        let mut prev = [0u8; MAX_KEY];
        if let Some(m) = word_before_spaces(w, key.start, &mut prev) {
            if keys.contains_norm(&prev[..m]) {
                return true;
            }
            if m + n <= MAX_KEY {
                let mut joined = [0u8; MAX_KEY];
                joined[..m].copy_from_slice(&prev[..m]);
                joined[m..m + n].copy_from_slice(k);
                if keys.contains_norm(&joined[..m + n]) {
                    return true;
                }
            }
        }
    }
    if kp.is_some_and(|p| PARENT_CHILDREN.contains(&p))
        && !key.xml
        && parent_is_key(w, key.start, floor, keys)
    {
        return true;
    }
    kp == Some(CODE) && follows_expiry(w, key.start, floor)
}

#[cfg(test)]
mod tests;
