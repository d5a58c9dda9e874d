//! Key sets: parse a JWKS (RFC 7517) or a PEM public key into [`Jwk`]s ready to verify
//! with, and select keys for a token by `kid` and `alg`.
//!
//! Every usable key is parsed once, here: RSA `(n, e)`, EC P-256/P-384 `(x, y)` (checked to
//! be on the curve) and OKP Ed25519 `x`. Each also gets its DER SubjectPublicKeyInfo, the
//! form Envoy's `verify_signature` host function imports ([`Jwk::spki_der`]).
//!
//! Like jwt_authn, one unusable key does not sink the set: it is skipped with a
//! [`SkipReason`] (kept in [`KeySet::skipped`] for logs). A set with no usable key, or one
//! that is not JSON, too big or too long, is a [`JwksError`].
//!
//! Symmetric (`oct`) keys are **never** taken from a JWKS: a key set is public, and a
//! shared secret published in one is no secret. HS* needs the provider's inline
//! `hmac_secret` (see [`super::provider::ProviderConfig`]), which becomes a [`Jwk::hmac`].
//!
//! `Debug` output shows `kid`, type and `alg` only: never key material.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};

use super::alg::{Alg, AlgFamily};

/// Largest JWKS document accepted.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys accepted in one JWKS.
pub const MAX_KEYS: usize = 64;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// DER prefixes of SubjectPublicKeyInfo for the fixed-size key types.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const SPKI_P384_PREFIX: [u8; 23] = [
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The kind of a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
    /// A shared secret from provider configuration (never from a JWKS).
    Oct,
}

/// Parsed key material, ready for the pure verifier.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    Rsa(Box<rsa::RsaPublicKey>),
    P256(Box<p256::ecdsa::VerifyingKey>),
    P384(Box<p384::ecdsa::VerifyingKey>),
    Ed25519(ed25519_compact::PublicKey),
    Oct(Arc<[u8]>),
}

/// One usable verification key.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Alg>,
    material: KeyMaterial,
    /// DER SubjectPublicKeyInfo; empty for `Oct`.
    spki: Arc<[u8]>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("type", &self.key_type())
            .field("alg", &self.alg)
            .finish()
    }
}

/// Why a key could not be loaded on its own ([`Jwk::from_pem`], [`Jwk::from_spki_der`]) or
/// was skipped in a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    NotAnObject,
    MissingKty,
    UnsupportedKty,
    /// `oct`: symmetric keys are never taken from a key set.
    SymmetricInKeySet,
    /// `use` is not `sig`, or `key_ops` lacks `verify`.
    NotForSignatures,
    UnsupportedAlg,
    /// The key's `alg` does not fit its type (e.g. `kty: RSA, alg: ES256`).
    AlgDoesNotFitKey,
    KidNotString,
    UnsupportedCurve,
    /// A required member is missing, not a string, not base64url or the wrong length.
    BadMember(&'static str),
    /// The numbers do not make a valid key (not on the curve, bad exponent, …).
    InvalidKey,
    RsaTooSmall,
    /// PEM/DER: not a SubjectPublicKeyInfo of a supported type (certificates included).
    UnsupportedEncoding,
}

impl SkipReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotAnObject => "key is not a JSON object",
            SkipReason::MissingKty => "kty missing",
            SkipReason::UnsupportedKty => "kty not supported",
            SkipReason::SymmetricInKeySet => {
                "oct keys are never taken from a key set; configure hmac_secret"
            }
            SkipReason::NotForSignatures => "key is not for signature verification",
            SkipReason::UnsupportedAlg => "alg not supported",
            SkipReason::AlgDoesNotFitKey => "alg does not fit the key type",
            SkipReason::KidNotString => "kid is not a string",
            SkipReason::UnsupportedCurve => "curve not supported",
            SkipReason::BadMember(_) => "member missing or malformed",
            SkipReason::InvalidKey => "not a valid public key",
            SkipReason::RsaTooSmall => "RSA modulus shorter than 2048 bits",
            SkipReason::UnsupportedEncoding => "not a supported SubjectPublicKeyInfo",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::BadMember(m) => write!(f, "member {m} missing or malformed"),
            other => f.write_str(other.as_str()),
        }
    }
}

