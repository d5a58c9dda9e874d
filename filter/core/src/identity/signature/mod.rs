//! Signature checks behind one trait, so the plugin can use Envoy's crypto where it can and
//! pure Rust elsewhere.
//!
//! - [`PureVerifier`]: every algorithm, in Rust (RustCrypto `rsa`/`p256`/`p384`,
//!   `ed25519-compact`, `hmac-sha256/512`: the crates jwt-simple's `pure-rust` build uses).
//!   Used natively and for what the host cannot do.
//! - [`HostVerifier`]: Envoy's `verify_signature` foreign function. The protobuf arguments
//!   are built and the result decoded here; the glue only passes a closure that makes the
//!   hostcall. [`host_supports`] says which algorithms go to the host.
//! - [`FallbackVerifier`]: host first for the algorithms it supports, pure otherwise, and
//!   pure again if the host fails (not "signature false": a host *error*).
//!
//! What Envoy's `verify_signature` can do: BoringSSL `EVP_DigestVerifyInit(md) +
//! EVP_DigestVerify` on a DER SPKI key, with no way to set a padding mode or pass a null
//! digest. So RSA PKCS#1 v1.5 and ECDSA (DER signatures) verify correctly and many times
//! faster than pure Rust inside the VM; RSA-PSS answers `false` even for valid signatures
//! and Ed25519 keys fail to import. Hence [`host_supports`]: RS*, ES256, ES384. PS* must never
//! be sent (it would reject valid tokens); EdDSA's refusal is not "false", so it would fall
//! back anyway. (Measurements: `envoy/bench/findings.md`, "Signatures in Envoy's V8".)

mod envoy;
mod pure;

pub use envoy::{
    decode_verify_signature_result, ecdsa_raw_to_der, encode_verify_signature_args, host_request,
    host_supports, HostVerdict, HostVerifier,
};
pub use pure::PureVerifier;

use super::alg::Alg;
use super::error::CryptoError;
use super::jwk::Jwk;

/// Checks one signature. `signature` is the JOSE form (raw `r‖s` for ECDSA); lengths have
/// already been checked by [`super::checks`].
pub trait SignatureVerifier {
    /// `Ok(true)`: verifies. `Ok(false)`: does not. `Err`: could not tell.
    fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, CryptoError>;

    /// Whether this verifier handles `alg` at all.
    fn supports(&self, _alg: Alg) -> bool {
        true
    }
}

impl<T: SignatureVerifier + ?Sized> SignatureVerifier for &T {
    fn verify(&self, alg: Alg, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<bool, CryptoError> {
        (**self).verify(alg, key, input, sig)
    }
    fn supports(&self, alg: Alg) -> bool {
        (**self).supports(alg)
    }
}

/// `primary` for the algorithms it supports, `secondary` for the rest and whenever
/// `primary` errs. A `false` from `primary` is final: falling back never turns a rejection
/// into an acceptance without the secondary's own check.
#[derive(Debug, Clone, Copy)]
pub struct FallbackVerifier<P, S> {
    pub primary: P,
    pub secondary: S,
}

impl<P: SignatureVerifier, S: SignatureVerifier> FallbackVerifier<P, S> {
    pub fn new(primary: P, secondary: S) -> Self {
        FallbackVerifier { primary, secondary }
    }
}

impl<P: SignatureVerifier, S: SignatureVerifier> SignatureVerifier for FallbackVerifier<P, S> {
    fn verify(&self, alg: Alg, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<bool, CryptoError> {
        if self.primary.supports(alg) {
            if let Ok(v) = self.primary.verify(alg, key, input, sig) {
                return Ok(v);
            }
        }
        self.secondary.verify(alg, key, input, sig)
    }

    fn supports(&self, alg: Alg) -> bool {
        self.primary.supports(alg) || self.secondary.supports(alg)
    }
}

#[cfg(test)]
mod tests;
