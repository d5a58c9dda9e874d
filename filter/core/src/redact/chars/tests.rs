use proptest::prelude::*;

use super::*;
use crate::redact::window::Window;

/// Every character of `s` read ahead: class, length, raw.
fn ahead(s: &[u8]) -> Vec<Ch> {
    let mut out = Vec::new();
    let mut p = 0;
    while let Ok(Some(c)) = char_at(s, true, p, false) {
        out.push(c);
        p += c.len;
    }
    out
}

const SP: Class = Class::Space { line: false };
const LINE: Class = Class::Space { line: true };

#[test]
fn every_spelling_of_a_separator_or_digit_reads_as_its_class() {
    let cases: &[(&str, Class, usize)] = &[
        ("7", Class::Digit(7), 1),
        (" ", SP, 1),
        ("\t", SP, 1),
        ("+", SP, 1),
        ("\n", LINE, 1),
        ("\r\n", LINE, 2),
        ("\u{a0}", SP, 2),
        ("\u{2009}", SP, 3),
        ("\u{202f}", SP, 3),
        ("\u{3000}", SP, 3),
        ("%20", SP, 3),
        ("%C2%A0", SP, 6),
        ("%E2%80%89", SP, 9),
        ("=C2=A0", SP, 6),
        ("\\u0020", SP, 6),
        ("\\u00a0", SP, 6),
        ("\\n", LINE, 2),
        ("\\r\\n", LINE, 4),
        ("\\t", SP, 2),
        ("&nbsp;", SP, 6),
        ("&#160;", SP, 6),
        ("&#xA0;", SP, 6),
        ("&thinsp;", SP, 8),
        ("-", Class::Mark(Kind::Dash), 1),
        ("\u{2013}", Class::Mark(Kind::Dash), 3),
        ("&ndash;", Class::Mark(Kind::Dash), 7),
        ("\\u2013", Class::Mark(Kind::Dash), 6),
        ("%E2%80%93", Class::Mark(Kind::Dash), 9),
        ("\u{ff0d}", Class::Mark(Kind::Dash), 3),
        (".", Class::Mark(Kind::Dot), 1),
        ("/", Class::Mark(Kind::Slash), 1),
        ("\\/", Class::Mark(Kind::Slash), 2),
        ("_", Class::Mark(Kind::Underscore), 1),
        (",", Class::Mark(Kind::Comma), 1),
        ("\u{ad}", Class::Invisible, 2),
        ("\u{200b}", Class::Invisible, 3),
        ("\u{2060}", Class::Invisible, 3),
        ("\u{feff}", Class::Invisible, 3),
        ("&shy;", Class::Invisible, 5),
        ("\\u200b", Class::Invisible, 6),
        ("%E2%80%8B", Class::Invisible, 9),
        ("=\r\n", Class::Invisible, 3),
        ("=\n", Class::Invisible, 2),
        ("４", Class::Digit(4), 3),
        ("٤", Class::Digit(4), 2),
        ("۴", Class::Digit(4), 2),
        ("४", Class::Digit(4), 3),
        ("๔", Class::Digit(4), 3),
        // Escaped digits, and escaped or decoded `+`, are not digits or spaces of a number.
        ("\\uff14", Class::Other(0x80), 6),
        ("%34", Class::Other(b'4'), 3),
        ("%2B", Class::Other(b'+'), 3),
        ("&#52;", Class::Other(b'4'), 5),
        ("x", Class::Other(b'x'), 1),
        ("=3D", Class::Other(b'='), 1),
        ("=20", Class::Other(b'='), 1),
        ("%zz", Class::Other(b'%'), 1),
        ("&name=", Class::Other(b'&'), 1),
        ("\u{3042}", Class::Other(0x80), 3),
    ];
    for &(s, class, len) in cases {
        let got = char_at(s.as_bytes(), true, 0, false).unwrap().unwrap();
        assert_eq!((got.class, got.len), (class, len), "{s:?}");
    }
}

#[test]
fn protobuf_mode_reads_no_escapes_and_no_control_spaces() {
    for (s, class) in [
        ("\t", Class::Other(b'\t')),
        ("\n", Class::Other(b'\n')),
        ("%20", Class::Other(b'%')),
        ("\\u0020", Class::Other(b'\\')),
        ("&nbsp;", Class::Other(b'&')),
        (" ", SP),
        ("\u{a0}", SP),
        ("４", Class::Digit(4)),
    ] {
        let got = char_at(s.as_bytes(), true, 0, true).unwrap().unwrap();
        assert_eq!(got.class, class, "{s:?}");
    }
}

