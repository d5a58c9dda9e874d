//! The Luhn (mod 10) check digit test, over ASCII digits.
//!
//! Every PAN ends in a Luhn check digit. Luhn alone accepts about one random digit string in
//! ten, so it is one filter among several (grouping, brand range, length), never the only one.
//!
//! Card lengths (9–24 digits) are summed a 64-bit word at a time (see `luhn_swar`); other
//! lengths walk from the right two digits a step with a 100-entry table of pair
//! contributions, instead of doubling and subtracting nine per digit.

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
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) && luhn_valid_digits(digits)
}

/// [`luhn_valid`] for a slice the caller knows holds only ASCII digits (every PAN candidate
/// is a digit run or a copy of digit groups): no validation pass. Lengths 9–24 take the
/// word-at-a-time path (every PAN length), others the table loop.
#[inline]
pub(crate) fn luhn_valid_digits(digits: &[u8]) -> bool {
    debug_assert!(digits.iter().all(u8::is_ascii_digit));
    if (9..=24).contains(&digits.len()) {
        luhn_swar(digits) % 10 == 0
    } else {
        luhn_sum_pairs(digits) % 10 == 0
    }
}

fn luhn_sum_pairs(digits: &[u8]) -> u32 {
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
    sum
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Eight ASCII digits from `d[at..at + 8]` as their values, one per byte (little-endian:
/// byte `j` is `d[at + j]`). No borrow crosses a byte: every byte is at least `b'0'`.
#[inline(always)]
fn values8(d: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&d[at..at + 8]);
    u64::from_le_bytes(w) - ONES * u64::from(b'0')
}

/// The Luhn sum of 9–24 digits, three 64-bit words at a time instead of a table lookup per pair.
///
/// The digits are viewed right-aligned in 24 byte lanes (`top`, `mid`, `last`), padded on the
/// left with zero values, so the check digit is always lane 23 and the doubled digits are
/// always the even lanes (bytes 0, 2, 4, 6 of each word). The three words are loaded from the
/// slice itself, shifted into place where the number is shorter than 16 or 24 digits (the
/// zeros shifted in are the padding). In a doubled lane the contribution of `d` is
/// `2d − 9·[d ≥ 5]`, and `d ≥ 5` is the high bit of `d + 123`; every lane stays below 19,
/// so no carry crosses lanes and a multiply by `0x0101…01` adds a word's lanes in its top byte.
#[inline]
fn luhn_swar(d: &[u8]) -> u32 {
    let n = d.len();
    debug_assert!((9..=24).contains(&n));
    let last = values8(d, n - 8);
    let mid = if n >= 16 {
        values8(d, n - 16)
    } else {
        values8(d, 0) << (8 * (16 - n))
    };
    let top = if n > 16 {
        values8(d, 0) << (8 * (24 - n))
    } else {
        0
    };
    let lane_sum = |w: u64| -> u64 {
        const EVEN: u64 = 0x00ff_00ff_00ff_00ff;
        let dbl = w & EVEN;
        let ge5 = ((dbl + ONES * 123) >> 7) & ONES & EVEN;
        let lanes = (w & !EVEN) + (dbl << 1) - ge5 * 9;
        lanes.wrapping_mul(ONES) >> 56
    };
    (lane_sum(top) + lane_sum(mid) + lane_sum(last)) as u32
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
    use super::{luhn_sum_pairs, luhn_swar, luhn_valid, luhn_valid_digits, luhn_valid_simple};
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

    #[test]
    fn word_path_agrees_with_the_table_at_every_length_and_digit() {
        // Every digit value at every position, for every length the word path takes.
        for n in 9..=24 {
            for pos in 0..n {
                for d in b'0'..=b'9' {
                    let mut s = vec![b'7'; n];
                    s[pos] = d;
                    assert_eq!(
                        luhn_swar(&s),
                        luhn_sum_pairs(&s),
                        "{}",
                        String::from_utf8_lossy(&s)
                    );
                }
            }
        }
    }

    proptest! {
        /// The `luhn` crate is the oracle.
        #[test]
        fn agrees_with_luhn_crate(s in "[0-9]{1,25}") {
            prop_assert_eq!(luhn_valid(s.as_bytes()), luhn::valid(&s));
            prop_assert_eq!(luhn_valid_digits(s.as_bytes()), luhn::valid(&s));
            prop_assert_eq!(luhn_valid_simple(s.as_bytes()), luhn::valid(&s));
        }
    }
}
