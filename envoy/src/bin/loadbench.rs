//! `loadbench`: the same workloads through three Envoy setups with the same upstream, measuring
//! Envoy's CPU time per request (the primary figure), requests/s, p50/p99 latency and peak RSS.
//!
//! Setups (configs in `envoy/bench/`):
//! - **bare**: Envoy with the router only;
//! - **native**: `jwt_authn` (RS256, inline JWKS, JWT cache) + per-route `rbac` on the token's
//!   scopes (one DELETE route denied) + a `lua` filter masking card numbers in JSON bodies;
//! - **pci-guard**: the filter with `envoy/bench/policy.json`, audit events to a file.
//!
//! Envoy runs with `--concurrency 1` pinned to CPU 0; this process (the upstream), `wrk` and
//! `h2load` are pinned to CPU 1. Envoy's CPU time is utime+stime from `/proc/<pid>/stat` over
//! the measured interval, divided by the requests completed in it. Each run starts a fresh
//! Envoy, so its peak RSS (VmHWM) belongs to that workload alone.
//!
//! Before measuring, every setup is checked to do what it claims: bodies through bare arrive
//! unchanged, through native and pci-guard with every card number masked to the last four; a
//! request without a token gets 401, one without the scope 403, a DELETE 403.
//!
//! Environment: `BENCH_SECONDS` (per run, default 5), `BENCH_CONNECTIONS` (16),
//! `BENCH_COLD_TOKENS` (3000), `BENCH_BIG_MIB` (256, 0 skips), `BENCH_BIG_REPS` (3),
//! `BENCH_ONLY` (run only the runs whose name contains this), `BENCH_OUT` (default
//! `BENCHMARKS.md` in the workspace), `BENCH_ROUNDS` (interleaved rounds of the 1 KiB warm-token
//! workload, median reported; default 3), `PCI_GUARD_WASM`, `PCI_GUARD_WASM_NOSIMD` (a build without `simd128`
//! build; optional), `ENVOY`.

// A benchmark tool, not a request path: any failure must stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pci_guard_e2e::grpc::{pb, GrpcClient, GrpcUpstream};
use pci_guard_e2e::procfs::{cpu_ticks, memory};
use pci_guard_e2e::{policy_scalar, request, root, tokens, Envoy, Harness, Reply, TempDir};
use pci_guard_e2e::{Received, Upstream};
use prost::Message as _;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Bodies: (as the upstream sends it, as it must arrive masked)

/// Test card numbers (Luhn-valid, known brands) and their masked form.
const PANS: [(&str, &str); 6] = [
    ("4111111111111111", "************1111"),
    ("5555 5555 5555 4444", "**** **** **** 4444"),
    ("378282246310005", "***********0005"),
    ("6011111111111117", "************1117"),
    ("4012-8888-8888-1881", "****-****-****-1881"),
    ("5105105105105100", "************5100"),
];

struct Body {
    raw: Vec<u8>,
    masked: Vec<u8>,
    pans: usize,
}

fn card(i: usize, pan: &str) -> String {
    format!(
        "{{\"id\":\"card_{i:06}\",\"number\":\"{pan}\",\"exp\":\"12/29\",\"holder\":\"A. Cardholder\",\"status\":\"active\",\"created\":{}}}",
        1_748_503_543 + i
    )
}

fn order(i: usize) -> String {
    format!(
        "{{\"id\":\"ord_{i:06}\",\"amount\":\"{}.99\",\"currency\":\"USD\",\"status\":\"captured\"}}",
        10 + i % 90
    )
}

/// `{"customer":…,"cards":[two cards],"orders":[…]}` of about `len` bytes.
fn small_body(len: usize) -> Body {
    let build = |masked: bool| {
        let p = |k: usize| if masked { PANS[k].1 } else { PANS[k].0 };
        let mut s = format!(
            "{{\"customer\":{{\"id\":\"cus_8812\",\"name\":\"Jane Doe\",\"email\":\"jane@example.com\"}},\"cards\":[{},{}],\"orders\":[",
            card(0, p(0)),
            card(1, p(1))
        );
        let mut i = 0;
        while s.len() + 80 < len {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&order(i));
            i += 1;
        }
        s.push_str("]}");
        s.into_bytes()
    };
    Body {
        raw: build(false),
        masked: build(true),
        pans: 2,
    }
}

/// `{"cards":[…]}` of about `len` bytes, a card number in every ~130-byte record.
fn cards_body(len: usize) -> Body {
    let build = |masked: bool| {
        let mut s = String::with_capacity(len + 256);
        s.push_str("{\"cards\":[");
        let mut i = 0;
        while s.len() + 140 < len {
            if i > 0 {
                s.push_str(",\n");
            }
            let (raw, m) = PANS[i % PANS.len()];
            s.push_str(&card(i, if masked { m } else { raw }));
            i += 1;
        }
        s.push_str("]}");
        (s.into_bytes(), i)
    };
    let (raw, pans) = build(false);
    Body {
        raw,
        masked: build(true).0,
        pans,
    }
}

