use super::keys::normalize;
use super::lookback::is_key_byte;
use super::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Where the direct read of `"key":"`, `"key":` and `key=` finds a key, the general
    /// look-back finds the same one.
    #[test]
    fn plain_key_read_finds_the_key_the_general_look_back_finds(
        parts in prop::collection::vec(prop_oneof![
            prop::sample::select(vec![
                "\"", ":", "=", "\":\"", "\":", "%3A", "%3D", "%22", "%", "<", ">", "=>",
                " ", "&", "_", "-", ".", "\\", "cvv", "CVV2", "card_code", "security-code",
                "3A", "a", "%3Acvv", "123", "\\u0063", "\\u0076", "%63", "%76", "\\u00",
                "cvvValue", "csc_code",
            ]).prop_map(str::to_owned),
            "[a-zA-Z0-9_-]{1,60}",
        ], 1..12),
    ) {
        let mut buf = vec![b'{'; 60];
        buf.extend(parts.concat().into_bytes());
        buf.extend_from_slice(b"123");
        let keys = CvvKeys::default();
        let w = Window { ctx: &[], buf: &mut buf.clone(), eof: true };
        for i in 0..=w.len() {
            if let Some(k) = plain_key_before(w.buf, i, &keys) {
                let ii = i as isize;
                let general = key_before(&w, ii, ii - 224, &keys);
                prop_assert_eq!(
                    k.map(|k| (k.start, k.end, k.xml)),
                    general.map(|g| (g.start, g.end, g.xml)),
                    "at {}", i
                );
            }
        }
    }
}

