//! Security codes (CVV, CVC, CID, …) found by the key in front of them.
//!
//! A security code is three or four digits, indistinguishable from any other small number:
//! only the key in front of it tells. The engine asks `is_cvv_value` about a 3–4 digit value
//! that stands alone (free of letters, digits and decimal points on both sides), which looks
//! *back* from the value, at most `MAX_LOOKBACK` (224) bytes, and never ahead:
//!
//! ```text
//! is_cvv_value(value at i):
//!     glue = the bytes before i: one connector among quotes and spaces, else no key  lookback.rs
//!     key  = the run of [A-Za-z0-9_-] before the glue, escapes decoded (\u0063vv, %63vv)
//!     if normalise(key) is a configured key,
//!        or a configured key and a child word (cvv + value, csc + code),
//!        or so is its tail from a `-` or `_` joint (rid-8841-cvv):       yes   keys.rs
//!     if key is a filler word and the word before it is a key,
//!        or the two join into one (security + code):                 yes   context.rs
//!     if key is value/code/number in an object whose key is a key:   yes
//!     if key is code and its previous sibling names an expiry:       yes
//!     if key is the value attribute of a tag named by a key:         yes   markup.rs
//!     if i follows layout tags (`<td>CVV</td><td>123`), and the text
//!        before them names a code (by the rules above):              yes
//!     if there is no key and i is in a SQL VALUES list whose column
//!        at that position names a code:                              yes
//!     else:                                                          no
//! ```
//!
//! What each step accepts:
//! 1. glue with exactly one connector: `:` / `=` / `>` (also as `%3A` `%3D` `%3E` `&gt;`),
//!    with quotes (`"`, `'`, `\"`, `%22`, `&quot;`), backslashes, `]` and whitespace around it;
//! 2. a key: the run of `[A-Za-z0-9_-]` before the glue (the last segment of `card.cvv`,
//!    `card[cvc]`), where a `%XX` or `\u00XX` escape that decodes to one of those characters is
//!    that character (`"\u0063vv"`, `%63vv=`) and any other escape ends the key (`%22cvv`);
//!    after `>` it must be an XML start tag (`<cvv>`, `%3Ccvd%3E`, `&lt;cvv&gt;`).
//!
//! Keys compare after *normalisation*: escapes decoded, ASCII-lowercased, `_` and `-` removed,
//! so `security_code`, `security-code` and `securityCode` are one key. Whole keys only,
//! optionally followed by a child word (`value`, `code`, `number`, `num`, `no`: `cvvValue`,
//! `security_code_value`, `csc_code`): result fields such as `cvvResultCode` (`cvvresult` +
//! `code`), `cvv2_result`, `CardSecurityCodeMatch` normalise to something else and are left
//! alone. A key also starts at any `-` or `_` joint of the name, as it does after `.` or `[`:
//! a form field or query key that prefixes the code's name (`rid-8841-cvv`, `billing_cvc`,
//! `wc-stripe-card-cvc`) names it, while the tails of `cvv2_result` (`result`) and
//! `vpc_CSCResultCode` (`cscresultcode`, `resultcode`) are no key.
//!
//! Context rules cover keys that are too generic on their own, or stand apart from the value:
//! - **filler words** (`CVV entered: 123`, `Security Code: 123`): if the key is one of
//!   `entered`, `is`, `number`, `no`, `num`, `code`, `value` and the word before it (spaces
//!   only between) is a key, or joins with it into one (`security`+`code`), it counts;
//! - **parent object** (`"securityCode":{"indicator":1,"value":"4444"}`): a `value`, `code` or
//!   `number` key directly inside a JSON object whose own key is a security-code key;
//! - **sibling of an expiry** (`"expiry":"0918","code":"999"`): a `code` key whose previous
//!   sibling key names an expiry (`exp…`), with no object closed in between (for XML, no
//!   element other than the expiry itself closed), so `</CARD><CODE>0100` stays;
//! - **markup** (`markup.rs`): after layout tags (`td`, `th`, `dt`, `dd`, `span`, `b`, …, at
//!   most six, never a row, table, list or form), the text before them, with one `:`
//!   (`<th>Security code</th><td>4567`, `<dt>CVC:</dt><dd><b>321`); an input's `value`
//!   attribute, named by its tag's `name` or `id` (`<input name="card[cvv]" value="123">`);
//! - **SQL** (`markup.rs`): a quoted value in `VALUES (…)` (or one after `, `) takes the name
//!   of the column at its position in the list before `VALUES` (`INSERT INTO t (pan, cvv)
//!   VALUES ('4111…', '123')`).
//!
//! Most 3–4 digit values are amounts, quantities and years, and most keys sit in plain JSON
//! or form glue. The tricks:
//!
//! 1. **Reject on one byte.** The byte before the value must be able to end glue
//!    (`ends_glue`, a class table), and the key's last byte one that some configured key,
//!    filler or child word ends with (`CvvKeys::may_end_key`, a 256-bit set): `"amount":1234`
//!    is rejected on its `t` before the key is read, normalised or hashed (a key that may end
//!    in an escape, `\u0076":`, is judged on the character it decodes to). The engine's block
//!    loop passes over such values with the same test (`no_cvv_key_before`).
//! 2. **Plain glue read directly.** `"key":"`, `"key":` and `key=` are recognised from one
//!    4-byte word and the key read straight from the buffer (`lookback::plain_key_before`),
//!    instead of the token-by-token look-back (`lookback::key_before`), which it leaves the
//!    keys that may hold an escape.
//! 3. **Looked up without a copy.** A key read from the buffer with no uppercase letter, `_` or
//!    `-` and at most 16 bytes is already normal: its bytes are loaded as one `u128`
//!    (`keys::head16`), hashed with one multiplication and compared with the head each slot
//!    of the open-addressing table stores (at most half full: one probe, usually). Other keys
//!    are normalised into a stack buffer first.
//! 4. **Short words as integers.** Filler and child words (at most 8 bytes) are packed into a
//!    `u64` (`keys::pack`) and compared as one.
//!
//! The trade-off: matching whole normalised keys leaves a code under an unlisted or
//! misspelt key unmasked (configure it: [`CvvKeys::new`]), in exchange for leaving result
//! fields and ordinary numbers alone; the context rules widen it only where the structure
//! says so. The joint rule reads short keys at the end of any name too (`customer_cid`,
//! `upload_cv`): a value under such an id is masked unless the key list leaves them out. Tricks 2 and 3 restate the general look-back and lookup for the common case; the
//! tests check each against it (`tests.rs`: the direct read finds the key the look-back finds,
//! the head lookup answers as normalise-then-look-up does).
//!
//! Limits, written down: markup and SQL are read backwards only, so a `value` attribute before
//! its tag's `name`, and a SQL value whose column list lies more than `MAX_LOOKBACK` bytes
//! back (a wide `INSERT`), are not read; an unquoted number right after `(` or `,` is not one
//! (the fast reject on the byte before the value keeps arrays of numbers cheap).
//!
//! Invariants, checked with `debug_assert!`: the value starts with a digit; every key in the
//! table is normalised and at most `MAX_KEY` (48) bytes long; the table's length is a power of
//! two above the number of keys, so every probe ends at an empty slot.

