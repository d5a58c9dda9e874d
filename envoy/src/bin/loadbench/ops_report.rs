//! The table of the request-body workload: a JSON-RPC call on a route that reads it as
//! JSON-RPC against the same route matched on path alone (issue 21's benchmark row).

use std::fmt::Write;

use crate::runs::Row;

/// The workload's name, shared by the runs and this table.
pub const RPC_WORKLOAD: &str = "1 KiB JSON-RPC call, warm token";

/// Appends the table when the workload ran.
pub fn operations(s: &mut String, rows: &[Row]) {
    let ops: Vec<&Row> = rows.iter().filter(|r| r.workload == RPC_WORKLOAD).collect();
    if ops.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### Operations in request bodies ({RPC_WORKLOAD}; `POST /mcp`, the answer masked; median of interleaved rounds)\n"
    );
    let _ = writeln!(
        s,
        "| setup | Envoy CPU µs/req (lowest–highest) | req/s | p99 ms | vs path-only µs |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let base = ops
        .iter()
        .find(|r| r.setup.contains("path-only"))
        .map(|r| r.m.cpu_us);
    for r in ops {
        let spread = r
            .spread
            .map_or(String::new(), |(lo, hi)| format!(" ({lo:.1}–{hi:.1})"));
        let _ = writeln!(
            s,
            "| {} | {:.1}{spread} | {:.0} | {:.2} | {} |",
            r.setup,
            r.m.cpu_us,
            r.m.rps,
            r.m.p99_ms,
            base.map_or(String::new(), |b| format!("{:+.1}", r.m.cpu_us - b))
        );
    }
}
