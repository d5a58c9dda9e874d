//! Magnetic-stripe track data (ISO/IEC 7813).
//!
//! - Track 1: `%B` PAN `^` NAME `^` expiry, service code, discretionary data `?` — at most 79
//!   characters including sentinels; the name is 2–26 characters.
//! - Track 2: `;` PAN `=` expiry, service code, discretionary digits `?` — at most 40.
//!
//! Full track data is sensitive authentication data (PCI DSS 3.3.1): everything between the
//! start sentinel and the end sentinel is masked, whatever the `keep` option says. Detection
//! starts at the PAN's first digit and looks back for the start sentinel, so it shares the
//! engine's single "next digit" scan. The PAN must pass Luhn (brand is not required: test
//! tracks and private-label cards still carry a check digit).

use crate::redact::luhn::luhn_valid_digits;
use crate::redact::scanner::is_digit;
use crate::redact::window::{Need, Window};

const TRACK1_MAX: usize = 79;
const TRACK2_MAX: usize = 40;

/// If track data whose PAN starts at `i` ends in this body, the range to mask (`i` up to the
/// end sentinel, exclusive).
pub(crate) fn find_track(w: &Window<'_>, i: usize) -> Result<Option<(usize, usize)>, Need> {
    let ii = i as isize;
    let track1 = w.back(ii - 1) == Some(b'B') && w.back(ii - 2) == Some(b'%');
    let track2 = w.back(ii - 1) == Some(b';');
    if !track1 && !track2 {
        return Ok(None);
    }
    // The PAN.
    let mut e = i;
    while e - i <= 19 && w.fwd_is(e, is_digit)? {
        e += 1;
    }
    if !(12..=19).contains(&(e - i)) || !luhn_valid_digits(&w.buf[i..e]) {
        return Ok(None);
    }
    if track2 {
        if w.fwd(e)? != Some(b'=') {
            return Ok(None);
        }
        let limit = i + TRACK2_MAX - 1;
        let mut q = e + 1;
        while q < limit {
            match w.fwd(q)? {
                Some(b'?') => return Ok(Some((i, q))),
                Some(b) if is_digit(b) => q += 1,
                _ => return Ok(None),
            }
        }
        return Ok(None);
    }
    if w.fwd(e)? != Some(b'^') {
        return Ok(None);
    }
    let limit = i + TRACK1_MAX - 2;
    let mut q = e + 1;
    let name_start = q;
    loop {
        if q >= limit {
            return Ok(None);
        }
        match w.fwd(q)? {
            Some(b'^') => break,
            Some(0x20..=0x7e) if q - name_start < 26 => q += 1,
            _ => return Ok(None),
        }
    }
    if q - name_start < 2 {
        return Ok(None);
    }
    q += 1;
    while q < limit {
        match w.fwd(q)? {
            Some(b'?') => return Ok(Some((i, q))),
            Some(b'^' | b'%') => return Ok(None),
            Some(0x20..=0x7e) => q += 1,
            _ => return Ok(None),
        }
    }
    Ok(None)
}
