#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The streaming redactor against fixtures, a naive oracle, and chunking properties.
//!
//! - Fixtures: every file in `testdata/bodies/` (not `*.expected`) redacts to its
//!   `.expected` twin (regenerate with `PCI_GUARD_BLESS=1`, then review the diff by eye).
//! - Oracle: bodies built from segments whose ground truth is known (a card, a grouped card,
//!   a CVV under a key, a result code, noise) must come out exactly as the oracle masks them.
//! - Chunking: output is identical for every single split point, 1-byte chunks and random
//!   splits; length is preserved; `held() <= MAX_HELD` after every call; redacting twice
//!   equals redacting once; no configured-brand Luhn-valid card survives.

use std::path::PathBuf;
use std::sync::Arc;

use pci_guard_core::redact::{
    brands::brand_of, luhn::luhn_valid, redact_header_value, redact_in_place, redact_stream,
    BrandSet, Keep, RedactOptions, Redactor, MAX_HELD,
};
use proptest::prelude::*;

fn opts() -> Arc<RedactOptions> {
    Arc::new(RedactOptions::default())
}

fn whole(o: &RedactOptions, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    redact_in_place(o, &mut v);
    v
}

/// Feeds `input` cut at `cuts` (sorted positions), checking the held bound after each call.
fn chunked(o: &Arc<RedactOptions>, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut r = Redactor::new(o.clone());
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        let c = c.clamp(prev, input.len());
        r.feed(&input[prev..c], &mut out);
        assert!(r.held() <= MAX_HELD, "held {} > {MAX_HELD}", r.held());
        assert_eq!(out.len() + r.held(), c, "bytes out + held == bytes in");
        prev = c;
    }
    r.finish(&mut out);
    assert_eq!(r.held(), 0);
    out
}

/// [`chunked`] through `feed_in_place` (each chunk's buffer becomes its output).
fn chunked_in_place(o: &Arc<RedactOptions>, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut r = Redactor::new(o.clone());
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        let c = c.clamp(prev, input.len());
        let mut buf = input[prev..c].to_vec();
        r.feed_in_place(&mut buf);
        out.extend_from_slice(&buf);
        assert!(r.held() <= MAX_HELD, "held {} > {MAX_HELD}", r.held());
        assert_eq!(out.len() + r.held(), c, "bytes out + held == bytes in");
        prev = c;
    }
    r.finish(&mut out);
    assert_eq!(r.counts().bytes_scanned, input.len() as u64);
    out
}

fn one_byte_chunks(o: &Arc<RedactOptions>, input: &[u8]) -> Vec<u8> {
    let cuts: Vec<usize> = (1..input.len()).collect();
    chunked(o, input, &cuts)
}

fn assert_split_invariant(o: &Arc<RedactOptions>, input: &[u8]) -> Vec<u8> {
    let w = whole(o, input);
    assert_eq!(w.len(), input.len());
    for cut in 0..=input.len() {
        assert!(chunked(o, input, &[cut]) == w, "split at {cut} differs");
    }
    assert!(one_byte_chunks(o, input) == w, "1-byte chunks differ");
    w
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bodies")
}

#[test]
fn fixtures() {
    let o = opts();
    let bless = std::env::var_os("PCI_GUARD_BLESS").is_some();
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".expected") || name.ends_with(".md") {
            continue;
        }
        let input = std::fs::read(&p).unwrap();
        let out = assert_split_invariant(&o, &input);
        assert_eq!(whole(&o, &out), out, "{name}: not idempotent");
        let exp_path = p.with_file_name(format!("{name}.expected"));
        if bless {
            std::fs::write(&exp_path, &out).unwrap();
        }
        let expected =
            std::fs::read(&exp_path).unwrap_or_else(|_| panic!("missing {}", exp_path.display()));
        assert!(
            out == expected,
            "{name} differs from .expected:\n{}",
            String::from_utf8_lossy(&out)
        );
        n += 1;
    }
    assert!(n >= 4, "fixtures not found");
}

