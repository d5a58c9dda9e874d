//! Tokens for the e2e tests, minted with fresh times from the test keys in `testdata/keys/`
//! (see its README): the testkit's minter under the names these tests use.

use pci_guard_core::identity::Alg;
use pci_guard_testkit::{header, mint, mint_as, test_key};
use serde_json::Value;

pub use pci_guard_testkit::{bearer, claims, grant, now, AUDIENCE, ISSUER};

/// Signs `payload` with a test key under its algorithm and `kid`: `key` is one of `rsa1`,
/// `rsa2`, `ec256`, `ec384`, `ed25519`.
pub fn sign(key: &str, payload: &Value) -> String {
    mint_as(key, payload)
}

/// Signs with an explicit header `kid` (to name keys the provider does not have).
pub fn sign_with(alg: Alg, kid: &str, key: &str, payload: &Value) -> String {
    mint(
        alg.name(),
        &test_key(key).pem(),
        &header(alg.name(), kid),
        payload,
    )
}
