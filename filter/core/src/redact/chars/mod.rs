//! Characters as the card reader sees them: what a run of bytes spells, however it is encoded.
//!
//! A card is digits and separators, but a body spells them many ways: raw UTF-8 (`4111 1111`,
//! a no-break space, an en dash, full-width or Arabic-Indic digits), percent-encoding (`%20`,
//! `%C2%A0`), quoted-printable (`=C2=A0`, the soft line break `=\r\n`), JSON escapes
//! (`\u00a0`, `\n`, `\/`) and HTML entities (`&nbsp;`, `&#8211;`). This module decodes one
//! character at a position, forward ([`char_at`]) or backward ([`char_before`]), and says what
//! it is ([`Class`]), so the group and separator rules are written once, over characters:
//!
//! ```text
//! char_at(p):
//!     decode the bytes at p: raw ASCII, raw UTF-8, %XX(%XX…), =XX(=XX…), \uXXXX, \n \r \t \/,
//!                            &name; &#d; &#xh;, =\r\n (soft line break)
//!     classify the code point:  Digit(v) | Space | Mark(kind) | Invisible | Other(byte)
//! ```
//!
//! What each code point is (one table, [`classify`]):
//! - **digits**: `0`–`9`, and raw (not escaped) decimal digits of other scripts, by the zero of
//!   their block ([`DIGIT_ZEROS`]: Arabic-Indic, Devanagari, …, full-width);
//! - **spaces**: space, tab, no-break, thin, narrow, figure, ideographic and the other Unicode
//!   spaces; line breaks (`\n`, `\r`, `\r\n`, U+2028/9) are spaces that count as one line;
//!   `+` is a space (form encoding);
//! - **marks**: dashes (`-`, U+2010–2015, minus, full-width), `.`, `/`, `_`, `,` (and their
//!   full-width forms);
//! - **invisible**: soft hyphen, zero-width space and joiners, word joiner, BOM, and the
//!   quoted-printable soft line break: characters that show nothing between two digits.
//!
//! Trade-offs, written down:
//! - digits of other scripts count only raw: an escaped one (`\uff14`, `%EF%BC%94`) is
//!   `Other`, so a card spelled entirely in escapes is not read (the scanner finds candidates by
//!   their bytes, and every escape holds ASCII digits of its own);
//! - quoted-printable `=XX` is decoded only where it cannot be a key and a number (`a=12`):
//!   as a UTF-8 sequence whose lead is `=C`…`=F` reading ahead, and when its last hex digit is a
//!   letter reading behind (`=3D4111…`);
//! - in protobuf mode (gRPC messages) tab, line feed and carriage return are field tags, not
//!   spaces, and escapes are not decoded (protobuf strings are raw bytes).
//!
//! Invariants: every character read ahead spans at most [`MAX_CHAR`] bytes, and every read
//! behind stops at [`MAX_CHAR`] bytes too; decoding never allocates.

use crate::redact::scanner::hex_pair;
use crate::redact::window::Need;

pub(crate) use behind::char_before;
pub(crate) use find::{find_candidate, other_digit_starts};

mod behind;
mod find;

/// The longest encoded character decoded (`&ZeroWidthSpace;` is 17 bytes, `%E2%80%8B` 9).
pub(crate) const MAX_CHAR: usize = 24;

/// The kind of a separator mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Whitespace only (also `+`, `%20`, `&nbsp;`, line breaks).
    Space,
    /// A dash, with or without spaces around it.
    Dash,
    Dot,
    Slash,
    Underscore,
    Comma,
}

impl Kind {
    /// Marks that also write numbers, dates, paths and lists (`1.234,5`, `2026/11/12`): a card
    /// grouped by one needs a canonical grouping and the whole cluster (see `pan`).
    pub fn weak(self) -> bool {
        !matches!(self, Kind::Space | Kind::Dash)
    }
}

/// What a character is to the card reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A decimal digit (its value).
    Digit(u8),
    /// Whitespace; `line` for a line break.
    Space { line: bool },
    /// A separator mark.
    Mark(Kind),
    /// Shows nothing between two digits (soft hyphen, zero-width, soft line break).
    Invisible,
    /// Anything else: the decoded byte if ASCII, `0x80` otherwise.
    Other(u8),
}

