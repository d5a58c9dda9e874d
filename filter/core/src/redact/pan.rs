//! PAN candidates: digit groups, card groupings, boundaries.
//!
//! A *group* is a run of ASCII digits. A *cluster* is groups joined by exactly one
//! separator token each: a space, a dash, a `+` (form encoding), `%20` or JSON `\u0020`.
//! A *window* is groups `0..=k` of the cluster that starts at the current group; it is a PAN
//! when
//! - it has 12–19 digits, and if it spans several groups they use one separator kind and a
//!   card grouping: 2–5 groups of at least three digits (4-4-4-4, Amex 4-6-5, Diners 4-6-4,
//!   4-4-4-4-3, and the 4-12, 8-8, 4-4-8, 3-4-4-4 forms real text shows), or 4-4-4 / 4-4-4-4
//!   followed by one or two digits (13- and 18-digit Visa);
//! - it does not touch a letter or digit on either side (decoded: `%3D4111…` is preceded by
//!   `=`, `\n4111…` by a line break), nor sit after or before a decimal point between digits
//!   (`-0.5309…%` in CSS, amounts);
//! - its digits pass Luhn and fall in a configured brand's IIN range at a length that brand
//!   issues (see [`crate::redact::brands`]).
//!
//! The longest qualifying window wins; the scan then continues after it. A group that does
//! not start a PAN is passed over, and the next group of the same cluster is tried (so
//! `qty 2 4111 1111 1111 1111` and `Card1 4111 1111 1111 1111` still find the card), except
//! that a multi-group window never starts right after a 4-digit group (`1234 5678 9012 3456`
//! is one grouping, not a prefix and a 12-digit Maestro) nor right after an IBAN head
//! (`DE89 3704 …`), unless it is a whole 4-4-4-4 card ending the cluster
//! (`ref 1234 4111 1111 1111 1111`: the card is masked).
//!
//! **Protobuf mode** (gRPC messages): a string field's length prefix or the next field's tag
//! may be a printable byte (`0x30`–`0x39` is a digit, `0x41`… a letter) glued to the card's
//! digits. In that mode letters never count as touching, and a single group that does not
//! qualify is retried without one or two bytes at either end, so `5` + `4111111111111111`
//! (a 53-byte string field) is still masked. Over-masking binary data by a digit or two is the
//! accepted cost.

use crate::redact::brands::brand_of;
use crate::redact::luhn::luhn_valid_digits;
use crate::redact::scanner::{digit_run_end, is_alnum, is_digit};
use crate::redact::window::{Need, Window};
use crate::redact::BrandSet;

/// Longest PAN.
pub(crate) const MAX_PAN: usize = 19;
/// Groups recorded per cluster (a window spans at most 5).
const MAX_GROUPS: usize = 6;

/// A separator token between two digit groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sep {
    Space,
    Dash,
    Plus,
    Pct20,
    U0020,
}

impl Sep {
    pub fn len(self) -> usize {
        match self {
            Sep::Space | Sep::Dash | Sep::Plus => 1,
            Sep::Pct20 => 3,
            Sep::U0020 => 6,
        }
    }
}

/// The separator token starting at `e`, if one starts there *and* a digit follows it.
pub(crate) fn sep_at(w: &Window<'_>, e: usize) -> Result<Option<Sep>, Need> {
    let Some(b) = w.fwd(e)? else { return Ok(None) };
    let sep = match b {
        b' ' => Sep::Space,
        b'-' => Sep::Dash,
        b'+' => Sep::Plus,
        b'%' if w.fwd(e + 1)? == Some(b'2') && w.fwd(e + 2)? == Some(b'0') => Sep::Pct20,
        b'\\' => {
            for (k, &c) in b"u0020".iter().enumerate() {
                if w.fwd(e + 1 + k)? != Some(c) {
                    return Ok(None);
                }
            }
            Sep::U0020
        }
        _ => return Ok(None),
    };
    Ok(if w.fwd_is(e + sep.len(), is_digit)? {
        Some(sep)
    } else {
        None
    })
}

/// The groups that start at a candidate position.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub n: usize,
    pub start: [usize; MAX_GROUPS],
    pub end: [usize; MAX_GROUPS],
    /// `sep[k]`: the separator after group `k` (valid for `k + 1 < n`).
    pub sep: [Sep; MAX_GROUPS],
    /// Whether the last recorded group is followed by a separator and more digits.
    pub cont: bool,
    /// Whether the byte right after the last recorded group leaves it free on the right
    /// (not alphanumeric, not a decimal point before a digit). Only meaningful when `!cont`.
    pub right_free: bool,
    /// Same, ignoring letters (protobuf mode).
    pub right_free_proto: bool,
}

impl Cluster {
    pub fn len(&self, k: usize) -> usize {
        self.end[k] - self.start[k]
    }
}

impl Cluster {
    pub fn new() -> Self {
        Cluster {
            n: 0,
            start: [0; MAX_GROUPS],
            end: [0; MAX_GROUPS],
            sep: [Sep::Space; MAX_GROUPS],
            cont: false,
            right_free: true,
            right_free_proto: true,
        }
    }
}

