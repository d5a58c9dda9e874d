//! Streaming redaction of card data in response bodies: PANs, CVVs, magnetic-stripe tracks.
//!
//! ```text
//! content-type ─► content_type::classify ─► Pass | Scan | Grpc | Refuse
//! content-encoding ─► decode::Decoder (gzip, deflate; anything else: Unsupported)
//! bytes ─► engine::Redactor (feed/finish) ─► masked bytes, same length
//!          grpc::GrpcRedactor wraps it for length-prefixed gRPC messages
//! ```
//!
//! Modules, each named for what it holds:
//! - [`luhn`]: the check digit; [`brands`]: IIN ranges and lengths;
//! - `scanner`: finding the next digit (SSE2 / wasm `simd128` / portable SWAR) and byte classes;
//! - `window`: look-behind context and look-ahead that says "need more input";
//! - `chars`: what a run of bytes spells, however encoded (raw UTF-8, `%XX`, `=XX`, `\uXXXX`,
//!   entities): digits of every script, spaces, marks, invisible characters;
//! - `pan`: digit groups, separators (whitespace and one mark, in any spelling), card
//!   groupings, boundaries; `number`: a card written in scientific notation;
//! - [`cvv`]: security codes by key; `track`: track 1 and 2 data; [`mask`]: length-preserving masks;
//! - [`engine`]: the push parser; [`grpc`]: gRPC framing; [`decode`]: gzip/deflate;
//!   [`content_type`]: which bodies to scan.
//!
//! What counts as a card, and what deliberately does not (IMEIs, millisecond timestamps,
//! decimals, amounts, dates, versions, addresses, phone numbers, IBAN groups, ids), is written
//! at the top of `pan` and tested against the corpora in `testdata/bodies/`,
//! `filter/testkit/src/spellings.rs` and `../shared/corpora/pan/`; what is out of scope (a
//! card in base64, spelled in escaped digits, split across prose) is in `SECURITY.md`.
//!
//! Nothing in this module ever puts body bytes into an error, a `Debug` output or a log.

pub mod brands;
mod chars;
pub mod content_type;
pub mod cvv;
pub mod decode;
pub mod engine;
pub mod grpc;
pub mod luhn;
pub mod mask;
mod number;
mod pan;
mod scanner;
mod track;
mod window;

use std::io::{self, Read, Write};
use std::sync::Arc;

pub use brands::{Brand, BrandSet};
pub use content_type::{classify, BodyKind, DEFAULT_SKIP_CONTENT_TYPES};
pub use cvv::{CvvKeys, DEFAULT_CVV_KEYS};
pub use decode::{Decoder, Encoding};
pub use engine::{redact_in_place, Redactor, MAX_HELD};
pub use grpc::GrpcRedactor;
pub use mask::Keep;

/// What to redact and how (compiled once from the policy's `redaction` section; share it
/// between streams with an `Arc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactOptions {
    /// Which PAN digits stay readable.
    pub keep: Keep,
    /// The byte written over masked bytes: ASCII, not a digit or letter (see [`RedactOptions::validate`]).
    pub mask_char: u8,
    /// Brands whose PANs are masked (Luhn is always required).
    pub brands: BrandSet,
    /// Keys whose 3–4 digit values are security codes.
    pub cvv_keys: CvvKeys,
    /// Whether track 1 / track 2 data is masked.
    pub track_data: bool,
}

impl Default for RedactOptions {
    /// Last four kept, `*`, all brands, default CVV keys, track data on.
    fn default() -> Self {
        RedactOptions {
            keep: Keep::Last4,
            mask_char: b'*',
            brands: BrandSet::ALL,
            cvv_keys: CvvKeys::default(),
            track_data: true,
        }
    }
}

impl RedactOptions {
    /// Checks the options. A mask character that is a digit, a letter, a separator the
    /// scanner reads in every position (` `, `-`, `+`, `%`, `\`) or not printable ASCII would
    /// break length preservation or idempotence. (The marks read only between digits, `.` `/`
    /// `_` `,`, and `&` `=`, stay allowed: masked digits are never between digits again, and the
    /// equivalence and idempotence tests run every allowed mask character.)
    ///
    /// # Errors
    /// [`RedactError::BadMaskChar`].
    pub fn validate(&self) -> Result<(), RedactError> {
        let c = self.mask_char;
        if !(0x21..=0x7e).contains(&c)
            || c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'+' | b'%' | b'\\')
        {
            return Err(RedactError::BadMaskChar { byte: c });
        }
        Ok(())
    }
}

/// What a redactor did: how many of each thing it masked and how many bytes it read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedactionCounts {
    /// Card numbers masked.
    pub pan: u64,
    /// Security codes masked.
    pub cvv: u64,
    /// Track 1 / track 2 records masked.
    pub track: u64,
    /// Bytes fed to the scanner.
    pub bytes_scanned: u64,
}

impl std::ops::AddAssign for RedactionCounts {
    fn add_assign(&mut self, o: Self) {
        self.pan += o.pan;
        self.cvv += o.cvv;
        self.track += o.track;
        self.bytes_scanned += o.bytes_scanned;
    }
}