#[test]
fn redact_stream_matches_in_place() {
    let input = std::fs::read(testdata().join("cards.json")).unwrap();
    let mut out = Vec::new();
    let counts = redact_stream(opts(), &input[..], &mut out).unwrap();
    assert_eq!(out, whole(&opts(), &input));
    assert_eq!(counts.bytes_scanned, input.len() as u64);
    assert!(counts.pan >= 10 && counts.cvv >= 3, "{counts:?}");
    let json = serde_json::to_string(&counts).unwrap();
    assert!(json.contains("\"pan\":") && json.contains("\"bytes_scanned\":"));
}

#[test]
fn keep_options_and_mask_char() {
    let input = b"card 4111 1111 1111 1111 and 5555555555554444.";
    let last4 = whole(&RedactOptions::default(), input);
    assert_eq!(
        &last4[..],
        b"card **** **** **** 1111 and ************4444."
    );
    let f6 = whole(
        &RedactOptions {
            keep: Keep::First6Last4,
            ..RedactOptions::default()
        },
        input,
    );
    assert_eq!(&f6[..], b"card 4111 11** **** 1111 and 555555******4444.");
    let none = whole(
        &RedactOptions {
            keep: Keep::NoneKept,
            mask_char: b'#',
            ..RedactOptions::default()
        },
        input,
    );
    assert_eq!(&none[..], b"card #### #### #### #### and ################.");
    assert!(RedactOptions {
        mask_char: b'7',
        ..RedactOptions::default()
    }
    .validate()
    .is_err());
    assert!(RedactOptions {
        mask_char: b'x',
        ..RedactOptions::default()
    }
    .validate()
    .is_err());
    assert!(RedactOptions::default().validate().is_ok());
}

#[test]
fn encodings_do_not_hide_cards() {
    let o = RedactOptions::default();
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"number%3D4111111111111111%26",
            b"number%3D************1111%26",
        ),
        (
            b"n=4111%201111%201111%201111&",
            b"n=****%20****%20****%201111&",
        ),
        (b"n=4111+1111+1111+1111&", b"n=****+****+****+1111&"),
        (
            b"\"4111\\u00201111\\u00201111\\u00201111\"",
            b"\"****\\u0020****\\u0020****\\u00201111\"",
        ),
        (
            b"\"line\\n4111111111111111\"",
            b"\"line\\n************1111\"",
        ),
        (b"%224111111111111111%22", b"%22************1111%22"),
    ];
    for (i, e) in cases {
        assert_eq!(
            String::from_utf8_lossy(&whole(&o, i)),
            String::from_utf8_lossy(e)
        );
    }
}

/// A chunk that ends inside a digit run no card brand starts with is not held back (the rest of
/// the run arrives after a digit and decides nothing), unless the run is the value of a
/// security-code key, the run starts inside an escape (the digits after the escape may be a
/// card), or it follows a track sentinel (track data needs no brand). Every split point gives
/// the whole body's output.
#[test]
fn a_chunk_ending_inside_a_run_holds_only_what_may_still_be_card_data() {
    let o = opts();
    let held_after = |prefix: &[u8]| {
        let mut r = Redactor::new(o.clone());
        let mut out = Vec::new();
        r.feed(prefix, &mut out);
        r.held()
    };
    // Timestamps, zero-padded ids, the fraction of an amount: decided at once.
    assert_eq!(held_after(b"{\"created\":17485"), 0);
    assert_eq!(held_after(b"{\"id\":\"ord_0000"), 0);
    assert_eq!(held_after(b"{\"price\":\"19.9"), 0);
    assert_eq!(held_after(b"{\"created\":1"), 0);
    // May still be a card or a code: held.
    assert_eq!(held_after(b"{\"amount\":41"), 2);
    assert_eq!(held_after(b"{\"cvv\":\"12"), 2);
    assert_eq!(held_after(b"x%1741111"), 5);
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"{\"cvv\":\"123\",\"cvc\":1234}",
            b"{\"cvv\":\"***\",\"cvc\":****}",
        ),
        // `%17`, `%A1`, `\u0017` escapes, then a card.
        (b"ref=x%174111111111111111&", b"ref=x%17************1111&"),
        (b"ref=x%A14111111111111111&", b"ref=x%A1************1111&"),
        (
            b"\"x\\u00174111111111111111\"",
            b"\"x\\u0017************1111\"",
        ),
        // Track data whose PAN (Luhn-valid, no brand) starts with digits no brand starts with.
        (
            b"t=;1234567812345670=25121010000000000?",
            b"t=;**********************************?",
        ),
        (
            b"t=%B1234567812345670^DOE/JOHN^2512101000?",
            b"t=%B************************************?",
        ),
    ];
    for (input, expected) in cases {
        let out = assert_split_invariant(&o, input);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
    }
}

