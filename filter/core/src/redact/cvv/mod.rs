//! CVV/CVC detection by key.
//!
//! A security code is three or four digits, indistinguishable from any other small number:
//! only the key in front of it tells. When the engine meets a 3–4 digit value that stands
//! alone (free of letters, digits and decimal points on both sides), it looks *back* from the
//! value, at most `MAX_LOOKBACK` (224) bytes, for
//!
//! 1. glue with exactly one connector: `:` / `=` / `>` (also as `%3A` `%3D` `%3E` `&gt;`),
//!    with quotes (`"`, `'`, `\"`, `%22`, `&quot;`), backslashes, `]` and whitespace around it;
//! 2. a key: the run of `[A-Za-z0-9_-]` before the glue (the last segment of `card.cvv`,
//!    `card[cvc]`); after `>` it must be an XML start tag (`<cvv>`, `%3Ccvd%3E`, `&lt;cvv&gt;`).
//!
//! Keys compare after *normalisation*: ASCII-lowercased, `_` and `-` removed, so
//! `security_code`, `security-code` and `securityCode` are one key. Whole keys only: result
//! fields such as `cvvResultCode`, `cvv2_result`, `CardSecurityCodeMatch` normalise to
//! something else and are left alone.
//!
//! Three context rules cover keys that are too generic on their own:
//! - **filler words** (`CVV entered: 123`, `Security Code: 123`): if the key is one of
//!   `entered`, `is`, `number`, `no`, `num`, `code`, `value` and the word before it (spaces
//!   only between) is a key, or joins with it into one (`security`+`code`), it counts;
//! - **parent object** (`"securityCode":{"indicator":1,"value":"4444"}`): a `value`, `code` or
//!   `number` key directly inside a JSON object whose own key is a security-code key;
//! - **sibling of an expiry** (`"expiry":"0918","code":"999"`): a `code` key whose previous
//!   sibling key names an expiry (`exp…`), with no object closed in between (for XML, no
//!   element other than the expiry itself closed), so `</CARD><CODE>0100` stays.

use crate::redact::scanner::{hex_val, is_alnum, is_hex, CLASS, GLUE_END, KEY, NOT_NORMAL};
use crate::redact::window::Window;
use crate::redact::RedactError;

/// Longest key (normalised) considered.
const MAX_KEY: usize = 48;
/// Longest glue between key and value.
const MAX_GLUE: usize = 40;

/// Every key spelling seen naming a card security code in gateway traffic (ActiveMerchant
/// transcripts, Recurly, Datadog samples), normalised.
pub const DEFAULT_CVV_KEYS: &[&str] = &[
    "cardcode",
    "cardcodevalue",
    "cardcvc",
    "cardcvv",
    "cardcvv2",
    "cardidnumber",
    "cardsecuritycode",
    "cardsecval",
    "cardverification",
    "cardverificationcode",
    "cardverificationvalue",
    "ccv",
    "ccvv",
    "cid",
    "creditcardverificationvalue",
    "csc",
    "cv",
    "cv2",
    "cvc",
    "cvc2",
    "cvccode",
    "cvcnumber",
    "cvd",
    "cvn",
    "cvnum",
    "cvnumber",
    "cvv",
    "cvv2",
    "cvv2code",
    "cvvcode",
    "cvvnumber",
    "dsmerchantcvv2",
    "fsv",
    "paymentcardcsc",
    "pstncc",
    "securitycode",
    "sgcvv2",
    "umcvv2",
    "verification",
    "verificationcode",
    "verificationvalue",
    "vpccardsecuritycode",
    "xcvv",
];

