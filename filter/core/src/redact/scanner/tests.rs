use super::*;
use proptest::prelude::*;

fn naive(hay: &[u8], from: usize) -> Option<usize> {
    (from..hay.len()).find(|&i| hay[i].is_ascii_digit())
}

#[test]
fn separator_starts_and_number_ends_are_exactly_their_bytes() {
    for b in 0..=255u8 {
        assert_eq!(
            is_sep_start(b),
            b" -+%\\\t\n\r/_".contains(&b),
            "byte {b:#04x}"
        );
        assert_eq!(
            is_maybe_sep(b),
            b".,&=\xc2\xd9\xdb\xe0\xe1\xe2\xe3\xef".contains(&b),
            "byte {b:#04x}"
        );
        assert_eq!(
            ends_number(b),
            !b.is_ascii_alphanumeric() && b != b'.',
            "byte {b:#04x}"
        );
    }
}

#[test]
fn swar_every_byte_value() {
    for b in 0..=255u8 {
        let mut w = [b'x'; 8];
        for k in 0..8 {
            w[k] = b;
            assert_eq!(find_digit_swar(&w, 0), naive(&w, 0), "b={b} k={k}");
            w[k] = b'x';
        }
    }
}

#[test]
fn every_alignment() {
    for len in 0..80 {
        for pos in 0..len {
            let mut v = vec![b'a'; len];
            v[pos] = b'7';
            for from in 0..=len {
                assert_eq!(find_digit(&v, from), naive(&v, from));
                assert_eq!(find_digit_swar(&v, from), naive(&v, from));
            }
        }
    }
}

proptest! {
    #[test]
    fn lead_mask_matches_naive(v in proptest::collection::vec(prop_oneof![Just(0xd9u8), Just(0xdb), Just(0xda), Just(0xe0), Just(0xe1), Just(0xe2), Just(0xef), Just(0xee), Just(0xd8), Just(0xf0), Just(b'a'), Just(b'a'), any::<u8>()], 64..80), i in 0usize..16) {
        let i = i.min(v.len() - 64);
        let naive = (0..64).fold(0u64, |m, k| m | (u64::from(matches!(v[i + k], 0xd9 | 0xdb | 0xe0 | 0xe1 | 0xef)) << k));
        prop_assert_eq!(lead_mask64(&v, i), naive);
        prop_assert_eq!(lead_mask64_swar(&v, i), naive);
        // The block loop's test (in blocks that are not all ASCII): a superset of the leads,
        // exactly these bytes.
        let high = v[i..i + 64].iter().any(|&b| b >= 0x80);
        let maybe = v[i..i + 64].iter().any(|&b| matches!(b, 0xd9..=0xe1 | 0xef..=0xff));
        prop_assert_eq!(block_masks(&v, i).maybe_lead, high && maybe);
        prop_assert!(maybe || naive == 0);
    }

    #[test]
    fn skipping_ascii_text_stops_at_the_first_block_with_a_digit_or_a_high_byte(
        len in 0usize..400,
        marks in proptest::collection::vec((0usize..400, prop_oneof![Just(b'7'), Just(0xe3u8), Just(0x80), Just(b'/'), Just(b':')]), 0..3),
        i in 0usize..100,
    ) {
        let mut v = vec![b'a'; len];
        for (at, b) in marks {
            if at < len {
                v[at] = b;
            }
        }
        let mut naive = i;
        while naive + 64 <= len && !v[naive..naive + 64].iter().any(|&b| b.is_ascii_digit() || b >= 0x80) {
            naive += 64;
        }
        let got = skip_ascii_text(&v, i);
        if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            prop_assert_eq!(got, naive);
        } else {
            prop_assert_eq!(got, i);
        }
    }

    #[test]
    fn mask64_matches_naive(v in proptest::collection::vec(prop_oneof![Just(b'5'), Just(b'/'), Just(b':'), Just(b'x'), Just(b'x'), Just(0xb0u8), any::<u8>()], 64..80), i in 0usize..16) {
        let i = i.min(v.len() - 64);
        let naive = (0..64).fold(0u64, |m, k| m | (u64::from(v[i + k].is_ascii_digit()) << k));
        let high = v[i..i + 64].iter().any(|&b| b >= 0x80);
        let got = block_masks(&v, i);
        prop_assert_eq!((got.digits, got.high), (naive, high));
        let highs = (0..64).fold(0u64, |m, k| m | (u64::from(v[i + k] >= 0x80) << k));
        prop_assert_eq!(high_mask64(&v, i), highs);
        prop_assert_eq!(high_mask64_swar(&v[i..i + 64]), highs);
        prop_assert_eq!(digit_mask64_swar(&v, i), naive);
        prop_assert_eq!(any_high_swar(&v, i), high);
    }

    #[test]
    fn run_end_matches_naive(v in proptest::collection::vec(prop_oneof![Just(b'5'), Just(b'0'), Just(b'9'), any::<u8>()], 0..100), i in 0usize..100, cap in 0usize..40) {
        let i = i.min(v.len());
        let mut e = i;
        while e < v.len() && e - i < cap && v[e].is_ascii_digit() {
            e += 1;
        }
        prop_assert_eq!(digit_run_end(&v, i, cap), e);
    }

    #[test]
    fn matches_naive(v in proptest::collection::vec(any::<u8>(), 0..200), from in 0usize..200) {
        let from = from.min(v.len());
        prop_assert_eq!(find_digit(&v, from), naive(&v, from));
        prop_assert_eq!(find_digit_swar(&v, from), naive(&v, from));
    }
}

/// `hex_pair` decodes exactly the pairs of hex digits, each to the byte they spell, and
/// refuses every pair with another byte in it.
#[test]
fn hex_pair_decodes_exactly_the_pairs_of_hex_digits() {
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    for h in 0..=255u8 {
        for l in 0..=255u8 {
            let expected = digit(h).zip(digit(l)).map(|(a, b)| a << 4 | b);
            assert_eq!(hex_pair(h, l), expected, "{h:#04x} {l:#04x}");
        }
    }
}