#[test]
fn not_cards() {
    let o = RedactOptions::default();
    for s in [
        &b"imei 490154203237518"[..],
        b"ts=1748503543012",
        b"uuid ccb324d1-8365-42dd-8e9a-734488220777",
        b"x4111111111111111",
        b"4111111111111111x",
        b"14111111111111111",
        b"0.4111111111111111",
        b"4111111111111111.5",
        b"4111111111111112",
        b"{\"cvvResultCode\":\"111\",\"cvv2_result\":\"123\"}",
        b"<CardSecurityCodeMatch>123</CardSecurityCodeMatch>",
        b"\"result\":{\"code\":\"000.100.110\"}",
        b"<EXPDATE>0919</EXPDATE></CARD><CODE>0100</CODE>",
        b"Masked credit card: 1234 5678 9012 3456",
        b"{\"iban\": \"AD12 0001 2030 2003 5910 0100\"}",
        // An IBAN whose account groups happen to read as a Luhn-valid Visa number.
        b"{\"iban\": \"DE44 4111 1111 1111 1111 00\"}",
    ] {
        assert_eq!(
            String::from_utf8_lossy(&whole(&o, s)),
            String::from_utf8_lossy(s)
        );
    }
}

#[test]
fn cvv_forms() {
    let o = RedactOptions::default();
    let cases: &[(&[u8], &[u8])] = &[
        (b"{\"cvv\": \"123\"}", b"{\"cvv\": \"***\"}"),
        (b"{\"CVC\":123}", b"{\"CVC\":***}"),
        (b"<cvv>1234</cvv>", b"<cvv>****</cvv>"),
        (b"a=1&cvv2=123&b=2", b"a=1&cvv2=***&b=2"),
        (b"CVV: 123\n", b"CVV: ***\n"),
        (b"Card1 4111 1111 1111 1111", b"Card1 **** **** **** 1111"),
        (b"security_code = 999", b"security_code = ***"),
        (b"card[cvc]=123&", b"card[cvc]=***&"),
        (b"card.cvv=123&", b"card.cvv=***&"),
        (b"\\\"cvv\\\":\\\"123\\\"", b"\\\"cvv\\\":\\\"***\\\""),
        (b"%3Ccvd%3E123%3C/cvd%3E", b"%3Ccvd%3E***%3C/cvd%3E"),
        (
            b"\"securityCode\":{\"indicator\":1,\"value\":\"4444\"}",
            b"\"securityCode\":{\"indicator\":1,\"value\":\"****\"}",
        ),
        (
            b"\"expiry\":\"0918\",\"code\":\"999\"}",
            b"\"expiry\":\"0918\",\"code\":\"***\"}",
        ),
        (
            b"\"DS_MERCHANT_CVV2\"=>\"123\"",
            b"\"DS_MERCHANT_CVV2\"=>\"***\"",
        ),
        (b"Security Code: 987", b"Security Code: ***"),
    ];
    for (i, e) in cases {
        assert_eq!(
            String::from_utf8_lossy(&whole(&o, i)),
            String::from_utf8_lossy(e)
        );
    }
    // Configurable keys: with only `pin2`, `cvv` stays.
    let custom = RedactOptions {
        cvv_keys: pci_guard_core::redact::CvvKeys::new(&["pin2"]).unwrap(),
        ..RedactOptions::default()
    };
    assert_eq!(
        &whole(&custom, b"cvv=123&PIN_2=456")[..],
        b"cvv=123&PIN_2=***"
    );
}

