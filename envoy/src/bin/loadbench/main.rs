//! `loadbench`: the same workloads through three Envoy setups with the same upstream, measuring
//! Envoy's CPU time per request (the primary figure), requests/s, p50/p99 latency and peak RSS.
//!
//! Setups (configs in `envoy/bench/`):
//! - **bare**: Envoy with the router only;
//! - **native**: `jwt_authn` (RS256, inline JWKS, JWT cache) + per-route `rbac` on the token's
//!   scopes (one DELETE route denied) + a `lua` filter masking card numbers in JSON bodies;
//! - **pci-guard**: the filter with `envoy/bench/policy.json`, audit events to a file;
//! - **pci-guard dynamic module**: the same plugin and policy as an Envoy dynamic module.
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
//! `BENCHMARKS.md` in the workspace), `BENCH_ROUNDS` (interleaved rounds of the 1 KiB
//! warm-token workload, median reported; default 3), `PCI_GUARD_WASM`,
//! `PCI_GUARD_WASM_NOSIMD` (a build without `simd128`; optional), `PCI_GUARD_DYNAMIC_DIR` (the
//! directory of `libpci_guard_dynamic.so`, default `target/dynamic`), `PCI_GUARD_DYNAMIC_NOOP_DIR`
//! (the empty dynamic module of `envoy/bench/noop-dynamic`, under that file name; optional), `PCI_GUARD_WASM_NOOP` (the
//! empty filter of `envoy/bench/noop-filter`; optional), `PCI_GUARD_WASM_BASELINE` (another
//! build of pci-guard, e.g. of the commit a change starts from, run in the headline rounds and
//! beside the big bodies;
//! optional; `make bench BASELINE=<rev>` builds it), `PCI_GUARD_SCANNER_PROBE` and
//! `PCI_GUARD_SCANNER_PROBE_BASELINE` (`envoy/bench/scanner-probe` built against this tree's
//! core and the baseline's: the scanner rows, skipped without the first),
//! `BENCH_SCANNER_ROUNDS` (7), `BENCH_SCANNER_REPS` (runs per request, 9), `ENVOY`.
//!
//! Modules: [`bodies`] (what the upstream sends), [`setups`] (the Envoys compared),
//! [`checks`] (each setup does what it claims), [`measure`] (wrk, h2load, Envoy's CPU),
//! [`runs`] (one row per workload and setup), [`grants`] (the just-in-time grant row),
//! [`scanner`] (the redaction engine alone in Envoy's V8),
//! [`report`] and [`ops_report`] (the tables and `BENCHMARKS.md`).

// A benchmark tool, not a request path: any failure must stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bodies;
mod checks;
mod grants;
mod measure;
mod ops_report;
mod report;
mod runs;
mod scanner;
mod setups;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use pci_guard_e2e::grpc::pb;
use pci_guard_e2e::{root, tokens, TempDir};
use prost::Message as _;
use serde_json::{json, Value};

use bodies::{cards_body, clean_body, rpc_call, small_body, Bodies};
use ops_report::{GRANT_WORKLOAD, RPC_WORKLOAD};
use report::{loadavg, report, sh};
use runs::{big_runs, grpc_run, http_run, medians, rpc_run};
use setups::{
    empty_dynamic, guard, guard_checked, guard_dynamic, mcp_policies, pin, policy_with_routes,
    Checks, Setup, BASELINE_LABEL, DYNAMIC_LABEL, EMPTY_LABEL,
};

/// What every run shares: the knobs, the tokens, a scratch directory, the machine's clock tick.
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

