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
//! Decoded output per call is bounded (a small chunk may inflate a lot, and a gzip bomb would
//! otherwise grow the VM's memory by ~1000× the chunk): at most [`MAX_DECODED_PER_FEED`] bytes
//! and at most [`MAX_RATIO`]× the input plus 1 MiB. Past either bound `feed` fails with
//! [`RedactError::CorruptBody`] and the glue refuses the body (fail closed).

use std::io::Write;

use flate2::write::MultiGzDecoder;
use flate2::{Decompress, FlushDecompress, Status};

use crate::redact::RedactError;

/// Most bytes one `feed` may decode to.
pub const MAX_DECODED_PER_FEED: usize = 32 * 1024 * 1024;
/// Most decoded bytes per compressed byte in one `feed` (plus 1 MiB of slack).
pub const MAX_RATIO: usize = 256;

fn bound_for(input_len: usize) -> usize {
    input_len
        .saturating_mul(MAX_RATIO)
        .saturating_add(1024 * 1024)
        .min(MAX_DECODED_PER_FEED)
}

fn too_much(coding: &'static str, bound: usize) -> RedactError {
    RedactError::CorruptBody {
        coding,
        detail: format!("decodes to more than {bound} bytes in one chunk (compression bomb?)"),
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
        Decoder { inner }
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
                // In slices, so a bomb is caught after at most one slice's worth of output.
                let bound = bound_for(input.len());
                let start = out.len();
                for slice in input.chunks(4096) {
                    g.write_all(slice).map_err(|e| corrupt("gzip", &e))?;
                    if out.len() - start + g.get_ref().len() > bound {
                        return Err(too_much("gzip", bound));
                    }
                    out.append(g.get_mut());
                }
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
                let bound = bound_for(input.len());
                let start = out.len();
                for slice in input.chunks(4096) {
                    inflate(d, done, slice, out, FlushDecompress::None)?;
                    if out.len() - start > bound {
                        return Err(too_much("deflate", bound));
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
mod bomb_tests {
    use super::*;

    fn compress_zeros(n: usize, gzip: bool) -> Vec<u8> {
        let zeros = vec![b'0'; 1024 * 1024];
        if gzip {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            for _ in 0..n {
                z.write_all(&zeros).unwrap();
            }
            z.finish().unwrap()
        } else {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            for _ in 0..n {
                z.write_all(&zeros).unwrap();
            }
            z.finish().unwrap()
        }
    }

    #[test]
    fn a_compression_bomb_is_refused_not_inflated() {
        for (enc, gzip) in [(Encoding::Gzip, true), (Encoding::Deflate, false)] {
            let bomb = compress_zeros(40, gzip); // 40 MiB of '0' in ~40 KiB
            let mut d = Decoder::new(enc);
            let mut out = Vec::new();
            let e = d.feed(&bomb, &mut out).unwrap_err();
            assert!(e.to_string().contains("compression bomb"), "{e}");
            assert!(
                out.len() <= MAX_DECODED_PER_FEED + 4096 * 1032,
                "{}",
                out.len()
            );
            // Sticky: nothing more comes out.
            assert!(d.feed(b"x", &mut out).is_err());
        }
    }

    #[test]
    fn ordinary_ratios_pass() {
        // 4 MiB of JSON records (compresses ~20×) fed in 16 KiB compressed chunks.
        let mut json = Vec::new();
        let mut i = 0u64;
        while json.len() < 4 * 1024 * 1024 {
            json.extend_from_slice(
                format!(
                    "{{\"id\":\"c_{i}\",\"amount\":{},\"note\":\"order {}\"}},\n",
                    i * 37 % 10_007,
                    i * 7919
                )
                .as_bytes(),
            );
            i += 1;
        }
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&json).unwrap();
        let z = z.finish().unwrap();
        let mut d = Decoder::new(Encoding::Gzip);
        let mut out = Vec::new();
        for c in z.chunks(16 * 1024) {
            d.feed(c, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        assert_eq!(out, json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    fn body() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..5000 {
            v.extend_from_slice(
                format!("{{\"n\":{i},\"card\":\"4111111111111111\"}}\n").as_bytes(),
            );
        }
        v
    }

    fn roundtrip(enc: Encoding, compressed: &[u8], chunk: usize) -> Result<Vec<u8>, RedactError> {
        let mut d = Decoder::new(enc);
        let mut out = Vec::new();
        for c in compressed.chunks(chunk.max(1)) {
            d.feed(c, &mut out)?;
        }
        d.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn gzip_zlib_raw_any_chunking() {
        let b = body();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&b).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = ZlibEncoder::new(Vec::new(), Compression::default());
        zl.write_all(&b).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&b).unwrap();
        let raw = raw.finish().unwrap();
        for chunk in [1, 7, 1000, 1 << 20] {
            assert_eq!(roundtrip(Encoding::Gzip, &gz, chunk).unwrap(), b);
            assert_eq!(roundtrip(Encoding::Deflate, &zl, chunk).unwrap(), b);
            assert_eq!(roundtrip(Encoding::Deflate, &raw, chunk).unwrap(), b);
        }
        // multi-member gzip
        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        let mut bb = b.clone();
        bb.extend_from_slice(&b);
        assert_eq!(roundtrip(Encoding::Gzip, &two, 4096).unwrap(), bb);
        // truncated
        assert!(roundtrip(Encoding::Gzip, &gz[..gz.len() - 3], 100).is_err());
        assert!(roundtrip(Encoding::Deflate, &zl[..zl.len() / 2], 100).is_err());
        // garbage
        assert!(roundtrip(Encoding::Gzip, b"not gzip at all", 100).is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(Encoding::from_header(None).unwrap(), Encoding::Identity);
        assert_eq!(
            Encoding::from_header(Some(" GZIP ")).unwrap(),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::from_header(Some("deflate")).unwrap(),
            Encoding::Deflate
        );
        for v in ["br", "zstd", "gzip, br", "compress"] {
            let e = Encoding::from_header(Some(v)).unwrap_err();
            assert!(matches!(e, RedactError::UnsupportedEncoding { .. }), "{v}");
        }
    }
}
