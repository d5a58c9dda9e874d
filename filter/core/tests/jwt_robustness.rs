//! Hostile input never panics and is never accepted: random tokens built from the token
//! alphabet, random JSON shapes in header and payload, and random key sets. A seeded
//! xorshift generator keeps runs reproducible without a property-testing dependency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pci_guard_core::identity::checks::verify;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::token;
use pci_guard_core::identity::KeySet;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

fn random_json(r: &mut Rng, depth: u32) -> String {
    let leaf = [
        "null",
        "true",
        "1",
        "-1",
        "1.5",
        "1e400",
        "18446744073709551616",
        "\"RS256\"",
        "\"none\"",
        "\"\"",
        "\"ES256\"",
        "[]",
        "{}",
        "\"\\u0000\"",
    ];
    if depth == 0 || r.below(3) == 0 {
        return r.pick(&leaf).to_string();
    }
    let keys = [
        "alg", "kid", "typ", "crit", "jku", "jwk", "x5c", "iss", "sub", "aud", "exp", "nbf", "iat",
        "jti", "scope", "scp", "keys", "kty", "n", "e", "crv", "x", "y",
    ];
    if r.below(4) == 0 {
        let items: Vec<String> = (0..r.below(4)).map(|_| random_json(r, depth - 1)).collect();
        return format!("[{}]", items.join(","));
    }
    let members: Vec<String> = (0..r.below(6))
        .map(|_| format!("\"{}\":{}", r.pick(&keys), random_json(r, depth - 1)))
        .collect();
    format!("{{{}}}", members.join(","))
}

#[test]
fn random_token_strings_never_panic_or_pass() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let p = provider_with_hmac();
    let keys = corp_keys();
    let n = now();
    for _ in 0..20_000 {
        let len = r.below(300);
        let t: String = (0..len)
            .map(|_| TOKEN_CHARS[r.below(TOKEN_CHARS.len())] as char)
            .collect();
        assert!(verify(&p, &keys, &t, n, &PureVerifier).is_err());
    }
}

#[test]
fn random_json_headers_and_payloads_never_panic_or_pass() {
    let mut r = Rng(0xdead_beef_cafe_f00d);
    let p = provider_with_hmac();
    let keys = corp_keys();
    let n = now();
    for _ in 0..5_000 {
        let h = random_json(&mut r, 3);
        let pl = random_json(&mut r, 3);
        let sig_len = [0, 1, 32, 64, 96, 256][r.below(6)];
        let sig: Vec<u8> = (0..sig_len).map(|_| r.next() as u8).collect();
        let t = format!("{}.{}.{}", b64(h.as_bytes()), b64(pl.as_bytes()), b64(&sig));
        let _ = token::parse(&t);
        assert!(verify(&p, &keys, &t, n, &PureVerifier).is_err(), "{h} {pl}");
    }
}

#[test]
fn random_key_sets_never_panic() {
    let mut r = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..5_000 {
        let doc = format!("{{\"keys\":[{}]}}", random_json(&mut r, 3));
        let _ = KeySet::parse(doc.as_bytes());
        let _ = KeySet::parse(random_json(&mut r, 4).as_bytes());
    }
}