/// A key of at most 8 bytes packed into a `u64` (little-endian, zero-padded): small fixed
/// words compare as integers.
const fn pack(k: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < k.len() && i < 8 {
        v |= (k[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

fn packed(k: &[u8]) -> Option<u64> {
    (k.len() <= 8).then(|| pack(k))
}

const FILLERS: [u64; 7] = [
    pack(b"entered"),
    pack(b"is"),
    pack(b"number"),
    pack(b"no"),
    pack(b"num"),
    pack(b"code"),
    pack(b"value"),
];
const PARENT_CHILDREN: [u64; 3] = [pack(b"value"), pack(b"code"), pack(b"number")];
const CODE: u64 = pack(b"code");

/// The table hash of a normalised key: its 16-byte head ([`head16`]) and length mixed by one
/// multiplication. O(1) whatever the key's length, so a key read straight from the buffer
/// is hashed without another pass over its bytes. Keys are configuration and the table is
/// small: a collision only costs a probe.
#[inline]
fn key_hash(head: u128, len: usize) -> u64 {
    let x = (head as u64) ^ ((head >> 64) as u64).rotate_left(29) ^ ((len as u64) << 58);
    let h = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 31)
}

/// One slot of [`CvvKeys::table`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    hash: u64,
    /// The first 16 bytes of the key, zero-padded (little-endian).
    head: u128,
    len: u16,
    /// Index into `entries` plus one; 0 = empty.
    entry: u16,
}

/// The first 16 bytes of `k`, zero-padded, as one integer: whole-word loads (overlapping and
/// shifted for short keys) instead of a byte copy, which compiled to `memset` and `memcpy`
/// calls costing more than the lookup.
#[inline]
fn head16(k: &[u8]) -> u128 {
    let n = k.len();
    let w8 = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&k[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let w4 = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&k[at..at + 4]);
        u64::from(u32::from_le_bytes(b))
    };
    let (lo, hi) = match n {
        16.. => (w8(0), w8(8)),
        9..=15 => (w8(0), w8(n - 8) >> (8 * (16 - n))),
        8 => (w8(0), 0),
        4..=7 => (w4(0) | (w4(n - 4) << (8 * (n - 4))), 0),
        _ => (k.iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b)), 0),
    };
    u128::from(lo) | u128::from(hi) << 64
}

/// The compiled list of keys whose values are security codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CvvKeys {
    /// Normalised keys with their `key_hash`, sorted.
    entries: Vec<(u64, Box<[u8]>)>,
    /// Open-addressing table over `entries`, a power of two at least twice as long: a lookup
    /// is one hash and, usually, one probe. Each slot holds the key's first 16 bytes, so
    /// keys up to 16 bytes (all the default ones) compare without reading `entries`.
    table: Vec<Slot>,
    /// Bitset of the bytes a key leading to a security code can end with: the last byte of
    /// every key, and of the filler and child words the look-back also accepts. Most numbers
    /// after a key follow one that ends otherwise (`"amount":1234`) and are rejected on that
    /// byte, before the key is read, normalised and hashed.
    last: [u64; 4],
}

impl Default for CvvKeys {
    fn default() -> Self {
        CvvKeys::from_normalized(
            DEFAULT_CVV_KEYS
                .iter()
                .map(|k| k.as_bytes().into())
                .collect(),
        )
    }
}

