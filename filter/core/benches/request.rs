//! The core's share of one request, native: what the filter runs per request besides host
//! calls. `cargo bench -p pci-guard-core --bench request`.
//!
//! - `decide/warm`: route match, token found in the headers, verified-token cache hit, scope
//!   check (the `make bench` policy, `envoy/bench/policy.json`, GET /v1/cards/{id});
//! - `audit/seal`: the audit event of that request built, sanitized (card-data masking of
//!   every caller-supplied field), capped, serialized and linked into the hash chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use pci_guard_core::audit::{self, Chain, Event};
use pci_guard_core::authn::{authenticate, InlineKeys};
use pci_guard_core::authz::{self, RequestFlags};
use pci_guard_core::jwt_cache::JwtCache;
use pci_guard_core::policy::Policy;
use pci_guard_core::routes::RequestLine;
use pci_guard_core::verify::PureVerifier;
use serde_json::json;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bench(c: &mut Criterion) {
    let policy =
        Policy::parse(&std::fs::read(root().join("envoy/bench/policy.json")).unwrap()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = pci_guard_testkit::mint_as(
        "rsa1",
        &json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                "scope": "cards:read", "iat": now, "exp": now + 600, "jti": "j-1"}),
    );
    let headers: Vec<(String, String)> = [
        (":authority", "payments.test"),
        (":path", "/v1/cards/c_123"),
        (":method", "GET"),
        (":scheme", "http"),
        ("user-agent", "wrk"),
        ("authorization", &format!("Bearer {token}")),
        ("x-forwarded-proto", "http"),
        ("x-request-id", "6f1c2b9e-3a1d-4f57-9b7e-2c8d1e0f4a55"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    let mut keys = InlineKeys::new(&policy, None);
    let mut cache = JwtCache::new(256);
    let req = RequestLine::new("GET", "/v1/cards/c_123", false);
    let decide = |keys: &mut InlineKeys, cache: &mut JwtCache| {
        authz::decide(&policy, &req, RequestFlags::default(), now, |providers| {
            authenticate(
                &policy,
                providers,
                &headers,
                now,
                keys,
                cache,
                &PureVerifier,
            )
        })
    };
    let (first, caller) = decide(&mut keys, &mut cache);
    assert!(!first.blocks() && caller.is_some(), "{first:?}");

    let mut g = c.benchmark_group("request");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    g.bench_function("decide/warm", |b| {
        b.iter(|| black_box(decide(&mut keys, &mut cache)))
    });

    let opts = Arc::clone(&policy.redaction.options);
    let mut chain = Chain::new("bench-vm".into(), None);
    g.bench_function("audit/seal", |b| {
        b.iter(|| {
            let mut e = Event {
                version: audit::EVENT_VERSION,
                time: audit::rfc3339_millis(now * 1000),
                request_id: Some("6f1c2b9e-3a1d-4f57-9b7e-2c8d1e0f4a55".into()),
                ..Event::default()
            };
            e.policy.version = policy.version.clone();
            e.policy.digest = policy.digest.clone();
            e.source.address = Some("127.0.0.1:53422".into());
            e.request.method = "GET".into();
            e.request.path = "/v1/cards/c_123".into();
            e.request.authority = Some("payments.test".into());
            e.request.route = Some("cards-read".into());
            e.identity = Some(audit::IdentityRef {
                provider: "corp-idp".into(),
                iss: Some("https://idp.example.com".into()),
                sub: Some("agent-7".into()),
                jti: Some("j-1".into()),
                kid: Some("rsa-2026-a".into()),
                alg: Some("RS256".into()),
                ..Default::default()
            });
            e.response.status = Some(200);
            e.response.bytes = 1019;
            e.response.details = Some("via_upstream".into());
            e.redaction = Some(audit::RedactionRef {
                pan: 2,
                bytes_scanned: 1019,
                ..Default::default()
            });
            e.duration_ms = Some(1.0);
            e.sanitize(&opts);
            black_box(chain.seal(&mut e))
        })
    });
    let line = vec![b'x'; 700];
    g.bench_function("audit/link (SHA-256 of a 700-byte line)", |b| {
        b.iter(|| black_box(audit::link(None, black_box(&line))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