#[test]
fn track_data() {
    let o = RedactOptions::default();
    let masked_between = |s: &[u8], a: usize, b: usize| {
        let mut v = s.to_vec();
        v[a..b].fill(b'*');
        v
    };
    let t1 = b"x %B4111111111111111^DOE/JOHN^2912101000000000000000000000? y";
    assert_eq!(whole(&o, t1), masked_between(t1, 4, t1.len() - 3));
    let t2 = b"x ;4111111111111111=29121010000000000000? y";
    assert_eq!(whole(&o, t2), masked_between(t2, 3, t2.len() - 3));
    let off = RedactOptions {
        track_data: false,
        ..RedactOptions::default()
    };
    // With track data off the PAN is still a PAN.
    assert_eq!(
        &whole(&off, t1)[..],
        &b"x %B************1111^DOE/JOHN^2912101000000000000000000000? y"[..]
    );
    assert_eq!(
        &whole(&off, t2)[..],
        b"x ;************1111=29121010000000000000? y"
    );
}

#[test]
fn brands_configurable() {
    let visa_only = RedactOptions {
        brands: BrandSet::from_names(&["visa"]).unwrap(),
        ..RedactOptions::default()
    };
    assert_eq!(
        &whole(&visa_only, b"4111111111111111 5555555555554444")[..],
        b"************1111 5555555555554444"
    );
    let none = RedactOptions {
        brands: BrandSet::NONE,
        ..RedactOptions::default()
    };
    assert_eq!(
        &whole(&none, b"4111111111111111 cvv=123")[..],
        b"4111111111111111 cvv=***"
    );
}

#[test]
fn header_values() {
    let o = RedactOptions::default();
    assert_eq!(
        redact_header_value(&o, "/cb?card=4111111111111111&x=1").as_deref(),
        Some("/cb?card=************1111&x=1")
    );
    assert_eq!(redact_header_value(&o, "/cb?order=1748503543012"), None);
    // Digits of other scripts: no ASCII digit to count, scanned all the same (masked byte for
    // byte: a full-width digit is three bytes, an Arabic-Indic one two).
    let group = "*".repeat(12);
    for (value, masked) in [
        (
            "v ４１１１ １１１１ １１１１ １１１１ v".to_string(),
            format!("v {group} {group} {group} １１１１ v"),
        ),
        (
            "v ٤١١١١١١١١١١١١١١١ v".to_string(),
            format!("v {}١١١١ v", "*".repeat(24)),
        ),
    ] {
        assert_eq!(
            redact_header_value(&o, &value).as_deref(),
            Some(masked.as_str()),
            "{value}"
        );
    }
    assert_eq!(redact_header_value(&o, "東京都 ４番地"), None);
}

#[test]
fn debug_never_prints_body() {
    let mut r = Redactor::new(opts());
    let mut out = Vec::new();
    r.feed(b"{\"n\":\"41111111", &mut out);
    let d = format!("{r:?}");
    assert!(!d.contains("4111"), "{d}");
}

// ---------- oracle ----------

/// Public test PANs (all Luhn-valid, all in a brand range at a valid length).
const PANS: &[&str] = &[
    "4111111111111111",
    "5555555555554444",
    "2223003122003222",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
    "36227206271667",
    "6200000000000005",
    "6759649826438453",
    "2200000000000004",
    "4222222222222",
    "4012888888881881",
];

