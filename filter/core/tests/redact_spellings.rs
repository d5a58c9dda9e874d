#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Card numbers and security codes as real systems spell them (`pci_guard_testkit::spellings`):
//! each comes out byte for byte as its table says, wherever it sits in a body (at the start,
//! inside the 64-byte block loop, among non-ASCII text) and however the body is chunked (every
//! split point, 1-byte chunks, in place); redacting the output again changes nothing; the scan
//! with the fast paths masks exactly what the general path masks (the fuzz check). Their
//! look-alikes (IMEIs, timestamps, amounts, phone numbers, versions, addresses, decimals, result
//! codes) come out unchanged. Every failure is listed, not only the first.

use std::sync::Arc;

use pci_guard_core::redact::{redact_in_place, Keep, RedactOptions, Redactor, MAX_HELD};
use pci_guard_testkit::fuzz_checks;
use pci_guard_testkit::spellings::{Case, CODES, PANS, UNCHANGED};
use proptest::prelude::*;

/// Where a case is put: alone, between ASCII filler long enough for the block loop, and between
/// Japanese text (every 64-byte block then holds non-ASCII bytes).
fn placements() -> Vec<(String, String)> {
    let ja = "ご注文ありがとうございます。お支払い情報：".repeat(2);
    vec![
        (String::new(), String::new()),
        ("|".repeat(70), "|".repeat(64)),
        (format!("{ja}\n"), format!("\n{ja}")),
    ]
}

fn whole(o: &RedactOptions, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    redact_in_place(o, &mut v);
    v
}

fn chunked(o: &Arc<RedactOptions>, input: &[u8], cuts: &[usize], in_place: bool) -> Vec<u8> {
    let mut r = Redactor::new(o.clone());
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        if in_place {
            let mut buf = input[prev..c].to_vec();
            r.feed_in_place(&mut buf);
            out.extend_from_slice(&buf);
        } else {
            r.feed(&input[prev..c], &mut out);
        }
        assert!(r.held() <= MAX_HELD, "held {} > {MAX_HELD}", r.held());
        prev = c;
    }
    r.finish(&mut out);
    out
}

/// Why `input` does not come out as `want` with `o`, if it does not.
fn fails(o: &Arc<RedactOptions>, input: &[u8], want: &[u8]) -> Option<String> {
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let got = whole(o, input);
    if got != want {
        return Some(format!(
            "got  {:?}\n      want {:?}",
            show(&got),
            show(want)
        ));
    }
    for cut in 0..=input.len() {
        if chunked(o, input, &[cut], cut % 2 == 0) != want {
            return Some(format!("split at byte {cut} gives another output"));
        }
    }
    let ones: Vec<usize> = (1..input.len()).collect();
    if chunked(o, input, &ones, false) != want {
        return Some("1-byte chunks give another output".into());
    }
    if whole(o, want) != want {
        return Some("redacting the output again changes it".into());
    }
    None
}