impl Jwk {
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `alg` the key is pinned to, if its set said so.
    pub fn alg(&self) -> Option<Alg> {
        self.alg
    }

    pub fn key_type(&self) -> KeyType {
        match self.material {
            KeyMaterial::Rsa(_) => KeyType::Rsa,
            KeyMaterial::P256(_) => KeyType::EcP256,
            KeyMaterial::P384(_) => KeyType::EcP384,
            KeyMaterial::Ed25519(_) => KeyType::Ed25519,
            KeyMaterial::Oct(_) => KeyType::Oct,
        }
    }

    /// DER SubjectPublicKeyInfo, as Envoy's `verify_signature` imports it. Empty for a
    /// shared secret.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The RSA modulus length in bytes (= the signature length), for RSA keys.
    pub fn rsa_modulus_len(&self) -> Option<usize> {
        match &self.material {
            KeyMaterial::Rsa(k) => Some(k.size()),
            _ => None,
        }
    }

    /// Whether this key can verify `alg` (type fits and any pinned `alg` is equal).
    pub fn fits(&self, alg: Alg) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        type_fits(self.key_type(), alg.family())
    }

    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// A shared secret for HS* (from provider configuration).
    pub fn hmac(secret: &[u8]) -> Jwk {
        Jwk {
            kid: None,
            alg: None,
            material: KeyMaterial::Oct(Arc::from(secret)),
            spki: Arc::from(&[][..]),
        }
    }

    /// A key from a DER SubjectPublicKeyInfo (RSA, P-256, P-384 uncompressed, Ed25519).
    pub fn from_spki_der(
        der: &[u8],
        kid: Option<String>,
        alg: Option<Alg>,
    ) -> Result<Jwk, SkipReason> {
        let material = if let Some(point) = der.strip_prefix(&SPKI_P256_PREFIX[..]) {
            KeyMaterial::P256(Box::new(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| SkipReason::InvalidKey)?,
            ))
        } else if let Some(point) = der.strip_prefix(&SPKI_P384_PREFIX[..]) {
            KeyMaterial::P384(Box::new(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| SkipReason::InvalidKey)?,
            ))
        } else if let Some(x) = der.strip_prefix(&SPKI_ED25519_PREFIX[..]) {
            KeyMaterial::Ed25519(
                ed25519_compact::PublicKey::from_slice(x).map_err(|_| SkipReason::InvalidKey)?,
            )
        } else {
            let key = rsa::RsaPublicKey::from_public_key_der(der)
                .map_err(|_| SkipReason::UnsupportedEncoding)?;
            rsa_checked(key)?
        };
        finish(kid, alg, material)
    }

    /// A key from a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) block. Certificates and PKCS#1
    /// `RSA PUBLIC KEY` blocks are not supported.
    pub fn from_pem(pem: &str, kid: Option<String>, alg: Option<Alg>) -> Result<Jwk, SkipReason> {
        let body = pem_body(pem, "PUBLIC KEY").ok_or(SkipReason::UnsupportedEncoding)?;
        let der = STANDARD
            .decode(body)
            .map_err(|_| SkipReason::UnsupportedEncoding)?;
        Jwk::from_spki_der(&der, kid, alg)
    }

    /// One JWK object.
    pub fn from_json(v: &Value) -> Result<Jwk, SkipReason> {
        let Value::Object(o) = v else {
            return Err(SkipReason::NotAnObject);
        };
        parse_jwk(o)
    }
}

fn type_fits(t: KeyType, fam: AlgFamily) -> bool {
    matches!(
        (t, fam),
        (KeyType::Rsa, AlgFamily::RsaPkcs1 | AlgFamily::RsaPss)
            | (KeyType::EcP256, AlgFamily::EcdsaP256)
            | (KeyType::EcP384, AlgFamily::EcdsaP384)
            | (KeyType::Ed25519, AlgFamily::Ed25519)
            | (KeyType::Oct, AlgFamily::Hmac)
    )
}

fn rsa_checked(key: rsa::RsaPublicKey) -> Result<KeyMaterial, SkipReason> {
    if key.n().bits() < MIN_RSA_BITS {
        return Err(SkipReason::RsaTooSmall);
    }
    Ok(KeyMaterial::Rsa(Box::new(key)))
}

