//! Decoding compressed response bodies (`content-encoding`) so they can be scanned.
//!
//! Compression hides card numbers from a byte scanner, so a compressed body is either decoded
//! or refused (the glue answers 502 for [`RedactError::UnsupportedEncoding`]). Supported:
//! - `gzip` / `x-gzip`: multi-member gzip, CRC and length checked at the end;
//! - `deflate`: as HTTP defines it (zlib, RFC 1950), also raw deflate (RFC 1951), which some
//!   servers send; told apart by the zlib header check in the first two bytes;
//! - `identity` or no header: bytes pass through.
//!
//! Everything is pure Rust (`flate2` with the `miniz_oxide` backend) and streaming: `feed`
//! returns what each chunk decodes to, no internal buffering beyond the inflater's window.
//!
//! Bounds. A few hundred KiB of gzip can decode to hundreds of MiB, and the VM keeps whatever
//! memory a chunk's output once took (wasm memory never shrinks), so the input is decoded
//! [`SLICE`] bytes at a time and two bounds are checked after every slice:
//! 1. per stream: at most [`MAX_RATIO`] decoded bytes per compressed byte so far, plus
//!    [`RATIO_SLACK`]; a bomb fails this within a few slices, after about `RATIO_SLACK` of
//!    output, however large the chunk that carries it;
//! 2. per chunk: at most [`MAX_DECODED_PER_FEED`] bytes from one `feed`, which bounds memory
//!    even for a stream that earned ratio credit with incompressible bytes first.
//!
//! Output past a bound is never appended: `feed` fails with [`RedactError::CorruptBody`] and
//! the glue refuses the body (fail closed). The trade-off: a legitimate response of which one
//! chunk decodes to more than `MAX_DECODED_PER_FEED`, or which compresses better than
//! `MAX_RATIO`:1 beyond its first `RATIO_SLACK`, is refused too.

use std::io::Write;

use flate2::write::MultiGzDecoder;
use flate2::{Decompress, FlushDecompress, Status};

use crate::redact::RedactError;

/// Most bytes one `feed` may decode to: the glue holds a chunk's decoded bytes and their
/// masked copy at once. Envoy hands the filter up to about 1 MiB of compressed body per
/// callback, so a lower bound would refuse large bodies that compress 20:1 or better.
pub const MAX_DECODED_PER_FEED: usize = 32 * 1024 * 1024;
/// Most decoded bytes per compressed byte over a stream (JSON and text compress 5–20×,
/// deflate at best about 1032×).
pub const MAX_RATIO: u64 = 128;
/// Decoded bytes a stream may have beyond `MAX_RATIO` × its compressed bytes.
pub const RATIO_SLACK: u64 = 1024 * 1024;
/// Compressed bytes decoded between two checks of the bounds. At deflate's best ratio a slice
/// decodes to about 1 MiB: the most a bound is overshot by before the output is dropped.
pub const SLICE: usize = 1024;

/// Bytes in and out of one stream so far.
#[derive(Debug, Default)]
struct Budget {
    consumed: u64,
    produced: u64,
}

impl Budget {
    /// Accounts for one slice: `consumed` compressed bytes that decoded to `more`, after
    /// `in_feed` bytes this `feed` already produced. Fails past either bound.
    fn take(
        &mut self,
        coding: &'static str,
        consumed: usize,
        more: usize,
        in_feed: usize,
    ) -> Result<(), RedactError> {
        self.consumed += consumed as u64;
        let produced = self.produced + more as u64;
        let allowed = self
            .consumed
            .saturating_mul(MAX_RATIO)
            .saturating_add(RATIO_SLACK);
        let detail = if produced > allowed {
            format!(
                "decodes to more than {MAX_RATIO} times its compressed size (compression bomb?)"
            )
        } else if in_feed + more > MAX_DECODED_PER_FEED {
            format!("decodes to more than {MAX_DECODED_PER_FEED} bytes in one chunk (compression bomb?)")
        } else {
            self.produced = produced;
            return Ok(());
        };
        Err(RedactError::CorruptBody { coding, detail })
    }
}

/// A `content-encoding` pci-guard can handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// No encoding.
    Identity,
    /// gzip.
    Gzip,
    /// deflate (zlib or raw).
    Deflate,
}

impl Encoding {
    /// Reads a `content-encoding` header value.
    ///
    /// # Errors
    /// [`RedactError::UnsupportedEncoding`] for `br`, `zstd`, `compress`, a list of several
    /// codings, or anything unknown.
    pub fn from_header(value: Option<&str>) -> Result<Encoding, RedactError> {
        let v = value.unwrap_or("").trim().to_ascii_lowercase();
        match v.as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            _ => Err(RedactError::UnsupportedEncoding { coding: v }),
        }
    }
}

enum Inner {
    Identity,
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
    /// deflate, first bytes not yet seen.
    Sniff(Vec<u8>),
    Inflate {
        d: Box<Decompress>,
        done: bool,
    },
    Failed,
}

/// A streaming decoder for one body.
pub struct Decoder {
    inner: Inner,
    budget: Budget,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            Inner::Identity => "identity",
            Inner::Gzip(_) => "gzip",
            Inner::Sniff(_) | Inner::Inflate { .. } => "deflate",
            Inner::Failed => "failed",
        };
        f.debug_struct("Decoder").field("kind", &kind).finish()
    }
}

fn corrupt(coding: &'static str, e: &dyn std::fmt::Display) -> RedactError {
    RedactError::CorruptBody {
        coding,
        detail: e.to_string(),
    }
}

