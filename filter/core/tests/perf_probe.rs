#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Throughput probe robust to a shared, loaded machine: best of many runs.
//! `cargo test --release -p pci-guard-core --test perf_probe -- --ignored --nocapture`

use std::sync::Arc;
use std::time::Instant;

use pci_guard_core::redact::{RedactOptions, Redactor};

mod corpora;

fn body(kind: &str) -> Vec<u8> {
    let mut v = Vec::new();
    let mut i = 0usize;
    while v.len() < 1 << 20 {
        let rec = match kind {
            "clean" => format!(
                "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"customer\":{{\"name\":\"Jane Doe\",\"email\":\"jane{}@example.com\"}},\"status\":\"captured\",\"description\":\"Monthly subscription renewal for the premium plan\"}},\n",
                1_748_503_543_012u64 + i as u64, 1000 + i % 9000, i % 10000, i % 7, i),
            // loadbench's digit-dense 256 MiB body (the one measured through Envoy).
            "bench" => format!(
                "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"status\":\"captured\"}},\n",
                1_748_503_543_012u64 + i as u64, 1000 + i % 9000, i % 10000, i % 7),
            "cards" => format!("{{\"number\":\"{}\",\"cvv\":\"{:03}\",\"exp\":\"12/29\"}},\n",
                ["4111111111111111", "5555 5555 5555 4444", "378282246310005", "6011111111111117"][i % 4], i % 1000),
            "pans" => format!("{{\"number\":\"{}\"}},\n", ["4111111111111111", "378282246310005", "6011111111111117"][i % 3]),
            "grouped" => "{\"number\":\"5555 5555 5555 4444\"},\n".to_owned(),
            "cvvs" => format!("{{\"cvv\":\"{:03}\"}},\n", i % 1000),
            // The criterion bench's text-heavy clean JSON: one short number per ~200 bytes.
            "text" => format!(
                "{{\"customer\":\"Jane Doe\",\"email\":\"jane.doe@example.com\",\"address\":{{\"street\":\"Main Street\",\"city\":\"Springfield\",\"country\":\"US\"}},\"status\":\"captured\",\"note\":\"Thank you for your order, it ships today\",\"qty\":{}}},\n",
                i % 10),
            // The same in Japanese: every 64-byte block holds non-ASCII bytes.
            "cjk" => format!(
                "{{\"customer\":\"山田太郎\",\"address\":\"東京都千代田区丸の内一丁目\",\"status\":\"決済完了\",\"note\":\"ご注文ありがとうございます。本日発送いたします。\",\"qty\":{}}},\n",
                i % 10),
            _ => format!("cardnumber=4111111111111111&cvv={:03}&name=John+Smith&amount={}.00&order=ord_{i}&ref=number%3D5555555555554444%26&", i % 1000, i % 500),
        };
        v.extend_from_slice(rec.as_bytes());
        i += 1;
    }
    v
}

#[test]
#[ignore = "timing probe, run by hand"]
fn probe() {
    let opts = Arc::new(RedactOptions::default());
    let only = std::env::var("PROBE").unwrap_or_default();
    for kind in [
        "clean", "bench", "text", "cjk", "cards", "form", "pans", "grouped", "cvvs",
    ] {
        if !only.is_empty() && only != kind {
            continue;
        }
        let b = body(kind);
        let reps = std::env::var("PROBE_REPS").map_or(60, |r| r.parse().unwrap());
        // Envoy hands a streamed body over in pieces of 16 KiB and more.
        let chunk = std::env::var("PROBE_CHUNK").map_or(64 * 1024, |r| r.parse().unwrap());
        let mut best = f64::MAX;
        for _ in 0..reps {
            // As the filter runs it: each chunk masked in its own buffer (the copy into those
            // buffers is Envoy's, outside the timing).
            let mut chunks: Vec<Vec<u8>> = b.chunks(chunk).map(<[u8]>::to_vec).collect();
            let mut tail = Vec::new();
            let t = Instant::now();
            let mut r = Redactor::new(opts.clone());
            for c in &mut chunks {
                r.feed_in_place(c);
            }
            r.finish(&mut tail);
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(
                chunks.iter().map(Vec::len).sum::<usize>() + tail.len(),
                b.len()
            );
        }
        println!(
            "{kind}: {:.0} MB/s (best of {reps}, {} bytes)",
            b.len() as f64 / best / 1e6,
            b.len()
        );
    }
}

/// The ceiling on this machine: copying the body into the output (which the filter must do)
/// and scanning a digit-free body.
#[test]
#[ignore = "timing probe, run by hand"]
fn ceiling() {
    let opts = Arc::new(RedactOptions::default());
    let text: Vec<u8> =
        b"{\"name\":\"Jane Doe\",\"email\":\"jane@example.com\",\"status\":\"captured\"},\n"
            .iter()
            .copied()
            .cycle()
            .take(1 << 20)
            .collect();
    let mut out = Vec::with_capacity(text.len() + 1024);
    let (mut copy, mut scan) = (f64::MAX, f64::MAX);
    for _ in 0..60 {
        out.clear();
        let t = Instant::now();
        out.extend_from_slice(&text);
        copy = copy.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&out);
        out.clear();
        let t = Instant::now();
        let mut r = Redactor::new(opts.clone());
        for c in text.chunks(64 * 1024) {
            r.feed(c, &mut out);
        }
        r.finish(&mut out);
        scan = scan.min(t.elapsed().as_secs_f64());
    }
    let mb = text.len() as f64 / 1e6;
    println!(
        "memcpy only: {:.0} MB/s; redact digit-free JSON: {:.0} MB/s",
        mb / copy,
        mb / scan
    );
}

