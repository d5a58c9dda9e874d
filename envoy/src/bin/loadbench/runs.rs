//! The runs: each starts a fresh upstream and Envoy for one workload and setup, checks it, measures
//! it and records a row; the big-body runs interleave their setups instead.

use std::path::Path;
use std::sync::Arc;

use pci_guard_e2e::grpc::{GrpcClient, GrpcUpstream};
use pci_guard_e2e::procfs::{cpu_ticks, memory};
use pci_guard_e2e::{request, Envoy, Received, Reply, Upstream};

use crate::bodies::{upstream, Bodies, Body};
use crate::checks::{auth, check_body, check_policy};
use crate::measure::{run_grpc, run_http, Measure, Tokens};
use crate::setups::{start, Setup};
use crate::{log, wanted, Ctx};

/// One measured run: its table (`main` or `extra`), workload, setup and figures.
pub struct Row {
    pub group: &'static str,
    pub workload: String,
    pub setup: String,
    pub m: Measure,
    /// Over interleaved rounds: the lowest and highest Envoy CPU µs/req (`m` has the median).
    pub spread: Option<(f64, f64)>,
    /// Per round, Envoy CPU µs/req minus that of the base setup run just before it (paired
    /// workloads: the difference within a round is steadier than the difference of medians).
    pub deltas: Vec<f64>,
}

/// One HTTP workload through one setup: fresh upstream and Envoy, checks, then wrk.
#[allow(clippy::too_many_arguments)]
pub fn http_run(
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
    record(rows, &envoy, &name, group, workload, setup, m);
}

/// After a measured run: Envoy logged nothing critical; the figures are logged and kept.
pub fn record(
    rows: &mut Vec<Row>,
    envoy: &Envoy,
    name: &str,
    group: &'static str,
    workload: &str,
    setup: &Setup,
    m: Measure,
) {
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
        spread: None,
        deltas: Vec::new(),
    });
}

/// A JSON-RPC call (`POST /mcp`, the body in `call`) through one setup: fresh upstream and
/// Envoy; checked to answer the call masked, and to refuse a denied tool where the route reads
/// the body (`reads_body`), so the two setups compared really differ in what they do.
pub fn rpc_run(
    ctx: &Ctx,
    rows: &mut Vec<Row>,
    bodies: &Arc<Bodies>,
    workload: &str,
    setup: &Setup,
    call: &Path,
    reads_body: bool,
) {
    let name = format!("extra/{workload}/{}", setup.label());
    if !wanted(&name) {
        return;
    }
    let up = upstream(bodies);
    let envoy = start(ctx, setup, up.port);
    let auth = auth(&ctx.warm);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let ok = envoy.send("POST", "/mcp", &headers, &std::fs::read(call).unwrap());
    assert_eq!(ok.status, 200, "{name}: the call");
    assert_eq!(ok.body, bodies.small.masked, "{name}: the answer is masked");
    let delete = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_card","arguments":{}}}"#;
    let denied = envoy.send("POST", "/mcp", &headers, delete);
    let reason = denied.header("x-pci-guard-reason").map(str::to_string);
    if reads_body {
        assert_eq!(
            reason.as_deref(),
            Some("rule_denied"),
            "{name}: delete_card is denied"
        );
    } else {
        assert_eq!(
            denied.status, 200,
            "{name}: a path-only route passes any tool"
        );
    }
    let m = run_http(ctx, &envoy, "/mcp", &Tokens::WarmPost(&ctx.warm, call));
    record(rows, &envoy, &name, "extra", workload, setup, m);
}

/// The gRPC unary workload through one setup: fresh gRPC upstream and Envoy, checks, h2load.
pub fn grpc_run(ctx: &Ctx, rows: &mut Vec<Row>, setup: &Setup, data: &Path) {
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
        spread: None,
        deltas: Vec::new(),
    });
}

/// One row of the big-body comparison: Envoy CPU per request, averaged over `reps`.
pub struct Big {
    pub body: &'static str,
    pub setup: String,
    pub ms_per_req: f64,
    pub rss_mib: f64,
    /// Responses (of the measured ones) that were cut short or not 200.
    pub failed: usize,
}

/// The big-body runs (`BENCH_BIG_MIB`): for each body, one Envoy per setup, all up at once
/// behind one upstream, and the responses interleaved (bare, pci-guard, …, bare, pci-guard, …),
/// so the machine's drift over the run falls on every setup alike instead of showing up as a
/// difference between setups measured one after another.
pub fn big_runs(
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

/// One row per (group, workload, setup): repeated runs become their median (CPU, req/s,
/// latencies), the largest peak RSS and the summed requests and errors.
pub fn medians(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<(Row, Vec<Measure>)> = Vec::new();
    for r in rows {
        match out
            .iter_mut()
            .find(|(o, _)| o.group == r.group && o.workload == r.workload && o.setup == r.setup)
        {
            Some((o, runs)) => {
                o.deltas.extend(r.deltas);
                runs.push(r.m);
            }
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
                let cpu = runs.iter().map(|m| m.cpu_us);
                r.spread = Some((
                    cpu.clone().fold(f64::MAX, f64::min),
                    cpu.fold(0.0, f64::max),
                ));
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
