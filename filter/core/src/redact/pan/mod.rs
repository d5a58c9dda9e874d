//! PAN candidates: digit groups, separators, card groupings, boundaries.
//!
//! A *group* is a run of digits: ASCII, or raw digits of another script (`４１１１`, `٤١١١`),
//! with invisible characters allowed between them (a soft hyphen, a zero-width space, a
//! quoted-printable soft line break: see `cluster`). A *separator* is what stands between two
//! groups: whitespace (space, tab, a line break, no-break and the other Unicode spaces, `+`,
//! `%20`, `&nbsp;`, `\u00a0`, …), at most one mark (a dash, `.`, `/`, `_`, `,`), in any
//! encoding `chars` reads. Its *kind* is its mark, or space. A *cluster* is the groups joined
//! by separators from the current group on; a *window* is groups `0..=k` of it. A window is a
//! PAN when
//! - it has 12–19 digits; if it spans several groups, their separators are of one kind, hold
//!   one line break at most (wrapped text), and the groups form a card grouping:
//!   - after spaces or dashes (*strong* kinds): 2–5 groups of at least three digits (4-4-4-4,
//!     Amex 4-6-5, Diners 4-6-4, 4-4-4-4-3, and the 4-12, 8-8, 4-4-8, 3-4-4-4 forms real text
//!     shows), or 4-4-4 / 4-4-4-4 followed by one or two digits (13- and 18-digit Visa);
//!   - after `.`, `/`, `_` or `,` (*weak* kinds, which also write amounts, dates, versions,
//!     addresses and lists): a canonical grouping only (4-4-4-1…4, 4-4-4-4-1…3, 4-6-4,
//!     4-6-5), and the whole cluster of that kind (no group of the kind right before or after
//!     it: `1.4111.1111.1111.1111` is a number, not a card);
//! - it does not touch a letter or digit on either side (decoded: `%3D4111…` is preceded by
//!   `=`, `\n4111…` by a line break), nor sit after or before a decimal point between digits
//!   (`-0.5309…%` in CSS, amounts), except a fraction of zeros (`4111…1111.0`, a JSON number);
//! - its digits pass Luhn and fall in a configured brand's IIN range at a length that brand
//!   issues (see [`crate::redact::brands`]).
//!
//! The longest qualifying window wins; the scan then continues after it. A group that does
//! not start a PAN is passed over, and the next group of the same cluster is tried (so
//! `qty 2 4111 1111 1111 1111` and `Card1 4111 1111 1111 1111` still find the card), except
//! that a multi-group window never starts right after a 4-digit group of its own kind
//! (`1234 5678 9012 3456` is one grouping, not a prefix and a 12-digit Maestro) nor right after
//! an IBAN head (`DE89 3704 …`), unless it is a whole 4-4-4-4 card ending the cluster
//! (`ref 1234 4111 1111 1111 1111`: the card is masked).
//!
//! A card written as a JSON number in scientific notation (`4.111111111111111e15`) is read by
//! `number`.
//!
//! **Protobuf mode** (gRPC messages): a string field's length prefix or the next field's tag
//! may be a printable byte (`0x30`–`0x39` is a digit, `0x41`… a letter) glued to the card's
//! digits. In that mode letters never count as touching, and a single group that does not
//! qualify is retried without one or two bytes at either end, so `5` + `4111111111111111`
//! (a 53-byte string field) is still masked. Over-masking binary data by a digit or two is the
//! accepted cost. Tab, line feed and carriage return are field tags there, not spaces.

mod cluster;

use crate::redact::brands::brand_of;
use crate::redact::chars::{char_at, char_before, Class, Kind};
use crate::redact::luhn::luhn_valid_digits;
use crate::redact::scanner::{is_alnum, is_digit};
use crate::redact::window::{Window, MAX_LOOKBACK};
use crate::redact::BrandSet;

pub(crate) use cluster::{parse_cluster, prev_group, Cluster, MAX_GROUPS, MAX_PAN, MAX_SEP};

