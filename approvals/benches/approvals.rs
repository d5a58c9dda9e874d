//! Throughput of the approvals service: token exchanges/s and approvals/s, on SQLite and on
//! PostgreSQL (a cluster of its own, as the tests start it). Not a timed test: it prints a
//! table and writes `approvals/benches/RESULTS.md`.
//!
//! `cargo bench -p pci-guard-approvals` (or `make bench-approvals`). Knobs:
//! `BENCH_SECONDS` (per measurement, default 5), `BENCH_CONCURRENCY` (clients, default 8).
//!
//! - approvals/s: requests for a one-approval rule are filed first; then as many approvals
//!   as the clients can make in the time, each one the final approval (a grant is created,
//!   the audit events written, the notices queued).
//! - token exchanges/s: RFC 8693 exchanges of one requester's access token for its grant
//!   (verify the subject token, find the grant, sign an ES256 JWT).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::pg::Pg;
use common::{agent, alice, rt, Client, Config, Service, TempDir};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Row {
    backend: &'static str,
    approvals: f64,
    exchanges: f64,
    files: f64,
}

async fn measure(backend: &'static str, c: Client, secs: u64, conc: usize) -> Row {
    let d = Duration::from_secs(secs);
    // Filing: as many as the clients can in the time (these are approved next).
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (c, ids, t) = (c.clone(), ids.clone(), agent());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < d {
                let (s, v) = c
                    .post(
                        "/v1/requests",
                        &t,
                        json!({"rule": "bulk-export", "duration": "10m", "justification": "bench"}),
                    )
                    .await;
                assert_eq!(s, 201, "{v}");
                ids.lock()
                    .unwrap()
                    .push(v["id"].as_str().unwrap().to_string());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let filed = ids.lock().unwrap().len();
    let files = filed as f64 / start.elapsed().as_secs_f64();

    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids.lock().unwrap().clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (c, ids, next, t) = (c.clone(), ids.clone(), next.clone(), alice());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < d {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(id) = ids.get(i) else { break };
                let (s, v) = c
                    .post(&format!("/v1/requests/{id}/approve"), &t, json!({}))
                    .await;
                assert_eq!(s, 200, "{v}");
                n += 1;
            }
            n
        }));
    }
    let mut approved = 0;
    for t in tasks {
        approved += t.await.unwrap();
    }
    let approvals = approved as f64 / start.elapsed().as_secs_f64();

    let id = ids[0].clone();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (c, id, t) = (c.clone(), id.clone(), agent());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < d {
                let (s, v) = c.exchange(&t, Some(&id)).await;
                assert_eq!(s, 200, "{v}");
                n += 1;
            }
            n
        }));
    }
    let mut exchanged = 0;
    for t in tasks {
        exchanged += t.await.unwrap();
    }
    let exchanges = exchanged as f64 / start.elapsed().as_secs_f64();
    Row {
        backend,
        approvals,
        exchanges,
        files,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours skips the run.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"approvals".contains(a.as_str()))
    {
        return;
    }
    let secs = env_num("BENCH_SECONDS", 5);
    let conc = env_num("BENCH_CONCURRENCY", 8) as usize;
    let rt = rt();
    let mut rows = Vec::new();

    let dir = TempDir::new("bench-sqlite");
    let cfg = Config::new(format!("sqlite://{}/approvals.db", dir.0.display()), &dir.0);
    let svc = Service::start(&cfg);
    rows.push(rt.block_on(measure("SQLite (file)", Client::new(&svc.url), secs, conc)));
    drop(svc);

    let pg_note = match Pg::start_with(true) {
        Ok(pg) => {
            let dir = TempDir::new("bench-pg");
            let cfg = Config::new(pg.database("approvals"), &dir.0);
            let svc = Service::start(&cfg);
            rows.push(rt.block_on(measure(
                "PostgreSQL (127.0.0.1)",
                Client::new(&svc.url),
                secs,
                conc,
            )));
            drop(svc);
            String::new()
        }
        Err(why) => format!("\nPostgreSQL not measured: {why}\n"),
    };

    let mut table = String::from(
        "| backend | requests filed/s | approvals/s (each makes a grant) | token exchanges/s |\n|---|---:|---:|---:|\n",
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} |\n",
            r.backend, r.files, r.approvals, r.exchanges
        ));
    }
    println!("\n{table}{pg_note}");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let doc = format!(
        "# pci-guard-approvals: throughput\n\n\
         Written by `cargo bench -p pci-guard-approvals` (`make bench-approvals`); numbers from\n\
         the last run on the machine that ran it. {cores} cores, {conc} concurrent clients over\n\
         HTTP/1.1 on loopback, {secs} s per measurement, service and clients in one process\n\
         (so they share the cores), audit log to a file, no webhooks. Both durable: SQLite in\n\
         WAL mode with synchronous=FULL (one fsync per commit), PostgreSQL (Debian's server,\n\
         on the same machine) with fsync on.\n\n{table}{pg_note}\n\
         Each approval here is the final one of its request: the decision, the grant and the\n\
         outbox rows in one transaction, then two audit lines. A token exchange verifies the\n\
         requester's token (the core's verified-token cache makes repeats cheap), reads the\n\
         request and grant, and signs an ES256 grant.\n"
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/RESULTS.md");
    std::fs::write(&path, doc).unwrap();
    println!("wrote {}", path.display());
}
