//! The report: the results table, ratios against bare and native, the targets met or missed,
//! the variants and big-body tables, and what the setups are; printed and written to
//! `BENCHMARKS.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pci_guard_e2e::root;

use crate::measure::Measure;
use crate::runs::{Big, Row};
use crate::setups::{DYNAMIC_LABEL, EMPTY_DYNAMIC_LABEL, EMPTY_LABEL};
use crate::{env_num, Ctx};

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

/// The targets of issue 24 (the dynamic module, and the wasm build's 1 KiB figure), from
/// the interleaved medians.
fn dynamic_targets(s: &mut String, ratios: &BTreeMap<(&str, &str), (f64, f64, f64, f64)>) {
    let get = |build: &str, prefix: &str, suffix: &str| {
        ratios
            .iter()
            .find(|((b, w), _)| *b == build && w.starts_with(prefix) && w.ends_with(suffix))
            .map(|(_, v)| *v)
    };
    let _ = writeln!(
        s,
        "\n### Targets (issue 24: the dynamic module; the wasm build)\n"
    );
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    if let Some((d, _, n, _)) = get(DYNAMIC_LABEL, "1 KiB", "warm token") {
        let _ = writeln!(
            s,
            "| dynamic module, 1 KiB warm: ≤ bare + 15 µs | bare {d:+.1} µs ({n:.2}× native) | {} |",
            verdict(d <= 15.0)
        );
    }
    if let Some((d, _, n, _)) = get(EMPTY_DYNAMIC_LABEL, "1 KiB", "warm token") {
        let _ = writeln!(
            s,
            "| (floor: the empty dynamic module, interleaved) | bare {d:+.1} µs ({n:.2}× native) | |"
        );
    }
    if let Some((_, _, _, r)) = get(DYNAMIC_LABEL, "4 MiB", "") {
        let _ = writeln!(
            s,
            "| dynamic module, 4 MiB: peak RSS ≤ bare + 10 MiB | {r:+.1} MiB | {} |",
            verdict(r <= 10.0)
        );
    }
    if let Some((_, _, _, r)) = get(EMPTY_DYNAMIC_LABEL, "4 MiB", "") {
        let _ = writeln!(
            s,
            "| (floor: the empty dynamic module, same 4 MiB workload) | {r:+.1} MiB | |"
        );
    }
    if let Some((_, _, n, _)) = get(DYNAMIC_LABEL, "64 KiB", "") {
        let _ = writeln!(
            s,
            "| dynamic module, 64 KiB: ≤ 0.1× native | {n:.2}× | {} |",
            verdict(n <= 0.1)
        );
    }
    if let Some((d, _, _, _)) = get("pci-guard", "1 KiB", "warm token") {
        let _ = writeln!(
            s,
            "| wasm, 1 KiB warm: ≤ bare + 35 µs | bare {d:+.1} µs | {} |",
            verdict(d <= 35.0)
        );
    }
}

/// The whole `BENCHMARKS.md`: the run and machine, the tables, the targets, the setups, and
/// the hand-written findings of `envoy/bench/findings.md`.
#[allow(clippy::too_many_arguments)]
pub fn report(
    ctx: &Ctx,
    rows: &[Row],
    bigs: &[Big],
    (scans, labels): (&[crate::scanner::ScanRow], &[&str]),
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
        "Written by `make bench` (`envoy/src/bin/loadbench/`); criterion results of the core are in \
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
        "Envoy CPU = user+system time of the Envoy process over the measured run (`/proc/<pid>/stat`) ÷ completed requests; \
         for interleaved rounds, the median (lowest–highest).\n"
    );
    let _ = writeln!(
        s,
        "| workload | setup | Envoy CPU µs/req | req/s | p50 ms | p99 ms | peak RSS MiB | errors |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let m = &r.m;
        let cpu = match r.spread {
            Some((lo, hi)) => format!("{:.1} ({lo:.1}–{hi:.1})", m.cpu_us),
            None => format!("{:.1}", m.cpu_us),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {cpu} | {:.0} | {:.2} | {:.2} | {:.1} | {} |",
            r.workload, r.setup, m.rps, m.p50_ms, m.p99_ms, m.rss_mib, m.errors
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
        "| workload | build | − bare µs | / bare | / native | RSS − bare MiB |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
    // (build, workload) → (− bare µs, / bare, / native, RSS − bare MiB).
    let mut ratios: BTreeMap<(&str, &str), (f64, f64, f64, f64)> = BTreeMap::new();
    for w in &workloads {
        for build in ["pci-guard", DYNAMIC_LABEL, EMPTY_DYNAMIC_LABEL] {
            let (Some(b), Some(g)) = (find(rows, w, "bare"), find(rows, w, build)) else {
                continue;
            };
            let n = find(rows, w, "native").map_or(f64::NAN, |n| g.cpu_us / n.cpu_us);
            let r = (
                g.cpu_us - b.cpu_us,
                g.cpu_us / b.cpu_us,
                n,
                g.rss_mib - b.rss_mib,
            );
            let _ = writeln!(
                s,
                "| {w} | {build} | {:+.1} | {:.2}× | {:.2}× | {:+.1} |",
                r.0, r.1, r.2, r.3
            );
            ratios.insert((build, w), r);
        }
    }
    let ratio: BTreeMap<&str, (f64, f64, f64, f64)> = ratios
        .iter()
        .filter(|((b, _), _)| *b == "pci-guard")
        .map(|((_, w), v)| (*w, *v))
        .collect();
    dynamic_targets(&mut s, &ratios);

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
        if let Some(e) = big_extra(body, DYNAMIC_LABEL) {
            let _ = writeln!(
                s,
                "| ({big_mib} MiB {body}, dynamic module) | {e:+.0} ms | |"
            );
        }
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

    crate::ops_report::operations(&mut s, rows);
    crate::ops_report::grants(&mut s, rows);

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

    crate::scanner::section(&mut s, scans, labels);

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

/// A command's output (stdout, then stderr) trimmed, or why it could not run: the report
/// describes the machine and must not stop over a missing tool.
pub fn sh(cmd: &str, args: &[&str]) -> String {
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

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
