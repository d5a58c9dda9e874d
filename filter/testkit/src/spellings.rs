//! Card numbers and security codes as real systems spell them, with what the redactor must
//! turn them into, and the look-alikes it must leave alone. One table for the core's unit
//! tests (`filter/core/tests/redact_spellings.rs`) and the end-to-end tests through Envoy
//! (`envoy/tests/spellings.rs`), so both prove the same thing.
//!
//! Expected outputs follow the masking rule, written here by hand: every byte of a masked
//! digit becomes `*` (a full-width digit is three bytes, an Arabic-Indic digit two), separators
//! and everything else stay, and a card keeps its last four digits readable. Only public test
//! card numbers appear.

/// A body and what it must come out as with the default options (last four kept, `*`).
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// What the case shows.
    pub name: &'static str,
    /// The `content-type` an upstream would send it with.
    pub content_type: &'static str,
    /// The body as the upstream sends it.
    pub body: &'static str,
    /// The body as the client must receive it.
    pub masked: &'static str,
}

/// Card numbers with the separators, digits and number forms systems print.
pub const PANS: &[Case] = &[
    Case { name: "dots", content_type: "application/json", body: "{\"card\":\"4111.1111.1111.1111\"}", masked: "{\"card\":\"****.****.****.1111\"}" },
    Case { name: "Amex with dots", content_type: "application/json", body: "{\"card\":\"3782.822463.10005\"}", masked: "{\"card\":\"****.******.*0005\"}" },
    Case { name: "slashes", content_type: "text/plain", body: "card 4111/1111/1111/1111 on file\n", masked: "card ****/****/****/1111 on file\n" },
    Case { name: "underscores", content_type: "application/json", body: "{\"pan\":\"4111_1111_1111_1111\"}", masked: "{\"pan\":\"****_****_****_1111\"}" },
    Case { name: "commas", content_type: "text/plain", body: "PAN: 4111,1111,1111,1111.\n", masked: "PAN: ****,****,****,1111.\n" },
    Case { name: "tabs", content_type: "text/plain", body: "card\t4111\t1111\t1111\t1111\tVisa\n", masked: "card\t****\t****\t****\t1111\tVisa\n" },
    Case { name: "wrapped text (newline)", content_type: "text/plain", body: "Please charge the card 4111 1111\n1111 1111 today.\n", masked: "Please charge the card **** ****\n**** 1111 today.\n" },
    Case { name: "wrapped text (CRLF and indent)", content_type: "text/plain", body: "Card on file: 5555 5555\r\n    5555 4444\r\n", masked: "Card on file: **** ****\r\n    **** 4444\r\n" },
    Case { name: "JSON-escaped newline", content_type: "application/json", body: "{\"note\":\"card 4111 1111\\n1111 1111 today\"}", masked: "{\"note\":\"card **** ****\\n**** 1111 today\"}" },
    Case { name: "runs of spaces", content_type: "text/plain", body: "card: 4111   1111   1111   1111\n", masked: "card: ****   ****   ****   1111\n" },
    Case { name: "spaced dash", content_type: "text/plain", body: "card: 4111 - 1111 - 1111 - 1111\n", masked: "card: **** - **** - **** - 1111\n" },
    Case { name: "NBSP", content_type: "application/json", body: "{\"card\":\"4111\u{a0}1111\u{a0}1111\u{a0}1111\"}", masked: "{\"card\":\"****\u{a0}****\u{a0}****\u{a0}1111\"}" },
    Case { name: "&nbsp;", content_type: "text/html", body: "<td>4111&nbsp;1111&nbsp;1111&nbsp;1111</td>", masked: "<td>****&nbsp;****&nbsp;****&nbsp;1111</td>" },
    Case { name: "&#160;", content_type: "text/html", body: "<td>4111&#160;1111&#160;1111&#160;1111</td>", masked: "<td>****&#160;****&#160;****&#160;1111</td>" },
    Case { name: "thin space", content_type: "application/json", body: "{\"card\":\"4111\u{2009}1111\u{2009}1111\u{2009}1111\"}", masked: "{\"card\":\"****\u{2009}****\u{2009}****\u{2009}1111\"}" },
    Case { name: "narrow no-break space", content_type: "application/json", body: "{\"card\":\"4111\u{202f}1111\u{202f}1111\u{202f}1111\"}", masked: "{\"card\":\"****\u{202f}****\u{202f}****\u{202f}1111\"}" },
    Case { name: "ideographic space", content_type: "text/plain", body: "カード番号：4111\u{3000}1111\u{3000}1111\u{3000}1111\n", masked: "カード番号：****\u{3000}****\u{3000}****\u{3000}1111\n" },
    Case { name: "en dash", content_type: "application/json", body: "{\"card\":\"4111–1111–1111–1111\"}", masked: "{\"card\":\"****–****–****–1111\"}" },
    Case { name: "&ndash;", content_type: "text/html", body: "<p>4111&ndash;1111&ndash;1111&ndash;1111</p>", masked: "<p>****&ndash;****&ndash;****&ndash;1111</p>" },
    Case { name: "soft hyphen", content_type: "text/html", body: "<p>4111\u{ad}1111\u{ad}1111\u{ad}1111</p>", masked: "<p>****\u{ad}****\u{ad}****\u{ad}1111</p>" },
    Case { name: "zero-width space between every digit", content_type: "application/json", body: "{\"card\":\"4\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\u{200b}1\"}", masked: "{\"card\":\"*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}*\u{200b}1\u{200b}1\u{200b}1\u{200b}1\"}" },
    Case { name: "ZWNJ, ZWJ, word joiner and BOM between groups", content_type: "application/json", body: "{\"card\":\"4111\u{200c}1111\u{200d}1111\u{2060}1111\u{feff}\"}", masked: "{\"card\":\"****\u{200c}****\u{200d}****\u{2060}1111\u{feff}\"}" },
    Case { name: "full-width digits", content_type: "text/plain", body: "カード番号：４１１１１１１１１１１１１１１１\n", masked: "カード番号：************************************１１１１\n" },
    Case { name: "full-width digits and ideographic spaces", content_type: "text/plain", body: "カード番号：４１１１\u{3000}１１１１\u{3000}１１１１\u{3000}１１１１\n", masked: "カード番号：************\u{3000}************\u{3000}************\u{3000}１１１１\n" },
    Case { name: "Arabic-Indic digits", content_type: "text/plain", body: "رقم البطاقة ٤١١١١١١١١١١١١١١١\n", masked: "رقم البطاقة ************************١١١١\n" },
    Case { name: "Extended Arabic-Indic digits", content_type: "text/plain", body: "شماره کارت ۴۱۱۱ ۱۱۱۱ ۱۱۱۱ ۱۱۱۱\n", masked: "شماره کارت ******** ******** ******** ۱۱۱۱\n" },
    Case { name: "JSON number with .0", content_type: "application/json", body: "{\"pan\":4111111111111111.0}", masked: "{\"pan\":************1111.0}" },
    Case { name: "JSON number with an exponent", content_type: "application/json", body: "{\"pan\":4.111111111111111e15}", masked: "{\"pan\":*.***********1111e15}" },
    Case { name: "JSON number with E+", content_type: "application/json", body: "{\"pan\":5.555555555554444E+15}", masked: "{\"pan\":*.***********4444E+15}" },
    Case { name: "quoted-printable =3D", content_type: "text/plain", body: "number=3D4111111111111111\r\n", masked: "number=3D************1111\r\n" },
    Case { name: "quoted-printable soft line break", content_type: "text/plain", body: "card 4111 1111 1111 111=\r\n1 ok\r\n", masked: "card **** **** **** 111=\r\n1 ok\r\n" },
    Case { name: "quoted-printable soft line break in a run", content_type: "text/plain", body: "card 411111111111=\r\n1111 ok\r\n", masked: "card ************=\r\n1111 ok\r\n" },
    Case { name: "quoted-printable NBSP", content_type: "text/plain", body: "card 4111=C2=A01111=C2=A01111=C2=A01111\r\n", masked: "card ****=C2=A0****=C2=A0****=C2=A01111\r\n" },
    Case { name: "JSON-escaped NBSP", content_type: "application/json", body: "{\"card\":\"4111\\u00a01111\\u00a01111\\u00a01111\"}", masked: "{\"card\":\"****\\u00a0****\\u00a0****\\u00a01111\"}" },
    Case { name: "JSON-escaped en dash", content_type: "application/json", body: "{\"card\":\"4111\\u20131111\\u20131111\\u20131111\"}", masked: "{\"card\":\"****\\u2013****\\u2013****\\u20131111\"}" },
    Case { name: "JSON-escaped zero-width space", content_type: "application/json", body: "{\"card\":\"4111\\u200b1111\\u200b1111\\u200b1111\"}", masked: "{\"card\":\"****\\u200b****\\u200b****\\u200b1111\"}" },
    Case { name: "JSON-escaped slash", content_type: "application/json", body: "{\"card\":\"4111\\/1111\\/1111\\/1111\"}", masked: "{\"card\":\"****\\/****\\/****\\/1111\"}" },
    Case { name: "percent-encoded NBSP", content_type: "application/x-www-form-urlencoded", body: "name=J+Doe&card=4111%C2%A01111%C2%A01111%C2%A01111&exp=1229", masked: "name=J+Doe&card=****%C2%A0****%C2%A0****%C2%A01111&exp=1229" },
];

