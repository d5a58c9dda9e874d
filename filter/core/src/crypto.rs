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
//! What Envoy's `verify_signature` can do: it runs BoringSSL `EVP_DigestVerifyInit(md) +
//! EVP_DigestVerify` on a DER SPKI key, with no way to set a padding mode or pass a null
//! digest (`source/common/crypto/utility_impl.cc`, `source/extensions/common/wasm/foreign.cc`).
//! Measured in Envoy 1.40.0 (V8, `--concurrency 1`) with a probe filter on this core,
//! 2026-11-27 (per verification; pure = [`PureVerifier`] inside the same wasm):
//!
//! | alg | host | pure in wasm | host answer |
//! |---|---|---|---|
//! | RS256/384/512 | 17–40 µs | 510–930 µs | correct true/false |
//! | ES256 (DER sig) | ~60–75 µs | ~720 µs | correct true/false; raw `r‖s` → false |
//! | ES384 (DER sig) | ~350–440 µs | ~3.5 ms | correct true/false |
//! | PS256/PS384 | – | ~530 µs | **false even for valid signatures** (PKCS#1 v1.5 only) |
//! | EdDSA | – | ~155 µs | "Failed to initialize digest verify." for every hash |
//! | HS* | – | a few µs | not offered |
//!
//! Hence [`host_supports`]: RS*, ES256, ES384. PS* must never be sent (it would reject
//! valid tokens); EdDSA's refusal is not "false", so it would fall back anyway.

use std::fmt;

use sha2::Digest as _;

use crate::jwks::{Jwk, KeyMaterial};
use crate::jwt::{Alg, AlgFamily, Hash};