/// A decoded character: its class, how many bytes it spans, and whether those bytes are the
/// character itself (raw ASCII or UTF-8) rather than an escape, entity or encoding of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ch {
    pub class: Class,
    pub len: usize,
    pub raw: bool,
}

impl Ch {
    pub(super) fn raw(class: Class, len: usize) -> Ch {
        Ch {
            class,
            len,
            raw: true,
        }
    }
    pub(super) fn coded(class: Class, len: usize) -> Ch {
        Ch {
            class,
            len,
            raw: false,
        }
    }
    pub fn digit(&self) -> Option<u8> {
        match self.class {
            Class::Digit(v) => Some(v),
            _ => None,
        }
    }
}

/// The zero of every block of decimal digits read raw: Arabic-Indic, Extended Arabic-Indic,
/// Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Thai,
/// Lao, Tibetan, Myanmar, Khmer, Mongolian, full-width.
pub(crate) const DIGIT_ZEROS: [u32; 18] = [
    0x0660, 0x06F0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50,
    0x0ED0, 0x0F20, 0x1040, 0x17E0, 0x1810, 0xFF10,
];

/// The value of a decimal digit of another script, if `cp` is one.
#[inline]
fn other_digit(cp: u32) -> Option<u8> {
    DIGIT_ZEROS
        .iter()
        .find(|&&z| cp.wrapping_sub(z) < 10)
        .map(|&z| (cp - z) as u8)
}

/// What code point `cp` is; `raw`: it was written as itself (only then do digits of other
/// scripts count).
pub(crate) fn classify(cp: u32, raw: bool) -> Class {
    match cp {
        0x30..=0x39 => Class::Digit((cp - 0x30) as u8),
        0x20 | 0x09 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => {
            Class::Space { line: false }
        }
        0x0A | 0x0D | 0x2028 | 0x2029 => Class::Space { line: true },
        0x2D | 0x2010..=0x2015 | 0x2212 | 0xFE58 | 0xFE63 | 0xFF0D => Class::Mark(Kind::Dash),
        0x2E | 0xFF0E => Class::Mark(Kind::Dot),
        0x2F | 0xFF0F => Class::Mark(Kind::Slash),
        0x5F | 0xFF3F => Class::Mark(Kind::Underscore),
        0x2C | 0xFF0C => Class::Mark(Kind::Comma),
        0xAD | 0x200B..=0x200D | 0x2060 | 0xFEFF => Class::Invisible,
        _ if raw && cp >= 0x80 => match other_digit(cp) {
            Some(v) => Class::Digit(v),
            None => Class::Other(0x80),
        },
        _ => Class::Other(if cp < 0x80 { cp as u8 } else { 0x80 }),
    }
}

/// Length of the UTF-8 sequence a lead byte starts (0: not a lead).
#[inline]
pub(super) fn utf8_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Decodes a UTF-8 sequence from its bytes (lead first); `None` if malformed.
pub(super) fn utf8_cp(bytes: &[u8]) -> Option<u32> {
    let (&lead, rest) = bytes.split_first()?;
    let mut cp = u32::from(lead) & (0x7F >> bytes.len());
    for &b in rest {
        if b & 0xC0 != 0x80 {
            return None;
        }
        cp = cp << 6 | u32::from(b & 0x3F);
    }
    // Overlong and surrogate forms never name one of the characters classified here.
    Some(cp)
}

/// The byte at `p` ahead: `Ok(None)` past the end of the body, `Need` past the input.
#[inline]
fn at(buf: &[u8], eof: bool, p: usize) -> Result<Option<u8>, Need> {
    match buf.get(p) {
        Some(&b) => Ok(Some(b)),
        None if eof => Ok(None),
        None => Err(Need),
    }
}

/// Two hex digits at `p` as a byte.
fn hex2(buf: &[u8], eof: bool, p: usize) -> Result<Option<u8>, Need> {
    let (Some(h), Some(l)) = (at(buf, eof, p)?, at(buf, eof, p + 1)?) else {
        return Ok(None);
    };
    Ok(hex_pair(h, l))
}

