//! Every algorithm in pure Rust (RustCrypto `rsa`/`p256`/`p384`, `ed25519-compact`,
//! `hmac-sha256/512`): used natively, and in the plugin for what the host cannot do.

use sha2::Digest as _;

use super::SignatureVerifier;
use crate::identity::alg::{Alg, AlgFamily, Hash};
use crate::identity::error::CryptoError;
use crate::identity::jwk::{Jwk, KeyMaterial};

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
