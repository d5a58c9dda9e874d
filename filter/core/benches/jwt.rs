//! Token verification cost per algorithm, native: cold (parse + signature + claims with the
//! pure verifier) and warm (verified-token cache hit: one SHA-256 and a lookup).
//!
//! Run: `cargo bench -p pci-guard-core --bench jwt`. Results are recorded in
//! `filter/core/benches/RESULTS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use pci_guard_core::identity::checks::verify;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::token_cache::{TokenCache, TokenKey};
use pci_guard_core::identity::KeySet;
use pci_guard_core::identity::{Alg, ProviderConfig};
use pci_guard_testkit as testkit;

/// A well-formed token for `alg` from jwt-simple, with the test key for it.
fn mint(alg: Alg, now: u64) -> String {
    testkit::mint_independent(
        alg.name(),
        &testkit::claims_at(now, "agent-7", &["cards:read"]),
    )
}

fn bench(c: &mut Criterion) {
    let now = testkit::now();
    let keys = KeySet::parse(testkit::read_key("corp-idp.jwks.json").as_bytes()).unwrap();
    let mut provider = ProviderConfig::new("corp-idp", testkit::ISSUER);
    provider.audiences = vec![testkit::AUDIENCE.into()];
    provider.algorithms.push(Alg::HS256);
    provider.hmac_secret = Some(testkit::HMAC_SECRET.to_vec());

    let mut g = c.benchmark_group("jwt");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    for alg in [
        Alg::RS256,
        Alg::PS256,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
        Alg::HS256,
    ] {
        let token = mint(alg, now);
        let identity = Arc::new(verify(&provider, &keys, &token, now, &PureVerifier).unwrap());
        g.bench_function(format!("cold/{alg}"), |b| {
            b.iter(|| verify(&provider, &keys, black_box(&token), now, &PureVerifier).unwrap())
        });
        let mut cache = TokenCache::default();
        cache.insert(TokenKey::new(&token), identity, 60, now);
        g.bench_function(format!("warm/{alg}"), |b| {
            b.iter(|| cache.get(&TokenKey::new(black_box(&token)), now).unwrap())
        });
    }
    let huge = "e".repeat(64 * 1024);
    g.bench_function("reject/64KiB", |b| {
        b.iter(|| verify(&provider, &keys, black_box(&huge), now, &PureVerifier).unwrap_err())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