fn finish(kid: Option<String>, alg: Option<Alg>, material: KeyMaterial) -> Result<Jwk, SkipReason> {
    let spki: Arc<[u8]> = match &material {
        KeyMaterial::Rsa(k) => Arc::from(
            k.to_public_key_der()
                .map_err(|_| SkipReason::InvalidKey)?
                .as_bytes(),
        ),
        KeyMaterial::P256(k) => {
            let point = k.to_encoded_point(false);
            Arc::from([&SPKI_P256_PREFIX[..], point.as_bytes()].concat())
        }
        KeyMaterial::P384(k) => {
            let point = k.to_encoded_point(false);
            Arc::from([&SPKI_P384_PREFIX[..], point.as_bytes()].concat())
        }
        KeyMaterial::Ed25519(k) => Arc::from([&SPKI_ED25519_PREFIX[..], &k[..]].concat()),
        KeyMaterial::Oct(_) => Arc::from(&[][..]),
    };
    let jwk = Jwk {
        kid,
        alg,
        material,
        spki,
    };
    if let Some(a) = alg {
        if !type_fits(jwk.key_type(), a.family()) {
            return Err(SkipReason::AlgDoesNotFitKey);
        }
    }
    Ok(jwk)
}

fn pem_body<'a>(pem: &'a str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let rest: &'a str = &pem[start..];
    let stop = rest.find(&end)?;
    Some(
        rest[..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    )
}

/// Base64url for key members: URL alphabet, padding optional (some issuers pad).
const B64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn member(o: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, SkipReason> {
    match o.get(name) {
        Some(Value::String(s)) => B64URL_LENIENT
            .decode(s)
            .map_err(|_| SkipReason::BadMember(name)),
        _ => Err(SkipReason::BadMember(name)),
    }
}

fn fixed_member(
    o: &Map<String, Value>,
    name: &'static str,
    len: usize,
) -> Result<Vec<u8>, SkipReason> {
    let v = member(o, name)?;
    if v.len() == len {
        Ok(v)
    } else {
        Err(SkipReason::BadMember(name))
    }
}

fn parse_jwk(o: &Map<String, Value>) -> Result<Jwk, SkipReason> {
    let kty = match o.get("kty") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err(SkipReason::MissingKty),
    };
    if let Some(u) = o.get("use") {
        if u != "sig" {
            return Err(SkipReason::NotForSignatures);
        }
    }
    if let Some(ops) = o.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|op| op == "verify"));
        if !verify {
            return Err(SkipReason::NotForSignatures);
        }
    }
    let kid = match o.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(SkipReason::KidNotString),
    };
    let alg = match o.get("alg") {
        None => None,
        Some(Value::String(s)) => Some(Alg::from_name(s).ok_or(SkipReason::UnsupportedAlg)?),
        Some(_) => return Err(SkipReason::UnsupportedAlg),
    };
    let material = match kty {
        "RSA" => {
            let n = member(o, "n")?;
            let e = member(o, "e")?;
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&n),
                rsa::BigUint::from_bytes_be(&e),
            )
            .map_err(|_| SkipReason::InvalidKey)?;
            rsa_checked(key)?
        }
        "EC" => {
            let crv = o.get("crv").and_then(Value::as_str);
            let size = match crv {
                Some("P-256") => 32,
                Some("P-384") => 48,
                _ => return Err(SkipReason::UnsupportedCurve),
            };
            let x = fixed_member(o, "x", size)?;
            let y = fixed_member(o, "y", size)?;
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            if size == 32 {
                KeyMaterial::P256(Box::new(
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| SkipReason::InvalidKey)?,
                ))
            } else {
                KeyMaterial::P384(Box::new(
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| SkipReason::InvalidKey)?,
                ))
            }
        }
        "OKP" => {
            if o.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err(SkipReason::UnsupportedCurve);
            }
            let x = fixed_member(o, "x", 32)?;
            KeyMaterial::Ed25519(
                ed25519_compact::PublicKey::from_slice(&x).map_err(|_| SkipReason::InvalidKey)?,
            )
        }
        "oct" => return Err(SkipReason::SymmetricInKeySet),
        _ => return Err(SkipReason::UnsupportedKty),
    };
    finish(kid, alg, material)
}