/// Security codes under the keys and in the shapes real APIs use.
pub const CODES: &[Case] = &[
    Case { name: "cvvValue", content_type: "application/json", body: "{\"cvvValue\":\"123\"}", masked: "{\"cvvValue\":\"***\"}" },
    Case { name: "security_code_value", content_type: "application/json", body: "{\"security_code_value\":\"1234\"}", masked: "{\"security_code_value\":\"****\"}" },
    Case { name: "csc_code", content_type: "application/json", body: "{\"csc_code\":\"123\"}", masked: "{\"csc_code\":\"***\"}" },
    Case { name: "key with a JSON escape", content_type: "application/json", body: "{\"\\u0063vv\":\"123\"}", masked: "{\"\\u0063vv\":\"***\"}" },
    Case { name: "key escaped whole", content_type: "application/json", body: "{\"\\u0063\\u0076\\u0076\":\"123\"}", masked: "{\"\\u0063\\u0076\\u0076\":\"***\"}" },
    Case { name: "percent-encoded form key", content_type: "application/x-www-form-urlencoded", body: "number=4111111111111111&%63vv=123&exp=1229", masked: "number=************1111&%63vv=***&exp=1229" },
    Case { name: "number value with .0", content_type: "application/json", body: "{\"cvv\": 123.0}", masked: "{\"cvv\": ***.0}" },
    Case { name: "HTML table", content_type: "text/html", body: "<table><tr><td>CVV</td><td>123</td></tr></table>", masked: "<table><tr><td>CVV</td><td>***</td></tr></table>" },
    Case { name: "HTML table with a header cell", content_type: "text/html", body: "<tr><th>Security code</th>\n  <td>4567</td></tr>", masked: "<tr><th>Security code</th>\n  <td>****</td></tr>" },
    Case { name: "HTML definition list", content_type: "text/html", body: "<dl><dt>CVC:</dt><dd><b>321</b></dd></dl>", masked: "<dl><dt>CVC:</dt><dd><b>***</b></dd></dl>" },
    Case { name: "HTML input", content_type: "text/html", body: "<input type=\"text\" name=\"cvv\" value=\"123\">", masked: "<input type=\"text\" name=\"cvv\" value=\"***\">" },
    Case { name: "hyphen-glued form key", content_type: "application/x-www-form-urlencoded", body: "rid-8841-cvv=7391&wc-stripe-card-cvc=123&billing_cvv=456", masked: "rid-8841-cvv=****&wc-stripe-card-cvc=***&billing_cvv=***" },
    Case { name: "underscore-glued JSON key", content_type: "application/json", body: "{\"payment_cvv_value\":\"123\"}", masked: "{\"payment_cvv_value\":\"***\"}" },
    Case { name: "SQL INSERT", content_type: "text/plain", body: "INSERT INTO payments (card_number, cvv, amount) VALUES ('4111111111111111', '123', 1999);", masked: "INSERT INTO payments (card_number, cvv, amount) VALUES ('************1111', '***', 1999);" },
];

