//! What the bytes around a digit run say, read without parsing: whether what follows may
//! continue it, whether an escape may hold it or end before it, whether a letter is glued to
//! it, whether a card brand can start with its first two digits. Shared by the block loop, the
//! fast paths and the chunk end.

use crate::redact::chars::{char_at, Class, ENTITIES};
use crate::redact::scanner::{
    hex_pair, is_alnum, is_digit, CLASS, HIGH, MAYBE_SEP, SEP_START, WEAK_MARK,
};
use crate::redact::window::Window;

/// Whether the bytes from `e`, right after a digit run of `ones` digits, may continue the run's
/// group or start a separator to another one, so that a window starting at the run may reach
/// past it: a superset of what `pan::cluster` reads there. Most bytes answer from the class
/// table alone (`SEP_START` yes; no class bit, no). The others get a closer look, and only for
/// runs a window they continue may start with: `,` and `.` (weak marks: a canonical grouping
/// starts with 4 digits; a lone digit before a point is the fast paths' own case) and `&`, `=`
/// (an entity or quoted-printable: a grouping of at least 3 digits, or a piece that long
/// before an encoded invisible character) inline, UTF-8 leads (raw characters join any run)
/// out of line ([`continues_rare`]). Reading off the end of `buf` says yes: the general path
/// decides with more input. `e < buf.len()`.
#[inline(always)]
pub(super) fn continues(buf: &[u8], e: usize, ones: usize) -> bool {
    let b = buf[e];
    let class = CLASS[usize::from(b)];
    if class & (SEP_START | MAYBE_SEP) == 0 {
        return false;
    }
    if class & SEP_START != 0 {
        return true;
    }
    // `cvv=123&name=…`: an ampersand only as the start of an entity, `&nbsp;`, `&#160;`. Before
    // the `match`: after a form's values, `&` is the commonest byte to get here.
    if b == b'&' {
        return ones >= 3 && entity_may_start(buf, e);
    }
    // Most runs before a `,` or `.` (`"created":1748503543012,`) are not four digits long:
    // a class bit says so before the `match` (a jump table) is reached.
    if class & WEAK_MARK != 0 && ones != 4 {
        return false;
    }
    match b {
        // `"amount":1234,"currency"`: a comma is a separator only before a digit.
        b',' => buf.get(e + 1).is_none_or(|&d| is_digit(d) || d >= 0x80),
        // `1234.56`, `19.99`: a point is a separator only between digits that a second
        // point and digit follow (a weak kind needs three groups).
        b'.' => dotted(buf, e),
        b'=' => ones >= 3 && matches!(buf.get(e + 1), None | Some(b'\r' | b'\n' | b'C'..=b'F')),
        _ => continues_rare(buf, e),
    }
}

/// Whether a dot at `e` may join three groups: digits (or a character, raw or encoded), then a
/// second dot and a digit.
#[inline(always)]
fn dotted(buf: &[u8], e: usize) -> bool {
    let Some(&d) = buf.get(e + 1) else {
        return true;
    };
    if may_be_char(d) {
        return true;
    }
    if !is_digit(d) {
        return false;
    }
    let q = crate::redact::scanner::digit_run_end(buf, e + 1, 8);
    match buf.get(q) {
        None => true,
        Some(&x) if may_be_char(x) => true,
        Some(&b'.') => buf
            .get(q + 1)
            .is_none_or(|&y| is_digit(y) || may_be_char(y)),
        Some(_) => false,
    }
}

/// Whether `b` may start a character that is not itself a digit or a dot but may still sit
/// inside a grouping (a space, mark or invisible one): a UTF-8 lead, or the start of an
/// entity (`&shy;`), a JSON escape (`\u00ad`), a percent escape (`%C2%AD`) or a
/// quoted-printable one (`=C2=AD`). `0004.&shy;4111` after a code key is one number to the
/// general path, so the fast path must not take `0004` for a code.
#[inline(always)]
fn may_be_char(b: u8) -> bool {
    b >= 0x80 || matches!(b, b'&' | b'\\' | b'%' | b'=')
}

/// Whether an entity `chars` reads (see `chars::ENTITIES`, or numeric `&#…;`) may start at
/// the `&` at `e`: judged on the two bytes after it (the start of every such name), then up to
/// 15 letters or digits before a `;`. `&cvv=`, `&name=`, `&amount=` are rejected on two bytes.
/// Judged from `buf` alone (running off its end: yes).
#[inline(always)]
fn entity_may_start(buf: &[u8], e: usize) -> bool {
    let (Some(&a), Some(&b)) = (buf.get(e + 1), buf.get(e + 2)) else {
        return true;
    };
    let known = a == b'#' || entity_prefix(a, b);
    if !known {
        return false;
    }
    let mut q = e + 3;
    while q - e <= 16 {
        match buf.get(q) {
            None => return true,
            Some(b';') => return true,
            Some(c) if c.is_ascii_alphanumeric() => q += 1,
            Some(_) => return false,
        }
    }
    false
}

/// Whether a named entity `chars` reads starts with the bytes `a b` (a test checks the list):
/// one table load and a bit test, no branch on `a` (after a form's values, `&cvv=`, `&name=`,
/// a jump on the first letter would go elsewhere from one record to the next).
#[inline(always)]
pub(super) fn entity_prefix(a: u8, b: u8) -> bool {
    let second = u32::from(b.wrapping_sub(b'a'));
    (second < 26) & (ENTITY_SECONDS[usize::from(a)] >> (second & 31) & 1 != 0)
}

