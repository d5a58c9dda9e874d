//! The core's share of one request, native: what the filter runs per request besides host
//! calls. `cargo bench -p pci-guard-core --bench request`.
//!
//! - `judge/request (warm)`: the request entry the plugin calls: route match, token found in
//!   the headers, verified-token cache hit, scope check, upstream header edits and the audit
//!   event begun (the `make bench` policy, `envoy/bench/policy.json`, GET /v1/cards/{id});
//! - `judge/request (warm, grant header)`: the same request on the same route made to need a
//!   just-in-time grant, which comes in `x-pci-guard-grant` (signed by the approvals service,
//!   verified-grant cache hit, revocation list looked up, binding matched, header stripped):
//!   the cost of a grant against standing scopes, interleaved in one run;
//! - `judge/log`: that request's audit event completed, sanitized (card-data masking of every
//!   caller-supplied field), capped, serialized and linked into the hash chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use pci_guard_core::audit::{self, Chain, RedactionRef};
use pci_guard_core::authz::grant::GrantState;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::Keyring;
use pci_guard_core::judge::{self, Judged, Request, ResponseFacts, State, Verdict};
use pci_guard_core::policy::Policy;
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
    let mut keyring = Keyring::new(&policy.providers, now * 1000);
    let judge_one = |keyring: &mut Keyring| -> Verdict {
        let state = State {
            policy: &policy,
            keyring,
            crypto: &PureVerifier,
            grants: None,
        };
        let req = Request {
            headers: &headers,
            route_name: None,
            route_metadata: None,
            source_address: Some("127.0.0.1:53422"),
            source_principal: None,
            started_ms: now * 1000,
        };
        match judge::request(Some(state), &req, now * 1000, false) {
            Judged::Done(v) => *v,
            Judged::Wait { .. } => panic!("inline keys never wait"),
            Judged::ReadBody { .. } => panic!("no route here reads bodies"),
        }
    };
    let first = judge_one(&mut keyring);
    assert!(!first.blocks() && first.caller.is_some(), "{first:?}");

    // The same policy, the cards route needing a grant from the approvals service.
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("envoy/bench/policy.json")).unwrap())
            .unwrap();
    let ec256: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/keys/ec256.jwks.json")).unwrap(),
    )
    .unwrap();
    doc["routes"][1]["jit"] = json!({"max_ttl": "30m"});
    doc["approvals"] = json!({"issuer": pci_guard_testkit::APPROVALS, "providers": ["corp-idp"],
                              "grants": {"cluster": "approvals", "jwks": ec256}});
    let jit_policy = Policy::from_value(&doc).unwrap();
    let mut grants = GrantState::for_policy(jit_policy.approvals.as_ref()).unwrap();
    grants
        .revocations
        .on_fetch_ok(
            br#"{"version": 3, "revoked": [{"id": "grt_a"}, {"id": "grt_b"}]}"#,
            None,
            now,
        )
        .unwrap();
    let grant = pci_guard_testkit::mint_grant(&pci_guard_testkit::signed_grant(
        "grt_bench",
        "agent-7",
        &["cards:read"],
        &["alice"],
        now - 60,
        1800,
        json!({"route": "cards-read", "methods": ["GET"], "path": "/v1/cards/c_123"}),
    ));
    let mut with_grant = headers.clone();
    with_grant.push(("x-pci-guard-grant".to_string(), grant));
    let mut jit_keyring = Keyring::new(&jit_policy.providers, now * 1000);
    let mut judge_granted = |keyring: &mut Keyring| -> Verdict {
        let state = State {
            policy: &jit_policy,
            keyring,
            crypto: &PureVerifier,
            grants: Some(&mut grants),
        };
        let req = Request {
            headers: &with_grant,
            route_name: None,
            route_metadata: None,
            source_address: Some("127.0.0.1:53422"),
            source_principal: None,
            started_ms: now * 1000,
        };
        match judge::request(Some(state), &req, now * 1000, false) {
            Judged::Done(v) => *v,
            _ => panic!("judged at once"),
        }
    };
    let granted = judge_granted(&mut jit_keyring);
    assert!(!granted.blocks(), "{:?}", granted.decision);
    assert!(granted.event.jit.is_some());

    let mut g = c.benchmark_group("request");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    g.bench_function("judge/request (warm)", |b| {
        b.iter(|| black_box(judge_one(&mut keyring)))
    });
    g.bench_function("judge/request (warm, grant header)", |b| {
        b.iter(|| black_box(judge_granted(&mut jit_keyring)))
    });

    let opts = Arc::clone(&policy.redaction.options);
    let mut chain = Chain::new("bench-vm".into(), None);
    g.bench_function("judge/log", |b| {
        b.iter_batched(
            || first.event.clone(),
            |mut event| {
                let facts = ResponseFacts {
                    status: Some(200),
                    grpc_status: None,
                    bytes: 1019,
                    details: Some("via_upstream".into()),
                    redaction: Some(RedactionRef {
                        pan: 2,
                        bytes_scanned: 1019,
                        ..Default::default()
                    }),
                    ended_ms: now * 1000 + 1,
                };
                black_box(judge::log(
                    &mut event,
                    facts,
                    now * 1000,
                    &opts,
                    Some(&mut chain),
                ))
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let line = vec![b'x'; 700];
    g.bench_function("audit/link (SHA-256 of a 700-byte line)", |b| {
        b.iter(|| black_box(audit::link(None, black_box(&line))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