/// Whether the lengths of a multi-group window form a card grouping with separators of a
/// strong kind: 2–5 groups of at least three digits, or 4-4-4 / 4-4-4-4 followed by one or two
/// digits (13- and 18-digit Visa).
fn card_grouping(lens: &[usize]) -> bool {
    if !(2..=5).contains(&lens.len()) {
        return false;
    }
    matches!(lens, [4, 4, 4, 1..=2] | [4, 4, 4, 4, 1..=2]) || lens.iter().all(|&l| l >= 3)
}

/// Whether the lengths of a multi-group window form a canonical card grouping, the only ones
/// a weak kind (`.`, `/`, `_`, `,`) may join: 4-4-4-1…4, 4-4-4-4-1…3, Diners 4-6-4, Amex 4-6-5.
fn canonical_grouping(lens: &[usize]) -> bool {
    matches!(
        lens,
        [4, 4, 4, 1..=4] | [4, 4, 4, 4, 1..=3] | [4, 6, 4] | [4, 6, 5]
    )
}

/// What stands before a candidate: the character (decoded; `0x80` for any other non-ASCII
/// one, `None` at the start of the stream), where it starts, and whether it is a digit the
/// candidate's group continues (through invisible characters that join).
pub(crate) struct Left {
    pub ch: Option<u8>,
    pub start: isize,
    pub digit: bool,
}

/// [`Left`] of the candidate at `i`.
pub(crate) fn left_of(w: &Window<'_>, i: usize, proto: bool) -> Left {
    let ii = i as isize;
    let plain = |ch: Option<u8>, start: isize| Left {
        ch,
        start,
        digit: false,
    };
    let Some(b) = w.back(ii - 1) else {
        return plain(None, ii - 1);
    };
    // The common case: a byte that is itself (no escape, entity or multi-byte character ends
    // with it).
    if b < 0x80 && !is_alnum(b) && !matches!(b, b';' | b'\n') {
        return plain(Some(b), ii - 1);
    }
    let floor = ii - MAX_LOOKBACK as isize;
    let Some((ch, start)) = char_before(w, ii, floor, proto) else {
        return plain(Some(b), ii - 1);
    };
    let byte = |class: Class| match class {
        Class::Digit(v) => b'0' + v,
        Class::Space { .. } | Class::Invisible | Class::Mark(Kind::Space) => b' ',
        Class::Mark(Kind::Dash) => b'-',
        Class::Mark(Kind::Dot) => b'.',
        Class::Mark(Kind::Slash) => b'/',
        Class::Mark(Kind::Underscore) => b'_',
        Class::Mark(Kind::Comma) => b',',
        Class::Other(x) => x,
    };
    match ch.class {
        Class::Digit(_) => Left {
            ch: Some(byte(ch.class)),
            start,
            digit: true,
        },
        Class::Other(x) if x.is_ascii_digit() => Left {
            ch: Some(x),
            start,
            digit: true,
        },
        Class::Invisible => {
            // A run of invisible characters (at most `MAX_SEP` bytes) joins the digits before it
            // to the candidate if all are raw, or after a piece of three digits (as
            // `cluster::read_group` reads ahead).
            let (mut s, mut raw) = (start, ch.raw);
            while let Some((c, st)) = char_before(w, s, floor, proto) {
                if c.class != Class::Invisible || ii - st > MAX_SEP as isize {
                    break;
                }
                raw &= c.raw;
                s = st;
            }
            let mut q = s;
            let mut piece = 0;
            while piece < 3 {
                match char_before(w, q, floor, proto) {
                    Some((c, st)) if matches!(c.class, Class::Digit(_)) => {
                        q = st;
                        piece += 1;
                    }
                    _ => break,
                }
            }
            let joins = raw || piece == 3;
            let digit_before = piece > 0;
            Left {
                ch: Some(b' '),
                start,
                digit: joins && digit_before,
            }
        }
        class => plain(Some(byte(class)), start),
    }
}

