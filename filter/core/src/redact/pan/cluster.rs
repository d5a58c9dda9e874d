//! Reading digit groups and the separators between them: ahead from a candidate
//! ([`parse_cluster`]) and behind it ([`prev_group`]). Characters come from `chars`, so a
//! group or a separator reads the same in every spelling.

use crate::redact::chars::{char_at, char_before, Ch, Class, Kind};
use crate::redact::scanner::{digit_run_end, is_alnum, is_digit};
use crate::redact::window::{Need, Window};

/// Longest PAN.
pub(crate) const MAX_PAN: usize = 19;
/// Groups recorded per cluster (a window spans at most 5).
pub(crate) const MAX_GROUPS: usize = 6;
/// The furthest a cluster's groups reach from its candidate: past it the cluster is cut (as if
/// more digits followed), so a card spelled with more than this many bytes is not read.
pub(crate) const MAX_SPAN: usize = 128;
/// The most bytes between two groups, and the most whitespace characters there.
pub(crate) const MAX_SEP: usize = 24;
const MAX_SEP_SPACES: usize = 8;

/// A separator between two groups: its kind, and whether it breaks a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sep {
    pub kind: Kind,
    pub line: bool,
}

/// The groups that start at a candidate position.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub n: usize,
    pub start: [usize; MAX_GROUPS],
    pub end: [usize; MAX_GROUPS],
    /// Digits in each group (its bytes, when it is `plain`).
    pub digits: [u8; MAX_GROUPS],
    /// Bit `k`: group `k` is one run of ASCII digits.
    pub plain: u8,
    /// `sep[k]`: the separator after group `k` (valid for `k + 1 < n`).
    pub sep: [Sep; MAX_GROUPS],
    /// Whether the last recorded group is followed by a separator and more digits.
    pub cont: bool,
    /// Whether the byte right after the last recorded group leaves it free on the right
    /// (not alphanumeric, not a decimal point before a digit other than a zero fraction such as
    /// `.0`). Only meaningful when `!cont`.
    pub right_free: bool,
    /// Same, ignoring letters (protobuf mode).
    pub right_free_proto: bool,
}

impl Cluster {
    pub fn new() -> Self {
        Cluster {
            n: 0,
            start: [0; MAX_GROUPS],
            end: [0; MAX_GROUPS],
            digits: [0; MAX_GROUPS],
            plain: 0,
            sep: [Sep {
                kind: Kind::Space,
                line: false,
            }; MAX_GROUPS],
            cont: false,
            right_free: true,
            right_free_proto: true,
        }
    }

    pub fn len(&self, k: usize) -> usize {
        usize::from(self.digits[k])
    }

    pub fn is_plain(&self, k: usize) -> bool {
        self.plain >> k & 1 == 1
    }
}

/// A group read ahead: where it ends, its digits, whether it is one ASCII run.
struct Group {
    end: usize,
    digits: usize,
    plain: bool,
}

/// Whether `ch` is a digit a group may hold: ASCII, or raw of another script.
#[inline]
fn is_group_digit(ch: &Ch) -> bool {
    matches!(ch.class, Class::Digit(_))
}

/// The group whose first digit is at `p`: runs of digits joined by invisible characters (raw
/// ones always; encoded ones, such as `\u200b` or a quoted-printable soft line break, only
/// after a piece of at least three digits, because the scan passes shorter runs over before
/// reading what follows them). `None`: more than [`MAX_PAN`] digits, or past `limit`.
fn read_group(w: &Window<'_>, p: usize, proto: bool, limit: usize) -> Result<Option<Group>, Need> {
    let (mut q, mut n, mut piece, mut plain) = (p, 0usize, 0usize, true);
    loop {
        if q > limit {
            return Ok(None);
        }
        let e = digit_run_end(w.buf, q, MAX_PAN + 1 - n);
        n += e - q;
        piece += e - q;
        if n > MAX_PAN || e > limit {
            return Ok(None);
        }
        if e == w.len() {
            if w.eof {
                return Ok(Some(Group {
                    end: e,
                    digits: n,
                    plain,
                }));
            }
            return Err(Need);
        }
        if w.buf[e] < 0x80 && !matches!(w.buf[e], b'%' | b'=' | b'\\' | b'&') {
            // The common case: a plain byte ends the group.
            return Ok(Some(Group {
                end: e,
                digits: n,
                plain,
            }));
        }
        let Some(ch) = char_at(w.buf, w.eof, e, proto)? else {
            return Ok(Some(Group {
                end: e,
                digits: n,
                plain,
            }));
        };
        match ch.class {
            Class::Digit(_) => {
                // A raw digit of another script (ASCII digits ended the run).
                n += 1;
                piece += 1;
                plain = false;
                q = e + ch.len;
                if n > MAX_PAN {
                    return Ok(None);
                }
            }
            Class::Invisible if ch.raw || piece >= 3 => {
                // Invisible characters in a row, at most MAX_SEP bytes of them.
                let mut r = e + ch.len;
                let next = loop {
                    match char_at(w.buf, w.eof, r, proto)? {
                        Some(c) if c.class == Class::Invisible && r + c.len - e <= MAX_SEP => {
                            if !c.raw && piece < 3 {
                                break None;
                            }
                            r += c.len;
                        }
                        other => break other,
                    }
                };
                match next {
                    Some(c) if is_group_digit(&c) => {
                        q = r;
                        piece = 0;
                        plain = false;
                    }
                    _ => {
                        return Ok(Some(Group {
                            end: e,
                            digits: n,
                            plain,
                        }))
                    }
                }
            }
            _ => {
                return Ok(Some(Group {
                    end: e,
                    digits: n,
                    plain,
                }))
            }
        }
    }
}