/// Look-alikes that must come out unchanged: IMEIs, timestamps, order ids, amounts, phone
/// numbers, versions, addresses, decimals, result codes and ordinary numbers in the shapes
/// above.
pub const UNCHANGED: &[(&str, &str)] = &[
    ("IMEI", "{\"imei\":\"490154203237518\"}"),
    ("IMEI with dashes", "IMEI 35-209900-176148-1"),
    ("IMEI with spaces", "IMEI 35 209900 176148 1"),
    ("IMEISV with dots", "IMEI/SV 35.209900.176148.23"),
    (
        "ISO timestamp",
        "{\"created\":\"2026-11-12T10:00:00.123Z\"}",
    ),
    ("date and time", "at 2026-11-12 10:00:00"),
    ("epoch milliseconds", "{\"ts\":1762939200000}"),
    ("epoch seconds with a fraction", "{\"ts\":1762939200.123}"),
    ("dotted date", "due 12.11.2026"),
    ("dotted date, year first", "2026.11.12"),
    ("slashed date", "12/11/2026 and 2026/11/12 10:00"),
    ("compact timestamp", "20261112T103000Z"),
    ("order id with dashes", "ORD-2026-004111"),
    ("order id with underscores", "order 2026_1112_0001_0042"),
    ("order id with a prefix", "{\"id\":\"ord_00000001\"}"),
    ("slashed reference", "po/2026/11/000123"),
    ("dotted invoice number", "INV.2026.0001.0042"),
    ("amount, European", "1.234.567,89 EUR"),
    ("amount with a fraction", "4111.11 USD"),
    ("amount with thousands", "1,234,567.89"),
    ("amount with a space", "4 111,11 €"),
    ("amount with NBSPs", "1\u{a0}234\u{a0}567,89 €"),
    ("large amount", "{\"amount\":4111111.11}"),
    ("amount with commas", "{\"amount\":\"4,111,111.11\"}"),
    ("phone, US with spaces", "+1 415 555 2671"),
    ("phone, US with dashes", "+1-415-555-2671"),
    ("phone, US with dots", "+1.415.555.2671"),
    ("phone, US national", "(415) 555-2671"),
    ("phone, UK", "+44 20 7946 0958"),
    ("phone, Germany", "+49 30 12345678"),
    ("phone, Germany with dots", "+49.30.1234.5678"),
    ("phone, Germany international prefix", "0049 30 1234 5678"),
    ("phone, France", "+33 1 23 45 67 89"),
    ("phone, China", "+86 138 0013 8000"),
    ("phone, India", "+91 98765 43210"),
    ("phone, Russia", "+7 (495) 123-45-67"),
    ("phone, full-width", "０３－１２３４－５６７８"),
    ("version", "1.2.3"),
    ("long version", "10.0.19041.1"),
    ("calendar version", "v2024.11.1"),
    ("user agent", "Chrome/131.0.6778.86"),
    ("IPv4", "192.168.100.200"),
    ("IPv4 and a netmask", "10.0.0.1/255.255.255.255"),
    ("IPv6 mapped", "::ffff:192.0.2.128"),
    ("pi", "3.14159265358979"),
    ("fraction of a card number", "0.4111111111111111"),
    ("card number with a fraction", "4111111111111111.5"),
    ("CSS decimal", "translate(0%, -0.5309136012499991%)"),
    ("exponent", "6.02214076e23"),
    ("double max", "1.7976931348623157e308"),
    ("exponent one short", "4.111111111111111e14"),
    ("exponent one long", "4.111111111111111e16"),
    ("list of numbers", "[4111,1111,1111,1111,1234]"),
    ("not Luhn-valid", "4111.1111.1111.1112"),
    (
        "full-width, not Luhn-valid",
        "１２３４ ５６７８ ９０１２ ３４５６",
    ),
    (
        "CVV result code",
        "{\"cvvResultCode\":\"123\",\"cvv_result\":\"456\"}",
    ),
    (
        "CVV result in a table",
        "<tr><td>CVV result</td><td>123</td></tr>",
    ),
    (
        "glued keys ending in no code",
        "cvv2_result=123&vpc_CSCResultCode=456&avs_code=789&rid-8841-amount=7391",
    ),
    ("other table cell", "<tr><td>Order</td><td>123</td></tr>"),
    ("other input", "<input name=\"amount\" value=\"123\">"),
    ("amount with .0", "{\"amount\": 123.0}"),
    ("CVV with a fraction", "{\"cvv\": 123.5}"),
    (
        "SQL, other columns",
        "INSERT INTO t (id, cvv_result) VALUES (123, '456');",
    ),
];