/// Whether the group whose left is `left` is free on the left: not touching a letter (unless
/// `proto`), not the fraction of a decimal number. (A digit on the left never reaches here:
/// the scanner treats it as the continuation of a longer group.)
pub(crate) fn left_free(w: &Window<'_>, left: &Left, proto: bool) -> bool {
    match left.ch {
        Some(b'.') => !w.back(left.start - 1).is_some_and(is_digit),
        // Track 1 start sentinel `%B` (when track masking is off, the PAN is still a PAN).
        Some(b'B') if w.back(left.start - 1) == Some(b'%') => true,
        Some(b) if is_alnum(b) => proto,
        _ => true,
    }
}

/// What the group before a candidate allows: whether a multi-group window of kind `kind`
/// may start there (not right after a 4-digit group of that kind, `1234 5678 9012 3456` being
/// one grouping; not right after an IBAN head, two capital letters and two check digits,
/// `DE89 3704 0044 …`), and whether a group of that kind precedes it at all (a window of a
/// weak kind must be its whole cluster).
pub(crate) struct Before {
    pub multi_ok: bool,
    pub same_kind: bool,
}

/// [`Before`] for the candidate at `i` whose cluster's first separator has kind `kind`.
pub(crate) fn before(w: &Window<'_>, i: usize, mask: u8, kind: Kind, proto: bool) -> Before {
    let floor = i as isize - MAX_LOOKBACK as isize;
    let Some(prev) = prev_group(w, i, mask, floor, proto).filter(|p| p.kind == kind) else {
        return Before {
            multi_ok: true,
            same_kind: false,
        };
    };
    let multi_ok = match prev.digits {
        4 => false,
        2 => {
            let head = prev.head;
            let upper = |q: isize| w.back(q).is_some_and(|b| b.is_ascii_uppercase());
            !(upper(head - 1) && upper(head - 2) && !w.back(head - 3).is_some_and(is_alnum))
        }
        _ => true,
    };
    Before {
        multi_ok,
        same_kind: true,
    }
}

/// A PAN found at a cluster.
pub(crate) enum PanHit {
    /// Groups `0..=k` of the cluster.
    Groups(usize),
    /// A trimmed single group (protobuf mode): bytes `start..end`.
    Trimmed(usize, usize),
}

fn qualifies(digits: &[u8], brands: BrandSet) -> bool {
    (12..=MAX_PAN).contains(&digits.len())
        && brand_of(digits, brands).is_some()
        && luhn_valid_digits(digits)
}

/// Appends the digits of group `g` of `c` to `out` as ASCII (a plain group is copied; others
/// are decoded character by character). Returns how many were written.
fn copy_digits(w: &Window<'_>, c: &Cluster, g: usize, out: &mut [u8]) -> usize {
    let (s, e) = (c.start[g], c.end[g]);
    if c.is_plain(g) {
        out[..e - s].copy_from_slice(&w.buf[s..e]);
        return e - s;
    }
    let mut n = 0;
    let mut p = s;
    while p < e && n < out.len() {
        match char_at(w.buf, true, p, false) {
            Ok(Some(ch)) => {
                if let Some(v) = ch.digit() {
                    out[n] = b'0' + v;
                    n += 1;
                }
                p += ch.len;
            }
            _ => break,
        }
    }
    n
}