/// Whether the run named `name` is selected by `BENCH_ONLY`.
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

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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
    // The same plugin as an Envoy dynamic module, in every workload beside the wasm build.
    let d = guard_dynamic(DYNAMIC_LABEL, &policy, true, Checks::Full);
    let setups = [Setup::Bare, Setup::Native, g.clone(), d.clone()];
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
    // interleaved with bare, native and pci-guard, because its cost over bare is smaller than
    // the machine's drift between runs measured apart.
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
    // The floor of any dynamic-module filter, beside it (`PCI_GUARD_DYNAMIC_NOOP_DIR`: the
    // directory `make bench` puts envoy/bench/noop-dynamic's build in, under the module's name).
    let empty_module = std::env::var("PCI_GUARD_DYNAMIC_NOOP_DIR")
        .ok()
        .map(PathBuf::from)
        .filter(|d| d.join("libpci_guard_dynamic.so").exists())
        .map(|d| empty_dynamic(&public, &d));
    // Another build of pci-guard, in the headline rounds too: a change is measured against its
    // base on the same machine load, not against a figure from another day.
    let baseline = std::env::var("PCI_GUARD_WASM_BASELINE")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = PathBuf::from(p);
            assert!(
                p.exists(),
                "PCI_GUARD_WASM_BASELINE: no plugin at {}",
                p.display()
            );
            guard(BASELINE_LABEL, &policy, true, &p)
        });
    // (workload, path, expected body, cold tokens, rounds, with the empty filter). The headline
    // workload runs in interleaved rounds (bare, native, pci-guard, bare, …) and reports each
    // setup's median: on a shared machine a single run of each drifts too much to compare.
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
            if *with_empty {
                for e in empty.iter().chain(&empty_module) {
                    http_run(&ctx, &mut rows, b, "extra", workload, e, path, *body, *cold);
                }
            }
            if let (true, Some(base)) = (*rounds > 1, &baseline) {
                http_run(
                    &ctx, &mut rows, b, "extra", workload, base, path, *body, *cold,
                );
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
        // Where the dynamic module's cost goes: the audit sink (Envoy formats and writes the
        // event), and the floor of a dynamic-module filter that decides nothing.
        guard_dynamic(
            "pci-guard dynamic module, audit off",
            &policy,
            false,
            Checks::Full,
        ),
        guard_dynamic(
            "pci-guard dynamic module, public route, redaction off, audit off",
            &public,
            false,
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

    // Operations in request bodies: a 1 KiB JSON-RPC call on a route that reads it as JSON-RPC
    // (one rule on tool names) against the same route matched on path alone, interleaved.
    let call = ctx.dir.path().join("call.json");
    std::fs::write(&call, rpc_call(1024)).unwrap();
    let (path_only, matched) = mcp_policies(&policy);
    let rpc = [
        (
            guard("pci-guard, path-only route", &path_only, true, &wasm),
            false,
        ),
        (
            guard("pci-guard, operation matcher", &matched, true, &wasm),
            true,
        ),
    ];
    for _ in 0..rounds {
        for (s, reads) in &rpc {
            rpc_run(&ctx, &mut rows, b, RPC_WORKLOAD, s, &call, *reads);
        }
    }

    // Just-in-time grants: the same request with a grant on a JIT route against the token
    // alone on a scope-only route, interleaved, on both runtimes.
    let jit = grants::setups(&policy, &wasm);
    for _ in 0..rounds {
        for (s, with_grant) in &jit {
            grants::grant_run(&ctx, &mut rows, b, s, *with_grant);
        }
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
        let mut big_setups = vec![Setup::Bare, g.clone(), d.clone()];
        if let Some(sw) = &simd {
            big_setups.push(guard("pci-guard without simd128", &policy, true, sw));
        }
        // The scanner of the build a change starts from, in the same interleaved stretch.
        big_setups.extend(baseline.iter().cloned());
        big_runs(&ctx, &mut bigs, &big_setups, &big_bodies, reps);
    }

    // The engine alone in Envoy's V8, this build's and the baseline's, interleaved.
    let probes = scanner::probes();
    let scans = if wanted("scanner") && !probes.is_empty() {
        scanner::scanner_runs(&ctx, &probes)
    } else {
        Vec::new()
    };
    let labels: Vec<&str> = probes.iter().map(|(l, _)| *l).collect();

    ops_report::pair_rounds(&mut rows, RPC_WORKLOAD, ops_report::RPC_BASE);
    ops_report::pair_rounds(&mut rows, GRANT_WORKLOAD, ops_report::GRANT_BASE);
    let rows = medians(rows);
    let report = report(
        &ctx,
        &rows,
        &bigs,
        (&scans, &labels),
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
