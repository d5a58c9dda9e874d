//! Test support for pci-guard, never linked into the plugin: the one place test tokens are
//! minted (unit and integration tests, benches, the e2e tests, `pci-guard token`) and the
//! checks behind the fuzz targets.
//!
//! - [`keys`]: the test keys in `testdata/keys/` (see its README) and the HMAC test secret;
//! - [`mod@mint`]: raw signing of hand-built tokens ([`mint()`], [`mint_as`]) and well-formed
//!   tokens from jwt-simple, an independent implementation ([`mint_independent`]);
//! - [`mod@claims`]: the test issuer and audience, standard claims, grants, `Authorization` values;
//! - [`fuzz_checks`]: what `cargo fuzz` checks, and the corpus smoke test runs on stable;
//! - [`spellings`]: card numbers and security codes as real systems spell them, and their
//!   look-alikes, for the redaction unit tests and the end-to-end tests alike.
//!
//! The minting API takes algorithm names and JSON values, not the core's types: the core's
//! own unit tests are compiled as a second copy of the core, whose types would not match the
//! ones this crate links against.

// Panics are the point here: a test helper that cannot sign has nothing better to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod claims;
pub mod fuzz_checks;
pub mod keys;
pub mod mint;
pub mod spellings;

pub use claims::{
    bearer, claims, claims_at, grant, now, signed_grant, APPROVALS, AUDIENCE, ISSUER,
};
pub use keys::{key_for, read_key, signing_key, test_key, TestKey, HMAC_SECRET, KEYS};
pub use mint::{b64, header, mint, mint_as, mint_grant, mint_independent, sign};
