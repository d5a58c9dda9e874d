//! `pci-guard redact`: stdin to stdout with card data masked by the filter's engine. Output has
//! the input's length and does not depend on how stdin arrives; a summary of counts (never
//! values) goes to stderr; exit 0 when masked or passed, 1 when the body cannot be handled,
//! 2 for a bad policy or bad arguments.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::redact::{redact_stream, GrpcRedactor, Keep, RedactOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn bodies(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/bodies")
        .join(name)
}

/// What the command did: exit code, stdout, stderr.
struct Run {
    code: i32,
    out: Vec<u8>,
    err: String,
}

/// Runs `pci-guard redact ARGS`, writing `input` to its stdin in pieces of the given sizes
/// (cycled; empty: one write), each flushed and followed by a short pause so the command
/// reads them separately.
fn redact(args: &[&str], input: &[u8], pieces: &[usize]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .arg("redact")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (input, pieces) = (input.to_vec(), pieces.to_vec());
    let writer = std::thread::spawn(move || {
        if pieces.is_empty() {
            // The command may exit early (bad policy): a broken pipe is its answer, not ours.
            let _ = stdin.write_all(&input);
            return;
        }
        let mut rest = &input[..];
        for n in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*n).clamp(1, rest.len()));
            if stdin.write_all(piece).and_then(|()| stdin.flush()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
            rest = tail;
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        code: out.status.code().unwrap(),
        out: out.stdout,
        err: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn library(body: &[u8], opts: RedactOptions) -> Vec<u8> {
    let mut out = Vec::new();
    redact_stream(Arc::new(opts), body, &mut out).unwrap();
    out
}

#[test]
fn fixtures_come_out_as_the_filter_masks_them_with_counts_on_stderr() {
    for (name, ct) in [
        ("cards.json", "application/json"),
        ("cards.xml", "application/xml"),
        ("form.txt", "text/plain"),
        ("text.txt", "text/plain"),
        ("traps.json", "application/json"),
    ] {
        let input = std::fs::read(bodies(name)).unwrap();
        let want = std::fs::read(bodies(&format!("{name}.expected"))).unwrap();
        let r = redact(&["--content-type", ct], &input, &[]);
        assert_eq!(r.code, 0, "{name}: {}", r.err);
        assert_eq!(r.out.len(), input.len(), "{name}: the length is kept");
        assert_eq!(
            String::from_utf8_lossy(&r.out),
            String::from_utf8_lossy(&want),
            "{name}"
        );
        assert!(
            r.err.starts_with("masked: ") && r.err.contains(" PAN, ") && r.err.contains(" CVV, "),
            "{name}: {}",
            r.err
        );
    }
    // The summary counts; it never repeats a value.
    let input = std::fs::read(bodies("cards.json")).unwrap();
    let r = redact(&["--content-type", "application/json"], &input, &[]);
    let line = r.err.trim();
    let pan: u64 = line["masked: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pan >= 10, "{line}");
    assert!(!r.err.contains("4111"), "{line}");
}

#[test]
fn output_does_not_depend_on_how_stdin_arrives() {
    // Cards cut at every kind of place by small reads, and a body much larger than the
    // command's read buffer with cards across its boundaries.
    let small = std::fs::read(bodies("cards.json")).unwrap();
    let mut large = Vec::new();
    while large.len() < 3 << 20 {
        large.extend_from_slice(b"{\"n\":\"4111 1111 1111 1111\",\"cvv\":\"123\",\"t\":\"x\"},\n");
    }
    for (name, body, pieces) in [
        ("small", &small, vec![1]),
        ("small", &small, vec![7, 3, 64, 1, 250]),
        ("large", &large, vec![65_537, 4093]),
    ] {
        let want = library(body, RedactOptions::default());
        let r = redact(&["--content-type", "application/json"], body, &pieces);
        assert_eq!(r.code, 0, "{name} in {pieces:?}: {}", r.err);
        assert!(
            r.out == want,
            "{name} in pieces of {pieces:?}: output differs"
        );
    }
}

/// gRPC framing: 5-byte prefix, then the message.
fn frame(messages: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.push(0);
        out.extend_from_slice(&(m.len() as u32).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

#[test]
fn grpc_bodies_are_masked_inside_each_message_and_broken_framing_fails() {
    let body = frame(&[
        b"\x0a\x104111111111111111",
        b"\x12\x13card 5555555555554444",
    ]);
    let mut want = Vec::new();
    let mut g = GrpcRedactor::new(Arc::new(RedactOptions::default()));
    g.feed(&body, &mut want).unwrap();
    g.finish(&mut want).unwrap();
    assert_ne!(want, body);
    for pieces in [vec![], vec![1], vec![3, 9]] {
        let r = redact(&["--content-type", "application/grpc"], &body, &pieces);
        assert_eq!(r.code, 0, "{pieces:?}: {}", r.err);
        assert_eq!(r.out, want, "{pieces:?}");
    }
    // A message cut short: the filter refuses such a body, the command says so and fails.
    let cut = &body[..body.len() - 4];
    let r = redact(&["--content-type", "application/grpc"], cut, &[]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.err.starts_with("error: "), "{}", r.err);
    assert!(!String::from_utf8_lossy(&r.out).contains("5555555555554444"));
}

#[test]
fn skipped_types_pass_unchanged_and_unscannable_ones_fail() {
    let png = b"\x89PNG 4111111111111111 cvv=123".to_vec();
    let r = redact(&["--content-type", "image/png"], &png, &[]);
    assert_eq!((r.code, &r.out), (0, &png), "{}", r.err);
    assert!(!r.err.contains("masked"), "nothing was scanned: {}", r.err);
    // Base64 text hides digits: the filter refuses the response, so does the command.
    let r = redact(
        &["--content-type", "application/grpc-web-text"],
        b"AAAAAAoKNDExMTExMTExMTExMTExMQ==",
        &[],
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.trim(),
        "error: application/grpc-web-text: cannot be scanned, the filter refuses such responses"
    );
    assert!(r.out.is_empty());
}

#[test]
fn a_policy_sets_the_masking_and_a_bad_one_stops_with_exit_2() {
    let dir = std::env::temp_dir().join(format!("pci-guard-cli-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        r#"{"version": "v", "routes": [], "redaction": {"pan": {"keep": "first6_last4"}}}"#,
    )
    .unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": "v", "redaction": {"pan": {"keep": "half"}}}"#,
    )
    .unwrap();
    let input = b"card 4111111111111111 on file".to_vec();

    let r = redact(&["--policy", good.to_str().unwrap()], &input, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.out, b"card 411111******1111 on file");
    let opts = RedactOptions {
        keep: Keep::First6Last4,
        ..RedactOptions::default()
    };
    assert_eq!(r.out, library(&input, opts));

    let r = redact(&["--policy", bad.to_str().unwrap()], &input, &[]);
    assert_eq!(r.code, 2);
    assert!(r.out.is_empty(), "nothing is written without a policy");
    assert!(
        r.err.starts_with(&format!("error: {}: ", bad.display()))
            && r.err.contains("/redaction/pan/keep"),
        "the error names the file and the field: {}",
        r.err
    );

    let missing = dir.join("missing.json");
    let r = redact(&["--policy", missing.to_str().unwrap()], &input, &[]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("missing.json"), "{}", r.err);
    std::fs::remove_dir_all(&dir).unwrap();

    let r = redact(&["--no-such-flag"], &input, &[]);
    assert_eq!(r.code, 2, "clap's usage error: {}", r.err);
}
