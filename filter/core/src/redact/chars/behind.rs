//! Reading a character behind a position, through the window's context: the mirror of
//! [`char_at`](super::char_at), for the left of a candidate and the group before it.

use crate::redact::scanner::{hex_pair, is_hex};
use crate::redact::window::Window;

use super::{classify, entity_cp, utf8_cp, utf8_len, Ch, Class, Kind, MAX_CHAR};

/// The character that ends at `p` (exclusive), reading behind through the window, no further
/// back than `floor`: the character and where it starts. `None` at the start of the stream
/// or the floor. Decodes what [`char_at`] decodes, except quoted-printable UTF-8 sequences
/// (a lone `=XX` whose last hex digit is a letter is decoded: `=3D4111…` follows an `=`).
pub(crate) fn char_before(
    w: &Window<'_>,
    p: isize,
    floor: isize,
    proto: bool,
) -> Option<(Ch, isize)> {
    let b = |k: isize| if p - k < floor { None } else { w.back(p - k) };
    let c = b(1)?;
    if c >= 0x80 {
        // Raw UTF-8: back over continuation bytes to the lead.
        let mut k = 1;
        while k < 4 && b(k).is_some_and(|x| x & 0xC0 == 0x80) {
            k += 1;
        }
        let lead = b(k)?;
        if utf8_len(lead) == k as usize && k > 1 {
            let mut bytes = [0u8; 4];
            for j in 0..k {
                bytes[j as usize] = b(k - j)?;
            }
            if let Some(cp) = utf8_cp(&bytes[..k as usize]) {
                return Some((Ch::raw(classify(cp, true), k as usize), p - k));
            }
        }
        return Some((Ch::raw(Class::Other(0x80), 1), p - 1));
    }
    if proto {
        let class = match c {
            b'\t' | b'\n' | b'\r' => Class::Other(c),
            b'+' => Class::Space { line: false },
            _ => classify(u32::from(c), true),
        };
        return Some((Ch::raw(class, 1), p - 1));
    }
    match c {
        b'\n' => {
            if b(2) == Some(b'=') {
                return Some((Ch::coded(Class::Invisible, 2), p - 2));
            }
            if b(2) == Some(b'\r') {
                if b(3) == Some(b'=') {
                    return Some((Ch::coded(Class::Invisible, 3), p - 3));
                }
                return Some((Ch::raw(Class::Space { line: true }, 2), p - 2));
            }
        }
        b';' => {
            let mut k = 2;
            while k <= MAX_CHAR as isize {
                match b(k) {
                    Some(b'&') => {
                        let mut body = [0u8; MAX_CHAR];
                        let n = (k - 2) as usize;
                        for (j, slot) in body.iter_mut().enumerate().take(n) {
                            *slot = b(k - 1 - j as isize)?;
                        }
                        if let Some(cp) = entity_cp(&body[..n]) {
                            let class = match cp {
                                0x30..=0x39 | 0x2B => Class::Other(cp as u8),
                                _ => classify(cp, false),
                            };
                            return Some((Ch::coded(class, k as usize), p - k));
                        }
                        break;
                    }
                    Some(x) if x.is_ascii_alphanumeric() || x == b'#' => k += 1,
                    _ => break,
                }
            }
        }
        b'n' | b'r' | b't' | b'b' | b'f' | b'/' if b(2) == Some(b'\\') => {
            let class = match c {
                b'/' => Class::Mark(Kind::Slash),
                b't' | b'b' | b'f' => Class::Space { line: false },
                _ => Class::Space { line: true },
            };
            // `\r\n` is one line break, as reading ahead finds it.
            let len = if c == b'n' && b(3) == Some(b'r') && b(4) == Some(b'\\') {
                4
            } else {
                2
            };
            return Some((Ch::coded(class, len), p - len as isize));
        }
        _ if is_hex(c) => {
            if let Some(found) = escape_before(w, p, floor) {
                return Some(found);
            }
        }
        _ => {}
    }
    let class = if c == b'+' {
        Class::Space { line: false }
    } else {
        classify(u32::from(c), true)
    };
    Some((Ch::raw(class, 1), p - 1))
}

/// The `%XX`, `\uXXXX` or `=XX` escape ending at `p`, decoded (a `%XX` continuation byte is
/// decoded with the `%XX` lead before it).
fn escape_before(w: &Window<'_>, p: isize, floor: isize) -> Option<(Ch, isize)> {
    let b = |k: isize| if p - k < floor { None } else { w.back(p - k) };
    let hex_at = |k: isize| -> Option<u8> {
        let (h, l) = (b(k)?, b(k - 1)?);
        hex_pair(h, l)
    };
    if b(6) == Some(b'\\') && b(5) == Some(b'u') {
        if let (Some(hi), Some(lo)) = (hex_at(4), hex_at(2)) {
            let cp = u32::from(hi) << 8 | u32::from(lo);
            let class = match cp {
                0x30..=0x39 | 0x2B => Class::Other(cp as u8),
                _ => classify(cp, false),
            };
            return Some((Ch::coded(class, 6), p - 6));
        }
    }
    let esc = b(3)?;
    let v = hex_at(2)?;
    if esc == b'=' {
        // Quoted-printable only where the last hex digit is a letter: `a=12` is a number.
        if !b(1)?.is_ascii_uppercase() {
            return None;
        }
        let class = match v {
            b'0'..=b'9' | b'+' => Class::Other(v),
            _ if v >= 0x80 => Class::Other(0x80),
            _ => classify(u32::from(v), false),
        };
        return Some((Ch::coded(class, 3), p - 3));
    }
    if esc != b'%' {
        return None;
    }
    if v < 0x80 {
        let class = match v {
            b'0'..=b'9' | b'+' => Class::Other(v),
            _ => classify(u32::from(v), false),
        };
        return Some((Ch::coded(class, 3), p - 3));
    }
    // A continuation byte: find the lead among the escapes before it.
    let mut bytes = [0u8; 4];
    let mut n = 1usize;
    bytes[3] = v;
    while v & 0xC0 == 0x80 && n < 4 {
        let k = 3 * n as isize;
        if b(k + 3) != Some(b'%') {
            break;
        }
        let x = hex_at(k + 2)?;
        n += 1;
        bytes[4 - n] = x;
        if x & 0xC0 != 0x80 {
            break;
        }
    }
    let seq = &bytes[4 - n..];
    let class = match (utf8_len(seq[0]) == n).then(|| utf8_cp(seq)).flatten() {
        Some(cp) => classify(cp, false),
        None => Class::Other(0x80),
    };
    Some((Ch::coded(class, 3 * n), p - 3 * n as isize))
}
