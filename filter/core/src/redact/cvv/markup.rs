//! Keys that markup or a statement separates from their values, read backwards from the value:
//! an HTML cell or term (`<td>CVV</td><td>123`, `<dt>CVC:</dt><dd><b>321`), an input's name
//! (`<input name="cvv" value="123">`), and a SQL column (`INSERT … (number, cvv) VALUES
//! ('4111…', '123')`). Every read stays above the look-back floor.

use crate::redact::scanner::is_digit;
use crate::redact::window::Window;

use super::keys::MAX_KEY;
use super::lookback::{is_key_byte, Key};

/// Tags that only lay text out: a key and its value may stand in two of them (`<th>CVV</th>
/// <td>123</td>`). Rows, tables, lists and forms are not crossed: a value in the next row
/// belongs to another header.
const LAYOUT_TAGS: [&[u8]; 22] = [
    b"td", b"th", b"dt", b"dd", b"li", b"span", b"b", b"strong", b"em", b"i", b"u", b"label", b"p",
    b"div", b"font", b"small", b"code", b"tt", b"mark", b"br", b"abbr", b"bdi",
];

/// Tags crossed at most between a key and its value.
const MAX_TAGS: usize = 6;
/// Longest tag read (`<span class="label">`).
const MAX_TAG: isize = 64;

fn ascii_lower(b: Option<u8>) -> Option<u8> {
    b.map(|c| c.to_ascii_lowercase())
}