#[test]
fn keys_in_plain_glue_match_in_any_spelling_and_length() {
    let opts = crate::redact::RedactOptions::default();
    for (body, masked) in [
        (&br#"{"cvv":"123"}"#[..], &br#"{"cvv":"***"}"#[..]),
        (br#"{"CVV":"123"}"#, br#"{"CVV":"***"}"#),
        (br#"{"Cvv2":1234}"#, br#"{"Cvv2":****}"#),
        (b"card_code=123&", b"card_code=***&"),
        (br#"{"Card-Code":"456"}"#, br#"{"Card-Code":"***"}"#),
        (br#"{"securityCode":"789"}"#, br#"{"securityCode":"***"}"#),
        (
            br#"{"cardverificationvalue":"321"}"#,
            br#"{"cardverificationvalue":"***"}"#,
        ),
        (
            br#"{"Credit_Card_Verification_Value":"321"}"#,
            br#"{"Credit_Card_Verification_Value":"***"}"#,
        ),
        (br#"{"cvvResultCode":"123"}"#, br#"{"cvvResultCode":"123"}"#),
        (br#"{"amount":"123"}"#, br#"{"amount":"123"}"#),
    ] {
        // Far enough in for the key to be read straight from the buffer, and at the start.
        for pad in [&b""[..], &[b' '; 64]] {
            let mut v = [pad, body].concat();
            crate::redact::engine::redact_in_place(&opts, &mut v);
            assert_eq!(
                v,
                [pad, masked].concat(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn key_bytes_are_letters_digits_underscore_and_dash() {
    for b in 0..=255u8 {
        let want = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        assert_eq!(is_key_byte(b), want, "byte {b:#04x}");
    }
}

#[test]
fn ends_glue_is_exactly_the_bytes_glue_can_end_with() {
    let listed = b"\"':=> \t\n\r\\;]AaDdEe027";
    for b in 0..=255u8 {
        assert_eq!(ends_glue(b), listed.contains(&b), "byte {b:#04x}");
    }
}

#[test]
fn as_is_lookup_agrees_with_normalise_then_look_up() {
    let keys = CvvKeys::default();
    let mut spellings: Vec<String> = DEFAULT_CVV_KEYS.iter().map(|k| k.to_string()).collect();
    spellings.extend(
        [
            "CVV",
            "Cvv2",
            "card_code",
            "Card-Code",
            "security_code",
            "securityCode",
            "cvvResultCode",
            "cvv2_result",
            "amount",
            "number",
            "code",
            "value",
            "is",
            "no",
            "x",
            "_",
            "-",
            "cvv!",
            "c v v",
            "cardverificationvalue",
            "CardSecurityCodeMatch",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p",
        ]
        .map(String::from),
    );
    for k in &spellings {
        let mut buf = [0u8; MAX_KEY];
        let expect = normalize(k.as_bytes(), &mut buf)
            .map(|n| (keys.contains_norm(&buf[..n]), n, packed(&buf[..n])));
        // Already normal (lowercase, no `_` or `-`): the head read straight from the bytes
        // answers as the normalised copy does, and packs the key as `pack` does.
        if let Some((want, n, want_kp)) = expect.filter(|&(_, n, _)| n <= 16) {
            if buf[..n] == *k.as_bytes() {
                let head = head16(k.as_bytes());
                assert_eq!(keys.contains_head(head, n), want, "{k}");
                assert_eq!((n <= 8).then_some(head as u64), want_kp, "{k}");
            }
        }
    }
}

#[test]
fn key_head_is_the_first_sixteen_bytes_zero_padded_at_every_length() {
    let key: Vec<u8> = (1..=48u8).collect();
    for n in 0..=48 {
        let mut want = [0u8; 16];
        for (d, s) in want.iter_mut().zip(&key[..n]) {
            *d = *s;
        }
        assert_eq!(head16(&key[..n]), u128::from_le_bytes(want), "n={n}");
    }
}

#[test]
fn normalisation() {
    let k = CvvKeys::default();
    for key in [
        "cvv",
        "CVV2",
        "security_code",
        "security-code",
        "securityCode",
        "DS_MERCHANT_CVV2",
        "C_cvv",
    ] {
        assert!(k.contains(key), "{key}");
    }
    for key in [
        "cvvResultCode",
        "cvv2_result",
        "CardSecurityCodeMatch",
        "cvc_check",
        "code",
        "value",
    ] {
        assert!(!k.contains(key), "{key}");
    }
    assert!(CvvKeys::new(&["bad key"]).is_err());
    assert!(CvvKeys::new(&[""]).is_err());
    let custom = CvvKeys::new(&["default", "myCode"]).unwrap();
    assert!(custom.contains("my_code") && custom.contains("cvv"));
}

/// Keys spelled with escapes, followed by a child word, or set apart from their value by
/// markup or a statement: each at the start of a body and far enough in for the direct read.
#[test]
fn keys_in_escapes_child_words_markup_and_statements() {
    let opts = crate::redact::RedactOptions::default();
    for (body, masked) in [
        (r#"{"cvvValue":"123"}"#, r#"{"cvvValue":"***"}"#),
        (r#"{"CVC_Number":"123"}"#, r#"{"CVC_Number":"***"}"#),
        (
            r#"{"securityCodeValue":123}"#,
            r#"{"securityCodeValue":***}"#,
        ),
        (r#"{"cvvResultCode":"123"}"#, r#"{"cvvResultCode":"123"}"#),
        (r#"{"amountValue":"123"}"#, r#"{"amountValue":"123"}"#),
        (r#"{"\u0063vv":"123"}"#, r#"{"\u0063vv":"***"}"#),
        (r#"{"cv\u0076":"123"}"#, r#"{"cv\u0076":"***"}"#),
        (
            r#"{"\u0063\u0076\u0076":123}"#,
            r#"{"\u0063\u0076\u0076":***}"#,
        ),
        (r#"{"\u0061mount":"123"}"#, r#"{"\u0061mount":"123"}"#),
        ("a=1&%63vv=123&b=2", "a=1&%63vv=***&b=2"),
        ("a=1&cv%76=123&b=2", "a=1&cv%76=***&b=2"),
        ("a=1&%22cvv%22=123", "a=1&%22cvv%22=***"),
        ("<td>CVV</td><td>123</td>", "<td>CVV</td><td>***</td>"),
        (
            "<td>CVV:</td> <td><span>123</span></td>",
            "<td>CVV:</td> <td><span>***</span></td>",
        ),
        (
            "<th>Card Code</th><td>4321</td>",
            "<th>Card Code</th><td>****</td>",
        ),
        ("<td>Order</td><td>123</td>", "<td>Order</td><td>123</td>"),
        (
            "<td>CVV</td></tr><tr><td>123</td>",
            "<td>CVV</td></tr><tr><td>123</td>",
        ),
        ("<amount>123</amount>", "<amount>123</amount>"),
        (
            r#"<input name="cvv" value="123">"#,
            r#"<input name="cvv" value="***">"#,
        ),
        (
            r#"<input id='card[cvc]' type=text value='123'>"#,
            r#"<input id='card[cvc]' type=text value='***'>"#,
        ),
        (
            r#"<input name="qty" value="123">"#,
            r#"<input name="qty" value="123">"#,
        ),
        (
            r#"<p name="cvv">x</p><b value="123">"#,
            r#"<p name="cvv">x</p><b value="123">"#,
        ),
        (
            "INSERT INTO t (pan, cvv) VALUES ('4111111111111111', '123');",
            "INSERT INTO t (pan, cvv) VALUES ('************1111', '***');",
        ),
        (
            "insert into t(`id`, \"cvc\") values (7, '123')",
            "insert into t(`id`, \"cvc\") values (7, '***')",
        ),
        (
            "INSERT INTO t (note, cvv) VALUES ('a, ''b''', '123')",
            "INSERT INTO t (note, cvv) VALUES ('a, ''b''', '***')",
        ),
        (
            "INSERT INTO t (id, qty) VALUES (1, '123')",
            "INSERT INTO t (id, qty) VALUES (1, '123')",
        ),
        ("[1, 123]", "[1, 123]"),
    ] {
        for pad in [&b""[..], &[b' '; 64]] {
            let mut v = [pad, body.as_bytes()].concat();
            crate::redact::engine::redact_in_place(&opts, &mut v);
            assert_eq!(
                String::from_utf8_lossy(&v),
                String::from_utf8_lossy(&[pad, masked.as_bytes()].concat()),
                "{body}"
            );
        }
    }
}

/// A name joined with `-` or `_` (a form field, a query key) names the code when its last
/// segments do: `rid-8841-cvv`, `billing_cvc`, `wc-stripe-card-cvc`. A tail that is a result
/// field or no key at all stays unmasked.
#[test]
fn a_key_starts_at_any_hyphen_or_underscore_in_the_name() {
    let opts = crate::redact::RedactOptions::default();
    for (body, masked) in [
        ("a=1&rid-8841-cvv=7391&b=2", "a=1&rid-8841-cvv=****&b=2"),
        ("rid_8841_cvv=739", "rid_8841_cvv=***"),
        (r#"{"billing-cvc":"123"}"#, r#"{"billing-cvc":"***"}"#),
        ("wc-stripe-card-cvc=123&", "wc-stripe-card-cvc=***&"),
        (
            r#"{"payment_cvv_value":123}"#,
            r#"{"payment_cvv_value":***}"#,
        ),
        ("x_%63vv=123", "x_%63vv=***"),
        (r#"{"pay_\u0063vc":"123"}"#, r#"{"pay_\u0063vc":"***"}"#),
        // Short default keys too (SECURITY.md: configure the key list to leave them out).
        ("customer_cid=1234", "customer_cid=****"),
        // Tails that are no security code.
        ("cvv2_result=123&", "cvv2_result=123&"),
        ("vpc_CSCResultCode=123&", "vpc_CSCResultCode=123&"),
        (
            "avs_code=123&status_code=200&zip_code=1234",
            "avs_code=123&status_code=200&zip_code=1234",
        ),
        ("rid-8841-amount=7391", "rid-8841-amount=7391"),
        (r#"{"cvv-result":"123"}"#, r#"{"cvv-result":"123"}"#),
        ("cvvx=123&ab_cvvx=123", "cvvx=123&ab_cvvx=123"),
    ] {
        for pad in [&b""[..], &[b' '; 64]] {
            let mut v = [pad, body.as_bytes()].concat();
            crate::redact::engine::redact_in_place(&opts, &mut v);
            assert_eq!(
                String::from_utf8_lossy(&v),
                String::from_utf8_lossy(&[pad, masked.as_bytes()].concat()),
                "{body}"
            );
        }
    }
}
