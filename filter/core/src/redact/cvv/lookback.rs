//! Reading backwards from a value: the glue before it (`":"`, `=`, `%3A`, `&gt;`, …) and the
//! key before the glue, with a direct read for the plain `"key":"`, `"key":` and `key=`. A key
//! may spell its characters as JSON or percent escapes (`"\u0063vv"`, `%63vv=`): they are read
//! as the characters they decode to.

use crate::redact::scanner::{
    hex_pair, is_alnum, is_hex, ALPHA, CLASS, DIGIT, GLUE_END, HEX, KEY, NOT_NORMAL,
};
use crate::redact::window::Window;

use super::keys::{normalize_segments, CvvKeys, Segments, MAX_KEY};

/// Longest glue between key and value.
const MAX_GLUE: usize = 40;

/// A key found before a value.
pub(super) struct Key {
    pub(super) start: isize,
    pub(super) end: isize,
    /// Read from the buffer with no uppercase letter, `_` or `-`: the bytes are already the
    /// normalised key.
    pub(super) as_is: bool,
    /// The connector was `>`: the key is an XML tag name.
    pub(super) xml: bool,
    /// The key holds escapes (`\u0063`, `%63`) to decode before it is compared.
    pub(super) escaped: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Glue {
    Plain,
    Conn,
    XmlConn,
}

/// The glue token that ends at `p` (exclusive), and its length.
fn glue_token(w: &Window<'_>, p: isize) -> Option<(isize, Glue)> {
    let b = |k: isize| w.back(p - k);
    match b(1)? {
        b':' | b'=' => Some((1, Glue::Conn)),
        // Ruby hash `"key"=>"value"`.
        b'>' if b(2) == Some(b'=') => Some((2, Glue::Conn)),
        b'>' => Some((1, Glue::XmlConn)),
        b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'\\' | b']' => Some((1, Glue::Plain)),
        b';' => {
            let ents: [(&[u8], Glue); 5] = [
                (b"&gt;", Glue::XmlConn),
                (b"&quot;", Glue::Plain),
                (b"&#34;", Glue::Plain),
                (b"&#39;", Glue::Plain),
                (b"&apos;", Glue::Plain),
            ];
            ents.into_iter().find_map(|(ent, kind)| {
                let n = ent.len() as isize;
                (0..n)
                    .all(|k| b(n - k) == Some(ent[k.unsigned_abs()]))
                    .then_some((n, kind))
            })
        }
        h if b(3) == Some(b'%') => match b(2).and_then(|hi| hex_pair(hi, h)) {
            Some(b':' | b'=') => Some((3, Glue::Conn)),
            Some(b'>') => Some((3, Glue::XmlConn)),
            Some(b'"' | b'\'' | b' ' | b']') => Some((3, Glue::Plain)),
            _ => None,
        },
        _ => None,
    }
}

/// The key whose value starts at `i`, if the bytes before `i` read `key <glue> ` and the key
/// could be one of `keys` (its last byte says; `_` and `-` are not judged).
pub(super) fn key_before(w: &Window<'_>, i: isize, floor: isize, keys: &CvvKeys) -> Option<Key> {
    let mut p = i;
    let mut connectors = 0;
    let mut xml = false;
    while p > i - MAX_GLUE as isize && p > floor {
        let Some((n, kind)) = glue_token(w, p) else {
            break;
        };
        if kind != Glue::Plain {
            connectors += 1;
            xml = kind == Glue::XmlConn;
        }
        p -= n;
    }
    if connectors != 1 {
        return None;
    }
    let end = p;
    let last = key_escape_before(w, end, floor).map_or(w.back(end - 1), |(c, _)| Some(c));
    if last.is_some_and(|c| is_alnum(c) && !keys.may_end_key(c)) {
        return None;
    }
    let mut escaped = false;
    while p > end - MAX_KEY as isize && p > floor {
        let Some(c) = w.back(p - 1) else { break };
        if !is_key_byte(c) {
            break;
        }
        // An escape ending here is part of the key if it decodes to a key byte (`%63vv`,
        // `\u0063vv`); otherwise the key starts after it (`%22cvv`, `%3Ccvd`).
        if is_hex(c) {
            if let Some((d, n)) = key_escape_before(w, p, floor) {
                if !is_key_byte(d) {
                    break;
                }
                p -= n;
                escaped = true;
                continue;
            }
        }
        p -= 1;
    }
    if p == end || end - p >= MAX_KEY as isize {
        return None;
    }
    let key_start = p;
    if xml {
        // A namespace prefix: `<v1:CardCodeValue>`.
        if w.back(p - 1) == Some(b':') {
            let mut q = p - 1;
            while q > p - 1 - 16 && w.back(q - 1).is_some_and(is_key_byte) {
                q -= 1;
            }
            if q < p - 1 && w.back(q - 1) == Some(b'<') {
                p = q;
            }
        }
        let lt = w.back(p - 1) == Some(b'<')
            || (w.back(p - 3) == Some(b'%')
                && w.back(p - 2) == Some(b'3')
                && matches!(w.back(p - 1), Some(b'C' | b'c')))
            || (p - 4..p).zip(b"&lt;").all(|(q, &e)| w.back(q) == Some(e));
        if !lt {
            return None;
        }
    }
    Some(Key {
        start: key_start,
        end,
        as_is: false,
        escaped,
        xml,
    })
}

/// Where the key ends before a value at `i` glued to it the plain way, `"key":"123"`,
/// `"key":123` or `key=123`: the glue is exactly that (its last token ends at a key byte that
/// is no `%XX` escape's end, `%3A`). `None` for any other glue.
#[inline]
fn plain_glue_key_end(buf: &[u8], i: usize) -> Option<usize> {
    let end = plain_glue_end(buf, i)?;
    (is_key_byte(buf[end - 1]) && !escape_ends_at(buf, end)).then_some(end)
}

/// Where the glue `":"`, `":` or `=` before `i` starts (`i >= 6`), whatever precedes it.
#[inline(always)]
fn plain_glue_end(buf: &[u8], i: usize) -> Option<usize> {
    if i < 6 {
        return None;
    }
    // The four bytes before `i` as one word, the last in the top byte.
    let w = u32::from_le_bytes(<[u8; 4]>::try_from(buf.get(i - 4..i)?).ok()?);
    if w >> 8 == u32::from_le_bytes([b'"', b':', b'"', 0]) {
        Some(i - 3)
    } else if w >> 16 == u32::from_le_bytes([b'"', b':', 0, 0]) {
        Some(i - 2)
    } else if w >> 24 == u32::from(b'=') {
        Some(i - 1)
    } else {
        None
    }
}

#[inline]
pub(super) fn is_key_byte(c: u8) -> bool {
    CLASS[usize::from(c)] & KEY != 0
}

/// Whether `buf[..p]` may end with a JSON `\uXXXX` escape: it does, or its start is too
/// close to tell (`p >= 1`).
#[inline]
fn json_escape_ends_at(buf: &[u8], p: usize) -> bool {
    p < 6 || buf[p - 5] == b'u' && buf[p - 6] == b'\\'
}

/// The escape ending at `p` inside a key, `%XX` or `\uXXXX` decoding to an ASCII byte: that
/// byte and the escape's length.
fn key_escape_before(w: &Window<'_>, p: isize, floor: isize) -> Option<(u8, isize)> {
    let b = |k: isize| if p - k < floor { None } else { w.back(p - k) };
    let hex = |k: isize| b(k).filter(|&c| is_hex(c));
    if b(6) == Some(b'\\') && b(5) == Some(b'u') && hex(4)? == b'0' && hex(3)? == b'0' {
        return Some((hex_pair(b(2)?, b(1)?)?, 6));
    }
    if b(3) == Some(b'%') {
        let v = hex_pair(b(2)?, b(1)?)?;
        return (v < 0x80).then_some((v, 3));
    }
    None
}

/// Whether `buf[..p]` ends with a `%XX` escape (`p >= 3`).
fn escape_ends_at(buf: &[u8], p: usize) -> bool {
    // `%` first: it is the byte that is almost never there.
    buf[p - 3] == b'%' && is_hex(buf[p - 1]) && is_hex(buf[p - 2])
}

/// Whether the value at `i` follows `"key":"`, `"key":` or `key=` whose key ends in a letter or
/// digit no configured key (nor filler word) ends with: [`super::is_cvv_value`] rejects it on
/// that byte. Lets the scan pass over such values (`"amount":1234`) without visiting them.
#[inline(always)]
pub(crate) fn no_cvv_key_before(buf: &[u8], i: usize, keys: &CvvKeys) -> bool {
    // The byte before the glue answers most of the time: one a configured key ends with says
    // no (the value may be a code), and otherwise a letter no escape ends in (`g`–`z`: not a
    // hex digit) says yes.
    let Some(glue) = plain_glue_end(buf, i) else {
        return false;
    };
    let c = buf[glue - 1];
    if keys.may_end_key(c) {
        return false;
    }
    let class = CLASS[usize::from(c)];
    if class & (ALPHA | HEX) == ALPHA {
        return true;
    }
    // A digit or `a`–`f`: yes unless a `%XX` or `\uXXXX` escape may end with it (and decode to
    // the last byte of a key); anything else ends no key.
    class & (ALPHA | DIGIT) != 0 && !escape_ends_at(buf, glue) && !json_escape_ends_at(buf, glue)
}

/// [`key_before`] for the plain glue of [`plain_glue_key_end`], read straight from `buf` when
/// the whole look-back lies inside it: `Some` of what `key_before` returns (no key ends with
/// the key's last byte, or the key is the run of key bytes before it, after a byte that starts
/// no escape), or `None` to let `key_before` decide.
#[inline]
pub(super) fn plain_key_before(buf: &[u8], i: usize, keys: &CvvKeys) -> Option<Option<Key>> {
    const REACH: usize = 3 + MAX_KEY + 4;
    if i < REACH {
        return None;
    }
    let end = plain_glue_key_end(buf, i)?;
    if json_escape_ends_at(buf, end) {
        return None;
    }
    if is_alnum(buf[end - 1]) && !keys.may_end_key(buf[end - 1]) {
        return Some(None);
    }
    // The run of key bytes before `end`, read from a slice (no bounds check per byte), each
    // byte's class loaded once.
    let mut seen = 0u16;
    let mut n = 0;
    for &b in buf[end - MAX_KEY..end].iter().rev() {
        let class = CLASS[usize::from(b)];
        if class & KEY == 0 {
            break;
        }
        seen |= class;
        n += 1;
    }
    let p = end - n;
    // An escape that may be part of the key (`%63vv`, `\u0063vv`) starts right before the run
    // (`%` and `\` are no key bytes, its hex digits are): the general look-back decodes it.
    if n >= MAX_KEY || matches!(buf[p - 1], b'\\' | b'%') {
        return None;
    }
    Some(Some(Key {
        start: p as isize,
        end: end as isize,
        as_is: seen & NOT_NORMAL == 0,
        escaped: false,
        xml: false,
    }))
}

pub(super) fn norm_key(w: &Window<'_>, k: &Key, out: &mut [u8; MAX_KEY]) -> Option<usize> {
    norm_key_segments(w, k, out).map(|(n, _)| n)
}

/// [`norm_key`], and where its segments start (see [`normalize_segments`]).
pub(super) fn norm_key_segments(
    w: &Window<'_>,
    k: &Key,
    out: &mut [u8; MAX_KEY],
) -> Option<(usize, Segments)> {
    if !k.escaped {
        if let (Ok(s), Ok(e)) = (usize::try_from(k.start), usize::try_from(k.end)) {
            if let Some(raw) = w.buf.get(s..e) {
                return normalize_segments(raw, out);
            }
        }
    }
    let mut n = 0;
    let mut starts: Segments = 0;
    let mut q = k.start;
    while q < k.end {
        let mut b = w.back(q)?;
        let mut step = 1;
        if k.escaped && (b == b'%' || b == b'\\') {
            // Decoded as the look-back read it: the escape ends in the key, at most 6 on.
            if let Some((d, len)) = (3..=6)
                .filter(|&len| q + len <= k.end)
                .find_map(|len| key_escape_before(w, q + len, q).filter(|&(_, l)| l == len))
            {
                b = d;
                step = len;
            }
        }
        q += step;
        if b == b'_' || b == b'-' {
            starts |= 1 << n;
            continue;
        }
        if !is_alnum(b) || n == MAX_KEY {
            return None;
        }
        out[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some((n, starts))
}

/// The word (run of `[A-Za-z0-9_-]`) ending at `p` after 1–3 spaces, as normalised bytes.
pub(super) fn word_before_spaces(
    w: &Window<'_>,
    p: isize,
    out: &mut [u8; MAX_KEY],
) -> Option<usize> {
    let mut q = p;
    while q > p - 3 && w.back(q - 1) == Some(b' ') {
        q -= 1;
    }
    if q == p {
        return None;
    }
    let end = q;
    while q > end - MAX_KEY as isize {
        match w.back(q - 1) {
            Some(c) if is_key_byte(c) => q -= 1,
            _ => break,
        }
    }
    if q == end {
        return None;
    }
    norm_key(
        w,
        &Key {
            start: q,
            end,
            as_is: false,
            escaped: false,
            xml: false,
        },
        out,
    )
}

/// Whether `b` can be the last byte of the glue between a key and its value (`"`, `:`, `=`,
/// `>`, whitespace, `\`, `;` of an entity, `]`, or the last hex digit of `%22` `%27` `%3A`
/// `%3D` `%3E` `%20`).
#[inline]
pub(crate) fn ends_glue(b: u8) -> bool {
    CLASS[usize::from(b)] & GLUE_END != 0
}
