//! The soak run (`make soak`, `SOAK_SECONDS`, default 600; ignored by `make test`).
//!
//! wrk (HTTP/1.1) and h2load (HTTP/2 gRPC) drive Envoy with pci-guard for the whole period, with
//! a mix of valid, expired, forged and missing tokens, allowed, blocked and unrouted
//! operations, and JSON, gzip, chunked and gRPC responses full of card numbers. A Rust gRPC
//! client runs beside them and decodes every message it gets. At the end:
//! - zero clear card numbers in anything a client received (wrk scans every body in Lua, the
//!   gRPC client every message; h2load's bodies are not scanned, it only adds load);
//! - zero `[critical]` lines in Envoy's log;
//! - one audit event per request (Envoy's `downstream_rq_total`, which is `downstream_rq_completed`
//!   plus the streams a client reset; h2load resets its in-flight ones at the end), every VM's
//!   hash chain without a gap, and no allow without a verified identity on a protected route;
//! - Envoy's RSS growth after warm-up below 16 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::grpc::{pb, GrpcClient, GrpcUpstream};
use pci_guard_e2e::procfs::memory;
use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use prost::Message;
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bodies full of cards: JSON records in several spellings.
fn cards_json(n: usize) -> Vec<u8> {
    let mut b = b"[".to_vec();
    for i in 0..n {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(
            format!(
                "{{\"id\":\"c_{i}\",\"number\":\"4111111111111111\",\"alt\":\"5555 5555 5555 4444\",\"amex\":\"378282246310005\",\"cvv\":\"123\",\"note\":\"paid with 4111 1111 1111 1111\"}}"
            )
            .as_bytes(),
        );
    }
    b.push(b']');
    b
}

fn upstream() -> Upstream {
    let plain = cards_json(40);
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&plain).unwrap();
    let gz = z.finish().unwrap();
    Upstream::start(Arc::new(move |r: &Received| {
        let q = r.path.split_once('?').map_or("", |(_, q)| q);
        match q {
            "gz" => {
                let mut rep = Reply::with("application/json", gz.clone());
                rep.headers.push(("content-encoding".into(), "gzip".into()));
                rep
            }
            "chunked" => Reply {
                framing: Framing::Chunked(vec![1500, 7, 3000]),
                ..Reply::with("application/json", plain.clone())
            },
            _ => Reply::with("application/json", plain.clone()),
        }
    }))
}

fn tool(name: &str) -> String {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "{name} is not installed (make soak installs it)");
    name.to_string()
}

