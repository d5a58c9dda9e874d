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

/// Whether `digits` (ASCII `0`–`9` only) passes the Luhn check.
///
/// An empty input, or any byte that is not an ASCII digit, gives `false`.
#[must_use]
pub fn luhn_valid(digits: &[u8]) -> bool {
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
    use super::luhn_valid;
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
        }
    }
}