fn check_cases(cases: &[Case]) {
    let o = Arc::new(RedactOptions::default());
    let mut failures = Vec::new();
    for case in cases {
        for (before, after) in placements() {
            let input = [before.as_bytes(), case.body.as_bytes(), after.as_bytes()].concat();
            let want = [before.as_bytes(), case.masked.as_bytes(), after.as_bytes()].concat();
            if let Some(why) = fails(&o, &input, &want) {
                failures.push(format!(
                    "{} (lead {} bytes): {why}",
                    case.name,
                    before.len()
                ));
            }
            // The fuzz check: fast paths against the general path (text and protobuf mode),
            // chunked against whole, idempotence, no readable card left.
            for plan in [[0u8, 0, 0, 0], [6, 2, 0, 62]] {
                let data = [&plan[..], &input].concat();
                if std::panic::catch_unwind(|| fuzz_checks::redact(&data)).is_err() {
                    failures.push(format!(
                        "{}: the fuzz check fails (plan {plan:?})",
                        case.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len() * placements().len(),
        failures.join("\n")
    );
}

#[test]
fn every_spelling_of_a_card_number_is_masked_byte_for_byte() {
    check_cases(PANS);
}

#[test]
fn every_key_and_shape_of_a_security_code_is_masked_byte_for_byte() {
    check_cases(CODES);
}

#[test]
fn look_alikes_of_card_data_come_out_unchanged() {
    let cases: Vec<Case> = UNCHANGED
        .iter()
        .map(|&(name, body)| Case {
            name,
            content_type: "text/plain",
            body,
            masked: body,
        })
        .collect();
    check_cases(&cases);
}

/// A digit of several bytes is masked byte for byte with every keep option and mask
/// character, and the digits kept are whole characters.
#[test]
fn multi_byte_digits_and_number_forms_keep_what_the_option_says() {
    let first6 = Arc::new(RedactOptions {
        keep: Keep::First6Last4,
        ..RedactOptions::default()
    });
    let none = Arc::new(RedactOptions {
        keep: Keep::NoneKept,
        mask_char: b'#',
        ..RedactOptions::default()
    });
    let cases: [(&Arc<RedactOptions>, &str, &str); 6] = [
        (
            &first6,
            "４１１１１１１１１１１１１１１１",
            "４１１１１１******************１１１１",
        ),
        (
            &none,
            "٤١١١١١١١١١١١١١١١",
            "################################",
        ),
        (
            &first6,
            "{\"pan\":4.111111111111111e15}",
            "{\"pan\":4.11111******1111e15}",
        ),
        (
            &none,
            "{\"pan\":4.111111111111111e15}",
            "{\"pan\":#.###############e15}",
        ),
        (
            &none,
            "4\u{200b}1\u{200b}1\u{200b}1 1111 1111 1111",
            "#\u{200b}#\u{200b}#\u{200b}# #### #### ####",
        ),
        (
            &first6,
            "4111\u{a0}1111\u{a0}1111\u{a0}1111",
            "4111\u{a0}11**\u{a0}****\u{a0}1111",
        ),
    ];
    let mut failures = Vec::new();
    for (o, body, want) in cases {
        if let Some(why) = fails(o, body.as_bytes(), want.as_bytes()) {
            failures.push(format!("{body:?} ({:?}): {why}", o.keep));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Pieces of the spellings above, glued at random.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "4111",
        "1111",
        "5555",
        "4444",
        "3782",
        "822463",
        "10005",
        "4111111111111111",
        "123",
        "1234",
        "0",
        "4",
        ".",
        ",",
        "/",
        "_",
        " ",
        "   ",
        " - ",
        "\t",
        "\n",
        "\r\n",
        "-",
        "\u{a0}",
        "\u{2009}",
        "\u{3000}",
        "\u{2013}",
        "\u{ad}",
        "\u{200b}",
        "\u{feff}",
        "&nbsp;",
        "&#160;",
        "&shy;",
        "&ndash;",
        "\\u00a0",
        "\\u200b",
        "\\n",
        "\\/",
        "%C2%A0",
        "%20",
        "=\r\n",
        "=C2=A0",
        "=3D",
        "４",
        "１",
        "٤",
        "١",
        "۴",
        "e15",
        "E+15",
        ".0",
        "4.",
        "x",
        "\"",
        ":",
        "=",
        "\"cvv\":\"",
        "cvvValue\":\"",
        "%63vv=",
        "\\u0063vv\":",
        "<td>CVV</td><td>",
        "</td>",
        "<input name=\"cvv\" value=\"",
        "VALUES ('",
        "', '",
        "'",
        "あ",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    /// Spellings glued at random: the output is as long as the input, only whole characters of
    /// digits become mask characters, it is the same however the body is cut (and in 1-byte
    /// chunks), and redacting it again changes nothing.
    #[test]
    fn spellings_glued_at_random_redact_the_same_however_cut(
        parts in prop::collection::vec(piece(), 1..24),
        cuts in prop::collection::vec(0usize..400, 0..6),
    ) {
        let o = Arc::new(RedactOptions::default());
        let input = parts.concat().into_bytes();
        let w = whole(&o, &input);
        prop_assert_eq!(w.len(), input.len());
        for (a, b) in input.iter().zip(&w) {
            prop_assert!(a == b || *b == b'*');
        }
        prop_assert!(std::str::from_utf8(&w).is_ok(), "still UTF-8");
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort_unstable();
        prop_assert_eq!(&chunked(&o, &input, &cuts, false), &w);
        prop_assert_eq!(&chunked(&o, &input, &cuts, true), &w, "in place");
        let ones: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&chunked(&o, &input, &ones, false), &w);
        prop_assert_eq!(&whole(&o, &w), &w, "idempotent");
    }
}

/// With every mask character a policy may set and every keep option, each spelling is masked
/// the same with and without the fast paths, only digit bytes change, and redacting the
/// output again changes nothing (a mask character such as `.`, `,` or `_` is also a mark the
/// reader knows).
#[test]
fn every_mask_character_and_keep_option_masks_each_spelling_once() {
    use pci_guard_core::redact::engine::{fast_and_general_scans, Mode};
    let mut failures = Vec::new();
    for c in 0x21..=0x7eu8 {
        for keep in [Keep::Last4, Keep::First6Last4, Keep::NoneKept] {
            let o = RedactOptions {
                mask_char: c,
                keep,
                ..RedactOptions::default()
            };
            if o.validate().is_err() {
                continue;
            }
            for case in PANS.iter().chain(CODES) {
                let input = case.body.as_bytes();
                let [fast, general] = fast_and_general_scans(&o, input, Mode::Text);
                let name = format!("{} (mask {:?}, {keep:?})", case.name, c as char);
                if fast.0 != general.0 || fast.1 != general.1 {
                    failures.push(format!("{name}: fast paths differ"));
                }
                let once = whole(&o, input);
                if whole(&o, &once) != once {
                    failures.push(format!("{name}: not idempotent"));
                }
                if input.iter().zip(&once).any(|(a, b)| a != b && *b != c) {
                    failures.push(format!("{name}: a byte changed to something else"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