/// Whether the tag ending right before `p` (a `>` at `p - 1`) is a layout tag, and where its
/// `<` is.
fn layout_tag_before(w: &Window<'_>, p: isize, floor: isize) -> Option<isize> {
    let mut lt = p - 1;
    loop {
        lt -= 1;
        if lt < floor || p - lt > MAX_TAG {
            return None;
        }
        match w.back(lt)? {
            b'<' => break,
            b'>' => return None,
            _ => {}
        }
    }
    let mut q = lt + 1;
    if w.back(q) == Some(b'/') {
        q += 1;
    }
    let mut name = [0u8; 8];
    let mut n = 0;
    while let Some(c) = ascii_lower(w.back(q)).filter(u8::is_ascii_alphanumeric) {
        if n == name.len() {
            return None;
        }
        name[n] = c;
        n += 1;
        q += 1;
    }
    let ends = matches!(w.back(q), Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/'));
    (ends && LAYOUT_TAGS.contains(&&name[..n])).then_some(lt)
}

/// The key written as text before the layout tags that precede the value at `i`: `CVV` in
/// `<td>CVV</td><td>123`, with whitespace and one `:` allowed between.
pub(super) fn key_across_markup(w: &Window<'_>, i: isize, floor: isize) -> Option<Key> {
    let mut p = i;
    let mut tags = 0;
    let mut colon = false;
    loop {
        while matches!(w.back(p - 1), Some(b' ' | b'\t' | b'\n' | b'\r')) && p > floor {
            p -= 1;
        }
        match w.back(p - 1)? {
            b'>' => {
                p = layout_tag_before(w, p, floor)?;
                tags += 1;
                if tags > MAX_TAGS {
                    return None;
                }
            }
            b':' if tags > 0 && !colon => {
                colon = true;
                p -= 1;
            }
            c if is_key_byte(c) && tags > 0 => break,
            _ => return None,
        }
    }
    let end = p;
    while p > floor && end - p < MAX_KEY as isize && w.back(p - 1).is_some_and(is_key_byte) {
        p -= 1;
    }
    (end - p < MAX_KEY as isize && !w.back(p - 1).is_some_and(is_digit)).then_some(Key {
        start: p,
        end,
        as_is: false,
        escaped: false,
        xml: false,
    })
}

/// For a `value` attribute at `key_start` inside a tag: the key the tag's `name` or `id`
/// attribute names (its last run of key characters, so `card[cvv]` names `cvv`).
pub(super) fn attribute_key(w: &Window<'_>, key_start: isize, floor: isize) -> Option<Key> {
    // The tag's `<`, with no `>` between it and the attribute.
    let mut lt = key_start;
    loop {
        lt -= 1;
        if lt < floor {
            return None;
        }
        match w.back(lt)? {
            b'<' => break,
            b'>' => return None,
            _ => {}
        }
    }
    // The last `name=` or `id=` before `value`.
    let mut q = key_start - 1;
    while q > lt {
        let is_attr = |name: &[u8]| {
            let n = name.len() as isize;
            w.back(q) == Some(b'=')
                && (0..n).all(|k| ascii_lower(w.back(q - n + k)) == Some(name[k as usize]))
                && matches!(w.back(q - n - 1), Some(b' ' | b'\t' | b'\n' | b'\r'))
        };
        if is_attr(b"name") || is_attr(b"id") {
            // The attribute's value, quoted or not, up to its end.
            let mut s = q + 1;
            let quote = w.back(s).filter(|&c| c == b'"' || c == b'\'');
            if quote.is_some() {
                s += 1;
            }
            let mut e = s;
            while e < key_start
                && w.back(e)
                    .is_some_and(|c| Some(c) != quote && !matches!(c, b' ' | b'>'))
            {
                e += 1;
            }
            // Its last run of key characters.
            let mut end = e;
            while end > s && !w.back(end - 1).is_some_and(is_key_byte) {
                end -= 1;
            }
            let mut start = end;
            while start > s && w.back(start - 1).is_some_and(is_key_byte) {
                start -= 1;
            }
            return (start < end && end - start < MAX_KEY as isize).then_some(Key {
                start,
                end,
                as_is: false,
                escaped: false,
                xml: false,
            });
        }
        q -= 1;
    }
    None
}

/// For a value in a SQL `VALUES (…)` list (the value at `i`, after its opening quote if any):
/// the column of the same position in the list before `VALUES`.
pub(super) fn sql_column(w: &Window<'_>, i: isize, floor: isize) -> Option<Key> {
    let b = |p: isize| if p < floor { None } else { w.back(p) };
    let skip_spaces = |mut p: isize| {
        while matches!(b(p - 1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            p -= 1;
        }
        p
    };
    let mut p = i;
    if matches!(b(p - 1), Some(b'\'' | b'"')) {
        p -= 1;
    }
    p = skip_spaces(p);
    // Back over the values before it to the list's `(`.
    let mut index = 0usize;
    loop {
        match b(p - 1)? {
            b'(' => {
                p -= 1;
                break;
            }
            b',' => {
                index += 1;
                p = skip_spaces(p - 1);
                p = value_start(w, p, floor)?;
                p = skip_spaces(p);
            }
            _ => return None,
        }
    }
    p = skip_spaces(p);
    // `VALUES`, then the column list's `)`.
    for (k, &c) in b"values".iter().rev().enumerate() {
        if ascii_lower(b(p - 1 - k as isize)) != Some(c) {
            return None;
        }
    }
    p -= 6;
    if b(p - 1).is_some_and(is_key_byte) {
        return None;
    }
    p = skip_spaces(p);
    if b(p - 1)? != b')' {
        return None;
    }
    p -= 1;
    // The column names, last first.
    let mut cols = [(0isize, 0isize); 32];
    let mut n = 0;
    loop {
        p = skip_spaces(p);
        let quoted = matches!(b(p - 1), Some(b'"' | b'`' | b']'));
        if quoted {
            p -= 1;
        }
        let end = p;
        while b(p - 1).is_some_and(is_key_byte) && end - p < MAX_KEY as isize {
            p -= 1;
        }
        if p == end || n == cols.len() {
            return None;
        }
        cols[n] = (p, end);
        n += 1;
        if quoted {
            p -= 1;
        }
        p = skip_spaces(p);
        match b(p - 1)? {
            b',' => p -= 1,
            b'(' => break,
            _ => return None,
        }
    }
    let (start, end) = *cols.get(n.checked_sub(1 + index)?)?;
    Some(Key {
        start,
        end,
        as_is: false,
        escaped: false,
        xml: false,
    })
}

/// Where the SQL value ending at `p` starts: a quoted string (`'a,b'`, `''` inside), or a run
/// of letters, digits and `_.+-` (a number, `NULL`, a name).
fn value_start(w: &Window<'_>, p: isize, floor: isize) -> Option<isize> {
    let b = |q: isize| if q < floor { None } else { w.back(q) };
    let last = b(p - 1)?;
    let mut q = p - 1;
    if last == b'\'' || last == b'"' {
        loop {
            q -= 1;
            if b(q)? == last {
                if b(q - 1) == Some(last) {
                    q -= 1;
                    continue;
                }
                return Some(q);
            }
        }
    }
    while b(q).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-'))
    {
        q -= 1;
    }
    (q < p - 1).then_some(q + 1)
}
