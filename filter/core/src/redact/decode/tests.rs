//! The decoder: every coding and chunking, and the bounds that refuse compression bombs.

mod bombs {
    use super::super::*;

    use flate2::Compression;

    fn gzip(level: Compression, parts: &[&[u8]]) -> Vec<u8> {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), level);
        for p in parts {
            z.write_all(p).unwrap();
        }
        z.finish().unwrap()
    }

    fn zlib(level: Compression, parts: &[&[u8]]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), level);
        for p in parts {
            z.write_all(p).unwrap();
        }
        z.finish().unwrap()
    }

    /// `mib` MiB of '0' (deflate's best case, about 1032:1).
    fn zeros(mib: usize) -> Vec<u8> {
        vec![b'0'; mib << 20]
    }

    /// Bytes that do not compress (xorshift).
    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Feeds `compressed` in `chunk`-byte pieces; the first error and all output so far.
    fn run(enc: Encoding, compressed: &[u8], chunk: usize) -> (Result<(), RedactError>, usize) {
        let mut d = Decoder::new(enc);
        let mut out = Vec::new();
        let mut total = 0;
        for c in compressed.chunks(chunk) {
            let r = d.feed(c, &mut out);
            total += out.len();
            out.clear();
            if r.is_err() {
                // Sticky: nothing more comes out.
                assert!(d.feed(b"x", &mut out).is_err() && out.is_empty());
                return (r, total);
            }
        }
        let r = d.finish(&mut out);
        (r, total + out.len())
    }

    #[test]
    fn a_bomb_is_refused_after_little_output_however_it_is_chunked() {
        let z = zeros(16);
        for (enc, bomb) in [
            (Encoding::Gzip, gzip(Compression::best(), &[&z])),
            (Encoding::Deflate, zlib(Compression::best(), &[&z])),
        ] {
            for chunk in [bomb.len(), 64 * 1024, 1500, 100] {
                let (r, out) = run(enc, &bomb, chunk);
                let e = r.unwrap_err();
                assert!(
                    e.to_string().contains("times its compressed size"),
                    "{enc:?} in {chunk}-byte chunks: {e}"
                );
                // About RATIO_SLACK, never the chunk's 16 MiB.
                assert!(
                    out <= 2 * RATIO_SLACK as usize,
                    "{enc:?} in {chunk}-byte chunks: {out} bytes decoded before the refusal"
                );
            }
        }
    }

    #[test]
    fn ratio_credit_buys_at_most_one_chunk_bound() {
        // Incompressible bytes first earn the stream credit for 128× their size; the bomb
        // that follows is stopped by the per-chunk bound instead.
        let (n, z) = (noise(1 << 20), zeros(34));
        for (enc, body) in [
            (Encoding::Gzip, gzip(Compression::fast(), &[&n, &z])),
            (Encoding::Deflate, zlib(Compression::fast(), &[&n, &z])),
        ] {
            let mut d = Decoder::new(enc);
            let mut out = Vec::new();
            let e = d.feed(&body, &mut out).unwrap_err();
            assert!(e.to_string().contains("in one chunk"), "{enc:?}: {e}");
            assert!(out.len() <= MAX_DECODED_PER_FEED, "{enc:?}: {}", out.len());
        }
    }

    /// JSON records with `pad` spaces of padding each: pad 0 compresses ~5×, 1000 ~75×.
    fn records(pad: usize) -> Vec<u8> {
        let mut json = Vec::new();
        let mut i = 0u64;
        while json.len() < 4 << 20 {
            json.extend_from_slice(
                format!(
                    "{{\"id\":\"c_{i}\",\"amount\":{},\"note\":\"order {}{}\"}},\n",
                    i * 37 % 10_007,
                    i * 7919,
                    " ".repeat(pad)
                )
                .as_bytes(),
            );
            i += 1;
        }
        json
    }

    #[test]
    fn ordinary_and_highly_compressible_bodies_pass_in_any_chunking() {
        for (pad, least_ratio) in [(0, 4), (1000, 60)] {
            let json = records(pad);
            for (enc, z) in [
                (Encoding::Gzip, gzip(Compression::default(), &[&json])),
                (Encoding::Deflate, zlib(Compression::default(), &[&json])),
            ] {
                let ratio = json.len() / z.len();
                assert!(
                    (least_ratio..MAX_RATIO as usize).contains(&ratio),
                    "pad {pad}: ratio {ratio}"
                );
                // One chunk (4 MiB decoded at once), and small chunks.
                for chunk in [z.len(), 700] {
                    let mut d = Decoder::new(enc);
                    let mut out = Vec::new();
                    for c in z.chunks(chunk) {
                        d.feed(c, &mut out).unwrap();
                    }
                    d.finish(&mut out).unwrap();
                    assert!(out == json, "pad {pad}, {enc:?}, {chunk}-byte chunks");
                }
            }
        }
    }
}

mod codings {
    use super::super::*;
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