/// For each byte, the second letters (bit `letter - 'a'`) of the entities `chars` reads that
/// start with it.
static ENTITY_SECONDS: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut k = 0;
    while k < ENTITIES.len() {
        let name = ENTITIES[k].0;
        assert!(
            name[1].is_ascii_lowercase(),
            "a second letter the table cannot hold"
        );
        t[name[0] as usize] |= 1 << (name[1] - b'a');
        k += 1;
    }
    t
};

/// [`continues`] for UTF-8 leads: a character that is a space, mark, invisible or digit.
/// Reading off the end of `buf` says yes.
#[inline(never)]
fn continues_rare(buf: &[u8], e: usize) -> bool {
    match char_at(buf, false, e, false) {
        Ok(Some(ch)) => !matches!(ch.class, Class::Other(_)),
        Ok(None) | Err(_) => true,
    }
}

/// Whether the `.` at `p` starts a fraction of zeros that ends the number (`123.0`, judged from
/// `buf` alone: running off its end, yes).
#[inline]
pub(super) fn zero_fraction(buf: &[u8], p: usize) -> bool {
    let mut q = p + 1;
    while buf.get(q) == Some(&b'0') {
        q += 1;
    }
    q > p + 1 && buf.get(q).is_none_or(|&b| !is_alnum(b) && b != b'.')
}

/// Whether a quoted-printable soft line break (`=\r\n`, `=\n`) ends right before `i`: the run
/// at `i` may continue the digits before it (judged from `buf` alone: near its start, yes).
#[inline(always)]
pub(super) fn soft_break_before(buf: &[u8], i: usize) -> bool {
    i >= 1
        && buf[i - 1] == b'\n'
        && (i < 3 || buf[i - 2] == b'=' || (buf[i - 2] == b'\r' && buf[i - 3] == b'='))
}

/// Whether no `%XX` or `\uXXXX` escape can end right before the run at `i` or hold its first
/// digits (no `%` in the two bytes before it, no `u` in the four): a 5–8 digit run then
/// decides nothing (too long for a code, too short for a card, and no decoded digit joins it).
/// [`escape_may_hold`] negated, read from `buf` alone for the block loop (near the start of
/// `buf`, where the look-back would reach into the context, it says no).
#[inline]
pub(super) fn no_escape_before(buf: &[u8], i: usize) -> bool {
    i >= 4 && !buf[i - 2..i].contains(&b'%') && !buf[i - 4..i].contains(&b'u')
}

/// Whether a card of some brand can start with the digits `a b` (the two-digit IIN prefixes of
/// the table in [`crate::redact::brands`], every brand): a run starting otherwise is no card.
#[inline]
pub(super) fn may_start_card(a: u8, b: u8) -> bool {
    // Two words, not a `u128`: wasm32 has no 128-bit shift, and `u128 >> n` there is a call.
    const PREFIXES: [u64; 2] = {
        let mut m = [0u64; 2];
        let mut p = 0;
        while p < 100 {
            if matches!(p, 22..=27 | 30 | 34..=39 | 40..=59 | 60 | 62..=65 | 67 | 81) {
                m[p / 64] |= 1 << (p % 64);
            }
            p += 1;
        }
        m
    };
    let p2 = usize::from(a.wrapping_sub(b'0')) * 10 + usize::from(b.wrapping_sub(b'0'));
    p2 >= 100 || PREFIXES[p2 / 64] >> (p2 % 64) & 1 == 1
}

/// Whether the digit run at `i` follows a letter that is itself, not the end of an escape:
/// no `%` two or three bytes back (`%3D`, `%B`), no `=` three back (quoted-printable `=3D`), no
/// `\` two back (`\n`), no `u` two to five back (`\u0041`). Such a run (`jane1234@`, `SKU-A123`'s digits) touches a letter, so in text
/// it starts neither a card nor a security code, nor is it inside an escape: the general path
/// would only step to its end. (Judged from `buf` alone; near its start, says no.)
#[inline(always)]
pub(super) fn glued_to_letter(buf: &[u8], i: usize) -> bool {
    i >= 5
        && buf[i - 1].is_ascii_alphabetic()
        && !matches!(buf[i - 2], b'%' | b'\\' | b'u')
        && !matches!(buf[i - 3], b'%' | b'=')
        && !buf[i - 5..i - 2].contains(&b'u')
}

/// Whether an escape may hold the digit at `i` or end right before it, reading behind into the
/// context: a `%` one or two bytes back (`%XX`), a `u` up to four back (`\uXXXX`).
#[inline]
pub(super) fn escape_may_hold(w: &Window<'_>, i: usize) -> bool {
    let ii = i as isize;
    w.back(ii - 1) == Some(b'%')
        || w.back(ii - 2) == Some(b'%')
        || (1..=4).any(|k| w.back(ii - k) == Some(b'u'))
}

/// Whether the fast paths leave a run after `c` to the general path: a letter or digit (glued
/// to it), `.` (a decimal), `;` (a track 2 start sentinel or an entity) or `%` (an escape), or
/// a non-ASCII byte (the end of a character that may be a digit, a space or an invisible one).
#[inline(always)]
pub(super) fn no_card_after(c: u8) -> bool {
    is_alnum(c) || matches!(c, b'.' | b';' | b'%') || CLASS[usize::from(c)] & HIGH != 0
}

/// The character the `%XX` escape ending right before `i` decodes to (0x80 for any byte over
/// 0x7f, as `Window::left_char` reads it), if one does; judged from `buf` alone.
#[inline]
pub(super) fn escape_before(buf: &[u8], i: usize) -> Option<u8> {
    // One bounds check for the three bytes (none before `buf`'s start: `i - 3` wraps).
    let &[percent, h, l] = buf.get(i.wrapping_sub(3)..i)? else {
        return None;
    };
    if percent != b'%' {
        return None;
    }
    hex_pair(h, l).map(|v| v.min(0x80))
}
