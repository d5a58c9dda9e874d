//! Redaction through a real Envoy: card data leaves the proxy masked whatever the framing,
//! chunking, size, encoding or protocol of the response, and byte-identical to
//! `pci-guard redact` (the same engine).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::redact::{redact_stream, RedactOptions};
use pci_guard_e2e::grpc::{GrpcClient, GrpcUpstream};
use pci_guard_e2e::procfs::memory;
use pci_guard_e2e::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

const POLICY: &str = r#"{"version": "redact-e2e", "routes": [{"name": "all", "match": {"path_prefix": "/"}, "auth": "public"}]}"#;

fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = root().join("testdata/bodies");
    (
        std::fs::read(dir.join(name)).unwrap(),
        std::fs::read(dir.join(format!("{name}.expected"))).unwrap(),
    )
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        _ => "text/plain",
    }
}

/// An upstream that answers every request with `reply()`.
fn serving(reply: impl Fn() -> Reply + Send + Sync + 'static) -> Upstream {
    Upstream::start(Arc::new(move |_: &Received| reply()))
}

fn fixtures_come_out_masked_whatever_the_framing(runtime: Runtime, workers: u32) {
    for name in [
        "cards.json",
        "cards.xml",
        "form.txt",
        "text.txt",
        "traps.json",
    ] {
        let (body, expected) = fixture(name);
        for framing in [
            Framing::ContentLength,
            Framing::Chunked(vec![1]),
            Framing::Chunked(vec![7, 3, 64, 1, 250]),
        ] {
            let (b, f) = (body.clone(), framing.clone());
            let ct = content_type(name);
            let up = serving(move || Reply {
                framing: f.clone(),
                ..Reply::with(ct, b.clone())
            });
            let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
                .runtime(runtime)
                .workers(workers)
                .start();
            let r = envoy.send("GET", "/anything", &[], b"");
            assert_eq!(r.status, 200, "{name}");
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                String::from_utf8_lossy(&expected),
                "{name}"
            );
            if matches!(framing, Framing::ContentLength) {
                assert_eq!(
                    r.header("content-length"),
                    Some(body.len().to_string().as_str()),
                    "length is kept"
                );
            }
        }
    }
}

fn audit_counts_what_was_masked_never_the_values(runtime: Runtime, workers: u32) {
    let (body, _) = fixture("cards.json");
    let up = serving(move || Reply::with("application/json", body.clone()));
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    envoy.send("GET", "/v1/cards", &[], b"");
    let line = &envoy.audit_lines(1)[0];
    let e = parse_audit_line(line);
    assert!(e["redaction"]["pan"].as_u64().unwrap() >= 10, "{e}");
    assert!(e["redaction"]["cvv"].as_u64().unwrap() >= 3, "{e}");
    assert!(!line.contains("4111111111111111") && !line.contains("5555 5555 5555 4444"));
}

fn gzip_upstream_is_decoded_masked_and_sent_plain(runtime: Runtime, workers: u32) {
    let (body, expected) = fixture("cards.json");
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&body).unwrap();
    let gz = z.finish().unwrap();
    let up = serving(move || {
        let mut r = Reply {
            framing: Framing::Chunked(vec![100]),
            ..Reply::with("application/json", gz.clone())
        };
        r.headers.push(("content-encoding".into(), "gzip".into()));
        r
    });
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let r = envoy.send("GET", "/v1/cards", &[("accept-encoding", "gzip, br")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(
        up.received()[0].header("accept-encoding"),
        Some("identity"),
        "the upstream is asked for identity"
    );
}

/// A 4 MiB JSON body full of cards, gzipped (about 8:1), decoded and masked whole whether it
/// arrives in one write or in small chunks: the decoder's bounds refuse bombs, not this.
fn four_mib_gzip_json_body_is_decoded_and_masked_whole(runtime: Runtime, workers: u32) {
    let mut json = Vec::new();
    let mut i = 0u64;
    while json.len() < 4 << 20 {
        json.extend_from_slice(
            format!(
                "{{\"id\":\"c_{i}\",\"number\":\"4111 1111 1111 1111\",\"cvv\":\"{:03}\",\"amount\":{}.{:02}}},\n",
                i % 1000,
                i * 37 % 10_007,
                i % 100
            )
            .as_bytes(),
        );
        i += 1;
    }
    let mut want = Vec::new();
    redact_stream(Arc::new(RedactOptions::default()), &json[..], &mut want).unwrap();
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&json).unwrap();
    let gz = z.finish().unwrap();
    eprintln!("{} bytes of JSON in {} bytes of gzip", json.len(), gz.len());
    let up = Upstream::start(Arc::new(move |r: &Received| {
        let framing = match r.path.as_str() {
            "/chunked" => Framing::Chunked(vec![16 * 1024]),
            _ => Framing::ContentLength,
        };
        let mut rep = Reply {
            framing,
            ..Reply::with("application/json", gz.clone())
        };
        rep.headers.push(("content-encoding".into(), "gzip".into()));
        rep
    }));
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    for path in ["/whole", "/chunked"] {
        let r = envoy.send("GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-encoding"), None, "{path}");
        assert_eq!(r.body.len(), want.len(), "{path}");
        assert!(
            r.body == want,
            "{path}: differs from pci-guard redact's output"
        );
    }
    let events = envoy.audit_events(2);
    assert!(
        events
            .iter()
            .all(|e| e["redaction"]["refused"].is_null()
                && e["redaction"]["pan"].as_u64() == Some(i)),
        "{events:#?}"
    );
}