use crate::redact::window::{Window, MAX_LOOKBACK};

use context::{follows_expiry, parent_is_key, CODE, FILLERS, PARENT_CHILDREN, VALUE};
use keys::{head16, packed, MAX_KEY};
use lookback::{key_before, norm_key_segments, plain_key_before, word_before_spaces, Key};
use markup::{attribute_key, key_across_markup, sql_column};

pub use keys::{CvvKeys, DEFAULT_CVV_KEYS};
pub(crate) use lookback::{ends_glue, no_cvv_key_before};

mod context;
mod keys;
mod lookback;
mod markup;

/// Whether the 3–4 digit value starting at `at` is the value of a security-code key.
pub(crate) fn is_cvv_value(w: &Window<'_>, at: usize, keys: &CvvKeys) -> bool {
    debug_assert!(w.buf.get(at).is_some_and(u8::is_ascii_digit));
    let i = at as isize;
    // Fast reject: the byte before a value ends a glue token.
    if !w.back(i - 1).is_some_and(ends_glue) {
        return false;
    }
    let key = match plain_key_before(w.buf, at, keys) {
        Some(found) => found,
        None => key_before(w, i, i - MAX_LOOKBACK as isize, keys),
    };
    // The common case: a key read from this chunk, already normal, configured.
    if let Some(r) = key.as_ref().and_then(|key| normal_in_buf(w, key)) {
        if keys.contains_head(head16(r), r.len()) {
            return true;
        }
    }
    named_otherwise(w, i, key, keys)
}

