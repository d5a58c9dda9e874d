//! What a chunk end holds back: a digit run cut by the end of the input is held only while it
//! may still start a card or be a security code.

use crate::redact::cvv::is_cvv_value;
use crate::redact::window::Window;
use crate::redact::RedactOptions;

use super::neighbours::{escape_may_hold, may_start_card};
use super::Mode;

/// A run that reaches the end of the input (of a chunk, when more may come, so its length is
/// unknown) and that the general path would pass over whatever follows: its first digits start
/// no card brand, no escape holds its first digit, no track sentinel precedes it, and it is no
/// security code (not after a security-code key, or already over four digits). Returns the end
/// of the input: nothing is held, and the rest of the run, in the next chunk, follows a digit
/// and is passed over there. So a chunk that ends inside a timestamp or an id
/// (`"created":17485…`, `ord_0000…`) is not held back: the filter then neither rewrites the
/// chunk without its tail nor pauses it (and a large HTTP/2 chunk's tail is not left in the
/// filter when trailers may follow, which resets the stream). In text only
/// (protobuf mode may drop a run's first byte or two). At most once per chunk: out of line.
#[inline(never)]
pub(super) fn open_run(
    opts: &RedactOptions,
    mode: Mode,
    w: &Window<'_>,
    i: usize,
) -> Option<usize> {
    let len = w.len();
    let digits = &w.buf[i..];
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