fn undecodable_encoding_is_refused_with_502_and_never_passed_on(runtime: Runtime, workers: u32) {
    let up = serving(|| {
        let mut r = Reply::with(
            "application/json",
            b"{\"pan\":\"4111111111111111\"}".to_vec(),
        );
        r.headers.push(("content-encoding".into(), "br".into()));
        r
    });
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let r = envoy.send("GET", "/v1/cards", &[], b"");
    assert_eq!(r.status, 502);
    assert_eq!(r.header("x-pci-guard-reason"), Some("body_undecodable"));
    assert!(!String::from_utf8_lossy(&r.body).contains("4111111111111111"));
    let e = &envoy.audit_events(1)[0];
    assert_eq!(e["redaction"]["refused"], "body_undecodable");
    assert_eq!(e["response"]["status"], 502);
}

fn skipped_content_types_pass_untouched(runtime: Runtime, workers: u32) {
    let up = serving(|| Reply::with("image/png", b"\x89PNG 4111111111111111".to_vec()));
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let r = envoy.send("GET", "/logo.png", &[], b"");
    assert_eq!(r.body, b"\x89PNG 4111111111111111");
}

fn location_header_is_masked(runtime: Runtime, workers: u32) {
    let up = serving(|| {
        let mut r = Reply {
            status: 302,
            ..Reply::with("text/plain", vec![])
        };
        r.headers
            .push(("location".into(), "/cards?number=4111111111111111".into()));
        r
    });
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let r = envoy.send("GET", "/go", &[], b"");
    assert_eq!(r.header("location"), Some("/cards?number=************1111"));
}

fn upstream_reset_mid_body_leaks_no_clear_card(runtime: Runtime, workers: u32) {
    let mut body = Vec::new();
    for i in 0..2000 {
        body.extend_from_slice(
            format!("{{\"i\":{i},\"pan\":\"4111 1111 1111 1111\"}},\n").as_bytes(),
        );
    }
    let cut = body.len() / 2 + 7; // in the middle of a record
    let up = serving(move || Reply {
        framing: Framing::ResetAfter(cut),
        ..Reply::with("application/json", body.clone())
    });
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let got = match request(envoy.port, "GET", "/stream", &[], b"") {
        Ok(r) => r.body,
        Err(_) => Vec::new(), // reset before or during the body
    };
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text.contains("4111 1111 1111 1111") && !text.contains("4111111111111111"),
        "clear card leaked"
    );
    let e = &envoy.audit_events(1)[0];
    // The client had the 200 and part of the body when the upstream went away: the event
    // says so, and how much of the body was scanned (everything that arrived).
    assert_eq!(e["response"]["status"], 200, "{e}");
    assert!(
        e["response"]["details"]
            .as_str()
            .is_some_and(|d| d.starts_with("upstream_reset_after_response_started")),
        "{e}"
    );
    assert_eq!(e["redaction"]["bytes_scanned"], cut as u64, "{e}");
    assert!(e["redaction"]["refused"].is_null(), "{e}");
}

fn grpc_server_streaming_cards_are_masked_in_every_message(runtime: Runtime, workers: u32) {
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    let cards = GrpcClient::connect(envoy.port, None)
        .list_cards(200)
        .unwrap();
    assert_eq!(cards.len(), 200);
    for c in &cards {
        assert_eq!(c.number, "************1111");
        assert_eq!(c.note, "card **** **** **** 4444 on file");
    }
    let one = GrpcClient::connect(envoy.port, None)
        .get_card("c_9")
        .unwrap();
    assert_eq!(one.number, "************1111");
    let events = envoy.audit_events(2);
    assert!(events.iter().all(|e| e["response"]["grpc_status"] == 0));
    assert_eq!(
        events
            .iter()
            .map(|e| e["redaction"]["pan"].as_u64().unwrap())
            .sum::<u64>(),
        402
    );
}