/// The longest PAN window of `c`, if any. `before`: what the group before the cluster allows.
pub(crate) fn find_pan(
    w: &Window<'_>,
    c: &Cluster,
    left_ok: bool,
    before: &Before,
    brands: BrandSet,
    proto: bool,
) -> Option<PanHit> {
    if left_ok {
        // Every window is a prefix of the same digit sequence: copy it once (up to 19
        // digits), with the group lengths and how far one separator kind reaches.
        let mut lens = [0usize; MAX_GROUPS];
        let mut digits = [0u8; MAX_PAN];
        let mut total = 0;
        let mut groups = 0; // groups fully copied
        for (g, len) in lens.iter_mut().enumerate().take(c.n) {
            let l = c.len(g);
            *len = l;
            if total + l > MAX_PAN {
                break;
            }
            total += copy_digits(w, c, g, &mut digits[total..total + l]);
            groups += 1;
        }
        let kind = c.sep[0].kind;
        let same_sep = 1 + c.sep[..c.n.saturating_sub(1)]
            .iter()
            .take_while(|s| s.kind == kind)
            .count();
        let mut n = total;
        for k in (0..groups).rev() {
            let window = n;
            n -= lens[k];
            if !(12..=MAX_PAN).contains(&window) {
                continue;
            }
            if k > 0 && !multi_group_window(c, &lens, k, same_sep, before) {
                continue;
            }
            // A point before more digits is a decimal point (`4111…1111.5`), unless it joins
            // the window's own groups.
            let right_ok = if k + 1 < c.n || c.cont {
                c.sep[k].kind != Kind::Dot
            } else if proto {
                c.right_free_proto
            } else {
                c.right_free
            };
            if right_ok && qualifies(&digits[..window], brands) {
                return Some(PanHit::Groups(k));
            }
        }
    }
    if proto && c.is_plain(0) {
        // A length prefix or a following tag byte may be a digit glued to the card.
        let (s, e) = (c.start[0], c.end[0]);
        let single_end_free = c.n > 1 || c.cont || c.right_free_proto;
        for (a, b) in [(1, 0), (0, 1), (1, 1), (2, 0), (0, 2)] {
            if e - s < a + b + 12 {
                continue;
            }
            // Untrimmed ends must be free themselves.
            if (a == 0 && !left_ok) || (b == 0 && !single_end_free) {
                continue;
            }
            if qualifies(&w.buf[s + a..e - b], brands) {
                return Some(PanHit::Trimmed(s + a, e - b));
            }
        }
    }
    None
}

/// Whether groups `0..=k` (`k > 0`) of `c` may form a card: one separator kind (the first
/// `same_sep` groups share it), one line break at most, and the grouping and neighbours that
/// kind asks for.
fn multi_group_window(
    c: &Cluster,
    lens: &[usize],
    k: usize,
    same_sep: usize,
    before: &Before,
) -> bool {
    if k >= same_sep || c.sep[..k].iter().filter(|s| s.line).count() > 1 {
        return false;
    }
    if c.sep[0].kind.weak() {
        // The whole cluster of its kind: nothing of it before, nothing after.
        let ends = k + 1 == c.n && !c.cont || k + 1 < c.n && c.sep[k].kind != c.sep[0].kind;
        return canonical_grouping(&lens[..=k]) && ends && !before.same_kind;
    }
    if !card_grouping(&lens[..=k]) {
        return false;
    }
    // After a 4-digit group (or an IBAN head) a multi-group window would usually be the tail
    // of a longer grouping (`1234 5678 9012 3456`). But a whole 4-4-4-4 card that ends the
    // cluster is still a card: `ref 1234 4111 1111 1111 1111` leaked before this exception
    // (found while triaging a fuzz finding).
    before.multi_ok || (lens[..=k] == [4, 4, 4, 4] && k + 1 == c.n && !c.cont)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupings() {
        assert!(card_grouping(&[4, 4, 4, 4]));
        assert!(card_grouping(&[4, 6, 5]));
        assert!(card_grouping(&[4, 6, 4]));
        assert!(card_grouping(&[4, 4, 4, 4, 3]));
        assert!(card_grouping(&[4, 4, 4, 1]));
        assert!(card_grouping(&[8, 8]));
        assert!(card_grouping(&[3, 4, 4, 4]));
        assert!(!card_grouping(&[2, 8, 8]));
        assert!(!card_grouping(&[13, 2]));
        assert!(!card_grouping(&[4, 4, 4, 4, 4, 3]));
    }

    #[test]
    fn canonical_groupings_are_the_printed_card_formats_only() {
        for ok in [
            &[4, 4, 4, 4][..],
            &[4, 6, 5],
            &[4, 6, 4],
            &[4, 4, 4, 4, 3],
            &[4, 4, 4, 1],
        ] {
            assert!(canonical_grouping(ok), "{ok:?}");
        }
        for no in [
            &[4, 4, 4][..],
            &[8, 8],
            &[4, 12],
            &[3, 4, 4, 4],
            &[2, 4, 4, 4, 4],
            &[4, 4, 4, 4, 4],
        ] {
            assert!(!canonical_grouping(no), "{no:?}");
        }
    }
}