impl Decoder {
    /// A decoder for `enc`.
    #[must_use]
    pub fn new(enc: Encoding) -> Self {
        let inner = match enc {
            Encoding::Identity => Inner::Identity,
            Encoding::Gzip => Inner::Gzip(Box::new(MultiGzDecoder::new(Vec::new()))),
            Encoding::Deflate => Inner::Sniff(Vec::with_capacity(2)),
        };
        Decoder {
            inner,
            budget: Budget::default(),
        }
    }

    /// A decoder for a `content-encoding` header value.
    ///
    /// # Errors
    /// As [`Encoding::from_header`].
    pub fn from_content_encoding(value: Option<&str>) -> Result<Self, RedactError> {
        Ok(Decoder::new(Encoding::from_header(value)?))
    }

    /// Decodes `input`, appending the decoded bytes to `out`.
    ///
    /// # Errors
    /// [`RedactError::CorruptBody`]; after an error every call fails the same way.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        let r = self.feed_inner(input, out);
        if r.is_err() {
            self.inner = Inner::Failed;
        }
        r
    }

    fn feed_inner(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        match &mut self.inner {
            Inner::Identity => {
                out.extend_from_slice(input);
                Ok(())
            }
            Inner::Failed => Err(RedactError::CorruptBody {
                coding: "deflate",
                detail: "earlier error".into(),
            }),
            Inner::Gzip(g) => {
                let start = out.len();
                for slice in input.chunks(SLICE) {
                    g.write_all(slice).map_err(|e| corrupt("gzip", &e))?;
                    // The slice's output waits in the decoder's own buffer until it is allowed.
                    let more = g.get_ref().len();
                    self.budget
                        .take("gzip", slice.len(), more, out.len() - start)?;
                    out.append(g.get_mut());
                }
                // flate2's writer keeps the last write's output in a buffer of its own until
                // the next write: flushed, every decoded byte is scanned with the chunk that
                // brought it (a stream that ends in trailers has no later write).
                g.flush().map_err(|e| corrupt("gzip", &e))?;
                let more = g.get_ref().len();
                self.budget.take("gzip", 0, more, out.len() - start)?;
                out.append(g.get_mut());
                Ok(())
            }
            Inner::Sniff(first) => {
                let take = (2 - first.len()).min(input.len());
                first.extend_from_slice(&input[..take]);
                if first.len() < 2 {
                    return Ok(());
                }
                let (b0, b1) = (first[0], first[1]);
                let zlib = b0 & 0x0f == 8
                    && b0 >> 4 <= 7
                    && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0;
                let head = [b0, b1];
                self.inner = Inner::Inflate {
                    d: Box::new(Decompress::new(zlib)),
                    done: false,
                };
                self.feed_inner(&head, out)?;
                self.feed_inner(&input[take..], out)
            }
            Inner::Inflate { d, done } => {
                let start = out.len();
                for slice in input.chunks(SLICE) {
                    let before = out.len();
                    inflate(d, done, slice, out, FlushDecompress::None)?;
                    let more = out.len() - before;
                    let taken = self
                        .budget
                        .take("deflate", slice.len(), more, before - start);
                    if let Err(e) = taken {
                        out.truncate(before);
                        return Err(e);
                    }
                }
                Ok(())
            }
        }
    }

    /// End of the body: flushes and checks the compressed stream ended properly.
    ///
    /// # Errors
    /// [`RedactError::TruncatedBody`] or [`RedactError::CorruptBody`].
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        let r = match &mut self.inner {
            Inner::Identity => Ok(()),
            Inner::Failed => Err(RedactError::CorruptBody {
                coding: "deflate",
                detail: "earlier error".into(),
            }),
            Inner::Gzip(g) => {
                let r = g
                    .try_finish()
                    .map_err(|_| RedactError::TruncatedBody { coding: "gzip" });
                out.append(g.get_mut());
                r
            }
            Inner::Sniff(first) => {
                if first.is_empty() {
                    Ok(())
                } else {
                    Err(RedactError::TruncatedBody { coding: "deflate" })
                }
            }
            Inner::Inflate { d, done } => {
                if *done {
                    Ok(())
                } else {
                    inflate(d, done, &[], out, FlushDecompress::Finish)?;
                    if *done {
                        Ok(())
                    } else {
                        Err(RedactError::TruncatedBody { coding: "deflate" })
                    }
                }
            }
        };
        if r.is_err() {
            self.inner = Inner::Failed;
        }
        r
    }
}

fn inflate(
    d: &mut Decompress,
    done: &mut bool,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushDecompress,
) -> Result<(), RedactError> {
    if *done {
        return if input.is_empty() {
            Ok(())
        } else {
            Err(RedactError::CorruptBody {
                coding: "deflate",
                detail: "data after the end of the stream".into(),
            })
        };
    }
    loop {
        if out.capacity() - out.len() < 16 * 1024 {
            out.reserve(64 * 1024);
        }
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(input, out, flush)
            .map_err(|e| corrupt("deflate", &e))?;
        let consumed = (d.total_in() - in0) as usize;
        let produced = d.total_out() - out0;
        input = &input[consumed..];
        if status == Status::StreamEnd {
            *done = true;
            if !input.is_empty() {
                return Err(RedactError::CorruptBody {
                    coding: "deflate",
                    detail: "data after the end of the stream".into(),
                });
            }
            return Ok(());
        }
        let out_full = out.len() == out.capacity();
        if (input.is_empty() && !out_full) || (consumed == 0 && produced == 0 && !out_full) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
