#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! gRPC framing and compressed bodies, end to end through the public API.

use std::io::Write;
use std::sync::Arc;

use pci_guard_core::redact::{Decoder, GrpcRedactor, RedactError, RedactOptions, Redactor};

fn opts() -> Arc<RedactOptions> {
    Arc::new(RedactOptions::default())
}

/// A protobuf message with string fields (field numbers from 1).
fn proto_strings(fields: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::new();
    for (n, f) in fields.iter().enumerate() {
        m.push((((n + 1) as u8) << 3) | 2);
        let mut len = f.len();
        loop {
            let b = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                m.push(b);
                break;
            }
            m.push(b | 0x80);
        }
        m.extend_from_slice(f);
    }
    m
}

fn frame(flags: u8, msg: &[u8]) -> Vec<u8> {
    let mut v = vec![flags];
    v.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    v.extend_from_slice(msg);
    v
}

fn run(input: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, GrpcRedactor), RedactError> {
    let mut g = GrpcRedactor::new(opts());
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        g.feed(&input[prev..c], &mut out)?;
        if g.at_boundary() {
            assert_eq!(g.held(), 0, "held bytes at a message boundary");
            assert_eq!(out.len(), c, "everything emitted at a boundary");
        }
        prev = c;
    }
    g.finish(&mut out)?;
    Ok((out, g))
}

fn stream() -> (Vec<u8>, Vec<Vec<u8>>) {
    let cvv_note = b"{\"cvv\":\"123\"}".to_vec();
    // 53-byte field: its length prefix is '5' (0x35), glued to the card's first digit.
    let mut long = b"4111111111111111".to_vec();
    long.extend(std::iter::repeat_n(b' ', 53 - 16));
    let msgs = vec![
        proto_strings(&[b"cus_1", b"4111111111111111", b"12/29"]),
        proto_strings(&[b"5555 5555 5555 4444", &cvv_note]),
        proto_strings(&[&long]),
        Vec::new(),
        proto_strings(&[b"no card here 1748503543012"]),
    ];
    let mut body = Vec::new();
    for m in &msgs {
        body.extend_from_slice(&frame(0, m));
    }
    (body, msgs)
}

#[test]
fn masks_inside_messages_and_keeps_framing() {
    let (body, msgs) = stream();
    let (out, g) = run(&body, &[]).unwrap();
    assert_eq!(out.len(), body.len());
    assert_eq!(g.messages(), msgs.len() as u64);
    let s = String::from_utf8_lossy(&out);
    assert!(
        !s.contains("4111111111111111") && !s.contains("5555 5555 5555 4444"),
        "{s}"
    );
    assert!(s.contains("************1111") && s.contains("**** **** **** 4444"));
    assert!(s.contains("{\"cvv\":\"***\"}"));
    assert!(s.contains("1748503543012"));
    let c = g.counts();
    assert_eq!((c.pan, c.cvv), (3, 1));
    // Framing intact: walk the prefixes.
    let mut p = 0;
    let mut n = 0;
    while p < out.len() {
        let len = u32::from_be_bytes([out[p + 1], out[p + 2], out[p + 3], out[p + 4]]) as usize;
        assert_eq!(out[p], 0);
        p += 5 + len;
        n += 1;
    }
    assert_eq!((p, n), (out.len(), msgs.len()));
}

#[test]
fn every_split_point_and_one_byte_chunks() {
    let (body, _) = stream();
    let (whole, _) = run(&body, &[]).unwrap();
    for cut in 0..=body.len() {
        assert!(run(&body, &[cut]).unwrap().0 == whole, "split {cut}");
    }
    let cuts: Vec<usize> = (1..body.len()).collect();
    assert!(run(&body, &cuts).unwrap().0 == whole);
}

#[test]
fn boundaries_hold_nothing_even_with_an_ambiguous_tail() {
    // The message ends in digits that would be ambiguous mid-stream.
    let msg = proto_strings(&[b"order 4111 1111"]);
    let body = frame(0, &msg);
    let mut g = GrpcRedactor::new(opts());
    let mut out = Vec::new();
    g.feed(&body, &mut out).unwrap();
    assert!(g.at_boundary());
    assert_eq!(g.held(), 0);
    assert_eq!(out.len(), body.len());
}