/// The separator at `e` (right after a group), if one is there and a digit follows it: where
/// the next group starts. A separator is whitespace (at most [`MAX_SEP_SPACES`] characters,
/// at most one line break), at most one mark, and invisible characters, within [`MAX_SEP`]
/// bytes; around a weak mark (`.`, `/`, `_`, `,`) no whitespace.
pub(crate) fn sep_at(w: &Window<'_>, e: usize, proto: bool) -> Result<Option<(Sep, usize)>, Need> {
    // The common case: one space, dash or plus, then a digit.
    if let Some(&b) = w.buf.get(e) {
        if matches!(b, b' ' | b'-' | b'+') {
            if let Some(&d) = w.buf.get(e + 1) {
                if is_digit(d) {
                    let kind = if b == b'-' { Kind::Dash } else { Kind::Space };
                    return Ok(Some((Sep { kind, line: false }, e + 1)));
                }
            }
        }
    }
    let (mut p, mut spaces, mut lines, mut mark) = (e, 0usize, 0usize, None);
    loop {
        if p - e > MAX_SEP {
            return Ok(None);
        }
        let Some(ch) = char_at(w.buf, w.eof, p, proto)? else {
            return Ok(None);
        };
        match ch.class {
            Class::Digit(_) => break,
            Class::Space { line } => {
                spaces += 1;
                lines += usize::from(line);
            }
            Class::Mark(k) => {
                if mark.is_some() {
                    return Ok(None);
                }
                mark = Some(k);
            }
            Class::Invisible => {}
            Class::Other(_) => return Ok(None),
        }
        p += ch.len;
    }
    separator(spaces, lines, mark).map_or(Ok(None), |s| Ok(Some((s, p))))
}

/// The separator made of `spaces` whitespace characters (`lines` of them line breaks) and an
/// optional mark, if those make one.
fn separator(spaces: usize, lines: usize, mark: Option<Kind>) -> Option<Sep> {
    let kind = mark.unwrap_or(Kind::Space);
    if spaces > MAX_SEP_SPACES || lines > 1 || (kind.weak() && spaces > 0) {
        return None;
    }
    Some(Sep {
        kind,
        line: lines == 1,
    })
}

/// Reads the cluster whose first group starts at `i` into `c` (filled in place: it is large
/// enough that moving it around showed in profiles). Returns `Ok(false)` when more than
/// [`MAX_PAN`] digits run from `i`: no PAN can start or end there; skip the run.
pub(crate) fn parse_cluster(
    w: &Window<'_>,
    i: usize,
    c: &mut Cluster,
    proto: bool,
) -> Result<bool, Need> {
    c.n = 0;
    c.plain = 0;
    c.cont = false;
    c.right_free = true;
    c.right_free_proto = true;
    let limit = i + MAX_SPAN;
    let mut p = i;
    let mut total = 0;
    loop {
        let Some(g) = read_group(w, p, proto, limit)? else {
            if c.n == 0 {
                return Ok(false);
            }
            c.cont = true;
            return Ok(true);
        };
        c.start[c.n] = p;
        c.end[c.n] = g.end;
        c.sep[c.n] = Sep {
            kind: Kind::Space,
            line: false,
        };
        c.digits[c.n] = g.digits as u8; // at most MAX_PAN
        c.plain |= u8::from(g.plain) << c.n;
        c.n += 1;
        total += g.digits;
        if total > MAX_PAN || c.n == MAX_GROUPS {
            // No window can include this group: what follows it does not matter.
            c.cont = true;
            return Ok(true);
        }
        // A fraction of zeros ends the number (`4111…1111.0`); it joins no group. A weak
        // mark joins only groups that may still become a canonical grouping of its kind
        // (`19.99` and `35.209900` are numbers: read no further).
        let weak_ok = weak_prefix(c);
        let next = w.buf.get(g.end).copied();
        let zeros = next == Some(b'.') && zero_fraction(w, g.end)?;
        if zeros {
            c.right_free = true;
            c.right_free_proto = true;
            return Ok(true);
        }
        let skip = !weak_ok && matches!(next, Some(b'.' | b',' | b'/' | b'_'));
        let sep = if skip { None } else { sep_at(w, g.end, proto)? };
        let sep =
            sep.filter(|(s, _)| !s.kind.weak() || weak_ok && (c.n == 1 || c.sep[0].kind == s.kind));
        match sep {
            Some((s, next)) => {
                c.sep[c.n - 1] = s;
                p = next;
            }
            None => {
                let b = w.fwd(g.end)?;
                let decimal = b == Some(b'.') && w.fwd_is(g.end + 1, is_digit)?;
                c.right_free = !decimal && !b.is_some_and(is_alnum);
                c.right_free_proto = !decimal && !b.is_some_and(is_digit);
                return Ok(true);
            }
        }
    }
}

