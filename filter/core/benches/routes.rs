//! Route matching: `cargo bench -p pci-guard-core --bench routes`.
//!
//! Policies of 1, 20 and 200 routes (templates with a variable segment, methods, like a real
//! API); the request matches the **last** route (worst case for first-match-wins) or none
//! (default deny, every route tried). Measured through [`authz::decide`], the function the
//! filter calls per request, with a caller that is never asked for (public routes), so the
//! figure is matching and deciding only, not token verification.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use pci_guard_core::authz::{self, Caller, RequestFlags};
use pci_guard_core::policy::Policy;
use pci_guard_core::routes::RequestLine;
use serde_json::{json, Value};

struct Nobody;

impl Caller for Nobody {
    fn subject(&self) -> Option<&str> {
        None
    }
    fn has_scope(&self, _: &str) -> bool {
        false
    }
    fn claim(&self, _: &str) -> Option<&Value> {
        None
    }
    fn clock_skew_seconds(&self) -> u64 {
        0
    }
}

/// `n` routes; the last one is `GET /v1/cards/{id}`.
fn policy(n: usize) -> Policy {
    let mut routes: Vec<Value> = (1..n)
        .map(|i| {
            json!({"name": format!("r{i}"),
                   "match": {"methods": ["GET", "POST"], "path": format!("/v1/service{i}/{{id}}/items/**")},
                   "auth": "public"})
        })
        .collect();
    routes.push(json!({"name": "cards-read", "match": {"methods": ["GET"], "path": "/v1/cards/{id}"}, "auth": "public"}));
    Policy::from_value(&json!({
        "version": "bench",
        "rules": [{"id": "no-card-delete", "action": "deny", "match": {"methods": ["DELETE"], "path": "/v1/cards/**"}}],
        "routes": routes
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("routes");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    for n in [1usize, 20, 200] {
        let p = policy(n);
        assert_eq!(p.routes.len(), n);
        let hit = RequestLine::new("GET", "/v1/cards/c_123?expand=1", false);
        let miss = RequestLine::new("GET", "/v2/unknown/c_123", false);
        let (d, _) = authz::decide::<Nobody>(&p, &hit, RequestFlags::default(), 0, |_| {
            panic!("public route")
        });
        assert_eq!(d.route, Some(n - 1));
        g.bench_function(format!("last/{n}"), |b| {
            b.iter(|| {
                authz::decide::<Nobody>(&p, black_box(&hit), RequestFlags::default(), 0, |_| {
                    panic!("public route")
                })
                .0
            })
        });
        g.bench_function(format!("none/{n}"), |b| {
            b.iter(|| {
                authz::decide::<Nobody>(&p, black_box(&miss), RequestFlags::default(), 0, |_| {
                    panic!("public route")
                })
                .0
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