#[derive(Debug, Clone)]
enum Seg {
    /// A PAN, grouped by 4 with the separator, or contiguous.
    Pan(usize, Option<&'static str>),
    Cvv(&'static str, String),
    NotCvv(&'static str, String),
    Digits(String),
    Word(String),
}

fn seg() -> impl Strategy<Value = Seg> {
    prop_oneof![
        (
            0..PANS.len(),
            prop::option::of(prop::sample::select(vec![" ", "-", "%20", "+", "\\u0020"]))
        )
            .prop_map(|(i, s)| Seg::Pan(i, s)),
        (
            prop::sample::select(vec![
                "\"cvv\": \"",
                "cvc=",
                "<cvv2>",
                "CVV: ",
                "\"securityCode\":"
            ]),
            "[0-9]{3,4}"
        )
            .prop_map(|(k, v)| Seg::Cvv(k, v)),
        (
            prop::sample::select(vec![
                "\"cvvResultCode\":\"",
                "cvv2_result=",
                "<CardSecurityCodeMatch>",
                "id="
            ]),
            "[0-9]{3,4}"
        )
            .prop_map(|(k, v)| Seg::NotCvv(k, v)),
        "[0-9]{1,24}".prop_map(Seg::Digits),
        "[a-zA-Z{}\":,\\[\\]]{1,12}".prop_map(Seg::Word),
    ]
}

/// Renders segments joined by " | " and returns (input, what the oracle says the output is).
fn render(segs: &[Seg]) -> (Vec<u8>, Vec<u8>) {
    let mut input = Vec::new();
    let mut expect = Vec::new();
    for (n, s) in segs.iter().enumerate() {
        if n > 0 {
            input.extend_from_slice(b" | ");
            expect.extend_from_slice(b" | ");
        }
        match s {
            Seg::Pan(i, sep) => {
                let pan = PANS[*i].as_bytes();
                let keep_from = pan.len() - 4;
                for (k, &d) in pan.iter().enumerate() {
                    if k > 0 && k % 4 == 0 {
                        if let Some(sep) = sep {
                            input.extend_from_slice(sep.as_bytes());
                            expect.extend_from_slice(sep.as_bytes());
                        }
                    }
                    input.push(d);
                    expect.push(if k < keep_from { b'*' } else { d });
                }
                // A grouped PAN whose last group is 1 digit is not a grouping we accept
                // beyond 4-4-4-1 … all test PANs render to accepted groupings.
            }
            Seg::Cvv(k, v) => {
                input.extend_from_slice(k.as_bytes());
                input.extend_from_slice(v.as_bytes());
                expect.extend_from_slice(k.as_bytes());
                expect.extend(std::iter::repeat_n(b'*', v.len()));
            }
            Seg::NotCvv(k, v) => {
                input.extend_from_slice(k.as_bytes());
                input.extend_from_slice(v.as_bytes());
                expect.extend_from_slice(k.as_bytes());
                expect.extend_from_slice(v.as_bytes());
            }
            Seg::Digits(d) => {
                let b = d.as_bytes();
                input.extend_from_slice(b);
                // The oracle's whole rule for an isolated digit run.
                let card = (12..=19).contains(&b.len())
                    && luhn_valid(b)
                    && brand_of(b, BrandSet::ALL).is_some();
                if card {
                    expect.extend(std::iter::repeat_n(b'*', b.len() - 4));
                    expect.extend_from_slice(&b[b.len() - 4..]);
                } else {
                    expect.extend_from_slice(b);
                }
            }
            Seg::Word(w) => {
                input.extend_from_slice(w.as_bytes());
                expect.extend_from_slice(w.as_bytes());
            }
        }
    }
    (input, expect)
}

/// Digit runs (joined by single separators) that still read as a card.
fn surviving_cards(out: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let s = String::from_utf8_lossy(out)
        .replace("%20", " ")
        .replace("\\u0020", " ")
        .replace('+', " ");
    for tok in s.split(|c: char| !(c.is_ascii_digit() || c == ' ' || c == '-')) {
        let digits: Vec<u8> = tok.bytes().filter(u8::is_ascii_digit).collect();
        for run in tok.split([' ', '-']) {
            let b = run.as_bytes();
            if (12..=19).contains(&b.len()) && luhn_valid(b) && brand_of(b, BrandSet::ALL).is_some()
            {
                found.push(run.to_owned());
            }
        }
        if (12..=19).contains(&digits.len())
            && luhn_valid(&digits)
            && brand_of(&digits, BrandSet::ALL).is_some()
        {
            found.push(tok.to_owned());
        }
    }
    found
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_agrees(segs in prop::collection::vec(seg(), 1..12)) {
        let (input, expect) = render(&segs);
        let o = opts();
        let out = whole(&o, &input);
        prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expect));
        prop_assert!(surviving_cards(&out).is_empty(), "survivors {:?}", surviving_cards(&out));
    }

    #[test]
    fn chunking_invariant_structured(segs in prop::collection::vec(seg(), 1..12), cuts in prop::collection::vec(0usize..400, 0..8)) {
        let (input, _) = render(&segs);
        let o = opts();
        let w = whole(&o, &input);
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&chunked(&o, &input, &cuts), &w);
        prop_assert_eq!(&chunked_in_place(&o, &input, &cuts), &w, "in place = copied");
        prop_assert_eq!(&one_byte_chunks(&o, &input), &w);
        prop_assert_eq!(&whole(&o, &w), &w, "idempotent");
    }