/// Whether the groups of `c` so far may be followed by a weak mark: they are the start of a
/// canonical grouping (4, 4-4, 4-6, 4-4-4, 4-4-4-4) and joined by weak marks.
fn weak_prefix(c: &Cluster) -> bool {
    matches!(
        c.digits[..c.n],
        [4] | [4, 4] | [4, 6] | [4, 4, 4] | [4, 4, 4, 4]
    ) && c.sep[..c.n - 1].iter().all(|s| s.kind.weak())
}

/// Whether the `.` at `e` starts a fraction of zeros that ends the number (`4111…1111.0` is an
/// integer written as a float: the digits before it are free on that side).
fn zero_fraction(w: &Window<'_>, e: usize) -> Result<bool, Need> {
    if !w.fwd_is(e + 1, |b| b == b'0')? {
        return Ok(false);
    }
    let z = digit_run_end(w.buf, e + 1, MAX_PAN + 1);
    if z == w.len() && !w.eof {
        return Err(Need);
    }
    let zeros = w.buf[e + 1..z].iter().all(|&b| b == b'0');
    Ok(zeros && z - (e + 1) <= MAX_PAN && !w.fwd(z)?.is_some_and(|b| is_alnum(b) || b == b'.'))
}

/// The group before the one at `i`, across one separator: its digit count (bytes equal to
/// `mask` count as digits: a group this engine masked is still the group it was, so
/// redacting again changes nothing), where it starts, and the separator's kind.
pub(crate) struct Prev {
    pub digits: usize,
    pub head: isize,
    pub kind: Kind,
}

/// [`Prev`] for the group at `i`, reading no further back than `floor`.
pub(crate) fn prev_group(
    w: &Window<'_>,
    i: usize,
    mask: u8,
    floor: isize,
    proto: bool,
) -> Option<Prev> {
    let is_digit_at = |p: isize| -> bool {
        w.back(p - 1) == Some(mask)
            || char_before(w, p, floor, proto).is_some_and(|(c, _)| is_group_digit(&c))
    };
    let i = i as isize;
    // The separator, read backwards.
    let (mut p, mut spaces, mut lines, mut mark) = (i, 0usize, 0usize, None);
    loop {
        if i - p > MAX_SEP as isize {
            return None;
        }
        if p < i && is_digit_at(p) {
            break;
        }
        let (ch, start) = char_before(w, p, floor, proto)?;
        match ch.class {
            Class::Space { line } => {
                spaces += 1;
                lines += usize::from(line);
            }
            Class::Mark(k) => {
                if mark.is_some() {
                    return None;
                }
                mark = Some(k);
            }
            Class::Invisible => {}
            _ => return None,
        }
        p = start;
    }
    let sep = separator(spaces, lines, mark)?;
    // The digits before it (and raw invisible characters between them).
    let mut n = 0;
    while n <= MAX_PAN {
        if w.back(p - 1) == Some(mask) {
            p -= 1;
            n += 1;
            continue;
        }
        match char_before(w, p, floor, proto) {
            Some((c, start)) if is_group_digit(&c) => {
                p = start;
                n += 1;
            }
            Some((c, start)) if c.class == Class::Invisible && c.raw && is_digit_at(start) => {
                p = start;
            }
            _ => break,
        }
    }
    (n > 0).then_some(Prev {
        digits: n,
        head: p,
        kind: sep.kind,
    })
}