/// Clean JSON (no card numbers) of `len` bytes: `digits` = a digit run every ~30 bytes (ids,
/// ms timestamps, amounts), else text-heavy (a short number per ~200 bytes).
fn clean_body(len: usize, digits: bool) -> Vec<u8> {
    let mut block = String::new();
    let mut i = 0usize;
    while block.len() < 1 << 16 {
        if digits {
            let _ = writeln!(
                block,
                "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"status\":\"captured\"}},",
                1_748_503_543_012u64 + i as u64,
                1000 + i % 9000,
                i % 10000,
                i % 7
            );
        } else {
            let _ = writeln!(
                block,
                "{{\"customer\":\"Jane Doe\",\"email\":\"jane.doe@example.com\",\"address\":{{\"street\":\"Main Street\",\"city\":\"Springfield\",\"country\":\"US\"}},\"status\":\"captured\",\"note\":\"Thank you for your order, it ships today\",\"qty\":{}}},",
                i % 10
            );
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    while out.len() + block.len() + 2 < len {
        out.extend_from_slice(block.as_bytes());
    }
    while out.len() + 3 < len {
        out.push(b' ');
    }
    out.extend_from_slice(b"{}]");
    out
}

struct Bodies {
    small: Body,
    medium: Body,
    large: Body,
}

fn upstream(bodies: &Arc<Bodies>) -> Upstream {
    let b = bodies.clone();
    Upstream::start(Arc::new(move |r: &Received| {
        let body = match r.path.as_str() {
            "/v1/cards/small" | "/healthz" => &b.small,
            "/v1/cards/medium" => &b.medium,
            "/v1/cards/large" => &b.large,
            _ => return Reply::json("{\"ok\":true}"),
        };
        Reply::with("application/json", body.raw.clone())
    }))
}

// ---------------------------------------------------------------------------------------------
// Setups

#[derive(Clone)]
enum Setup {
    Bare,
    Native,
    Guard {
        label: String,
        policy: String,
        audit: bool,
        wasm: PathBuf,
        checks: Checks,
    },
}

/// What a pci-guard variant is checked for before it is measured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// The bench policy: tokens, scopes, DELETE rule, masked bodies.
    Full,
    /// The bench policy with redaction off: bodies arrive unchanged.
    NoRedaction,
    /// Nothing enforced (floors): bodies arrive unchanged.
    None,
}

impl Setup {
    fn enforces(&self) -> bool {
        match self {
            Setup::Bare => false,
            Setup::Native => true,
            Setup::Guard { checks, .. } => *checks != Checks::None,
        }
    }

    fn masks(&self) -> bool {
        match self {
            Setup::Bare => false,
            Setup::Native => true,
            Setup::Guard { checks, .. } => *checks == Checks::Full,
        }
    }

    fn label(&self) -> String {
        match self {
            Setup::Bare => "bare".into(),
            Setup::Native => "native".into(),
            Setup::Guard { label, .. } => label.clone(),
        }
    }
}

struct Ctx {
    secs: u64,
    conns: u32,
    dir: TempDir,
    policy: Value,
    warm: String,
    noscope: String,
    cold_file: PathBuf,
    cold_count: usize,
    clk_tck: f64,
    pinned: bool,
}

fn start(ctx: &Ctx, setup: &Setup, upstream_port: u16) -> Envoy {
    let envoy = match setup {
        Setup::Bare => Harness::new("bench/bare.yaml", "", upstream_port).start(),
        Setup::Native => {
            let jwks = serde_json::to_string(&ctx.policy["providers"]["corp-idp"]["jwks"]).unwrap();
            Harness::new("bench/native.yaml", "", upstream_port)
                .var("JWKS", policy_scalar(&jwks))
                .var("LUA_PATH", root().join("envoy/bench/mask.lua").display())
                .start()
        }
        Setup::Guard {
            policy,
            audit,
            wasm,
            ..
        } => {
            let harness = Harness::new("bench/pci-guard.yaml", policy.clone(), upstream_port);
            let harness = if *audit {
                harness
            } else {
                // The same config without the access logger.
                harness.edit(|text| {
                    let (head, rest) = text.split_once("          access_log:\n").unwrap();
                    let (_, tail) = rest.split_once("          route_config:\n").unwrap();
                    format!("{head}          route_config:\n{tail}")
                })
            };
            harness.wasm(wasm).start()
        }
    };
    if ctx.pinned {
        pin(envoy.pid(), "0");
    }
    envoy
}

/// Pins every thread of `pid` (and what it starts later) to `cpus`.
fn pin(pid: u32, cpus: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---------------------------------------------------------------------------------------------
// Checks: each setup enforces the same policy

fn auth(token: &str) -> String {
    tokens::bearer(token)
}

fn check_policy(ctx: &Ctx, setup: &Setup, envoy: &Envoy) {
    if !setup.enforces() {
        return;
    }
    let name = setup.label();
    let ok = envoy.send(
        "GET",
        "/v1/cards/small",
        &[("authorization", &auth(&ctx.warm))],
        b"",
    );
    assert_eq!(ok.status, 200, "{name}: valid token");
    let none = envoy.send("GET", "/v1/cards/small", &[], b"");
    assert_eq!(none.status, 401, "{name}: no token");
    let bad = envoy.send(
        "GET",
        "/v1/cards/small",
        &[("authorization", "Bearer x.y.z")],
        b"",
    );
    assert_eq!(bad.status, 401, "{name}: bad token");
    let scope = envoy.send(
        "GET",
        "/v1/cards/small",
        &[("authorization", &auth(&ctx.noscope))],
        b"",
    );
    assert_eq!(scope.status, 403, "{name}: token without cards:read");
    let del = envoy.send(
        "DELETE",
        "/v1/cards/c_1",
        &[("authorization", &auth(&ctx.warm))],
        b"",
    );
    assert_eq!(del.status, 403, "{name}: DELETE is blocked");
}

/// The body through `setup` is the raw one (bare) or the masked one.
fn check_body(setup: &Setup, envoy: &Envoy, ctx: &Ctx, path: &str, body: &Body) {
    let r = envoy.send("GET", path, &[("authorization", &auth(&ctx.warm))], b"");
    assert_eq!(r.status, 200, "{}: {path}", setup.label());
    let want = if setup.masks() {
        &body.masked
    } else {
        &body.raw
    };
    if &r.body != want {
        let at = r
            .body
            .iter()
            .zip(want.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(r.body.len().min(want.len()));
        let from = at.saturating_sub(60);
        panic!(
            "{}: {path}: body differs from the expected one at byte {at} (lengths {} vs {}):\n got  …{}…\n want …{}…",
            setup.label(),
            r.body.len(),
            want.len(),
            String::from_utf8_lossy(&r.body[from..(at + 60).min(r.body.len())]),
            String::from_utf8_lossy(&want[from..(at + 60).min(want.len())]),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

#[derive(Clone, Debug, Default)]
struct Measure {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us: f64,
    rss_mib: f64,
    errors: u64,
}

enum Tokens<'a> {
    Warm(&'a str),
    Cold,
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
        Tokens::Cold => {
            cmd.arg("-s")
                .arg(root().join("envoy/bench/rotate-tokens.lua"))
                .env("BENCH_TOKENS", &ctx.cold_file);
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

fn run_http(ctx: &Ctx, envoy: &Envoy, path: &str, tok: &Tokens<'_>) -> Measure {
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

fn run_grpc(ctx: &Ctx, envoy: &Envoy, token: &str, data: &Path) -> Measure {
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

// ---------------------------------------------------------------------------------------------
// Runs

struct Row {
    group: &'static str,
    workload: String,
    setup: String,
    m: Measure,
}

fn wanted(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |f| f.is_empty() || name.contains(&f))
}

fn log(msg: &str) {
    eprintln!("[loadbench {}] {msg}", clock());
}

fn clock() -> String {
    let s = tokens::now() % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[allow(clippy::too_many_arguments)]
fn http_run(
    ctx: &Ctx,
    rows: &mut Vec<Row>,
    bodies: &Arc<Bodies>,
    group: &'static str,
    workload: &str,
    setup: &Setup,
    path: &str,
    body: Option<&Body>,
    cold: bool,
) {
    let name = format!("{group}/{workload}/{}", setup.label());
    if !wanted(&name) {
        return;
    }
    let up = upstream(bodies);
    let envoy = start(ctx, setup, up.port);
    check_policy(ctx, setup, &envoy);
    if let Some(b) = body {
        check_body(setup, &envoy, ctx, path, b);
    }
    let tok = if cold {
        Tokens::Cold
    } else {
        Tokens::Warm(&ctx.warm)
    };
    let m = run_http(ctx, &envoy, path, &tok);
    let crit = envoy.critical_lines();
    assert!(crit.is_empty(), "{name}: Envoy logged {crit:#?}");
    log(&format!(
        "{name}: {:.1} µs CPU/req, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, RSS {:.1} MiB, errors {}",
        m.cpu_us, m.rps, m.p50_ms, m.p99_ms, m.rss_mib, m.errors
    ));
    rows.push(Row {
        group,
        workload: workload.into(),
        setup: setup.label(),
        m,
    });
}

fn grpc_run(ctx: &Ctx, rows: &mut Vec<Row>, setup: &Setup, data: &Path) {
    let name = format!("main/grpc/{}", setup.label());
    if !wanted(&name) {
        return;
    }
    let up = GrpcUpstream::start();
    let envoy = start(ctx, setup, up.port);
    let id = "c_".to_string() + &"x".repeat(1000);
    let client = GrpcClient::connect(envoy.port, Some(&ctx.warm));
    let card = client
        .get_card(&id)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(card.id, id);
    if matches!(setup, Setup::Guard { .. }) {
        assert!(!card.number.contains("41111111"), "{name}: not redacted");
        let anon = GrpcClient::connect(envoy.port, None);
        assert_eq!(
            anon.get_card("c_1").unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }
    let m = run_grpc(ctx, &envoy, &ctx.warm, data);
    log(&format!(
        "{name}: {:.1} µs CPU/req, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, RSS {:.1} MiB, errors {}",
        m.cpu_us, m.rps, m.p50_ms, m.p99_ms, m.rss_mib, m.errors
    ));
    rows.push(Row {
        group: "main",
        workload: "gRPC unary ~1 KiB, warm".into(),
        setup: setup.label(),
        m,
    });
}

/// One row of the big-body comparison: Envoy CPU per request, averaged over `reps`.
struct Big {
    body: &'static str,
    setup: String,
    ms_per_req: f64,
    rss_mib: f64,
    /// Responses (of the measured ones) that were cut short or not 200.
    failed: usize,
}

/// The 256 MiB runs: for each body, one Envoy per setup, all up at once behind one upstream,
/// and the responses interleaved (bare, pci-guard, …, bare, pci-guard, …): the machine's drift
/// over the minute this takes falls on every setup alike, where measuring the setups one after
/// another let it show as a difference (bare alone read 166–262 ms per response across runs).
fn big_runs(
    ctx: &Ctx,
    out: &mut Vec<Big>,
    setups: &[Setup],
    bodies: &Arc<Vec<Vec<u8>>>,
    reps: u32,
) {
    for (i, name) in ["clean text-heavy JSON", "clean digit-dense JSON"]
        .iter()
        .enumerate()
    {
        let runs: Vec<(String, &Setup)> = setups
            .iter()
            .map(|s| (format!("big/{i}/{}", s.label()), s))
            .filter(|(run, _)| wanted(run))
            .collect();
        if runs.is_empty() {
            continue;
        }
        let b = bodies.clone();
        let up = Upstream::start(Arc::new(move |r: &Received| {
            let i = usize::from(r.path.ends_with("/1"));
            Reply::with("application/json", b[i].clone())
        }));
        let path = format!("/v1/cards/{i}");
        let hdr = auth(&ctx.warm);
        let envoys: Vec<Envoy> = runs.iter().map(|(_, s)| start(ctx, s, up.port)).collect();
        for ((run, _), envoy) in runs.iter().zip(&envoys) {
            // Warm-up and check: the body arrives unchanged (nothing in it to mask).
            let r = request(envoy.port, "GET", &path, &[("authorization", &hdr)], b"").unwrap();
            assert_eq!(r.status, 200, "{run}");
            assert!(r.body == bodies[i], "{run}: body changed");
        }
        // Each Envoy's CPU over the whole interleaved stretch (so work it finishes after a
        // response, while the others serve theirs, counts too), divided by its responses.
        let t0: Vec<u64> = envoys.iter().map(|e| cpu_ticks(e.pid())).collect();
        let mut failed = vec![Vec::new(); envoys.len()];
        for _ in 0..reps {
            for (k, envoy) in envoys.iter().enumerate() {
                // A response cut short is recorded, not fatal: the other figures still count.
                match request(envoy.port, "GET", &path, &[("authorization", &hdr)], b"") {
                    Ok(r) if r.status == 200 && r.body.len() == bodies[i].len() => {}
                    Ok(r) => failed[k].push(format!("status {}, {} bytes", r.status, r.body.len())),
                    Err(e) => failed[k].push(e.to_string()),
                }
            }
        }
        for (k, ((run, setup), envoy)) in runs.iter().zip(&envoys).enumerate() {
            let ticks = cpu_ticks(envoy.pid()) - t0[k];
            let ms = ticks as f64 / ctx.clk_tck * 1000.0 / f64::from(reps);
            if !failed[k].is_empty() {
                let crit = envoy.critical_lines();
                log(&format!(
                    "{run}: FAILED responses {:?}; Envoy: {crit:?}",
                    failed[k]
                ));
            }
            let rss = memory(envoy.pid()).peak_kib as f64 / 1024.0;
            log(&format!(
                "{run}: {ms:.0} ms Envoy CPU per request, RSS {rss:.1} MiB"
            ));
            out.push(Big {
                body: name,
                setup: setup.label(),
                ms_per_req: ms,
                rss_mib: rss,
                failed: failed[k].len(),
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Main

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            s.trim().to_string()
        })
        .unwrap_or_else(|e| format!("({cmd}: {e})"))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_wasm(nosimd: bool) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    let base = if nosimd {
        target.join("nosimd")
    } else {
        target
    };
    base.join("wasm32-wasip1/release/pci_guard.wasm")
}

fn claims(sub: &str, scope: &str) -> Value {
    let mut c = tokens::claims(sub, &[scope]);
    // Valid for the whole run (the policy's max_lifetime is 1 h).
    c["exp"] = json!(tokens::now() + 3000);
    c
}

fn guard(label: &str, policy: &Value, audit: bool, wasm: &Path) -> Setup {
    guard_checked(label, policy, audit, wasm, Checks::Full)
}

fn guard_checked(label: &str, policy: &Value, audit: bool, wasm: &Path, checks: Checks) -> Setup {
    Setup::Guard {
        label: label.into(),
        policy: serde_json::to_string(policy).unwrap(),
        audit,
        wasm: wasm.to_path_buf(),
        checks,
    }
}

/// The bench policy with `n` routes: `n - 1` others before `cards-read`.
fn policy_with_routes(base: &Value, n: usize) -> Value {
    let mut p = base.clone();
    let cards = p["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cards-read")
        .unwrap()
        .clone();
    let mut routes: Vec<Value> = (1..n)
        .map(|i| {
            json!({"name": format!("svc-{i}"), "match": {"methods": ["GET", "POST"], "path": format!("/v1/service{i}/{{id}}/items/**")},
                   "auth": ["corp-idp"], "scopes": [format!("svc{i}:read")]})
        })
        .collect();
    routes.push(cards);
    p["routes"] = Value::Array(routes);
    p
}

fn main() {
    let started = Instant::now();
    let pinned = pin(std::process::id(), "1");
    let wasm = std::env::var("PCI_GUARD_WASM").map_or_else(|_| default_wasm(false), PathBuf::from);
    assert!(wasm.exists(), "no plugin at {}", wasm.display());
    // The harness reads it too.
    std::env::set_var("PCI_GUARD_WASM", &wasm);
    // The shipped build has simd128 (.cargo/config.toml); this one is for comparison.
    let simd =
        std::env::var("PCI_GUARD_WASM_NOSIMD").map_or_else(|_| default_wasm(true), PathBuf::from);
    let simd = simd.exists().then_some(simd);
    let load_start = loadavg();

    let policy: Value =
        serde_json::from_slice(&std::fs::read(root().join("envoy/bench/policy.json")).unwrap())
            .unwrap();
    let dir = TempDir::new("loadbench");
    let cold_count = env_num("BENCH_COLD_TOKENS", 3000) as usize;
    log(&format!("minting {cold_count} RS256 tokens"));
    let cold_file = dir.path().join("tokens.txt");
    let mut cold = String::new();
    for i in 0..cold_count {
        cold.push_str(&tokens::sign(
            "rsa1",
            &claims(&format!("agent-{i}"), "cards:read"),
        ));
        cold.push('\n');
    }
    std::fs::write(&cold_file, cold).unwrap();
    let ctx = Ctx {
        secs: env_num("BENCH_SECONDS", 5).max(1),
        conns: env_num("BENCH_CONNECTIONS", 16).max(1) as u32,
        policy: policy.clone(),
        warm: tokens::sign("rsa1", &claims("agent-warm", "cards:read")),
        noscope: tokens::sign("rsa1", &claims("agent-noscope", "cards:list")),
        cold_file,
        cold_count,
        clk_tck: sh("getconf", &["CLK_TCK"]).parse().unwrap_or(100.0),
        pinned,
        dir,
    };
    let bodies = Arc::new(Bodies {
        small: small_body(1024),
        medium: cards_body(64 * 1024),
        large: cards_body(4 << 20),
    });
    let grpc_data = ctx.dir.path().join("getcard.bin");
    {
        let msg = pb::GetCardRequest {
            id: "c_".to_string() + &"x".repeat(1000),
        }
        .encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        framed.extend_from_slice(&msg);
        std::fs::write(&grpc_data, framed).unwrap();
    }

    let g = guard("pci-guard", &policy, true, &wasm);
    let setups = [Setup::Bare, Setup::Native, g.clone()];
    let mut rows = Vec::new();
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let b = &bodies;
    let small_name = format!(
        "1 KiB JSON ({} B, {} PANs)",
        b.small.raw.len(),
        b.small.pans
    );
    let medium_name = format!(
        "64 KiB JSON ({} B, {} PANs)",
        b.medium.raw.len(),
        b.medium.pans
    );
    let large_name = format!(
        "4 MiB JSON ({} B, {} PANs)",
        b.large.raw.len(),
        b.large.pans
    );
    // Policies of the variants: no redaction; public routes, nothing to check.
    let mut no_redaction = policy.clone();
    no_redaction["redaction"] = json!({"enabled": false});
    let mut public = no_redaction.clone();
    for r in public["routes"].as_array_mut().unwrap() {
        r["auth"] = json!("public");
        r.as_object_mut().unwrap().remove("scopes");
    }
    public["providers"] = json!({});
    // The floor of any proxy-wasm filter: the empty one. It runs in the headline rounds,
    // interleaved with bare, native and pci-guard: its cost over bare (~8 µs) is below the
    // machine's drift between runs, so measured apart it read anywhere from +2 to +25 µs.
    let noop = std::env::var("PCI_GUARD_WASM_NOOP").map_or_else(
        |_| {
            std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root().join("target"))
                .join("noop/wasm32-wasip1/release/noop_filter.wasm")
        },
        PathBuf::from,
    );
    let empty = noop
        .exists()
        .then(|| guard_checked(EMPTY_LABEL, &public, false, &noop, Checks::None));
    // (workload, path, expected body, cold tokens, rounds, with the empty filter). The headline
    // workload runs in interleaved rounds (bare, native, pci-guard, bare, …) and reports each
    // setup's median: on a shared VM one run of each drifts by ±10 µs.
    let http_workloads = [
        (
            format!("{small_name}, warm token"),
            "/v1/cards/small",
            Some(&b.small),
            false,
            rounds,
            true,
        ),
        (
            format!("{small_name}, cold tokens ({cold_count})"),
            "/v1/cards/small",
            None,
            true,
            1,
            false,
        ),
        (
            format!("{medium_name}, warm"),
            "/v1/cards/medium",
            Some(&b.medium),
            false,
            1,
            false,
        ),
        (
            format!("{large_name}, warm"),
            "/v1/cards/large",
            Some(&b.large),
            false,
            1,
            true,
        ),
    ];
    for (workload, path, body, cold, rounds, with_empty) in &http_workloads {
        for _ in 0..*rounds {
            for s in &setups {
                http_run(&ctx, &mut rows, b, "main", workload, s, path, *body, *cold);
            }
            // The floor beside the headline (CPU) and the 4 MiB workload (peak RSS).
            if let (true, Some(e)) = (*with_empty, &empty) {
                http_run(&ctx, &mut rows, b, "extra", workload, e, path, *body, *cold);
            }
        }
    }
    for s in &setups {
        grpc_run(&ctx, &mut rows, s, &grpc_data);
    }

    // Extras: route count and audit, on the 1 KiB workload with a valid (warm) token.
    let extras = vec![
        guard(
            "pci-guard, 1 route",
            &policy_with_routes(&policy, 1),
            true,
            &wasm,
        ),
        guard(
            "pci-guard, 20 routes",
            &policy_with_routes(&policy, 20),
            true,
            &wasm,
        ),
        guard("pci-guard, audit off", &policy, false, &wasm),
        guard_checked(
            "pci-guard, redaction off",
            &no_redaction,
            true,
            &wasm,
            Checks::NoRedaction,
        ),
        guard_checked(
            "pci-guard, public route, redaction off, audit off",
            &public,
            false,
            &wasm,
            Checks::None,
        ),
    ];
    for s in &extras {
        http_run(
            &ctx,
            &mut rows,
            b,
            "extra",
            &format!("{small_name}, warm token"),
            s,
            "/v1/cards/small",
            Some(&b.small),
            false,
        );
    }

    // 256 MiB clean bodies: Envoy CPU per request, bare vs pci-guard (with and without simd128).
    let big_mib = env_num("BENCH_BIG_MIB", 256) as usize;
    let reps = env_num("BENCH_BIG_REPS", 3).max(1) as u32;
    let mut bigs = Vec::new();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if big_mib > 0 && (only.is_empty() || only.starts_with("big")) {
        log(&format!("generating two {big_mib} MiB bodies"));
        let big_bodies = Arc::new(vec![
            clean_body(big_mib << 20, false),
            clean_body(big_mib << 20, true),
        ]);
        let mut big_setups = vec![Setup::Bare, g.clone()];
        if let Some(sw) = &simd {
            big_setups.push(guard("pci-guard without simd128", &policy, true, sw));
        }
        big_runs(&ctx, &mut bigs, &big_setups, &big_bodies, reps);
    }

    let rows = medians(rows);
    let report = report(
        &ctx,
        &rows,
        &bigs,
        &wasm,
        simd.as_deref(),
        &load_start,
        big_mib,
        reps,
        started.elapsed(),
    );
    println!("{report}");
    let out =
        std::env::var("BENCH_OUT").map_or_else(|_| root().join("BENCHMARKS.md"), PathBuf::from);
    std::fs::write(&out, &report).unwrap();
    log(&format!(
        "wrote {} ({:.0} s)",
        out.display(),
        started.elapsed().as_secs_f64()
    ));
}

// ---------------------------------------------------------------------------------------------
// Report

/// One row per (group, workload, setup): repeated runs become their median (CPU, req/s,
/// latencies), the largest peak RSS and the summed requests and errors.
fn medians(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<(Row, Vec<Measure>)> = Vec::new();
    for r in rows {
        match out
            .iter_mut()
            .find(|(o, _)| o.group == r.group && o.workload == r.workload && o.setup == r.setup)
        {
            Some((_, runs)) => runs.push(r.m),
            None => {
                let m = r.m.clone();
                out.push((r, vec![m]));
            }
        }
    }
    let median = |runs: &[Measure], f: fn(&Measure) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    out.into_iter()
        .map(|(mut r, runs)| {
            if runs.len() > 1 {
                r.m = Measure {
                    requests: runs.iter().map(|m| m.requests).sum(),
                    rps: median(&runs, |m| m.rps),
                    p50_ms: median(&runs, |m| m.p50_ms),
                    p99_ms: median(&runs, |m| m.p99_ms),
                    cpu_us: median(&runs, |m| m.cpu_us),
                    rss_mib: runs.iter().map(|m| m.rss_mib).fold(0.0, f64::max),
                    errors: runs.iter().map(|m| m.errors).sum(),
                };
            }
            r
        })
        .collect()
}

/// The setup label of the empty proxy-wasm filter.
const EMPTY_LABEL: &str = "empty wasm filter (envoy/bench/noop-filter)";

fn find<'a>(rows: &'a [Row], workload: &str, setup: &str) -> Option<&'a Measure> {
    rows.iter()
        .find(|r| r.workload == workload && r.setup == setup)
        .map(|r| &r.m)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**missed**"
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    ctx: &Ctx,
    rows: &[Row],
    bigs: &[Big],
    wasm: &Path,
    simd: Option<&Path>,
    load_start: &str,
    big_mib: usize,
    reps: u32,
    took: Duration,
) -> String {
    let mut s = String::new();
    let load_end = loadavg();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let envoy_version = sh(
        &pci_guard_e2e::envoy_bin().display().to_string(),
        &["--version"],
    );
    let envoy_version = envoy_version
        .lines()
        .find(|l| l.contains("version"))
        .unwrap_or("")
        .trim()
        .to_string();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let loaded: f64 = load_start
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);

    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Written by `make bench` (`envoy/src/bin/loadbench.rs`); criterion results of the core are in \
         [`filter/core/benches/RESULTS.md`](filter/core/benches/RESULTS.md).\n"
    );
    let _ = writeln!(s, "## Run\n");
    let _ = writeln!(
        s,
        "- command: `make bench` (load part: `BENCH_SECONDS={} BENCH_CONNECTIONS={} BENCH_COLD_TOKENS={} BENCH_BIG_MIB={big_mib} BENCH_BIG_REPS={reps} loadbench`), took {:.0} s",
        ctx.secs, ctx.conns, ctx.cold_count, took.as_secs_f64()
    );
    let _ = writeln!(s, "- date: {} UTC", sh("date", &["-u", "+%Y-%m-%d %H:%M"]));
    let _ = writeln!(
        s,
        "- machine: {cpu}, {} CPUs, Linux {}; Envoy pinned to CPU 0 (`--concurrency 1`), upstream and load generator on CPU 1{}",
        sh("nproc", &["--all"]),
        sh("uname", &["-r"]),
        if ctx.pinned { "" } else { " (**pinning failed: not pinned**)" }
    );
    let _ = writeln!(
        s,
        "- load average (1/5/15 min): {load_start} at start, {load_end} at end"
    );
    if loaded > 0.5 {
        let _ = writeln!(
            s,
            "- **Shared, loaded machine**: other processes (builds) were running on both cores during this run, \
             so Envoy competed for CPU 0 and the load generator for CPU 1. CPU time per request is the least \
             affected figure but still noisy (cache and frequency effects); requests/s and latencies are pessimistic."
        );
    }
    let _ = writeln!(
        s,
        "- Envoy: {envoy_version}\n- {}; wrk {}; h2load {}",
        sh("rustc", &["--version"]),
        sh("wrk", &["-v"])
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .unwrap_or(""),
        sh("h2load", &["--version"])
            .split_whitespace()
            .last()
            .unwrap_or("")
    );
    let _ = writeln!(
        s,
        "- `pci_guard.wasm`: {} bytes{}",
        size(wasm),
        simd.map_or(String::new(), |p| format!(
            " (with `simd128`, shipped); build without `simd128`: {} bytes",
            size(p)
        ))
    );
    let _ = writeln!(
        s,
        "- load: wrk `-t1 -c{c} -d{d}s --latency` (gRPC: h2load `-t1 -c{c} -m1 -D {d}`), after an unmeasured warm-up of {w} s; \
         each run starts a fresh Envoy (so peak RSS is that workload's); the \"1 KiB, warm token\" rows \
         of bare, native, pci-guard and the empty wasm filter are the median of {r} interleaved rounds (`BENCH_ROUNDS`)\n",
        c = ctx.conns,
        d = ctx.secs,
        w = ctx.secs.div_ceil(4).max(1),
        r = env_num("BENCH_ROUNDS", 3).max(1)
    );

    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "Envoy CPU = user+system time of the Envoy process over the measured run (`/proc/<pid>/stat`) ÷ completed requests.\n"
    );
    let _ = writeln!(
        s,
        "| workload | setup | Envoy CPU µs/req | req/s | p50 ms | p99 ms | peak RSS MiB | errors |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let m = &r.m;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.1} | {} |",
            r.workload, r.setup, m.cpu_us, m.rps, m.p50_ms, m.p99_ms, m.rss_mib, m.errors
        );
    }

    let mut workloads: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.group == "main") {
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
    }
    let _ = writeln!(s, "\n### Ratios (Envoy CPU per request)\n");
    let _ = writeln!(
        s,
        "| workload | pci-guard − bare µs | pci-guard / bare | pci-guard / native | RSS pci-guard − bare MiB |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let mut ratio: BTreeMap<&str, (f64, f64, f64, f64)> = BTreeMap::new();
    for w in &workloads {
        let (Some(b), Some(g)) = (find(rows, w, "bare"), find(rows, w, "pci-guard")) else {
            continue;
        };
        let n = find(rows, w, "native").map_or(f64::NAN, |n| g.cpu_us / n.cpu_us);
        let _ = writeln!(
            s,
            "| {w} | {:+.1} | {:.2}× | {:.2}× | {:+.1} |",
            g.cpu_us - b.cpu_us,
            g.cpu_us / b.cpu_us,
            n,
            g.rss_mib - b.rss_mib
        );
        ratio.insert(
            w,
            (
                g.cpu_us - b.cpu_us,
                g.cpu_us / b.cpu_us,
                n,
                g.rss_mib - b.rss_mib,
            ),
        );
    }

    let _ = writeln!(s, "\n### Targets (issue 7)\n");
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    let by_prefix = |p: &str| {
        ratio
            .iter()
            .find(|(k, _)| k.starts_with(p))
            .map(|(_, v)| *v)
    };
    let warm = ratio
        .iter()
        .find(|(k, _)| k.starts_with("1 KiB") && k.ends_with("warm token"))
        .map(|(_, v)| *v);
    if let Some((d, _, n, _)) = warm {
        let _ = writeln!(
            s,
            "| 1 KiB warm: ≤ bare + 25 µs | bare {d:+.1} µs | {} |",
            verdict(d <= 25.0)
        );
        let _ = writeln!(
            s,
            "| 1 KiB warm: ≤ 0.6× native | {n:.2}× | {} |",
            verdict(n <= 0.6)
        );
        let w1 = workloads
            .iter()
            .find(|k| k.starts_with("1 KiB") && k.ends_with("warm token"));
        let floor = w1.and_then(|w| {
            Some((
                find(rows, w, "bare")?,
                find(rows, w, "native")?,
                find(rows, w, EMPTY_LABEL)?,
            ))
        });
        if let Some((b, n, e)) = floor {
            let _ = writeln!(
                s,
                "| (floor: the empty wasm filter, interleaved) | bare {:+.1} µs, {:.2}× native | {} |",
                e.cpu_us - b.cpu_us,
                e.cpu_us / n.cpu_us,
                verdict(e.cpu_us - b.cpu_us <= 25.0 && e.cpu_us / n.cpu_us <= 0.6)
            );
        }
    }
    if let Some((_, _, n, _)) = by_prefix("64 KiB") {
        let _ = writeln!(
            s,
            "| 64 KiB: ≤ 0.25× native | {n:.2}× | {} |",
            verdict(n <= 0.25)
        );
    }
    if let Some((_, _, n, _)) = ratio
        .iter()
        .find(|(k, _)| k.contains("cold"))
        .map(|(_, v)| *v)
    {
        let _ = writeln!(
            s,
            "| cold tokens: ≤ 1.2× native | {n:.2}× | {} |",
            verdict(n <= 1.2)
        );
    }
    if let Some((_, _, _, r)) = by_prefix("4 MiB") {
        let _ = writeln!(
            s,
            "| 4 MiB streamed: peak RSS ≤ bare + 10 MiB | {r:+.1} MiB | {} |",
            verdict(r <= 10.0)
        );
        // The same, net of what each setup holds at rest: its peak in the 1 KiB warm run.
        let w1 = workloads
            .iter()
            .find(|k| k.starts_with("1 KiB") && k.ends_with("warm token"));
        let w4 = workloads.iter().find(|k| k.starts_with("4 MiB"));
        if let (Some(w1), Some(w4)) = (w1, w4) {
            let grow =
                |setup: &str| Some(find(rows, w4, setup)?.rss_mib - find(rows, w1, setup)?.rss_mib);
            if let (Some(b), Some(g)) = (grow("bare"), grow("pci-guard")) {
                let _ = writeln!(
                    s,
                    "| (same, growth over each setup's own 1 KiB peak: bare {b:+.1}, pci-guard {g:+.1} MiB) | {:+.1} MiB | {} |",
                    g - b,
                    verdict(g - b <= 10.0)
                );
            }
        }
        if let (Some(b), Some(e)) = (
            w4.and_then(|w| find(rows, w, "bare")),
            w4.and_then(|w| find(rows, w, EMPTY_LABEL)),
        ) {
            let _ = writeln!(
                s,
                "| (floor: the empty wasm filter, same 4 MiB workload) | {:+.1} MiB | {} |",
                e.rss_mib - b.rss_mib,
                verdict(e.rss_mib - b.rss_mib <= 10.0)
            );
        }
    }
    let kib = size(wasm) as f64 / 1024.0;
    let _ = writeln!(
        s,
        "| `pci_guard.wasm` ≤ 1.5 MiB | {kib:.0} KiB | {} |",
        verdict(kib <= 1536.0)
    );
    let big_extra = |body: &str, setup: &str| {
        let b = bigs.iter().find(|x| x.body == body && x.setup == "bare")?;
        let g = bigs.iter().find(|x| x.body == body && x.setup == setup)?;
        Some(g.ms_per_req - b.ms_per_req)
    };
    for body in ["clean text-heavy JSON", "clean digit-dense JSON"] {
        if let Some(e) = big_extra(body, "pci-guard") {
            // The issue's target is 125 ms per 256 MiB; scaled when BENCH_BIG_MIB differs.
            let limit = 125.0 * big_mib as f64 / 256.0;
            let _ = writeln!(
                s,
                "| {big_mib} MiB {body}: ≤ {limit:.0} ms extra Envoy CPU | {e:+.0} ms | {} |",
                verdict(e <= limit)
            );
        }
    }

    if rows.iter().any(|r| r.group == "extra") {
        let _ = writeln!(s, "\n### pci-guard variants (1 KiB JSON, warm token)\n");
        let _ = writeln!(
            s,
            "| setup | Envoy CPU µs/req | req/s | p99 ms | vs bare µs |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        let w1 = rows
            .iter()
            .find(|r| r.group == "extra")
            .map(|r| r.workload.clone())
            .unwrap_or_default();
        let bare = find(rows, &w1, "bare").map(|m| m.cpu_us);
        for r in rows.iter().filter(|r| r.workload == w1) {
            let label = match r.setup.as_str() {
                "pci-guard" => "pci-guard (4 routes, audit to a file)",
                "bare" => "bare (no filter)",
                other => other,
            };
            let _ = writeln!(
                s,
                "| {label} | {:.1} | {:.0} | {:.2} | {} |",
                r.m.cpu_us,
                r.m.rps,
                r.m.p99_ms,
                bare.map_or("".into(), |b| format!("{:+.1}", r.m.cpu_us - b))
            );
        }
    }

    if !bigs.is_empty() {
        let _ = writeln!(
            s,
            "\n### {big_mib} MiB clean JSON, streamed (Content-Length), Envoy CPU per response (mean of {reps}, the setups' responses interleaved)\n"
        );
        let _ = writeln!(
            s,
            "| body | setup | Envoy CPU ms | extra vs bare ms | peak RSS MiB | failed responses |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
        for b in bigs {
            let base = bigs
                .iter()
                .find(|x| x.body == b.body && x.setup == "bare")
                .map_or(f64::NAN, |x| x.ms_per_req);
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:+.0} | {:.1} | {} |",
                b.body,
                b.setup,
                b.ms_per_req,
                b.ms_per_req - base,
                b.rss_mib,
                b.failed
            );
        }
    }

    let _ = writeln!(s, "\n## What the setups are\n");
    let _ = writeln!(
        s,
        "- **bare**: [`envoy/bench/bare.yaml`](envoy/bench/bare.yaml), router only, no access log.\n\
         - **native**: [`envoy/bench/native.yaml`](envoy/bench/native.yaml): `jwt_authn` (RS256, inline JWKS, `jwt_cache_config` 100), \
         per-route `rbac` on the payload's `scope` (GET /v1/cards/{{id}} and gRPC need `cards:read`, DELETE /v1/cards/** denied), \
         `lua` ([`mask.lua`](envoy/bench/mask.lua)) masking Luhn-valid card numbers in JSON bodies to the last four (it buffers the body: \
         buffer limits raised to 16 MiB), a JSON file access log.\n\
         - **pci-guard**: [`envoy/bench/pci-guard.yaml`](envoy/bench/pci-guard.yaml) with [`policy.json`](envoy/bench/policy.json) \
         (same provider, scopes, DELETE rule; redaction defaults: PANs, CVVs, track data), audit event to a file.\n\
         - Before each run the bench checks: 200 with the token, 401 without or with a bad one, 403 without the scope, 403 on DELETE; \
         JSON bodies through native and pci-guard equal the expected masked body byte for byte (bare: unchanged); \
         gRPC through pci-guard masked and 16 UNAUTHENTICATED without a token. Native's Lua does not look into gRPC bodies.\n\
         - Cold tokens: {} distinct valid RS256 tokens rotated per request by [`rotate-tokens.lua`](envoy/bench/rotate-tokens.lua), \
         more than either JWT cache holds (jwt_authn 100, pci-guard 256): every request verifies a signature \
         (pci-guard through Envoy's `verify_signature`).",
        ctx.cold_count
    );
    // Hand-written profiling notes (dated inside), kept with the generated tables.
    if let Ok(notes) = std::fs::read_to_string(root().join("envoy/bench/findings.md")) {
        let _ = writeln!(s, "\n{}", notes.trim_end());
    }
    s
}