#[test]
#[ignore = "long: run with `make soak`"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let (wrk, h2load) = (tool("wrk"), tool("h2load"));
    let up = upstream();
    let grpc_up = GrpcUpstream::start();
    let policy = std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap();
    let envoy = Harness::new("soak.yaml", policy, up.port)
        .var("GRPC_UPSTREAM_PORT", grpc_up.port)
        .start();
    let dir = TempDir::new("soak");

    // Tokens: valid for the whole run (max_lifetime is 1 h), expired, forged, none.
    let n = now();
    let mut good = claims("soak-agent", &["cards:read"]);
    good["exp"] = json!(n + (secs + 300).min(3300));
    let valid = sign("rsa1", &good);
    let mut old = good.clone();
    old["iat"] = json!(n - 1200);
    old["nbf"] = json!(n - 1200);
    old["exp"] = json!(n - 600);
    let expired = sign("rsa1", &old);
    let forged = {
        let mut t = valid.clone().into_bytes();
        let i = t.len() - 6;
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).unwrap()
    };
    let mut lines = vec![];
    for tok in [&valid, &valid, &valid, &expired, &forged, &"-".to_string()] {
        for (method, path) in [
            ("GET", "/v1/cards/c_1"),
            ("GET", "/v1/cards/c_2?gz"),
            ("GET", "/v1/cards/c_3?chunked"),
            ("GET", "/v1/cards/search"),
            ("DELETE", "/v1/cards/c_1"),
            ("GET", "/v1/exports/e_1"),
            ("GET", "/healthz?gz"),
            ("GET", "/admin"),
        ] {
            lines.push(format!("{method} {path} {tok}"));
        }
    }
    let reqs = dir.path().join("requests.txt");
    std::fs::write(&reqs, lines.join("\n") + "\n").unwrap();
    // h2load's gRPC request: GetCard{id: "c_1"}, framed.
    let msg = pb::GetCardRequest { id: "c_1".into() }.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    let grpc_body = dir.path().join("getcard.bin");
    std::fs::write(&grpc_body, &frame).unwrap();

    let url = format!("http://127.0.0.1:{}", envoy.port);
    let warmup = Duration::from_secs((secs / 5).clamp(5, 60));
    eprintln!("soak: {secs} s through Envoy on {url} (RSS baseline after {warmup:?} of warm-up)");
    let started = Instant::now();
    let wrk_child = Command::new(&wrk)
        .args(["-t1", "-c8", &format!("-d{secs}s"), "-s"])
        .arg(root().join("envoy/soak/mix.lua"))
        .arg(format!("{url}/"))
        .arg("--")
        .arg(&reqs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let h2_child = Command::new(&h2load)
        .args(["-c4", "-m4", "-D", &secs.to_string()])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .args(["-H", &format!("authorization: Bearer {valid}")])
        .arg("-d")
        .arg(&grpc_body)
        .arg(format!("{url}/payments.v1.Cards/GetCard"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The scanning gRPC client: every message decoded and checked.
    let stop = Arc::new(AtomicBool::new(false));
    let grpc_calls = Arc::new(AtomicU64::new(0));
    let grpc_leaks = Arc::new(AtomicU64::new(0));
    let grpc_denied = Arc::new(AtomicU64::new(0));
    let client = {
        let (stop, calls, leaks, denied) = (
            stop.clone(),
            grpc_calls.clone(),
            grpc_leaks.clone(),
            grpc_denied.clone(),
        );
        let (port, valid, expired) = (envoy.port, valid.clone(), expired.clone());
        std::thread::spawn(move || {
            let ok = GrpcClient::connect(port, Some(&valid));
            let bad = GrpcClient::connect(port, Some(&expired));
            let clear = |c: &pb::Card| {
                c.number.contains("4111111111111111") || c.note.contains("5555 5555 5555 4444")
            };
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                match i % 4 {
                    0 => {
                        if bad.get_card("c_1").is_err() {
                            denied.fetch_add(1, Ordering::SeqCst);
                        } else {
                            leaks.fetch_add(1_000_000, Ordering::SeqCst); // allowed: must not happen
                        }
                    }
                    1 => {
                        if let Ok(cards) = ok.list_cards(25) {
                            leaks.fetch_add(
                                cards.iter().filter(|c| clear(c)).count() as u64,
                                Ordering::SeqCst,
                            );
                        }
                    }
                    _ => {
                        if let Ok(c) = ok.get_card("c_1") {
                            leaks.fetch_add(u64::from(clear(&c)), Ordering::SeqCst);
                        }
                    }
                }
                calls.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    std::thread::sleep(warmup);
    let rss_warm = memory(envoy.pid()).rss_kib;
    let mut rss_peak = rss_warm;
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(2));
        rss_peak = rss_peak.max(memory(envoy.pid()).rss_kib);
    }
    let wrk_out = wrk_child.wait_with_output().unwrap();
    let h2_out = h2_child.wait_with_output().unwrap();
    stop.store(true, Ordering::SeqCst);
    client.join().unwrap();
    let rss_end = memory(envoy.pid()).rss_kib;
    let elapsed = started.elapsed();

    let wrk_text = String::from_utf8_lossy(&wrk_out.stdout).to_string();
    let h2_text = String::from_utf8_lossy(&h2_out.stdout).to_string();
    let wrk_line = wrk_text
        .lines()
        .find(|l| l.starts_with("SOAK-WRK"))
        .unwrap_or_else(|| {
            panic!(
                "wrk gave no summary:\n{wrk_text}\n{}",
                String::from_utf8_lossy(&wrk_out.stderr)
            )
        })
        .to_string();
    let field = |line: &str, name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let wrk_responses = field(&wrk_line, "responses");
    let wrk_leaks = field(&wrk_line, "leaks");
    let h2_summary: Vec<&str> = h2_text
        .lines()
        .filter(|l| l.starts_with("requests:") || l.starts_with("status codes:"))
        .collect();

    // Audit: one event per completed request, no gap in any VM's chain.
    std::thread::sleep(Duration::from_secs(2));
    let stats = request(
        envoy.admin_port,
        "GET",
        "/stats?filter=http.ingress.downstream_rq_(completed|total)",
        &[],
        b"",
    )
    .unwrap();
    let stat = |name: &str| -> u64 {
        String::from_utf8_lossy(&stats.body)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("http.ingress.{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    // `completed` counts streams that ended with a response; `total` also counts those a
    // client reset (h2load cancels its in-flight streams when the period ends). Every one of
    // them gets an event.
    let (completed, total) = (stat("downstream_rq_completed"), stat("downstream_rq_total"));
    let file = std::fs::File::open(&envoy.access_log).unwrap();
    let mut events = 0u64;
    let mut chains: HashMap<String, Vec<u64>> = HashMap::new();
    let mut allowed_unverified = 0u64;
    let mut leaks_in_audit = 0u64;
    let mut reasons: HashMap<String, u64> = HashMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap();
        if line.trim().is_empty() {
            continue;
        }
        if line.contains("4111111111111111") || line.contains("5555 5555 5555 4444") {
            leaks_in_audit += 1;
        }
        let e: serde_json::Value = serde_json::from_str(&line).unwrap();
        chains
            .entry(e["chain"]["id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(e["chain"]["seq"].as_u64().unwrap());
        // The VM's own records (its start, heartbeats) share the chain, not the count.
        if e["kind"] == "vm" {
            continue;
        }
        events += 1;
        let reason = e["decision"]["reason"]
            .as_str()
            .unwrap_or("none")
            .to_string();
        if e["decision"]["result"] == "allow" && e["identity"].is_null() && reason != "public" {
            allowed_unverified += 1;
        }
        *reasons.entry(reason).or_default() += 1;
    }
    let mut gaps = 0u64;
    for seqs in chains.values_mut() {
        seqs.sort_unstable();
        for (i, s) in seqs.iter().enumerate() {
            if *s != i as u64 {
                gaps += 1;
                break;
            }
        }
    }
    let critical = envoy.critical_lines();
    let growth = rss_end.saturating_sub(rss_warm);
    let grpc_calls = grpc_calls.load(Ordering::SeqCst);
    let grpc_leaks = grpc_leaks.load(Ordering::SeqCst);

    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort();
    println!("== soak: {:.0} s ==", elapsed.as_secs_f64());
    println!("wrk (HTTP/1.1, bodies scanned): {wrk_line}");
    println!("h2load (gRPC GetCard): {}", h2_summary.join(" | "));
    println!(
        "scanning gRPC client: {grpc_calls} calls, {} denied as expected",
        grpc_denied.load(Ordering::SeqCst)
    );
    println!(
        "clear cards received: wrk {wrk_leaks}, gRPC client {grpc_leaks}; in audit lines {leaks_in_audit}"
    );
    println!(
        "Envoy downstream_rq_total {total}, downstream_rq_completed {completed}; audit events {events}; chains {} with {gaps} gaps",
        chains.len()
    );
    println!("allowed without a verified identity on a protected route: {allowed_unverified}");
    println!("decisions by reason: {reasons:?}");
    println!("[critical] lines: {}", critical.len());
    println!(
        "Envoy RSS: {rss_warm} KiB after warm-up, peak {rss_peak} KiB, {rss_end} KiB at the end: growth {growth} KiB"
    );

    assert!(wrk_responses > 0, "wrk got no responses");
    assert_eq!(wrk_leaks, 0, "clear cards reached a wrk client");
    assert_eq!(
        grpc_leaks, 0,
        "clear cards (or a denied call allowed) in gRPC"
    );
    assert_eq!(leaks_in_audit, 0);
    assert!(critical.is_empty(), "{critical:?}");
    assert_eq!(events, total, "one audit event per request");
    assert!(events >= completed);
    assert_eq!(gaps, 0, "an audit chain has a gap");
    assert_eq!(allowed_unverified, 0);
    assert!(
        growth < 16 * 1024,
        "Envoy grew by {growth} KiB after warm-up"
    );
}