    #[test]
    fn chunking_invariant_bytes(
        input in prop::collection::vec(prop::sample::select(b"0123456789 -+%\\u20\"':=<>/.;B^?=abcDEF{}&\n\xc3\xa9".to_vec()), 0..300),
        cuts in prop::collection::vec(0usize..300, 0..8),
    ) {
        let o = opts();
        let w = whole(&o, &input);
        prop_assert_eq!(w.len(), input.len());
        // Only masked bytes change, and they become the mask char.
        for (a, b) in input.iter().zip(&w) {
            prop_assert!(a == b || *b == b'*');
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&chunked(&o, &input, &cuts), &w);
        prop_assert_eq!(&chunked_in_place(&o, &input, &cuts), &w, "in place = copied");
        prop_assert_eq!(&one_byte_chunks(&o, &input), &w);
        prop_assert_eq!(&whole(&o, &w), &w, "idempotent");
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_invariant(
        input in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(0usize..400, 0..6),
    ) {
        let o = opts();
        let w = whole(&o, &input);
        prop_assert_eq!(w.len(), input.len());
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&chunked(&o, &input, &cuts), &w);
    }

    #[test]
    fn chunking_invariant_other_options(
        parts in prop::collection::vec(prop_oneof![
            prop::sample::select(PANS.to_vec()).prop_map(|s| s.to_owned()),
            "[0-9 \\-%+.]{0,8}",
            prop::sample::select(vec!["cvv=".to_owned(), "%B".to_owned(), ";".to_owned(), "^DOE/J^2912?".to_owned(), "=2912101?".to_owned()]),
        ], 1..14),
        keep in prop::sample::select(vec![Keep::Last4, Keep::First6Last4, Keep::NoneKept]),
        track_data in any::<bool>(),
        visa_only in any::<bool>(),
        cuts in prop::collection::vec(0usize..300, 0..8),
    ) {
        let input = parts.concat().into_bytes();
        let brands = if visa_only { BrandSet::from_names(&["visa"]).unwrap() } else { BrandSet::ALL };
        let o = Arc::new(RedactOptions { keep, track_data, brands, mask_char: b'#', ..RedactOptions::default() });
        let w = whole(&o, &input);
        prop_assert_eq!(w.len(), input.len());
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&chunked(&o, &input, &cuts), &w);
        prop_assert_eq!(&one_byte_chunks(&o, &input), &w);
        prop_assert_eq!(&whole(&o, &w), &w, "idempotent");
    }

    #[test]
    fn chunking_invariant_cards_and_noise(
        parts in prop::collection::vec(prop_oneof![
            prop::sample::select(PANS.to_vec()).prop_map(|s| s.to_owned()),
            "[0-9 \\-%+.]{0,8}",
            prop::sample::select(vec!["\"cvv\":\"".to_owned(), "%B".to_owned(), ";".to_owned(), "^DOE/J^2912?".to_owned(), "=2912101?".to_owned(), "%3D".to_owned(), "\\u0020".to_owned()]),
        ], 1..14),
        cuts in prop::collection::vec(0usize..300, 0..8),
    ) {
        let input = parts.concat().into_bytes();
        let o = opts();
        let w = whole(&o, &input);
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&chunked(&o, &input, &cuts), &w);
        prop_assert_eq!(&one_byte_chunks(&o, &input), &w);
        prop_assert_eq!(&whole(&o, &w), &w, "idempotent");
    }
}