#[test]
fn fail_closed() {
    let msg = proto_strings(&[b"4111111111111111"]);
    let e = run(&frame(1, &msg), &[]).unwrap_err();
    assert_eq!(e, RedactError::GrpcCompressed);
    assert!(e.to_string().contains("compressed"));
    assert!(!e.to_string().contains("4111"));
    assert!(matches!(
        run(&frame(0x02, &msg), &[]).unwrap_err(),
        RedactError::GrpcBadFlags { flags: 2 }
    ));
    let f = frame(0, &msg);
    assert!(matches!(
        run(&f[..f.len() - 3], &[]).unwrap_err(),
        RedactError::GrpcTruncated { missing: 3 }
    ));
    assert!(matches!(
        run(&f[..2], &[]).unwrap_err(),
        RedactError::GrpcTruncated { missing: 3 }
    ));
    // After an error, every call fails.
    let mut g = GrpcRedactor::new(opts());
    let mut out = Vec::new();
    assert!(g.feed(&frame(1, &msg), &mut out).is_err());
    assert!(g.feed(&f, &mut out).is_err());
    assert!(out.is_empty(), "nothing of a refused message is emitted");
}

#[test]
fn gzip_json_decoded_then_redacted_in_chunks() {
    let json = br#"{"card":{"number":"4111111111111111","cvv":"123"},"id":"ord_1748503543012"}"#
        .repeat(200);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&json).unwrap();
    let gz = enc.finish().unwrap();
    for chunk in [1usize, 13, 512, 1 << 16] {
        let mut d = Decoder::from_content_encoding(Some("gzip")).unwrap();
        let mut r = Redactor::new(opts());
        let (mut plain, mut out) = (Vec::new(), Vec::new());
        for c in gz.chunks(chunk) {
            plain.clear();
            d.feed(c, &mut plain).unwrap();
            r.feed(&plain, &mut out);
        }
        plain.clear();
        d.finish(&mut plain).unwrap();
        r.feed(&plain, &mut out);
        r.finish(&mut out);
        assert_eq!(out.len(), json.len());
        assert_eq!(r.counts().pan, 200);
        assert_eq!(r.counts().cvv, 200);
        assert!(!String::from_utf8_lossy(&out).contains("4111111111111111"));
    }
    assert!(matches!(
        Decoder::from_content_encoding(Some("br")).unwrap_err(),
        RedactError::UnsupportedEncoding { .. }
    ));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary message bytes (cards sprinkled in), arbitrary cuts: same output, framing
        /// intact, nothing held at message boundaries, length preserved.
        #[test]
        fn grpc_chunking_invariant(
            msgs in prop::collection::vec(
                prop::collection::vec(prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..20),
                    Just(b"4111111111111111".to_vec()),
                    Just(b"5".to_vec()),
                    Just(b"\x0a\x10".to_vec()),
                ], 0..6).prop_map(|parts| parts.concat()),
                1..6,
            ),
            cuts in prop::collection::vec(0usize..400, 0..6),
        ) {
            let mut body = Vec::new();
            for m in &msgs {
                body.extend_from_slice(&frame(0, m));
            }
            let (whole, _) = run(&body, &[]).unwrap();
            prop_assert_eq!(whole.len(), body.len());
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.sort_unstable();
            let (split, _) = run(&body, &cuts).unwrap();
            prop_assert_eq!(split, whole.clone());
            let one: Vec<usize> = (1..body.len()).collect();
            prop_assert_eq!(run(&body, &one).unwrap().0, whole);
        }
    }
}

/// Regression (found by `envoy/tests/faults.rs`, chunks of 2, 5, 11 bytes through Envoy): a
/// chunk ending inside a 5-byte prefix kept those bytes without counting them in `held()`, so
/// the glue's "bytes in = bytes out + held" check failed on a later chunk and the stream was
/// reset (closed, but a valid response refused).
#[test]
fn held_counts_a_partial_prefix_so_in_equals_out_plus_held_after_every_chunk() {
    let (input, _) = stream();
    for sizes in [vec![2usize, 5, 11], vec![1], vec![3], vec![4, 9]] {
        let mut g = GrpcRedactor::new(opts());
        let (mut fed, mut out, mut rest) = (0usize, Vec::new(), &input[..]);
        for n in sizes.iter().copied().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(n.min(rest.len()));
            g.feed(piece, &mut out).unwrap();
            fed += piece.len();
            assert_eq!(
                fed,
                out.len() + g.held(),
                "chunks {sizes:?}, after {fed} bytes"
            );
            rest = tail;
        }
        g.finish(&mut out).unwrap();
        assert_eq!(out.len(), input.len());
    }
}