/// The character at `p`, reading ahead in `buf` (`eof`: nothing follows `buf`). `proto`:
/// protobuf bytes (no escapes; tab, line feed and carriage return are not spaces).
pub(crate) fn char_at(buf: &[u8], eof: bool, p: usize, proto: bool) -> Result<Option<Ch>, Need> {
    let Some(b) = at(buf, eof, p)? else {
        return Ok(None);
    };
    if b < 0x80 {
        return Ok(Some(match b {
            b'0'..=b'9' => Ch::raw(Class::Digit(b - b'0'), 1),
            b'\t' | b'\n' | b'\r' if proto => Ch::raw(Class::Other(b), 1),
            b'\r' if at(buf, eof, p + 1)? == Some(b'\n') => Ch::raw(Class::Space { line: true }, 2),
            b'+' => Ch::raw(Class::Space { line: false }, 1),
            b'%' if !proto => return percent(buf, eof, p, b'%'),
            b'=' if !proto => return quoted_printable(buf, eof, p),
            b'\\' if !proto => return json_escape(buf, eof, p),
            b'&' if !proto => return entity(buf, eof, p),
            _ => Ch::raw(classify(u32::from(b), true), 1),
        }));
    }
    let n = utf8_len(b);
    if n == 0 {
        return Ok(Some(Ch::raw(Class::Other(0x80), 1)));
    }
    let mut bytes = [0u8; 4];
    for (k, slot) in bytes.iter_mut().enumerate().take(n) {
        match at(buf, eof, p + k)? {
            Some(x) => *slot = x,
            None => return Ok(Some(Ch::raw(Class::Other(0x80), 1))),
        }
    }
    Ok(Some(match utf8_cp(&bytes[..n]) {
        Some(cp) => Ch::raw(classify(cp, true), n),
        None => Ch::raw(Class::Other(0x80), 1),
    }))
}

/// `%XX` (or `=XX`, with `esc = b'='`) at `p`, with the `%XX` continuations of a UTF-8 lead.
fn percent(buf: &[u8], eof: bool, p: usize, esc: u8) -> Result<Option<Ch>, Need> {
    let Some(v) = hex2(buf, eof, p + 1)? else {
        return Ok(Some(Ch::raw(Class::Other(esc), 1)));
    };
    if v < 0x80 {
        // A decoded `+` or digit is itself, not a space or a digit of the number.
        let class = match v {
            b'0'..=b'9' | b'+' => Class::Other(v),
            _ => classify(u32::from(v), false),
        };
        return Ok(Some(Ch::coded(class, 3)));
    }
    let n = utf8_len(v);
    let mut bytes = [v, 0, 0, 0];
    for (k, slot) in bytes.iter_mut().enumerate().take(n).skip(1) {
        let q = p + 3 * k;
        if at(buf, eof, q)? != Some(esc) {
            return Ok(Some(Ch::coded(Class::Other(0x80), 3)));
        }
        match hex2(buf, eof, q + 1)? {
            Some(c) => *slot = c,
            None => return Ok(Some(Ch::coded(Class::Other(0x80), 3))),
        }
    }
    let class = match (n > 0).then(|| utf8_cp(&bytes[..n])).flatten() {
        Some(cp) => classify(cp, false),
        None => Class::Other(0x80),
    };
    Ok(Some(Ch::coded(class, 3 * n.max(1))))
}

/// Quoted-printable at `p` (an `=`): the soft line break `=\r\n` / `=\n`, or a UTF-8
/// sequence `=C2=A0` whose lead is `=C`…`=F`; anything else is the `=` itself.
fn quoted_printable(buf: &[u8], eof: bool, p: usize) -> Result<Option<Ch>, Need> {
    match at(buf, eof, p + 1)? {
        Some(b'\n') => return Ok(Some(Ch::coded(Class::Invisible, 2))),
        Some(b'\r') if at(buf, eof, p + 2)? == Some(b'\n') => {
            return Ok(Some(Ch::coded(Class::Invisible, 3)))
        }
        Some(b'C'..=b'F') => return percent(buf, eof, p, b'='),
        _ => {}
    }
    Ok(Some(Ch::raw(Class::Other(b'='), 1)))
}

