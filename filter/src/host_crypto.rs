//! Envoy's `verify_signature` foreign function as a [`SignatureVerifier`] (wasm32 only).
//!
//! Everything but the hostcall lives in `pci_guard_core::crypto` (protobuf arguments and
//! result, raw→DER ECDSA, which algorithms go to the host, the fallback): this file only
//! makes the call. Build the verifier once per VM with [`envoy_verifier`] and pass it to
//! `pci_guard_core::verify::verify`: RS256/384/512 and ES256/384 go to Envoy (~18 µs for
//! RS256 vs ~825 µs in pure Rust in V8); PS*, EdDSA and HS* use the pure verifier, and so
//! does any algorithm whose host call fails (an older Envoy without the function, a key
//! BoringSSL refuses). A host "signature does not verify" is final.

use pci_guard_core::crypto::{CryptoError, FallbackVerifier, HostVerifier, PureVerifier};

/// The hostcall: `verify_signature(args)` → result bytes.
pub fn call_verify_signature(args: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match proxy_wasm::hostcalls::call_foreign_function("verify_signature", Some(args)) {
        Ok(Some(bytes)) => Ok(bytes),
        // Status OK with no data decodes as "could not check": the fallback runs.
        Ok(None) => Ok(Vec::new()),
        Err(_) => Err(CryptoError::HostCall),
    }
}

/// The signature of [`call_verify_signature`].
pub type HostCall = fn(&[u8]) -> Result<Vec<u8>, CryptoError>;

/// Host crypto where Envoy can, pure Rust elsewhere.
pub type EnvoyVerifier = FallbackVerifier<HostVerifier<HostCall>, PureVerifier>;

pub fn envoy_verifier() -> EnvoyVerifier {
    FallbackVerifier::new(
        HostVerifier::new(call_verify_signature as HostCall),
        PureVerifier,
    )
}
