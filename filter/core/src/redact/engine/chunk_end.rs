//! What a chunk end holds back. A digit run cut by the end of a chunk has a length not yet
//! known, so the general decision would hold it for the next chunk (and [`held_at_end`] holds
//! the few bytes that start card data with no candidate open yet). Most such runs are
//! timestamps and ids (`"created":17485…`, `ord_0000…`) that hold nothing however they go on,
//! and holding them costs the host: the filter rewrites the chunk without its tail or pauses
//! it, and a large HTTP/2 chunk's tail left in the filter when trailers may follow resets the
//! stream. So a run is held only while it may still start a card or be a security code.

use crate::redact::cvv::is_cvv_value;
use crate::redact::pan::left_of;
use crate::redact::window::Window;
use crate::redact::RedactOptions;

use super::neighbours::{escape_may_hold, may_start_card};
use super::Mode;

/// The end of the input if the run at `i`, which reaches it, is one the general path would
/// pass over whatever follows: its first digits start no card brand, no escape holds its first
/// digit, no track sentinel precedes it, and it is no security code (not after a
/// security-code key, or already over four digits). Nothing is then held: the rest of the run,
/// in the next chunk, follows a digit and is passed over there. `None` otherwise (the general
/// path decides, and holds the run if it must). Text only: protobuf mode may drop a run's
/// first byte or two. Out of line: at most once per chunk.
#[inline(never)]
pub(super) fn open_run(
    opts: &RedactOptions,
    mode: Mode,
    w: &Window<'_>,
    i: usize,
) -> Option<usize> {
    let len = w.len();
    let digits = &w.buf[i..];
    debug_assert!(digits.iter().all(|&b| b.is_ascii_digit()));
    let passed_over = mode == Mode::Text
        && !card_may_start_with(digits)
        // No track 2 sentinel; track 1's `%B` is a `%` two back, which the escape check sees.
        && w.back(i as isize - 1) != Some(b';')
        && !escape_may_hold(w, i)
        && (digits.len() > 4 || opts.cvv_keys.is_empty() || !is_cvv_value(w, i, &opts.cvv_keys));
    passed_over.then_some(len)
}

/// Whether a card of some brand can start with `digits` (their first two; with only one, any
/// second digit).
fn card_may_start_with(digits: &[u8]) -> bool {
    match *digits {
        [] => true,
        [a] => (b'0'..=b'9').any(|b| may_start_card(a, b)),
        [a, b, ..] => may_start_card(a, b),
    }
}

/// Where to hold from when the input (not the body) ends with bytes the next chunk may make
/// card data of, though no candidate is open there: the integer digit and point of a decimal
/// number (`4.`, whose fraction would make it a card in scientific notation, decided at that
/// digit), or the first bytes of a digit of another script cut by the end. `None` when nothing
/// is held. (No visit reached such a lone digit: see `blocks::visit`.)
pub(super) fn held_at_end(mode: Mode, w: &Window<'_>) -> Option<usize> {
    let len = w.len();
    let buf = &*w.buf;
    if mode == Mode::Text
        && len >= 2
        && buf[len - 1] == b'.'
        && buf[len - 2].is_ascii_digit()
        && !left_of(w, len - 2, false).digit
        && card_may_start_with(&buf[len - 2..len - 1])
    {
        return Some(len - 2);
    }
    // A UTF-8 lead of a digit of another script, and fewer continuation bytes than it needs.
    let from = len.saturating_sub(3);
    (from..len).find(|&p| {
        let need = match buf[p] {
            0xD9 | 0xDB => 2,
            0xE0 | 0xE1 | 0xEF => 3,
            _ => return false,
        };
        p + need > len && buf[p + 1..].iter().all(|&b| b & 0xC0 == 0x80)
    })
}
