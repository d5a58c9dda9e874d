//! Envoy's `verify_signature` foreign function: which algorithms go to it, its protobuf
//! arguments and result, and the raw→DER ECDSA conversion BoringSSL needs. The hostcall
//! itself is the caller's closure, so this compiles and is tested natively.

use super::SignatureVerifier;
use crate::identity::alg::{Alg, AlgFamily};
use crate::identity::error::CryptoError;
use crate::identity::jwk::Jwk;

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
/// the foreign function `verify_signature` with `args` and return its result bytes. The
/// plugin wraps it in a [`super::FallbackVerifier`] with [`super::PureVerifier`].
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