/// Reads the cluster whose first group starts at `i` (a digit) into `c` (filled in place:
/// it is large enough that moving it around showed in profiles). Returns `Ok(false)` when more
/// than [`MAX_PAN`] digits run from `i`: no PAN can start or end there; skip the run.
pub(crate) fn parse_cluster(w: &Window<'_>, i: usize, c: &mut Cluster) -> Result<bool, Need> {
    c.n = 0;
    c.cont = false;
    c.right_free = true;
    c.right_free_proto = true;
    let mut p = i;
    let mut total = 0;
    loop {
        let e = digit_run_end(w.buf, p, MAX_PAN + 1);
        if e == w.len() && e - p <= MAX_PAN && !w.eof {
            return Err(Need);
        }
        if e - p > MAX_PAN {
            if c.n == 0 {
                return Ok(false);
            }
            c.cont = true;
            return Ok(true);
        }
        c.start[c.n] = p;
        c.end[c.n] = e;
        c.n += 1;
        total += e - p;
        if total > MAX_PAN || c.n == MAX_GROUPS {
            // No window can include this group: what follows it does not matter.
            c.cont = true;
            return Ok(true);
        }
        match sep_at(w, e)? {
            Some(s) => {
                c.sep[c.n - 1] = s;
                p = e + s.len();
            }
            None => {
                let b = w.fwd(e)?;
                let decimal = b == Some(b'.') && w.fwd_is(e + 1, is_digit)?;
                c.right_free = !decimal && !b.is_some_and(is_alnum);
                c.right_free_proto = !decimal && !b.is_some_and(is_digit);
                return Ok(true);
            }
        }
    }
}

/// Whether the lengths of a multi-group window form a card grouping: 2–5 groups of at least
/// three digits (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3, and the 4-12, 8-8, 4-4-8, 3-4-4-4 forms seen
/// in real text), or 4-4-4 / 4-4-4-4 followed by one or two digits (13- and 18-digit Visa).
fn card_grouping(lens: &[usize]) -> bool {
    if !(2..=5).contains(&lens.len()) {
        return false;
    }
    matches!(lens, [4, 4, 4, 1..=2] | [4, 4, 4, 4, 1..=2]) || lens.iter().all(|&l| l >= 3)
}

/// If the group at `i` follows a separator and another group: where that group starts and its
/// digit count. Bytes equal to `mask` count as digits: a group this engine masked before
/// (`***0`) is still the group it was, so redacting again changes nothing (idempotence).
fn prev_group(w: &Window<'_>, i: usize, mask: u8) -> Option<(isize, usize)> {
    let i = i as isize;
    let sep_start = match w.back(i - 1)? {
        b' ' | b'-' | b'+' => i - 1,
        b'0' if w.back(i - 2) == Some(b'2') && w.back(i - 3) == Some(b'%') => i - 3,
        b'0' if (2..=6)
            .zip(b"200u\\")
            .all(|(k, &c)| w.back(i - k) == Some(c)) =>
        {
            i - 6
        }
        _ => return None,
    };
    let mut n = 0;
    while n <= MAX_PAN
        && w.back(sep_start - 1 - n as isize)
            .is_some_and(|b| is_digit(b) || b == mask)
    {
        n += 1;
    }
    (n > 0).then_some((sep_start - n as isize, n))
}

/// Whether a multi-group window may start at the group at `i`: not right after a 4-digit
/// group (`1234 5678 9012 3456` is one grouping) and not right after an IBAN head (two capital
/// letters and two check digits, `DE89 3704 0044 …`: the groups are the account, not a card).
pub(crate) fn multi_group_may_start(w: &Window<'_>, i: usize, mask: u8) -> bool {
    match prev_group(w, i, mask) {
        Some((_, 4)) => false,
        Some((head, 2)) => {
            let upper = |q: isize| w.back(q).is_some_and(|b| b.is_ascii_uppercase());
            !(upper(head - 1) && upper(head - 2) && !w.back(head - 3).is_some_and(is_alnum))
        }
        _ => true,
    }
}

/// Whether the group whose decoded left character is `lc` (starting at `lstart`) is free on the left: not touching a letter (unless `proto`), not
/// the fraction of a decimal number. (A digit on the left never reaches here: the scanner
/// treats it as the continuation of a longer run.)
pub(crate) fn left_free(w: &Window<'_>, lc: Option<u8>, lstart: isize, proto: bool) -> bool {
    match lc {
        Some(b'.') => !w.back(lstart - 1).is_some_and(is_digit),
        // Track 1 start sentinel `%B` (when track masking is off, the PAN is still a PAN).
        Some(b'B') if w.back(lstart - 1) == Some(b'%') => true,
        Some(b) if is_alnum(b) => proto,
        _ => true,
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

/// The longest PAN window of `c`, if any.
pub(crate) fn find_pan(
    w: &Window<'_>,
    c: &Cluster,
    left_ok: bool,
    multi_ok: bool,
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
            digits[total..total + l].copy_from_slice(&w.buf[c.start[g]..c.end[g]]);
            total += l;
            groups += 1;
        }
        let same_sep = 1 + c.sep[..c.n.saturating_sub(1)]
            .iter()
            .take_while(|&&s| s == c.sep[0])
            .count();
        let mut n = total;
        for k in (0..groups).rev() {
            let window = n;
            n -= lens[k];
            if !(12..=MAX_PAN).contains(&window) {
                continue;
            }
            if k > 0 && (k >= same_sep || !card_grouping(&lens[..=k])) {
                continue;
            }
            // After a 4-digit group (or an IBAN head) a multi-group window would usually be
            // the tail of a longer grouping (`1234 5678 9012 3456`). But a whole 4-4-4-4
            // card that ends the cluster is still a card: `ref 1234 4111 1111 1111 1111`
            // leaked before this exception (found while triaging a fuzz finding).
            if k > 0 && !multi_ok && !(lens[..=k] == [4, 4, 4, 4] && k + 1 == c.n && !c.cont) {
                continue;
            }
            let right_ok = if k + 1 < c.n || c.cont {
                true
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
    if proto {
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
}
