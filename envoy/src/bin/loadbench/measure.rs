//! Measuring one Envoy under load: wrk (HTTP/1.1) or h2load (gRPC) after a warm-up, Envoy's
//! CPU time over the measured run, requests/s, latencies, peak RSS.

use std::path::Path;
use std::process::Command;

use pci_guard_e2e::procfs::{cpu_ticks, memory};
use pci_guard_e2e::{root, Envoy};

use crate::Ctx;

/// One run's figures; `cpu_us` is Envoy's CPU time per completed request.
#[derive(Clone, Debug, Default)]
pub struct Measure {
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_us: f64,
    pub rss_mib: f64,
    pub errors: u64,
}

/// What the load sends: one valid token on every request (cached after the first), the
/// cold-token file rotated per request so every request verifies a signature, or one valid
/// token on a POST of the JSON body in the file (a JSON-RPC call), or one valid token with
/// one just-in-time grant (`x-pci-guard-grant`).
pub enum Tokens<'a> {
    Warm(&'a str),
    Granted(&'a str, &'a str),
    Cold,
    WarmPost(&'a str, &'a Path),
}

fn wrk(ctx: &Ctx, port: u16, path: &str, tok: &Tokens<'_>, secs: u64) -> String {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1".to_string(),
        format!("-c{}", ctx.conns),
        format!("-d{secs}s"),
        "--timeout".into(),
        "10s".into(),
        "--latency".into(),
    ]);
    match tok {
        Tokens::Warm(t) => {
            cmd.args(["-H".to_string(), format!("Authorization: Bearer {t}")]);
        }
        Tokens::Granted(t, g) => {
            cmd.args(["-H".to_string(), format!("Authorization: Bearer {t}")]);
            cmd.args(["-H".to_string(), format!("x-pci-guard-grant: {g}")]);
        }
        Tokens::Cold => {
            cmd.arg("-s")
                .arg(root().join("envoy/bench/rotate-tokens.lua"))
                .env("BENCH_TOKENS", &ctx.cold_file);
        }
        Tokens::WarmPost(t, body) => {
            cmd.args(["-H".to_string(), format!("Authorization: Bearer {t}")])
                .arg("-s")
                .arg(root().join("envoy/bench/post-body.lua"))
                .env("BENCH_POST_BODY", body);
        }
    }
    cmd.arg(format!("http://127.0.0.1:{port}{path}"));
    let out = cmd.output().expect("wrk (make bench installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn duration_ms(s: &str) -> f64 {
    let s = s.trim();
    let (num, mul) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("m") {
        (v, 60_000.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().unwrap_or(f64::NAN) * mul
}

fn parse_wrk(text: &str, m: &mut Measure) {
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("50%") {
            m.p50_ms = duration_ms(v);
        } else if let Some(v) = l.strip_prefix("99%") {
            m.p99_ms = duration_ms(v);
        } else if l.contains(" requests in ") {
            m.requests = l.split_whitespace().next().unwrap().parse().unwrap();
        } else if let Some(v) = l.strip_prefix("Requests/sec:") {
            m.rps = v.trim().parse().unwrap();
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            m.errors += v.trim().parse::<u64>().unwrap();
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            m.errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
}

/// Warm-up (not measured), then the measured run; Envoy's CPU over the measured run only.
fn measure(ctx: &Ctx, envoy: &Envoy, run: impl Fn(u64) -> Measure) -> Measure {
    let _ = run(ctx.secs.div_ceil(4).max(1));
    let pid = envoy.pid();
    let t0 = cpu_ticks(pid);
    let mut m = run(ctx.secs);
    let t1 = cpu_ticks(pid);
    let cpu_s = (t1 - t0) as f64 / ctx.clk_tck;
    m.cpu_us = cpu_s * 1e6 / m.requests.max(1) as f64;
    m.rss_mib = memory(pid).peak_kib as f64 / 1024.0;
    m
}

pub fn run_http(ctx: &Ctx, envoy: &Envoy, path: &str, tok: &Tokens<'_>) -> Measure {
    measure(ctx, envoy, |secs| {
        let mut m = Measure::default();
        parse_wrk(&wrk(ctx, envoy.port, path, tok, secs), &mut m);
        m
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn run_grpc(ctx: &Ctx, envoy: &Envoy, token: &str, data: &Path) -> Measure {
    measure(ctx, envoy, |secs| {
        let log = ctx.dir.path().join("h2load.log");
        let _ = std::fs::remove_file(&log);
        let out = Command::new("h2load")
            .args([
                "-t1".to_string(),
                format!("-c{}", ctx.conns),
                "-m1".into(),
                "-D".into(),
                secs.to_string(),
                "-H".into(),
                "content-type: application/grpc".into(),
                "-H".into(),
                "te: trailers".into(),
                "-H".into(),
                format!("authorization: Bearer {token}"),
                "-d".into(),
                data.display().to_string(),
                format!("--log-file={}", log.display()),
                format!("http://127.0.0.1:{}/payments.v1.Cards/GetCard", envoy.port),
            ])
            .output()
            .expect("h2load (make bench installs nghttp2-client)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "h2load failed: {text}");
        let mut m = Measure::default();
        for l in text.lines() {
            let l = l.trim();
            if let Some(v) = l.strip_prefix("requests:") {
                // "N total, N started, N done, N succeeded, N failed, N errored, N timeout"
                let nums: Vec<u64> = v
                    .split(',')
                    .filter_map(|p| p.split_whitespace().next()?.parse().ok())
                    .collect();
                m.requests = nums[3];
                m.errors += nums[4] + nums[5] + nums[6];
            } else if let Some(v) = l.strip_prefix("status codes:") {
                m.errors += v
                    .split(',')
                    .filter(|p| !p.contains("2xx"))
                    .filter_map(|p| p.split_whitespace().next()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
        }
        m.rps = m.requests as f64 / secs as f64;
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let mut lat: Vec<f64> = log
            .lines()
            .filter_map(|l| l.split('\t').nth(2)?.trim().parse::<f64>().ok())
            .map(|us| us / 1000.0)
            .collect();
        lat.sort_by(f64::total_cmp);
        m.p50_ms = percentile(&lat, 0.5);
        m.p99_ms = percentile(&lat, 0.99);
        m
    })
}