/// The verifier could not give an answer (as opposed to answering "does not verify").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// This verifier does not do this algorithm.
    Unsupported(Alg),
    /// The key's type does not fit the algorithm (callers select keys so this should not
    /// happen).
    KeyDoesNotFit,
    /// The host call failed (status other than OK, or no result).
    HostCall,
    /// The host answered something we could not decode.
    HostResponse,
    /// The host ran but could not check (bad hash name, key import failed, …).
    HostRefused,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Unsupported(a) => write!(f, "{a} not supported by this verifier"),
            CryptoError::KeyDoesNotFit => f.write_str("key type does not fit the algorithm"),
            CryptoError::HostCall => f.write_str("verify_signature hostcall failed"),
            CryptoError::HostResponse => f.write_str("verify_signature answer undecodable"),
            CryptoError::HostRefused => f.write_str("verify_signature could not check"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// Checks one signature. `signature` is the JOSE form (raw `r‖s` for ECDSA); lengths have
/// already been checked by [`crate::verify`].
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

/// Every algorithm in pure Rust.
#[derive(Debug, Clone, Copy, Default)]
pub struct PureVerifier;

fn digest(hash: Hash, input: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => sha2::Sha256::digest(input).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(input).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(input).to_vec(),
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn rsa_pkcs1_scheme(hash: Hash) -> rsa::Pkcs1v15Sign {
    match hash {
        Hash::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        Hash::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
        Hash::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

fn rsa_pss_scheme(hash: Hash) -> rsa::Pss {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    match hash {
        Hash::Sha256 => rsa::Pss::new::<sha2::Sha256>(),
        Hash::Sha384 => rsa::Pss::new::<sha2::Sha384>(),
        Hash::Sha512 => rsa::Pss::new::<sha2::Sha512>(),
    }
}

impl SignatureVerifier for PureVerifier {
    fn verify(&self, alg: Alg, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<bool, CryptoError> {
        use p256::ecdsa::signature::Verifier as _;
        match (alg.family(), key.material()) {
            (AlgFamily::Hmac, KeyMaterial::Oct(secret)) => {
                let ok = match alg.hash() {
                    Hash::Sha256 => ct_eq(&hmac_sha256::HMAC::mac(input, secret), sig),
                    Hash::Sha384 => ct_eq(&hmac_sha512::sha384::HMAC::mac(input, secret), sig),
                    Hash::Sha512 => ct_eq(&hmac_sha512::HMAC::mac(input, secret), sig),
                };
                Ok(ok)
            }
            (AlgFamily::RsaPkcs1, KeyMaterial::Rsa(k)) => {
                let hashed = digest(alg.hash(), input);
                Ok(k.verify(rsa_pkcs1_scheme(alg.hash()), &hashed, sig).is_ok())
            }
            (AlgFamily::RsaPss, KeyMaterial::Rsa(k)) => {
                let hashed = digest(alg.hash(), input);
                Ok(k.verify(rsa_pss_scheme(alg.hash()), &hashed, sig).is_ok())
            }
            (AlgFamily::EcdsaP256, KeyMaterial::P256(k)) => {
                let Ok(s) = p256::ecdsa::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                Ok(k.verify(input, &s).is_ok())
            }
            (AlgFamily::EcdsaP384, KeyMaterial::P384(k)) => {
                let Ok(s) = p384::ecdsa::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                Ok(k.verify(input, &s).is_ok())
            }
            (AlgFamily::Ed25519, KeyMaterial::Ed25519(k)) => {
                let Ok(s) = ed25519_compact::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                Ok(k.verify(input, &s).is_ok())
            }
            _ => Err(CryptoError::KeyDoesNotFit),
        }
    }
}

/// The algorithms to send to Envoy's `verify_signature` (see the module docs).
pub const fn host_supports(alg: Alg) -> bool {
    matches!(
        alg,
        Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::ES256 | Alg::ES384
    )
}

/// Converts a JOSE ECDSA signature (raw big-endian `r‖s`, each half the same length) into
/// the DER `ECDSA-Sig-Value` BoringSSL expects. `None` for an empty or odd-length input.
pub fn ecdsa_raw_to_der(sig: &[u8]) -> Option<Vec<u8>> {
    if sig.is_empty() || sig.len() % 2 != 0 || sig.len() > 2 * 66 {
        return None;
    }
    let (r, s) = sig.split_at(sig.len() / 2);
    let mut body = Vec::with_capacity(sig.len() + 6);
    der_uint(&mut body, r);
    der_uint(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(0x30);
    der_len(&mut out, body.len());
    out.extend_from_slice(&body);
    Some(out)
}

fn der_uint(out: &mut Vec<u8>, mut v: &[u8]) {
    while v.len() > 1 && v[0] == 0 {
        v = &v[1..];
    }
    let pad = v.first().is_some_and(|b| b & 0x80 != 0);
    out.push(0x02);
    der_len(out, v.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        // Lengths here are < 256 (at most 2 × 67 + 4).
        out.push(0x81);
        out.push((len & 0xff) as u8);
    }
}

/// Encodes `VerifySignatureArguments { string hash_function = 1; bytes public_key = 2;
/// bytes signature = 3; bytes text = 4; }` (proto3 wire format).
pub fn encode_verify_signature_args(
    hash_function: &str,
    public_key_der: &[u8],
    signature: &[u8],
    text: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        hash_function.len() + public_key_der.len() + signature.len() + text.len() + 16,
    );
    for (field, bytes) in [
        (1u8, hash_function.as_bytes()),
        (2, public_key_der),
        (3, signature),
        (4, text),
    ] {
        out.push((field << 3) | 2);
        put_varint(&mut out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// What `verify_signature` answered: `VerifySignatureResult { bool result = 1; string
/// error = 2; }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostVerdict {
    pub result: bool,
    pub error: String,
}

/// Decodes a `VerifySignatureResult`, skipping unknown fields.
pub fn decode_verify_signature_result(buf: &[u8]) -> Option<HostVerdict> {
    let mut pos = 0;
    let mut out = HostVerdict::default();
    while pos < buf.len() {
        let key = get_varint(buf, &mut pos)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = get_varint(buf, &mut pos)?;
                if field == 1 {
                    out.result = v != 0;
                }
            }
            2 => {
                let len = usize::try_from(get_varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                let bytes = buf.get(pos..end)?;
                pos = end;
                if field == 2 {
                    out.error = String::from_utf8_lossy(bytes).into_owned();
                }
            }
            1 => pos = pos.checked_add(8)?,
            5 => pos = pos.checked_add(4)?,
            _ => return None,
        }
    }
    if pos == buf.len() {
        Some(out)
    } else {
        None
    }
}

/// The request the host verifier would make, for algorithms the host supports; `None`
/// otherwise (or for an ECDSA signature that cannot be converted).
pub fn host_request(
    alg: Alg,
    key: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Option<Vec<u8>> {
    if !host_supports(alg) || key.spki_der().is_empty() || !key.fits(alg) {
        return None;
    }
    let sig_der;
    let sig: &[u8] = match alg.family() {
        AlgFamily::EcdsaP256 | AlgFamily::EcdsaP384 => {
            sig_der = ecdsa_raw_to_der(signature)?;
            &sig_der
        }
        _ => signature,
    };
    Some(encode_verify_signature_args(
        alg.hash().name(),
        key.spki_der(),
        sig,
        signing_input,
    ))
}

/// Envoy's `verify_signature` through a caller-supplied hostcall: `call(args)` must invoke
/// the foreign function `verify_signature` with `args` and return its result bytes.
///
/// ```ignore
/// let host = HostVerifier::new(|args: &[u8]| {
///     match proxy_wasm::hostcalls::call_foreign_function("verify_signature", Some(args)) {
///         Ok(Some(bytes)) => Ok(bytes),
///         _ => Err(CryptoError::HostCall),
///     }
/// });
/// let crypto = FallbackVerifier::new(host, PureVerifier);
/// ```
pub struct HostVerifier<F> {
    call: F,
}

impl<F> HostVerifier<F>
where
    F: Fn(&[u8]) -> Result<Vec<u8>, CryptoError>,
{
    pub fn new(call: F) -> Self {
        HostVerifier { call }
    }
}

/// The host's text for "checked, does not verify"; anything else with `result = false` is
/// the host failing to check (import error, unknown hash).
const HOST_VERIFY_FAILED: &str = "Failed to verify digest";

impl<F> SignatureVerifier for HostVerifier<F>
where
    F: Fn(&[u8]) -> Result<Vec<u8>, CryptoError>,
{
    fn verify(&self, alg: Alg, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<bool, CryptoError> {
        if !host_supports(alg) {
            return Err(CryptoError::Unsupported(alg));
        }
        if matches!(alg.family(), AlgFamily::EcdsaP256 | AlgFamily::EcdsaP384)
            && ecdsa_raw_to_der(sig).is_none()
        {
            return Ok(false);
        }
        let args = host_request(alg, key, input, sig).ok_or(CryptoError::KeyDoesNotFit)?;
        let answer = (self.call)(&args)?;
        let verdict = decode_verify_signature_result(&answer).ok_or(CryptoError::HostResponse)?;
        if verdict.result {
            Ok(true)
        } else if verdict.error.starts_with(HOST_VERIFY_FAILED) {
            Ok(false)
        } else {
            Err(CryptoError::HostRefused)
        }
    }

    fn supports(&self, alg: Alg) -> bool {
        host_supports(alg)
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
mod tests {
    use super::*;

    #[test]
    fn der_conversion_pads_high_bit_and_strips_zeros() {
        let mut raw = [0u8; 64];
        raw[0] = 0x80; // r has high bit: needs a 0x00 pad
        raw[32] = 0;
        raw[33] = 0;
        raw[34] = 0x01; // s has leading zeros
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        let s_at = 2 + 2 + 33;
        assert_eq!(&der[s_at..s_at + 3], &[0x02, 30, 0x01]);
        assert_eq!(der[1] as usize, der.len() - 2);
        assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_none());
        assert!(ecdsa_raw_to_der(&[]).is_none());
    }

    #[test]
    fn p384_der_is_short_form() {
        let raw = [0xffu8; 96];
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[1] as usize, 2 * (2 + 49));
    }

    #[test]
    fn protobuf_round_trip() {
        let args = encode_verify_signature_args("sha256", &[1, 2], &[3], &vec![7u8; 300]);
        assert_eq!(&args[..8], b"\x0a\x06sha256");
        assert_eq!(&args[8..12], &[0x12, 2, 1, 2]);
        assert_eq!(&args[12..15], &[0x1a, 1, 3]);
        assert_eq!(&args[15..18], &[0x22, 0xac, 0x02]);
        assert_eq!(args.len(), 18 + 300);

        assert_eq!(
            decode_verify_signature_result(&[0x08, 1]),
            Some(HostVerdict {
                result: true,
                error: String::new()
            })
        );
        let mut buf = vec![0x12, 5];
        buf.extend_from_slice(b"Faile");
        assert_eq!(decode_verify_signature_result(&buf).unwrap().error, "Faile");
        assert_eq!(
            decode_verify_signature_result(&[]),
            Some(HostVerdict::default())
        );
        assert_eq!(decode_verify_signature_result(&[0x12, 9, 1]), None);
    }
}