/// Everything that can go wrong while redacting. Messages say what to do; none contains
/// body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedactError {
    /// A gRPC message has the compressed flag: its bytes cannot be scanned.
    GrpcCompressed,
    /// A gRPC message prefix has flag bits that are not defined.
    GrpcBadFlags {
        /// The flag byte.
        flags: u8,
    },
    /// The gRPC stream ended inside a message prefix or a message.
    GrpcTruncated {
        /// Bytes still expected.
        missing: u64,
    },
    /// A gRPC stream fed after an earlier error.
    GrpcFailed,
    /// A `content-encoding` pci-guard cannot decode (only gzip and deflate).
    UnsupportedEncoding {
        /// The coding as sent (lowercased, trimmed).
        coding: String,
    },
    /// The compressed body is corrupt.
    CorruptBody {
        /// `gzip` or `deflate`.
        coding: &'static str,
        /// The decoder's message (never body bytes).
        detail: String,
    },
    /// The compressed body ended before its end marker.
    TruncatedBody {
        /// `gzip` or `deflate`.
        coding: &'static str,
    },
    /// A brand name in the policy is unknown.
    UnknownBrand {
        /// The name given.
        name: String,
        /// The names accepted.
        known: String,
    },
    /// A CVV key in the policy is not usable.
    BadCvvKey {
        /// The key given.
        key: String,
    },
    /// The mask character is not usable.
    BadMaskChar {
        /// The byte given.
        byte: u8,
    },
}

impl std::fmt::Display for RedactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedactError::GrpcCompressed => write!(
                f,
                "gRPC message is compressed (grpc-encoding); pci-guard cannot scan it: disable message compression on this route (e.g. have the server ignore grpc-accept-encoding)"
            ),
            RedactError::GrpcBadFlags { flags } => write!(
                f,
                "gRPC message prefix has undefined flags 0x{flags:02x}: the response is not valid gRPC framing"
            ),
            RedactError::GrpcTruncated { missing } => write!(
                f,
                "gRPC response ended inside a message ({missing} bytes missing): the upstream closed the stream early"
            ),
            RedactError::GrpcFailed => write!(f, "gRPC response already failed to scan; the stream must be reset"),
            RedactError::UnsupportedEncoding { coding } => write!(
                f,
                "content-encoding {coding:?} cannot be scanned (pci-guard decodes gzip and deflate only): disable it upstream or strip accept-encoding on this route"
            ),
            RedactError::CorruptBody { coding, detail } => {
                write!(f, "{coding} response body is corrupt ({detail}); refusing to pass it unscanned")
            }
            RedactError::TruncatedBody { coding } => {
                write!(f, "{coding} response body ended before the end of its compressed stream")
            }
            RedactError::UnknownBrand { name, known } => {
                write!(f, "unknown card brand {name:?} in redaction.pan.brands; known brands: all, {known}")
            }
            RedactError::BadCvvKey { key } => write!(
                f,
                "CVV key {key:?} in redaction.cvv.keys is not usable: use 1-48 ASCII letters, digits, '_' or '-'"
            ),
            RedactError::BadMaskChar { byte } => write!(
                f,
                "mask character 0x{byte:02x} is not usable: use one printable ASCII punctuation character such as '*', '#' or '_' (not a letter, digit, space, '-', '+', '%' or '\\')"
            ),
        }
    }
}

impl std::error::Error for RedactError {}

/// Whole-body convenience (the CLI `pci-guard redact`, tests): reads `r` to the end, writes
/// the redacted bytes to `w`. Memory stays bounded (64 KiB reads).
///
/// # Errors
/// I/O errors of `r` or `w`.
pub fn redact_stream(
    opts: Arc<RedactOptions>,
    mut r: impl Read,
    mut w: impl Write,
) -> io::Result<RedactionCounts> {
    let mut red = Redactor::new(opts);
    let mut inbuf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(inbuf.len() + MAX_HELD);
    loop {
        let n = match r.read(&mut inbuf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        red.feed(&inbuf[..n], &mut out);
        w.write_all(&out)?;
    }
    out.clear();
    red.finish(&mut out);
    w.write_all(&out)?;
    w.flush()?;
    Ok(red.counts())
}

/// Redacts a header value (e.g. `location` carrying a card in its query). `Some(masked)` if
/// anything was masked, `None` if the value is clean.
#[must_use]
pub fn redact_header_value(opts: &RedactOptions, value: &str) -> Option<String> {
    // Every match holds at least three digits (a CVV; PANs and track data more): most values
    // (methods, hosts, ids, issuers) are decided here without a copy or a scan. Only ASCII
    // ones are counted, so a value with bytes that are not ASCII (digits of other scripts) is
    // always scanned.
    if value.is_ascii() {
        value.bytes().filter(u8::is_ascii_digit).nth(2)?;
    }
    let mut bytes = value.as_bytes().to_vec();
    let c = redact_in_place(opts, &mut bytes);
    if c.pan + c.cvv + c.track == 0 {
        return None;
    }
    // Only ASCII digits were replaced by an ASCII mask: still UTF-8.
    String::from_utf8(bytes).ok()
}