/// One request's decision with a token the cache does not hold (3000 distinct tokens through
/// a 256-entry cache), the signature check stubbed to "valid": everything the cold path does
/// in the VM besides the host's RSA. `PROBE=cold`.
#[test]
#[ignore = "timing probe, run by hand"]
fn cold_request() {
    use pci_guard_core::identity::error::CryptoError;
    use pci_guard_core::identity::signature::{HostVerifier, SignatureVerifier};
    use pci_guard_core::identity::Keyring;
    use pci_guard_core::judge::{self, Judged, Request, State};
    use pci_guard_core::policy::Policy;
    use pci_guard_testkit::b64;
    let policy = Policy::parse(include_bytes!("../../../envoy/bench/policy.json")).unwrap();
    let now = 1_800_000_000u64;
    let header = b64(br#"{"alg":"RS256","typ":"JWT","kid":"rsa-2026-a"}"#);
    let sig = b64(&[7u8; 256]);
    let tokens: Vec<String> = (0..3000)
        .map(|i| {
            let claims = format!(
                r#"{{"iss":"https://idp.example.com","sub":"agent-{i}","aud":"payments-api","scope":"cards:read","iat":{},"exp":{},"jti":"jti-{i}-0123456789abcdef"}}"#,
                now - 10,
                now + 3000
            );
            format!("{header}.{}.{sig}", b64(claims.as_bytes()))
        })
        .collect();
    let host =
        HostVerifier::new(|_args: &[u8]| -> Result<Vec<u8>, CryptoError> { Ok(vec![0x08, 0x01]) });
    let mut keyring = Keyring::new(&policy.providers, now * 1000);
    let fixed = [
        (":authority", "payments.test"),
        (":path", "/v1/cards/c_123"),
        (":method", "GET"),
        (":scheme", "http"),
        ("user-agent", "wrk"),
    ];
    let mut headers: Vec<(String, String)> = fixed
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.push(("authorization".into(), String::new()));
    // Its own function, so V8 tiers it up (a wasm function running all along stays in
    // Liftoff).
    #[inline(never)]
    fn one(
        policy: &Policy,
        headers: &[(String, String)],
        now: u64,
        keyring: &mut Keyring,
        host: &dyn SignatureVerifier,
    ) -> bool {
        let state = State {
            policy,
            keyring,
            crypto: host,
            grants: None,
        };
        let req = Request {
            headers,
            route_name: None,
            route_metadata: None,
            source_address: None,
            source_principal: None,
            started_ms: now * 1000,
        };
        match judge::request(Some(state), &req, now * 1000, false) {
            Judged::Done(v) => !v.blocks() && v.caller.is_some_and(|c| !c.from_cache),
            Judged::Wait { .. } | Judged::ReadBody { .. } => false,
        }
    }
    let mut best = f64::MAX;
    for _ in 0..40 {
        let t = Instant::now();
        for tok in &tokens {
            headers[5].1.clear();
            headers[5].1.push_str("Bearer ");
            headers[5].1.push_str(tok);
            assert!(one(&policy, &headers, now, &mut keyring, &host));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "cold decision (signature stubbed): {:.2} µs per request (best of 40 × 3000)",
        best / 3000.0 * 1e6
    );
}

/// The redacted output of every corpus record, the spellings table and the probe's bodies,
/// written to `$DUMP` (one record a line, whole and in 7-byte chunks; the corpus found as
/// `tests/pan_corpus.rs` finds it): two builds' dumps must be byte-identical when a change is
/// meant to be speed only. `DUMP=/tmp/x cargo test
/// --release -p pci-guard-core --test perf_probe -- --ignored dump`.
#[test]
#[ignore = "run by hand"]
fn dump() {
    use pci_guard_core::redact::redact_in_place;
    let Ok(path) = std::env::var("DUMP") else {
        return;
    };
    let opts = Arc::new(RedactOptions::default());
    let mut texts: Vec<Vec<u8>> = Vec::new();
    let dir = corpora::corpus_dir("pan", ".").expect("the PAN corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(t) = v["text"].as_str() {
                texts.push(t.as_bytes().to_vec());
            }
        }
    }
    for c in pci_guard_testkit::spellings::PANS
        .iter()
        .chain(pci_guard_testkit::spellings::CODES)
    {
        texts.push(c.body.as_bytes().to_vec());
    }
    for (a, b) in pci_guard_testkit::spellings::UNCHANGED {
        texts.push(a.as_bytes().to_vec());
        texts.push(b.as_bytes().to_vec());
    }
    for kind in [
        "clean", "bench", "text", "cjk", "cards", "form", "pans", "grouped", "cvvs",
    ] {
        texts.push(body(kind));
    }
    let mut out = Vec::new();
    for t in &texts {
        let mut whole = t.clone();
        redact_in_place(&opts, &mut whole);
        out.extend_from_slice(&whole);
        out.push(b'\n');
        let mut r = Redactor::new(opts.clone());
        for c in t.chunks(7) {
            r.feed(c, &mut out);
        }
        r.finish(&mut out);
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
    println!("{} records", texts.len());
}
