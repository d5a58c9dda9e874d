//! Token verification cost per algorithm, native: cold (parse + signature + claims with the
//! pure verifier) and warm (verified-token cache hit: one SHA-256 and a lookup).
//!
//! Run: `cargo bench -p pci-guard-core --bench jwt`. Results are recorded in
//! `filter/core/benches/RESULTS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use jwt_simple::prelude::*;
use pci_guard_core::identity::checks::verify;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::token_cache::{TokenCache, TokenKey};
use pci_guard_core::identity::{Alg, KeySet, ProviderConfig};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-bench-only";

fn key(name: &str) -> String {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keys");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn mint(alg: Alg, now: u64) -> String {
    let mut c = Claims::create(jwt_simple::prelude::Duration::from_secs(600))
        .with_issuer("https://idp.example.com")
        .with_audience("payments-api")
        .with_subject("agent-7");
    c.issued_at = Some(UnixTimeStamp::from_secs(now));
    c.expires_at = Some(UnixTimeStamp::from_secs(now + 600));
    match alg {
        Alg::RS256 => RS256KeyPair::from_pem(&key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::PS256 => PS256KeyPair::from_pem(&key("rsa1.pem"))
            .unwrap()
            .with_key_id("rsa-2026-a")
            .sign(c),
        Alg::ES256 => ES256KeyPair::from_pem(&key("ec256.pem"))
            .unwrap()
            .with_key_id("ec256-1")
            .sign(c),
        Alg::ES384 => ES384KeyPair::from_pem(&key("ec384.pem"))
            .unwrap()
            .with_key_id("ec384-1")
            .sign(c),
        Alg::EdDSA => Ed25519KeyPair::from_pem(&key("ed25519.pem"))
            .unwrap()
            .with_key_id("ed-1")
            .sign(c),
        Alg::HS256 => HS256Key::from_bytes(SECRET).authenticate(c),
        other => panic!("{other} not benchmarked"),
    }
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let keys = KeySet::parse(key("corp-idp.jwks.json").as_bytes()).unwrap();
    let mut provider = ProviderConfig::new("corp-idp", "https://idp.example.com");
    provider.audiences = vec!["payments-api".into()];
    provider.algorithms.push(Alg::HS256);
    provider.hmac_secret = Some(SECRET.to_vec());

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