/// Lowercases and drops `_` and `-`; `None` if longer than [`MAX_KEY`] or not a key.
fn normalize(raw: &[u8], out: &mut [u8; MAX_KEY]) -> Option<usize> {
    let mut n = 0;
    for &b in raw {
        if b == b'_' || b == b'-' {
            continue;
        }
        if !is_alnum(b) || n == MAX_KEY {
            return None;
        }
        out[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some(n)
}

impl CvvKeys {
    /// No keys: CVV detection off.
    #[must_use]
    pub fn none() -> Self {
        CvvKeys::from_normalized(Vec::new())
    }

    fn from_normalized(keys: Vec<Box<[u8]>>) -> Self {
        let mut entries: Vec<(u64, Box<[u8]>)> = keys
            .into_iter()
            .map(|k| (key_hash(head16(&k), k.len()), k))
            .collect();
        entries.sort();
        entries.dedup();
        entries.truncate(usize::from(u16::MAX) - 1);
        let size = (entries.len() * 2).next_power_of_two().max(8);
        let mut table = vec![Slot::default(); size];
        for (idx, (h, k)) in entries.iter().enumerate() {
            let mut slot = (*h as usize) & (size - 1);
            while table[slot].entry != 0 {
                slot = (slot + 1) & (size - 1);
            }
            table[slot] = Slot {
                hash: *h,
                head: head16(k),
                len: k.len() as u16, // at most MAX_KEY
                entry: (idx + 1) as u16,
            };
        }
        let mut last = [0u64; 4];
        let words = [
            &b"entered"[..],
            b"is",
            b"number",
            b"no",
            b"num",
            b"code",
            b"value",
        ];
        for k in entries.iter().map(|(_, k)| &k[..]).chain(words) {
            if let Some(&b) = k.last() {
                last[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        CvvKeys {
            entries,
            table,
            last,
        }
    }

    /// Whether a key ending in byte `b` (any case) can lead to a security code.
    #[inline]
    fn may_end_key(&self, b: u8) -> bool {
        let b = b.to_ascii_lowercase();
        self.last[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }

    /// Compiles a key list (any spelling; matching ignores case, `_` and `-`).
    /// `"default"` in the list stands for [`DEFAULT_CVV_KEYS`].
    ///
    /// # Errors
    /// [`RedactError::BadCvvKey`] for an empty key, one longer than 48 characters, or one
    /// with characters other than ASCII letters, digits, `_` and `-`.
    pub fn new<S: AsRef<str>>(keys: &[S]) -> Result<Self, RedactError> {
        let mut out: Vec<Box<[u8]>> = Vec::new();
        for k in keys {
            let k = k.as_ref();
            if k.trim() == "default" {
                out.extend(
                    DEFAULT_CVV_KEYS
                        .iter()
                        .map(|k| Box::<[u8]>::from(k.as_bytes())),
                );
                continue;
            }
            let mut buf = [0u8; MAX_KEY];
            match normalize(k.trim().as_bytes(), &mut buf) {
                Some(n) if n > 0 => out.push(buf[..n].into()),
                _ => return Err(RedactError::BadCvvKey { key: k.to_owned() }),
            }
        }
        Ok(CvvKeys::from_normalized(out))
    }

    /// Whether no key is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Probes the table for a key with this head, length and hash; `rest_matches(entry)`
    /// compares what the head does not hold (bytes 16.. of a longer key).
    #[inline(always)]
    fn probe(&self, head: u128, len: usize, rest_matches: impl Fn(usize) -> bool) -> bool {
        let h = key_hash(head, len);
        let mask = self.table.len() - 1;
        let mut slot = (h as usize) & mask;
        loop {
            let Some(s) = self.table.get(slot) else {
                return false;
            };
            if s.entry == 0 {
                return false;
            }
            if s.hash == h
                && usize::from(s.len) == len
                && s.head == head
                && rest_matches(usize::from(s.entry) - 1)
            {
                return true;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn contains_norm(&self, norm: &[u8]) -> bool {
        self.probe(head16(norm), norm.len(), |entry| {
            norm.len() <= 16
                || self
                    .entries
                    .get(entry)
                    .is_some_and(|(_, k)| k[16..] == norm[16..])
        })
    }

    /// [`Self::contains_norm`] for a normalised key of at most 16 bytes given as its head
    /// ([`head16`]) and length.
    #[inline(always)]
    fn contains_head(&self, head: u128, len: usize) -> bool {
        debug_assert!(len <= 16);
        self.probe(head, len, |_| true)
    }

    /// Whether `key` (any spelling) is a configured security-code key.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        let mut buf = [0u8; MAX_KEY];
        normalize(key.as_bytes(), &mut buf).is_some_and(|n| self.contains_norm(&buf[..n]))
    }
}

/// A key found before a value.
struct Key {
    start: isize,
    end: isize,
    /// Read from the buffer with no uppercase letter, `_` or `-`: the bytes are already the
    /// normalised key.
    as_is: bool,
    /// The connector was `>`: the key is an XML tag name.
    xml: bool,
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
        h if is_hex(h) && b(3) == Some(b'%') && b(2).is_some_and(is_hex) => {
            match hex_val(b(2).unwrap_or(0)) * 16 + hex_val(h) {
                b':' | b'=' => Some((3, Glue::Conn)),
                b'>' => Some((3, Glue::XmlConn)),
                b'"' | b'\'' | b' ' | b']' => Some((3, Glue::Plain)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The key whose value starts at `i`, if the bytes before `i` read `key <glue> ` and the key
/// could be one of `keys` (its last byte says; `_` and `-` are not judged).
fn key_before(w: &Window<'_>, i: isize, floor: isize, keys: &CvvKeys) -> Option<Key> {
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
    if w.back(end - 1)
        .is_some_and(|c| is_alnum(c) && !keys.may_end_key(c))
    {
        return None;
    }
    while p > end - MAX_KEY as isize && p > floor {
        let Some(c) = w.back(p - 1) else { break };
        if !is_key_byte(c) {
            break;
        }
        // Stop at the second hex digit of a `%XX` escape (`%22cvv`, `%3Ccvd`).
        if is_hex(c) && w.back(p - 3) == Some(b'%') && w.back(p - 2).is_some_and(is_hex) {
            break;
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
        xml,
    })
}

/// Where the key ends before a value at `i` glued to it the plain way, `"key":"123"`,
/// `"key":123` or `key=123`: the glue is exactly that (its last token ends at a key byte that
/// is no `%XX` escape's end, `%3A`). `None` for any other glue.
#[inline]
fn plain_glue_key_end(buf: &[u8], i: usize) -> Option<usize> {
    if i < 6 {
        return None;
    }
    // The four bytes before `i` as one word, the last in the top byte.
    let w = u32::from_le_bytes(<[u8; 4]>::try_from(buf.get(i - 4..i)?).ok()?);
    let end = if w >> 8 == u32::from_le_bytes([b'"', b':', b'"', 0]) {
        i - 3
    } else if w >> 16 == u32::from_le_bytes([b'"', b':', 0, 0]) {
        i - 2
    } else if w >> 24 == u32::from(b'=') {
        i - 1
    } else {
        return None;
    };
    (is_key_byte(buf[end - 1]) && !escape_ends_at(buf, end)).then_some(end)
}

#[inline]
fn is_key_byte(c: u8) -> bool {
    CLASS[usize::from(c)] & KEY != 0
}

/// Whether `buf[..p]` ends with a `%XX` escape (`p >= 3`).
fn escape_ends_at(buf: &[u8], p: usize) -> bool {
    // `%` first: it is the byte that is almost never there.
    buf[p - 3] == b'%' && is_hex(buf[p - 1]) && is_hex(buf[p - 2])
}

/// Whether the value at `i` follows `"key":"`, `"key":` or `key=` whose key ends in a letter or
/// digit no configured key (nor filler word) ends with: [`is_cvv_value`] rejects it on that
/// byte. Lets the scan pass over such values (`"amount":1234`) without visiting them.
#[inline(always)]
pub(crate) fn no_cvv_key_before(buf: &[u8], i: usize, keys: &CvvKeys) -> bool {
    match plain_glue_key_end(buf, i) {
        Some(end) => {
            let c = buf[end - 1];
            is_alnum(c) && !keys.may_end_key(c)
        }
        None => false,
    }
}

/// [`key_before`] for the plain glue of [`plain_glue_key_end`], read straight from `buf` when
/// the whole look-back lies inside it: `Some` of what `key_before` returns (no key ends with
/// the key's last byte, or the key is the run of key bytes before it up to a `%XX` escape), or
/// `None` to let `key_before` decide.
#[inline]
fn plain_key_before(buf: &[u8], i: usize, keys: &CvvKeys) -> Option<Option<Key>> {
    const REACH: usize = 3 + MAX_KEY + 4;
    if i < REACH {
        return None;
    }
    let end = plain_glue_key_end(buf, i)?;
    if is_alnum(buf[end - 1]) && !keys.may_end_key(buf[end - 1]) {
        return Some(None);
    }
    let mut p = end;
    let mut seen = 0u8;
    while p > end - MAX_KEY && is_key_byte(buf[p - 1]) && !escape_ends_at(buf, p) {
        seen |= CLASS[usize::from(buf[p - 1])];
        p -= 1;
    }
    if end - p >= MAX_KEY {
        return None;
    }
    Some(Some(Key {
        start: p as isize,
        end: end as isize,
        as_is: seen & NOT_NORMAL == 0,
        xml: false,
    }))
}

fn norm_key(w: &Window<'_>, k: &Key, out: &mut [u8; MAX_KEY]) -> Option<usize> {
    if let (Ok(s), Ok(e)) = (usize::try_from(k.start), usize::try_from(k.end)) {
        if let Some(raw) = w.buf.get(s..e) {
            return normalize(raw, out);
        }
    }
    let mut n = 0;
    for q in k.start..k.end {
        let b = w.back(q)?;
        if b == b'_' || b == b'-' {
            continue;
        }
        if !is_alnum(b) || n == MAX_KEY {
            return None;
        }
        out[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some(n)
}

/// The word (run of `[A-Za-z0-9_-]`) ending at `p` after 1–3 spaces, as normalised bytes.
fn word_before_spaces(w: &Window<'_>, p: isize, out: &mut [u8; MAX_KEY]) -> Option<usize> {
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

/// Whether the 3–4 digit value starting at `i` is the value of a security-code key.
pub(crate) fn is_cvv_value(w: &Window<'_>, at: usize, keys: &CvvKeys) -> bool {
    let i = at as isize;
    let floor = i - crate::redact::window::MAX_LOOKBACK as isize;
    // Fast reject: the byte before a value ends a glue token.
    if !w.back(i - 1).is_some_and(ends_glue) {
        return false;
    }
    let key = match plain_key_before(w.buf, at, keys) {
        Some(found) => found,
        None => key_before(w, i, floor, keys),
    };
    let Some(key) = key else {
        return false;
    };
    // Most keys lie in this chunk, lowercase with no `_` or `-`, and at most 16 bytes: already
    // normal, looked up straight from the buffer. Others are normalised into a buffer.
    let as_is = usize::try_from(key.start)
        .ok()
        .zip(usize::try_from(key.end).ok())
        .and_then(|(s, e)| w.buf.get(s..e))
        .filter(|r| key.as_is && r.len() <= 16);
    let found = as_is.map(|r| {
        let head = head16(r);
        (
            keys.contains_head(head, r.len()),
            (r.len() <= 8).then_some(head as u64),
        )
    });
    let kp = match found {
        Some((true, _)) => return true,
        Some((false, kp)) => kp,
        None => {
            let mut norm = [0u8; MAX_KEY];
            let Some(n) = norm_key(w, &key, &mut norm) else {
                return false;
            };
            if keys.contains_norm(&norm[..n]) {
                return true;
            }
            packed(&norm[..n])
        }
    };
    if let Some(filler) = kp.filter(|p| FILLERS.contains(p)) {
        // Filler words are at most 8 bytes: the packed form holds the word whole.
        let bytes = filler.to_le_bytes();
        let k = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(8)];
        let n = k.len();
        let mut prev = [0u8; MAX_KEY];
        if let Some(m) = word_before_spaces(w, key.start, &mut prev) {
            if keys.contains_norm(&prev[..m]) {
                return true;
            }
            if m + n <= MAX_KEY {
                let mut joined = [0u8; MAX_KEY];
                joined[..m].copy_from_slice(&prev[..m]);
                joined[m..m + n].copy_from_slice(k);
                if keys.contains_norm(&joined[..m + n]) {
                    return true;
                }
            }
        }
    }
    if kp.is_some_and(|p| PARENT_CHILDREN.contains(&p))
        && !key.xml
        && parent_is_key(w, key.start, floor, keys)
    {
        return true;
    }
    kp == Some(CODE) && follows_expiry(w, key.start, floor)
}

/// Whether the JSON object enclosing position `p` is the value of a configured key.
fn parent_is_key(w: &Window<'_>, p: isize, floor: isize, keys: &CvvKeys) -> bool {
    let mut depth = 0u32;
    let mut q = p;
    while q > floor {
        q -= 1;
        match w.back(q) {
            None => return false,
            Some(b'}') => depth += 1,
            Some(b'{') => {
                if depth == 0 {
                    let Some(key) = key_before(w, q, floor, keys) else {
                        return false;
                    };
                    let mut norm = [0u8; MAX_KEY];
                    return !key.xml
                        && norm_key(w, &key, &mut norm)
                            .is_some_and(|n| keys.contains_norm(&norm[..n]));
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    false
}

/// Whether an expiry key precedes the key at `p` as its sibling.
fn follows_expiry(w: &Window<'_>, p: isize, floor: isize) -> bool {
    let limit = (p - 96).max(floor);
    let mut closes = 0u32;
    let mut q = p;
    while q > limit + 3 {
        q -= 1;
        let c = w.back(q);
        match c {
            None | Some(b'{') => return false,
            Some(b'}') => closes += 1,
            Some(b'/') if w.back(q - 1) == Some(b'<') => closes += 1,
            Some(b'p' | b'P') => {
                let x = w.back(q - 1).map(|b| b.to_ascii_lowercase());
                let e = w.back(q - 2).map(|b| b.to_ascii_lowercase());
                if x == Some(b'x') && e == Some(b'e') {
                    return closes == 0;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests;