#[test]
fn a_character_cut_by_the_end_of_the_input_needs_more() {
    for s in [
        "%E2%80", "%2", "\\u00a", "&nbs", "=\r", "\u{3000}", "\r", "\\r\\",
    ] {
        let b = s.as_bytes();
        let cut = if s == "\u{3000}" { &b[..2] } else { b };
        assert_eq!(char_at(cut, false, 0, false), Err(Need), "{s:?}");
    }
}

/// Pieces whose reading behind is meant to equal reading ahead.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "4",
        "0",
        " ",
        "\t",
        "\n",
        "\r\n",
        "+",
        "-",
        ".",
        "/",
        "_",
        ",",
        "x",
        "\"",
        ":",
        ";",
        "\u{a0}",
        "\u{2009}",
        "\u{3000}",
        "\u{2013}",
        "\u{ad}",
        "\u{200b}",
        "\u{feff}",
        "４",
        "٤",
        "۴",
        "%20",
        "%2D",
        "%C2%A0",
        "%E2%80%89",
        "%E2%80%8B",
        "\\u0020",
        "\\u00a0",
        "\\u2013",
        "\\n",
        "\\t",
        "\\/",
        "&nbsp;",
        "&#160;",
        "&ndash;",
        "&shy;",
        "=\r\n",
        "=\n",
        "\u{3042}",
    ])
}

proptest! {
    #[test]
    fn reading_behind_finds_what_reading_ahead_found(parts in prop::collection::vec(piece(), 1..12)) {
        let s = parts.concat();
        let b = s.as_bytes();
        let mut buf = b.to_vec();
        let w = Window { ctx: &[], buf: &mut buf, eof: true };
        let mut p = 0usize;
        for ch in ahead(b) {
            p += ch.len;
            let (back, start) = char_before(&w, p as isize, 0, false).unwrap();
            prop_assert_eq!((back.class, back.len), (ch.class, ch.len), "{:?} at {}", s, p);
            prop_assert_eq!(start, (p - ch.len) as isize);
        }
    }

    #[test]
    fn decoding_never_panics_and_stays_in_bounds(v in prop::collection::vec(any::<u8>(), 0..40), p in 0usize..40) {
        let p = p.min(v.len());
        if let Ok(Some(c)) = char_at(&v, true, p, false) {
            prop_assert!(c.len >= 1 && p + c.len <= v.len() && c.len <= MAX_CHAR);
        }
        let mut buf = v.clone();
        let w = Window { ctx: &[], buf: &mut buf, eof: true };
        if let Some((c, start)) = char_before(&w, p as isize, 0, false) {
            prop_assert!(start >= 0 && start + c.len as isize == p as isize);
        }
    }
}

/// The naive candidate search: an ASCII digit, or the first byte of a raw digit of another
/// script (decoded with [`char_at`], which the search must agree with).
fn naive_candidate(hay: &[u8], from: usize) -> Option<usize> {
    (from..hay.len()).find(|&p| match char_at(hay, true, p, true) {
        Ok(Some(c)) => {
            matches!(c.class, Class::Digit(_)) && (hay[p].is_ascii_digit() || c.raw && c.len > 1)
        }
        _ => false,
    })
}

#[test]
fn candidates_are_ascii_digits_and_the_first_bytes_of_digits_of_other_scripts() {
    let text = "x ４ ٤ ۴ ४ ৪ ๔ ５z 0 ：\u{ff1a}\u{3000}カ 9";
    let hay = text.as_bytes();
    for from in 0..=hay.len() {
        assert_eq!(
            find_candidate(hay, from),
            naive_candidate(hay, from),
            "from {from}"
        );
    }
    let mut block = hay.to_vec();
    block.resize(64, b'.');
    let want = (0..64).fold(0u64, |m, p| {
        m | u64::from(!block[p].is_ascii_digit() && naive_candidate(&block, p) == Some(p)) << p
    });
    assert_eq!(other_digit_starts(&block, 0), want);
    assert_eq!(want.count_ones(), 7);
}

proptest! {
    #[test]
    fn candidate_search_matches_naive(v in proptest::collection::vec(prop_oneof![Just(0xefu8), Just(0xbc), Just(0x94), Just(0xd9), Just(0xa4), Just(0xe0), Just(0xa5), Just(0xaa), Just(b'7'), any::<u8>()], 0..100), from in 0usize..100) {
        let from = from.min(v.len());
        prop_assert_eq!(find_candidate(&v, from), naive_candidate(&v, from));
    }
}
