//! The context rules for keys too generic on their own (`code`, `value`, `number`, …): the
//! filler words, the parent object's key and the expiry sibling.

use crate::redact::window::Window;

use super::keys::{pack, CvvKeys, FILLER_WORDS, MAX_KEY};
use super::lookback::{key_before, norm_key};

/// Words that may stand between a security-code key and its value (`CVV entered: 123`), or
/// finish it (`Security Code: 123`): [`FILLER_WORDS`], packed.
pub(super) const FILLERS: [u64; FILLER_WORDS.len()] = {
    let mut packed = [0u64; FILLER_WORDS.len()];
    let mut i = 0;
    while i < packed.len() {
        packed[i] = pack(FILLER_WORDS[i]);
        i += 1;
    }
    packed
};
/// Keys that hold the code inside an object named by a security-code key
/// (`"securityCode":{"value":"4444"}`), packed.
pub(super) const PARENT_CHILDREN: [u64; 3] = [pack(b"value"), pack(b"code"), pack(b"number")];
/// The key whose value is a code when an expiry precedes it as a sibling, packed.
pub(super) const CODE: u64 = pack(b"code");
/// The attribute whose value is a code when its tag's name is a key (`<input name="cvv"
/// value="123">`), packed.
pub(super) const VALUE: u64 = pack(b"value");

/// Whether the JSON object enclosing position `p` is the value of a configured key.
pub(super) fn parent_is_key(w: &Window<'_>, p: isize, floor: isize, keys: &CvvKeys) -> bool {
    let mut depth = 0u32;
    let mut q = p;
    while q > floor {
        q -= 1;
        match w.back(q) {
            None => return false,
            Some(b'}') => depth += 1,
            Some(b'{') => {
                if depth == 0 {
                    let Some(key) = key_before(w, q, floor, keys) else {
                        return false;
                    };
                    let mut norm = [0u8; MAX_KEY];
                    return !key.xml
                        && norm_key(w, &key, &mut norm)
                            .is_some_and(|n| keys.contains_norm(&norm[..n]));
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    false
}

/// Whether an expiry key precedes the key at `p` as its sibling.
pub(super) fn follows_expiry(w: &Window<'_>, p: isize, floor: isize) -> bool {
    let limit = (p - 96).max(floor);
    let mut closes = 0u32;
    let mut q = p;
    while q > limit + 3 {
        q -= 1;
        let c = w.back(q);
        match c {
            None | Some(b'{') => return false,
            Some(b'}') => closes += 1,
            Some(b'/') if w.back(q - 1) == Some(b'<') => closes += 1,
            Some(b'p' | b'P') => {
                let x = w.back(q - 1).map(|b| b.to_ascii_lowercase());
                let e = w.back(q - 2).map(|b| b.to_ascii_lowercase());
                if x == Some(b'x') && e == Some(b'e') {
                    return closes == 0;
                }
            }
            _ => {}
        }
    }
    false
}