/// A JSON escape at `p` (a `\`): `\uXXXX`, `\n`, `\r`, `\t`, `\/`; a line break written
/// `\r\n` is one character.
fn json_escape(buf: &[u8], eof: bool, p: usize) -> Result<Option<Ch>, Need> {
    let other = Ch::raw(Class::Other(b'\\'), 1);
    Ok(Some(match at(buf, eof, p + 1)? {
        Some(b'n') => Ch::coded(Class::Space { line: true }, 2),
        Some(b'r') => {
            let crlf = at(buf, eof, p + 2)? == Some(b'\\') && at(buf, eof, p + 3)? == Some(b'n');
            Ch::coded(Class::Space { line: true }, if crlf { 4 } else { 2 })
        }
        Some(b't' | b'b' | b'f') => Ch::coded(Class::Space { line: false }, 2),
        Some(b'/') => Ch::coded(Class::Mark(Kind::Slash), 2),
        Some(b'u') => {
            let (Some(hi), Some(lo)) = (hex2(buf, eof, p + 2)?, hex2(buf, eof, p + 4)?) else {
                return Ok(Some(other));
            };
            let cp = u32::from(hi) << 8 | u32::from(lo);
            let class = match cp {
                0x30..=0x39 | 0x2B => Class::Other(cp as u8),
                _ => classify(cp, false),
            };
            Ch::coded(class, 6)
        }
        _ => other,
    }))
}

/// Named entities that spell a separator or an invisible character.
pub(crate) const ENTITIES: [(&[u8], u32); 22] = [
    (b"nbsp", 0xA0),
    (b"ensp", 0x2002),
    (b"emsp", 0x2003),
    (b"thinsp", 0x2009),
    (b"numsp", 0x2007),
    (b"puncsp", 0x2008),
    (b"hairsp", 0x200A),
    (b"ndash", 0x2013),
    (b"mdash", 0x2014),
    (b"minus", 0x2212),
    (b"hyphen", 0x2010),
    (b"dash", 0x2010),
    (b"shy", 0xAD),
    (b"zwj", 0x200D),
    (b"zwnj", 0x200C),
    (b"ZeroWidthSpace", 0x200B),
    (b"NoBreak", 0x2060),
    (b"sol", 0x2F),
    (b"period", 0x2E),
    (b"comma", 0x2C),
    (b"lowbar", 0x5F),
    (b"Tab", 0x09),
];

/// The code point an entity body (between `&` and `;`) names: a name above, `#d…` or `#xh…`.
pub(super) fn entity_cp(body: &[u8]) -> Option<u32> {
    if let Some(num) = body.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (&num[1..], 16),
            _ => (num, 10),
        };
        if digits.is_empty() || digits.len() > 6 {
            return None;
        }
        return digits.iter().try_fold(0u32, |v, &c| {
            let d = char::from(c).to_digit(radix)?;
            Some(v * radix + d)
        });
    }
    ENTITIES
        .iter()
        .find(|(name, _)| *name == body)
        .map(|&(_, cp)| cp)
}

/// An HTML entity at `p` (an `&`).
fn entity(buf: &[u8], eof: bool, p: usize) -> Result<Option<Ch>, Need> {
    let other = Ok(Some(Ch::raw(Class::Other(b'&'), 1)));
    let mut q = p + 1;
    while q - p < MAX_CHAR {
        match at(buf, eof, q)? {
            Some(b';') => break,
            Some(c) if c.is_ascii_alphanumeric() || c == b'#' => q += 1,
            _ => return other,
        }
    }
    if q - p >= MAX_CHAR {
        return other;
    }
    let Some(cp) = entity_cp(&buf[p + 1..q]) else {
        return other;
    };
    let class = match cp {
        0x30..=0x39 | 0x2B => Class::Other(cp as u8),
        _ => classify(cp, false),
    };
    Ok(Some(Ch::coded(class, q + 1 - p)))
}

#[cfg(test)]
mod tests;
