//! The scanner's MB/s in Envoy's V8: `envoy/bench/scanner-probe` (the redaction engine timed
//! inside the VM) for this build and, when given, the baseline's engine, each in its own Envoy,
//! requests interleaved round by round so the machine's drift falls on both alike. Node's V8
//! and native builds compile the scan loop differently; this is the runtime that ships it.

use std::fmt::Write as _;
use std::path::PathBuf;

use pci_guard_e2e::{request, Harness};

use crate::setups::pin;
use crate::{env_num, log, Ctx};

/// The probe's bodies (its `/<name>` paths) and how the table names them.
const BODIES: [(&str, &str); 6] = [
    ("clean", "clean JSON"),
    ("digits", "digit-dense JSON (the big row's)"),
    ("text", "text-heavy JSON"),
    ("japanese", "Japanese JSON"),
    ("cards", "card-dense JSON"),
    ("form", "form"),
];

/// Chunk sizes: Envoy's reads of a fast upstream, and small network reads.
const CHUNKS: [usize; 2] = [64 << 10, 16 << 10];

/// One body at one chunk size: each build's best run over all rounds, in MB/s (this build
/// first, then the baseline's if any). The best, not a median: what else runs on the machine
/// (and the other Envoy's V8 threads) only ever slows a run down.
pub struct ScanRow {
    pub body: &'static str,
    pub chunk: usize,
    pub mbs: Vec<f64>,
}

/// The probe builds to compare: `PCI_GUARD_SCANNER_PROBE` (this tree's) and
/// `PCI_GUARD_SCANNER_PROBE_BASELINE`; none if this tree's is not built.
pub fn probes() -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    for (label, var) in [
        ("this build", "PCI_GUARD_SCANNER_PROBE"),
        ("baseline", "PCI_GUARD_SCANNER_PROBE_BASELINE"),
    ] {
        match std::env::var(var).map(PathBuf::from) {
            Ok(p) if p.exists() => out.push((label, p)),
            _ if out.is_empty() => return out,
            _ => {}
        }
    }
    out
}

/// `BENCH_SCANNER_ROUNDS` (default 7) rounds; in each, every body and chunk size is asked of
/// every build in turn (fresh Envoys each round), `BENCH_SCANNER_REPS` (default 9) runs per
/// request.
pub fn scanner_runs(ctx: &Ctx, probes: &[(&'static str, PathBuf)]) -> Vec<ScanRow> {
    let rounds = rounds();
    let reps = env_num("BENCH_SCANNER_REPS", 9).max(1);
    let start = |wasm: &PathBuf| {
        let e = Harness::new("bench/scanner-probe.yaml", "", 0)
            .wasm(wasm)
            .start();
        if ctx.pinned {
            pin(e.pid(), "0");
        }
        // Warm-up: V8 compiles a function with its baseline compiler first and optimises it
        // once it runs hot.
        for (name, _) in BODIES {
            let r = request(e.port, "GET", &format!("/{name}?reps=3"), &[], b"").unwrap();
            assert_eq!(r.status, 200, "warm-up /{name}");
        }
        e
    };
    let mut samples = vec![vec![Vec::new(); probes.len()]; BODIES.len() * CHUNKS.len()];
    for round in 0..rounds {
        log(&format!(
            "scanner in Envoy's V8: round {}/{rounds}",
            round + 1
        ));
        // Fresh Envoys each round: a VM's heap layout (where its chunks land) can hold one body
        // a few percent off for as long as the VM lives.
        let envoys: Vec<_> = probes.iter().map(|(_, wasm)| start(wasm)).collect();
        for (b, (name, _)) in BODIES.iter().enumerate() {
            for (c, chunk) in CHUNKS.iter().enumerate() {
                for (k, envoy) in envoys.iter().enumerate() {
                    let path = format!("/{name}?chunk={chunk}&reps={reps}");
                    let r = request(envoy.port, "GET", &path, &[], b"").unwrap();
                    let text = String::from_utf8_lossy(&r.body).to_string();
                    assert_eq!(r.status, 200, "{} {path}: {text}", probes[k].0);
                    samples[b * CHUNKS.len() + c][k].push(mb_per_s(&text));
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (b, (_, body)) in BODIES.iter().enumerate() {
        for (c, chunk) in CHUNKS.iter().enumerate() {
            let mbs = samples[b * CHUNKS.len() + c]
                .iter_mut()
                .map(|v| v.iter().copied().fold(0.0, f64::max))
                .collect();
            rows.push(ScanRow {
                body,
                chunk: *chunk,
                mbs,
            });
        }
    }
    rows
}

/// `BENCH_SCANNER_ROUNDS`, default 7: what the runs do and what the table says they did.
fn rounds() -> u64 {
    env_num("BENCH_SCANNER_ROUNDS", 7).max(1)
}

/// MB/s of the probe's best run, from its `bytes=… best_ns=… median_ns=…` line.
fn mb_per_s(line: &str) -> f64 {
    let field = |key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("scanner probe answered {line:?}"))
    };
    field("bytes") / field("best_ns") * 1e3
}

/// The table of [`scanner_runs`]' rows.
pub fn section(s: &mut String, rows: &[ScanRow], labels: &[&str]) {
    if rows.is_empty() {
        return;
    }
    let rounds = rounds();
    let _ = writeln!(
        s,
        "\n### The scanner in Envoy's V8 (envoy/bench/scanner-probe, MB/s, best of {rounds} interleaved rounds)\n"
    );
    let _ = write!(s, "| body | chunk |");
    for l in labels {
        let _ = write!(s, " {l} |");
    }
    let _ = writeln!(s, "{}", if labels.len() > 1 { " change |" } else { "" });
    let _ = writeln!(
        s,
        "|---|---:|{}{}",
        "---:|".repeat(labels.len()),
        if labels.len() > 1 { "---:|" } else { "" }
    );
    for r in rows {
        let _ = write!(s, "| {} | {} KiB |", r.body, r.chunk >> 10);
        for m in &r.mbs {
            let _ = write!(s, " {m:.0} |");
        }
        if let [this, base, ..] = r.mbs[..] {
            let _ = write!(s, " {:+.1}% |", (this / base - 1.0) * 100.0);
        }
        let _ = writeln!(s);
    }
}
