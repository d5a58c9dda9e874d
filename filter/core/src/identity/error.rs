//! Why a token or a signature check failed. Each error maps to exactly one flat [`Reason`]; no
//! variant or `Display` output carries token bytes, signatures, keys or attacker-chosen strings.

use std::fmt;

use super::alg::Alg;
use crate::reason::Reason;

/// Which part of a token failed to parse. Static descriptions only: no token bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not exactly three non-empty `.`-separated segments.
    Segments,
    HeaderBase64,
    HeaderJson,
    PayloadBase64,
    PayloadJson,
    SignatureBase64,
    /// `alg` missing or not a string.
    AlgNotString,
    /// `kid` not a string.
    KidNotString,
    /// `crit` not a non-empty list of strings.
    CritInvalid,
    /// A registered claim has the wrong JSON type or range; the claim's name.
    Claim(&'static str),
}

impl Malformed {
    pub const fn as_str(self) -> &'static str {
        match self {
            Malformed::Segments => "not three non-empty dot-separated segments",
            Malformed::HeaderBase64 => "header is not base64url",
            Malformed::HeaderJson => "header is not a JSON object",
            Malformed::PayloadBase64 => "payload is not base64url",
            Malformed::PayloadJson => "payload is not a JSON object",
            Malformed::SignatureBase64 => "signature is not base64url",
            Malformed::AlgNotString => "header alg missing or not a string",
            Malformed::KidNotString => "header kid is not a string",
            Malformed::CritInvalid => "header crit is not a non-empty list of strings",
            Malformed::Claim(_) => "claim has the wrong type or range",
        }
    }
}

/// Why a token was refused. [`JwtError::reason`] gives the one flat [`Reason`].
///
/// Variants carry only numbers, algorithm names and static strings: never token bytes,
/// signatures, key material or attacker-chosen strings (a `kid` is attacker-chosen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    TooLarge {
        len: usize,
        max: usize,
    },
    Malformed(Malformed),
    /// `alg: none` (any spelling).
    AlgNone,
    /// The algorithm is unknown (`None`) or not allowed for the provider, or is HS* without
    /// a configured shared secret.
    AlgNotAllowed(Option<Alg>),
    /// A header parameter we refuse: `jku`, `x5u`, `jwk`, `x5c`, or `crit`.
    UnsupportedHeader(&'static str),
    /// The token's `kid` is in no key of the set: the glue may refetch the key set.
    UnknownKid,
    /// No key in the set fits the token's `alg` (and `kid`, if any).
    NoMatchingKey,
    /// The provider has no usable keys.
    NoKeys,
    /// The signature has the wrong length for the algorithm or key (e.g. a DER ECDSA
    /// signature where JOSE wants raw `r‖s`).
    SignatureLength {
        alg: Alg,
        len: usize,
    },
    BadSignature,
    /// The verifier failed (not "signature false": an internal or host error).
    Crypto(CryptoError),
    BadIssuer,
    BadAudience,
    Expired {
        exp: u64,
        now: u64,
    },
    NotYetValid {
        nbf: u64,
        now: u64,
    },
    IssuedInFuture {
        iat: u64,
        now: u64,
    },
    MissingExp,
    LifetimeTooLong {
        lifetime: u64,
        max: u64,
    },
    BadSubject,
}

impl JwtError {
    /// The flat reason for audit, metrics and the answer.
    pub fn reason(&self) -> Reason {
        match self {
            JwtError::TooLarge { .. } => Reason::TokenTooLarge,
            JwtError::Malformed(_) => Reason::TokenMalformed,
            JwtError::AlgNone | JwtError::AlgNotAllowed(_) => Reason::TokenAlgNotAllowed,
            JwtError::UnsupportedHeader(_) => Reason::TokenUnsupportedHeader,
            JwtError::UnknownKid | JwtError::NoMatchingKey => Reason::TokenUnknownKid,
            JwtError::NoKeys => Reason::JwksUnavailable,
            JwtError::SignatureLength { .. } | JwtError::BadSignature => Reason::TokenBadSignature,
            JwtError::Crypto(_) => Reason::FilterUnavailable,
            JwtError::BadIssuer => Reason::TokenBadIssuer,
            JwtError::BadAudience => Reason::TokenBadAudience,
            JwtError::Expired { .. } => Reason::TokenExpired,
            JwtError::NotYetValid { .. } => Reason::TokenNotYetValid,
            JwtError::IssuedInFuture { .. } => Reason::TokenIssuedInFuture,
            JwtError::MissingExp => Reason::TokenMissingExp,
            JwtError::LifetimeTooLong { .. } => Reason::TokenLifetimeTooLong,
            JwtError::BadSubject => Reason::TokenBadSubject,
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::TooLarge { len, max } => write!(f, "token is {len} bytes, limit {max}"),
            JwtError::Malformed(Malformed::Claim(c)) => {
                write!(f, "malformed token: claim {c} has the wrong type or range")
            }
            JwtError::Malformed(m) => write!(f, "malformed token: {}", m.as_str()),
            JwtError::AlgNone => f.write_str("alg none is never accepted"),
            JwtError::AlgNotAllowed(Some(a)) => write!(f, "alg {a} is not allowed"),
            JwtError::AlgNotAllowed(None) => f.write_str("alg is not supported"),
            JwtError::UnsupportedHeader(h) => write!(f, "header parameter {h} is not accepted"),
            JwtError::UnknownKid => f.write_str("kid matches no key"),
            JwtError::NoMatchingKey => f.write_str("no key fits the token's alg and kid"),
            JwtError::NoKeys => f.write_str("no usable keys"),
            JwtError::SignatureLength { alg, len } => {
                write!(f, "signature of {len} bytes is the wrong length for {alg}")
            }
            JwtError::BadSignature => f.write_str("signature does not verify"),
            JwtError::Crypto(e) => write!(f, "signature check failed: {e}"),
            JwtError::BadIssuer => f.write_str("issuer not accepted"),
            JwtError::BadAudience => f.write_str("audience not accepted"),
            JwtError::Expired { exp, now } => write!(f, "expired at {exp} (now {now})"),
            JwtError::NotYetValid { nbf, now } => write!(f, "not valid before {nbf} (now {now})"),
            JwtError::IssuedInFuture { iat, now } => {
                write!(f, "issued in the future at {iat} (now {now})")
            }
            JwtError::MissingExp => f.write_str("exp is required"),
            JwtError::LifetimeTooLong { lifetime, max } => {
                write!(f, "lifetime {lifetime}s exceeds {max}s")
            }
            JwtError::BadSubject => f.write_str("subject not accepted"),
        }
    }
}

impl std::error::Error for JwtError {}

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
