//! The Luhn (mod 10) check digit test, over ASCII digits.
//!
//! Every PAN ends in a Luhn check digit. Luhn alone accepts about one random digit string in
//! ten, so it is one filter among several (grouping, brand range, length), never the only one.
//!
//! Trick: instead of doubling and subtracting nine per digit, a 10-entry table holds the
//! "doubled" value of each digit; the loop walks from the right, alternating plain and
//! doubled digits.

/// `DOUBLED[d]` is the Luhn contribution of digit `d` in a doubled position (`2d`, minus 9 if over 9).
const DOUBLED: [u8; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/// `PAIR[10a + b]`: the contribution of the pair "a b" read left to right when `b` is in a
/// plain position and `a` in a doubled one (walking from the right, two digits a step).
const PAIR: [u8; 100] = {
    let mut t = [0u8; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = DOUBLED[i / 10] + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Whether `digits` (ASCII `0`–`9` only) passes the Luhn check.
///
/// An empty input, or any byte that is not an ASCII digit, gives `false`.
#[must_use]
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum: u32 = 0;
    let mut k = digits.len();
    while k >= 2 {
        let a = usize::from(digits[k - 2] - b'0');
        let b = usize::from(digits[k - 1] - b'0');
        sum += u32::from(PAIR[a * 10 + b]);
        k -= 2;
    }
    if k == 1 {
        sum += u32::from(digits[0] - b'0');
    }
    sum % 10 == 0
}

/// The textbook loop, kept as the in-crate oracle for [`luhn_valid`].
#[cfg(test)]
fn luhn_valid_simple(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum: u32 = 0;
    for (k, &b) in digits.iter().rev().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return false;
        }
        sum += u32::from(if k % 2 == 1 {
            DOUBLED[usize::from(d)]
        } else {
            d
        });
    }
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::{luhn_valid, luhn_valid_simple};
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"378282246310005"));
        assert!(luhn_valid(b"2200000000000004"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(!luhn_valid(b""));
        assert!(!luhn_valid(b"41111111111111a1"));
        assert!(luhn_valid(b"0"));
    }

    proptest! {
        /// The `luhn` crate is the oracle.
        #[test]
        fn agrees_with_luhn_crate(s in "[0-9]{1,25}") {
            prop_assert_eq!(luhn_valid(s.as_bytes()), luhn::valid(&s));
            prop_assert_eq!(luhn_valid_simple(s.as_bytes()), luhn::valid(&s));
        }
    }
}