/// [`is_cvv_value`] past its common case, out of line so that case saves and restores few
/// registers: the key with a child word, a filler or a parent, after an expiry, an input's
/// `value`, or no key (markup, SQL).
#[inline(never)]
fn named_otherwise(w: &Window<'_>, i: isize, key: Option<Key>, keys: &CvvKeys) -> bool {
    let floor = i - MAX_LOOKBACK as isize;
    if let Some(key) = &key {
        let (named, kp) = names_code(w, key, keys);
        if named {
            return true;
        }
        if kp.is_some_and(|p| PARENT_CHILDREN.contains(&p))
            && !key.xml
            && parent_is_key(w, key.start, floor, keys)
        {
            return true;
        }
        if kp == Some(CODE) && follows_expiry(w, key.start, floor) {
            return true;
        }
        // `<input name="cvv" value="123">`: the tag's name says what the value is.
        if kp == Some(VALUE)
            && !key.xml
            && attribute_key(w, key.start, floor).is_some_and(|k| names_code(w, &k, keys).0)
        {
            return true;
        }
    }
    match w.back(i - 1) {
        // `<td>CVV</td><td>123`: the key is the text before the layout tags.
        Some(b'>') => key_across_markup(w, i, floor).is_some_and(|k| names_code(w, &k, keys).0),
        // `VALUES ('4111…', '123')`: the key is the column at the value's position.
        _ if key.is_none() => sql_column(w, i, floor).is_some_and(|k| names_code(w, &k, keys).0),
        _ => false,
    }
}

/// The key's bytes when they lie in this chunk and are already normal (lowercase, no `_` or
/// `-`, no escape) and at most 16 bytes long, as most keys are: looked up straight from the
/// buffer. Others are normalised into a buffer first.
#[inline(always)]
fn normal_in_buf<'a>(w: &'a Window<'_>, key: &Key) -> Option<&'a [u8]> {
    usize::try_from(key.start)
        .ok()
        .zip(usize::try_from(key.end).ok())
        .and_then(|(s, e)| w.buf.get(s..e))
        .filter(|r| key.as_is && r.len() <= 16)
}

/// Whether `key` names a security code by itself: a configured key; one followed by a child
/// word (`cvvValue`, `security_code_value`, `csc_code`); a filler word after a configured key,
/// or finishing one (`CVV entered`, `Security Code`). Also returns the key packed, if it is at
/// most 8 bytes, for the context rules.
fn names_code(w: &Window<'_>, key: &Key, keys: &CvvKeys) -> (bool, Option<u64>) {
    let kp = match normal_in_buf(w, key) {
        Some(r) => {
            let head = head16(r);
            if keys.contains_head(head, r.len()) || keys.contains_with_child(r) {
                return (true, None);
            }
            (r.len() <= 8).then_some(head as u64)
        }
        None => {
            let mut norm = [0u8; MAX_KEY];
            let Some((n, starts)) = norm_key_segments(w, key, &mut norm) else {
                return (false, None);
            };
            if keys.contains_norm(&norm[..n])
                || keys.contains_with_child(&norm[..n])
                || keys.contains_tail(&norm[..n], starts)
            {
                return (true, None);
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
                return (true, kp);
            }
            if m + n <= MAX_KEY {
                let mut joined = [0u8; MAX_KEY];
                joined[..m].copy_from_slice(&prev[..m]);
                joined[m..m + n].copy_from_slice(k);
                if keys.contains_norm(&joined[..m + n]) {
                    return (true, kp);
                }
            }
        }
    }
    (false, kp)
}

#[cfg(test)]
mod tests;