#[test]
fn long_digit_runs_and_big_bodies_stay_bounded() {
    let o = opts();
    let mut input = vec![b'7'; 100_000];
    input.extend_from_slice(b" 4111111111111111 ");
    input.extend(std::iter::repeat_n(b'x', 100_000));
    let w = whole(&o, &input);
    for chunk in [1usize, 3, 64, 4096] {
        let cuts: Vec<usize> = (chunk..input.len()).step_by(chunk).collect();
        assert!(chunked(&o, &input, &cuts) == w, "chunk {chunk}");
    }
    assert!(String::from_utf8_lossy(&w).contains(" ************1111 "));
}

/// Regression: a 4-4-4-4 card right after a 4-digit number (a year, a reference) was left in
/// clear, because a multi-group window never started after a 4-digit group. Found while
/// triaging the fuzz finding in `testdata/fuzz-findings/redact/`.
#[test]
fn a_card_after_a_four_digit_number_is_masked() {
    let o = opts();
    for (input, want) in [
        (
            "ref 1234 4111 1111 1111 1111 x",
            "ref 1234 **** **** **** 1111 x",
        ),
        (
            "{\"note\":\"invoice 2024 4111-1111-1111-1111\"}",
            "{\"note\":\"invoice 2024 ****-****-****-1111\"}",
        ),
        (
            "year 2024 5555 5555 5555 4444",
            "year 2024 **** **** **** 4444",
        ),
        // Still one grouping, not a prefix and a card: unchanged.
        ("1234 5678 9012 3456", "1234 5678 9012 3456"),
        ("DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00"),
    ] {
        let out = assert_split_invariant(&o, input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&out), want, "{input}");
    }
}

/// Fuzz finding (`testdata/fuzz/redact/not-idempotent-overlapping-grouping`): a masked group
/// (`***0`) must still count as the 4-digit group it was, or a second pass reads its tail and
/// the next group as a new card.
#[test]
fn redacting_a_redacted_grouping_changes_nothing() {
    let o = opts();
    let input = b"4000 0000 0000 0060 406 1111111111111".to_vec();
    let mut once = input.clone();
    redact_in_place(&o, &mut once);
    let mut twice = once.clone();
    redact_in_place(&o, &mut twice);
    assert_eq!(
        String::from_utf8_lossy(&twice),
        String::from_utf8_lossy(&once)
    );
    assert_ne!(once, input, "the 19-digit card is masked");
}

/// Fuzz finding (`make fuzz`, target `redact`): the digits a masked card keeps readable can
/// begin another card. `3947 0000 0001 060 4006` is a 19-digit card whose kept `4006`, with
/// the next group, reads as the 13-digit Visa `4006111111111`; it must not stay readable.
#[test]
fn digits_a_masked_card_keeps_cannot_start_a_readable_card() {
    let o = opts();
    let mut once = b"x 3947 0000 0001 060 4006 111111111 y".to_vec();
    redact_in_place(&o, &mut once);
    assert_eq!(
        String::from_utf8_lossy(&once),
        "x **** **** **** *** **** *****1111 y"
    );
    let mut twice = once.clone();
    redact_in_place(&o, &mut twice);
    assert_eq!(twice, once, "redacting the output again changes nothing");
}

/// The same inside one group: `4000000000004129` (Visa) keeps `4129`, and `4129 111111111`
/// is a Luhn-valid 13-digit Visa that must not stay readable.
#[test]
fn kept_digits_of_an_ungrouped_card_are_scanned_again() {
    let o = opts();
    let mut once = b"n 4000000000004129 111111111 z".to_vec();
    redact_in_place(&o, &mut once);
    assert_eq!(
        String::from_utf8_lossy(&once),
        "n **************** *****1111 z"
    );
    let mut twice = once.clone();
    redact_in_place(&o, &mut twice);
    assert_eq!(twice, once, "redacting the output again changes nothing");
}
