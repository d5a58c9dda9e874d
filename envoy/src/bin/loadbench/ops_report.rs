//! The tables of paired workloads, each a setup against its base in interleaved rounds: a
//! JSON-RPC call on a route that reads it as JSON-RPC against the same route matched on path
//! alone (issue 21's row), and a request on a just-in-time route carrying a grant against the
//! same request on a scope-only route (issue 20's row).

use std::fmt::Write;

use crate::runs::Row;

/// The workloads' names, shared by the runs and these tables.
pub const RPC_WORKLOAD: &str = "1 KiB JSON-RPC call, warm token";
pub const GRANT_WORKLOAD: &str = "1 KiB JSON, warm token, with and without a grant";
/// What the label of each workload's base setup holds.
pub const RPC_BASE: &str = "path-only";
pub const GRANT_BASE: &str = "without";

/// Appends the operations table when its workload ran.
pub fn operations(s: &mut String, rows: &[Row]) {
    paired(
        s,
        rows,
        RPC_WORKLOAD,
        "Operations in request bodies",
        "`POST /mcp`, the answer masked",
        RPC_BASE,
    );
}

/// Appends the grants table when its workload ran.
pub fn grants(s: &mut String, rows: &[Row]) {
    paired(
        s,
        rows,
        GRANT_WORKLOAD,
        "Just-in-time grants",
        "`GET /v1/cards/small`, the answer masked; the grant an ES256 JWT verified on every \
         request (a per-VM cache of verified grants), the revocation list polled every 5 s",
        GRANT_BASE,
    );
}

/// Fills each run's `deltas` for `workload`: its CPU minus that of the latest run of the
/// setup whose label holds `base` in the same runtime (the rounds run base, then the others).
pub fn pair_rounds(rows: &mut [Row], workload: &str, base: &str) {
    let mut last: Vec<(String, f64)> = Vec::new();
    for r in rows.iter_mut().filter(|r| r.workload == workload) {
        let rt = runtime(&r.setup);
        if r.setup.contains(base) {
            last.retain(|(k, _)| *k != rt);
            last.push((rt, r.m.cpu_us));
        } else if let Some((_, b)) = last.iter().find(|(k, _)| *k == rt) {
            r.deltas.push(r.m.cpu_us - b);
        }
    }
}

/// The runtime part of a setup label: what precedes the comma.
fn runtime(label: &str) -> String {
    label.split(',').next().unwrap_or_default().to_string()
}

/// One table: every setup of `workload`, its Envoy CPU against the setup whose label holds
/// `base` (in the same runtime: labels share what precedes the comma).
fn paired(s: &mut String, rows: &[Row], workload: &str, title: &str, what: &str, base: &str) {
    let ops: Vec<&Row> = rows.iter().filter(|r| r.workload == workload).collect();
    if ops.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### {title} ({workload}; {what}; median of interleaved rounds)\n"
    );
    let _ = writeln!(
        s,
        "| setup | Envoy CPU µs/req (lowest–highest) | req/s | p99 ms | vs {base} µs (medians) | vs {base} µs per round: median (lowest–highest) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for r in &ops {
        let b = ops
            .iter()
            .find(|o| o.setup.contains(base) && runtime(&o.setup) == runtime(&r.setup))
            .map(|o| o.m.cpu_us);
        let spread = r
            .spread
            .map_or(String::new(), |(lo, hi)| format!(" ({lo:.1}–{hi:.1})"));
        let mut d = r.deltas.clone();
        d.sort_by(f64::total_cmp);
        let per_round = match (d.first(), d.last()) {
            (Some(lo), Some(hi)) => format!("{:+.1} ({lo:+.1}–{hi:+.1})", d[d.len() / 2]),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {:.1}{spread} | {:.0} | {:.2} | {} | {per_round} |",
            r.setup,
            r.m.cpu_us,
            r.m.rps,
            r.m.p99_ms,
            b.map_or(String::new(), |b| format!("{:+.1}", r.m.cpu_us - b))
        );
    }
}
