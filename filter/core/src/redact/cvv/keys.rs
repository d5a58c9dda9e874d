//! The key table: the configured security-code keys, normalised (lowercase, no `_` or `-`)
//! and compiled into an open-addressing table whose slots hold each key's first 16 bytes, so a
//! key read from the body is found with one hash and, usually, one probe, without a copy.

use crate::redact::scanner::is_alnum;
use crate::redact::RedactError;

/// Longest key (normalised) considered.
pub(super) const MAX_KEY: usize = 48;

/// Words that may stand between a security-code key and its value (`CVV entered: 123`), or
/// finish it (`Security Code: 123`). The look-back accepts them (and the child words, all among
/// them) beside the table's keys.
pub(super) const FILLER_WORDS: [&[u8]; 7] = [
    b"entered", b"is", b"number", b"no", b"num", b"code", b"value",
];

/// Words that may follow a configured key inside one key and leave it naming the code
/// (`cvvValue`, `csc_code`, `securityCodeNumber`): the value's own field. Among
/// [`FILLER_WORDS`], so the fast reject on a key's last byte lets them through.
pub(super) const CHILD_WORDS: [&[u8]; 5] = [b"value", b"code", b"number", b"num", b"no"];

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
pub(super) const fn pack(k: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < k.len() && i < 8 {
        v |= (k[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

/// [`pack`] for a key that fits, `None` for a longer one.
pub(super) fn packed(k: &[u8]) -> Option<u64> {
    (k.len() <= 8).then(|| pack(k))
}

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
/// shifted for short keys), because a byte copy compiles to `memset` and `memcpy` calls that
/// cost more than the lookup.
#[inline]
pub(super) fn head16(k: &[u8]) -> u128 {
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
pub(super) fn normalize(raw: &[u8], out: &mut [u8; MAX_KEY]) -> Option<usize> {
    normalize_segments(raw, out).map(|(n, _)| n)
}

/// [`normalize`], and the segment starts: bit `k` set iff a `_` or `-` was dropped right
/// before `out[k]` (for [`CvvKeys::contains_tail`]).
pub(super) fn normalize_segments(raw: &[u8], out: &mut [u8; MAX_KEY]) -> Option<(usize, Segments)> {
    let mut n = 0;
    let mut starts: Segments = 0;
    for &b in raw {
        if b == b'_' || b == b'-' {
            starts |= 1 << n;
            continue;
        }
        if !is_alnum(b) || n == MAX_KEY {
            return None;
        }
        out[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some((n, starts))
}

/// Where the segments of a normalised key start, one bit per byte (see [`normalize_segments`]);
/// [`MAX_KEY`] is below 64.
pub(super) type Segments = u64;
const _: () = assert!(MAX_KEY < 64);

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
        debug_assert!(entries.iter().all(|(_, k)| {
            (1..=MAX_KEY).contains(&k.len())
                && k.iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }));
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
        // An empty slot is left: every probe ends.
        debug_assert!(size.is_power_of_two() && size > entries.len());
        let mut last = [0u64; 4];
        for k in entries.iter().map(|(_, k)| &k[..]).chain(FILLER_WORDS) {
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
    pub(super) fn may_end_key(&self, b: u8) -> bool {
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

    pub(super) fn contains_norm(&self, norm: &[u8]) -> bool {
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
    pub(super) fn contains_head(&self, head: u128, len: usize) -> bool {
        debug_assert!(len <= 16);
        self.probe(head, len, |_| true)
    }

    /// Whether the normalised `norm` is a configured key followed by a child word (`value`,
    /// `code`, `number`, `num`, `no`): `cvvValue`, `security_code_value`, `csc_code`. The key
    /// before it is whole, so `cvvResultCode` (`cvvresult` + `code`) stays no key.
    #[inline]
    pub(super) fn contains_with_child(&self, norm: &[u8]) -> bool {
        // Every child word ends in `e`, `r`, `m` or `o`: most keys are judged on one byte.
        if !matches!(norm.last(), Some(b'e' | b'r' | b'm' | b'o')) {
            return false;
        }
        CHILD_WORDS.iter().any(|w| {
            norm.len() > w.len() + 1
                && norm.ends_with(w)
                && self.contains_norm(&norm[..norm.len() - w.len()])
        })
    }

    /// Whether a tail of the normalised `norm` that starts a segment (`starts`, from
    /// [`normalize_segments`]) is a configured key, alone or with a child word: a name joined
    /// with `_` or `-` names the code when its last segments do (`rid-8841-cvv`,
    /// `billing_cvc`, `wc-stripe-card-cvc`), as the last segment of `card.cvv` or `card[cvc]`
    /// does. Longest tail first; `cvv2_result` and `vpc_CSCResultCode` end in no key.
    pub(super) fn contains_tail(&self, norm: &[u8], starts: Segments) -> bool {
        let mut s = starts & !1;
        while s != 0 {
            let k = s.trailing_zeros() as usize;
            s &= s - 1;
            match norm.get(k..) {
                Some(tail) if !tail.is_empty() => {
                    if self.contains_norm(tail) || self.contains_with_child(tail) {
                        return true;
                    }
                }
                _ => return false,
            }
        }
        false
    }

    /// Whether `key` (any spelling) is a configured security-code key.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        let mut buf = [0u8; MAX_KEY];
        normalize(key.as_bytes(), &mut buf).is_some_and(|n| self.contains_norm(&buf[..n]))
    }
}