/// A large JSON body full of cards (`PCI_GUARD_LARGE_MB`, default 256 MiB) and the SHA-256
/// of what `pci-guard redact` makes of it: built once per test process, for both worker
/// counts.
fn large_body() -> &'static (Arc<Vec<u8>>, Vec<u8>) {
    static LARGE: std::sync::OnceLock<(Arc<Vec<u8>>, Vec<u8>)> = std::sync::OnceLock::new();
    LARGE.get_or_init(|| {
        let mb: usize = std::env::var("PCI_GUARD_LARGE_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        let record = b"{\"id\":\"c_000001\",\"number\":\"4111 1111 1111 1111\",\"note\":\"clear text padding clear text padding clear text padding\",\"amount\":1234.56},\n";
        let body: Vec<u8> = record.iter().copied().cycle().take(mb << 20).collect();
        let mut want = Vec::with_capacity(body.len());
        redact_stream(Arc::new(RedactOptions::default()), &body[..], &mut want).unwrap();
        let want_hash = Sha256::digest(&want).to_vec();
        (Arc::new(body), want_hash)
    })
}

fn large_chunked_response_streams_masked_in_flat_memory(runtime: Runtime, workers: u32) {
    let (body, want_hash) = large_body();
    let mb = body.len() >> 20;
    let b = body.clone();
    let up = Upstream::start(Arc::new(move |r: &Received| match r.path.as_str() {
        "/large" => Reply {
            framing: Framing::Chunked(vec![1 << 20]),
            ..Reply::with("application/json", b.to_vec())
        },
        _ => Reply::json("{\"pan\":\"4111111111111111\"}"),
    }));
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .workers(workers)
        .start();
    // Warm up, then measure the peak across the large response.
    envoy.send("GET", "/small", &[], b"");
    let before = memory(envoy.pid()).peak_kib;
    let r = match request(envoy.port, "GET", "/large", &[], b"") {
        Ok(r) => r,
        Err(e) => panic!(
            "large response failed ({e}); Envoy said:\n{}",
            envoy
                .stderr()
                .lines()
                .filter(|l| l.contains("pci-guard")
                    || l.contains("[error]")
                    || l.contains("critical"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let after = memory(envoy.pid()).peak_kib;
    assert_eq!(r.body.len(), body.len());
    assert!(
        Sha256::digest(&r.body)[..] == want_hash[..],
        "Envoy's output differs from pci-guard redact's"
    );
    eprintln!("large response: {mb} MiB; Envoy peak RSS {before} KiB before, {after} KiB after");
    assert!(
        after - before < 64 * 1024,
        "Envoy's memory grew by {} KiB for a {mb} MiB body",
        after - before
    );
}

/// HTTP/2 clients of an HTTP/1.1 upstream (the usual sidecar setup): the filter may keep an
/// ambiguous tail paused in Envoy's buffer (an HTTP/2 stream can end in trailers). A large
/// chunk whose tail the engine had to hold, followed by a small chunk that also ends inside
/// a card number, used to make the paused bytes and the output disagree in length, and the
/// response was reset (`body_scan_failed`). The pieces here force exactly that, repeatedly.
fn http2_response_of_an_http1_upstream_with_held_then_paused_tails_comes_out_whole(
    runtime: Runtime,
    workers: u32,
) {
    let record = b"{\"number\":\"4111 1111 1111 1111\"},\n";
    assert_eq!(record.len(), 34);
    let body: Vec<u8> = record.iter().copied().cycle().take(4 << 20).collect();
    let mut want = Vec::new();
    redact_stream(Arc::new(RedactOptions::default()), &body[..], &mut want).unwrap();
    // A piece over the 64 KiB pause limit ending after `4111` (held in the engine), then one
    // record's worth ending at the same place (small, ambiguous: a pause candidate).
    let pieces = vec![3000 * 34 + 15, 34];
    let b = body.clone();
    let up = serving(move || Reply {
        framing: Framing::Chunked(pieces.clone()),
        ..Reply::with("application/json", b.clone())
    });
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .runtime(runtime)
        .replace(
            "use_downstream_protocol_config:\n          http_protocol_options: {}\n          http2_protocol_options: {}",
            "explicit_http_config:\n          http_protocol_options: {}",
        )
        .workers(workers).start();
    for i in 0..3 {
        let (status, got) = h2_get(envoy.port, &format!("/cards/{i}")).unwrap_or_else(|e| {
            panic!(
                "response {i} failed ({e}); Envoy said:\n{}",
                envoy
                    .stderr()
                    .lines()
                    .filter(|l| l.contains("pci-guard") || l.contains("[error]"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(status, 200);
        assert_eq!(got.len(), want.len(), "response {i} cut short");
        assert!(
            got == want,
            "response {i} differs from pci-guard redact's output"
        );
    }
    let events = envoy.audit_events(3);
    assert!(
        events
            .iter()
            .all(|e| e["redaction"]["refused"].is_null() && e["response"]["status"] == 200),
        "{events:#?}"
    );
}

with_runtimes_and_workers!(
    four_mib_gzip_json_body_is_decoded_and_masked_whole,
    fixtures_come_out_masked_whatever_the_framing,
    audit_counts_what_was_masked_never_the_values,
    gzip_upstream_is_decoded_masked_and_sent_plain,
    undecodable_encoding_is_refused_with_502_and_never_passed_on,
    skipped_content_types_pass_untouched,
    location_header_is_masked,
    upstream_reset_mid_body_leaks_no_clear_card,
    grpc_server_streaming_cards_are_masked_in_every_message,
    large_chunked_response_streams_masked_in_flat_memory,
    http2_response_of_an_http1_upstream_with_held_then_paused_tails_comes_out_whole,
);
