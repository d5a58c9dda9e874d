//! Parsing a compact JWS (`header.payload.signature`) into typed parts. Nothing here is
//! trusted yet: [`crate::verify`] checks the signature and the claims.
//!
//! Cheap checks come first so that hostile input costs little: the length cap is checked
//! before any base64 or JSON work, the segment count before any decoding, and the header
//! (small) before the payload. Every failure is a [`JwtError`] with exactly one
//! [`Reason`]; no error or `Debug` output ever carries the token, its signature or a key.
//!
//! Decisions (where implementations differ):
//! - Exactly three non-empty segments; base64url without padding, strict alphabet and
//!   canonical trailing bits (jwt_verify_lib also accepts `=` padding and empty sections).
//! - `alg: none` (any case) is never accepted. Unknown algorithms (including ES512) are
//!   [`Reason::TokenAlgNotAllowed`].
//! - `jku`, `x5u`, `jwk` and `x5c` are **rejected** ([`Reason::TokenUnsupportedHeader`]):
//!   keys only ever come from the provider's configured key set, and a header that tries to
//!   name its own key is an attack or a misconfigured issuer. jwt_authn ignores them.
//! - `crit` naming any extension is rejected: we implement none (RFC 7515 §4.1.11).
//! - Header and payload must be JSON objects **without duplicate member names**, at any
//!   depth (RFC 7515 §4 allows rejecting them; RFC 8725 warns about parser differentials:
//!   `{"sub":"a","sub":"admin"}` must not mean one thing here and another upstream).
//! - `iat`/`nbf`/`exp` must be JSON numbers ≥ 0 and < 2^64; fractions are cut off, as in
//!   jwt_verify_lib. `iss`/`sub`/`jti`/`azp` must be strings; `aud` a string or a list of
//!   strings.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::reason::Reason;

/// The default cap on a token's length in bytes. Real access tokens are 1–2 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A JWS algorithm pci-guard knows how to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The digest an algorithm signs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The name Envoy's `verify_signature` foreign function expects.
    pub const fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }
}

/// What kind of key and signature scheme an algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgFamily {
    Hmac,
    RsaPkcs1,
    RsaPss,
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl Alg {
    /// Every algorithm, in a stable order.
    pub const ALL: [Alg; 12] = [
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// The provider default: every asymmetric algorithm. HS* must be listed explicitly
    /// and needs a configured shared secret.
    pub const DEFAULT_ALLOWED: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// Parses a JOSE `alg` name (case-sensitive, as RFC 7518 defines them).
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub const fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub const fn family(self) -> AlgFamily {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => AlgFamily::Hmac,
            Alg::RS256 | Alg::RS384 | Alg::RS512 => AlgFamily::RsaPkcs1,
            Alg::PS256 | Alg::PS384 | Alg::PS512 => AlgFamily::RsaPss,
            Alg::ES256 => AlgFamily::EcdsaP256,
            Alg::ES384 => AlgFamily::EcdsaP384,
            Alg::EdDSA => AlgFamily::Ed25519,
        }
    }

    /// The digest signed over (Ed25519 hashes internally; SHA-512 is reported for it).
    pub const fn hash(self) -> Hash {
        match self {
            Alg::HS256 | Alg::RS256 | Alg::PS256 | Alg::ES256 => Hash::Sha256,
            Alg::HS384 | Alg::RS384 | Alg::PS384 | Alg::ES384 => Hash::Sha384,
            Alg::HS512 | Alg::RS512 | Alg::PS512 | Alg::EdDSA => Hash::Sha512,
        }
    }

    pub const fn is_hmac(self) -> bool {
        matches!(self.family(), AlgFamily::Hmac)
    }

    /// The exact signature length for fixed-length schemes (RSA: the modulus length, which
    /// depends on the key).
    pub const fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Alg::HS256 => Some(32),
            Alg::HS384 => Some(48),
            Alg::HS512 => Some(64),
            Alg::ES256 => Some(64),
            Alg::ES384 => Some(96),
            Alg::EdDSA => Some(64),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
    Crypto(crate::crypto::CryptoError),
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

/// The protected header, reduced to what we use. Unknown parameters are ignored.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("alg", &self.alg)
            .field("has_kid", &self.kid.is_some())
            .field("typ", &self.typ)
            .finish()
    }
}

/// The registered claims, typed, plus every claim as JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub jti: Option<String>,
    pub azp: Option<String>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
    /// The whole payload object.
    pub all: Map<String, Value>,
}

/// A parsed, **unverified** token borrowing the input.
#[derive(Clone)]
pub struct Jwt<'a> {
    pub header: Header,
    pub claims: Claims,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

impl fmt::Debug for Jwt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("header", &self.header)
            .field("signature_len", &self.signature.len())
            .finish_non_exhaustive()
    }
}

/// Parses with the default length cap [`MAX_TOKEN_LEN`].
pub fn parse(token: &str) -> Result<Jwt<'_>, JwtError> {
    parse_with_limit(token, MAX_TOKEN_LEN)
}

/// Parses a compact JWS, refusing anything longer than `max_len` bytes before decoding.
pub fn parse_with_limit(token: &str, max_len: usize) -> Result<Jwt<'_>, JwtError> {
    if token.len() > max_len {
        return Err(JwtError::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    let bytes = token.as_bytes();
    let mut dots = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .map(|(i, _)| i);
    let (Some(d1), Some(d2), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(JwtError::Malformed(Malformed::Segments));
    };
    let (h64, p64, s64) = (&token[..d1], &token[d1 + 1..d2], &token[d2 + 1..]);
    if h64.is_empty() || p64.is_empty() || s64.is_empty() {
        return Err(JwtError::Malformed(Malformed::Segments));
    }

    let header_bytes = b64url(h64).ok_or(JwtError::Malformed(Malformed::HeaderBase64))?;
    let header = parse_header(&header_bytes)?;

    let payload_bytes = b64url(p64).ok_or(JwtError::Malformed(Malformed::PayloadBase64))?;
    let claims = parse_claims(&payload_bytes)?;

    let signature = b64url(s64).ok_or(JwtError::Malformed(Malformed::SignatureBase64))?;

    Ok(Jwt {
        header,
        claims,
        signing_input: &token[..d2],
        signature,
    })
}

/// Strict base64url: URL alphabet, no padding, canonical trailing bits.
pub(crate) fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// A JSON value that refuses duplicate object member names at any depth.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without duplicate member names")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom("duplicate member name"));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses a JSON object, refusing duplicate member names.
fn strict_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(m))) => Some(m),
        _ => None,
    }
}

fn parse_header(bytes: &[u8]) -> Result<Header, JwtError> {
    let Some(h) = strict_object(bytes) else {
        return Err(JwtError::Malformed(Malformed::HeaderJson));
    };
    let alg_name = match h.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err(JwtError::Malformed(Malformed::AlgNotString)),
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgNone);
    }
    let alg = Alg::from_name(alg_name).ok_or(JwtError::AlgNotAllowed(None))?;
    let kid = match h.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(JwtError::Malformed(Malformed::KidNotString)),
    };
    // Keys come from the provider's configured set only, never from the token.
    for name in ["jku", "x5u", "jwk", "x5c"] {
        if h.contains_key(name) {
            return Err(JwtError::UnsupportedHeader(name));
        }
    }
    if let Some(crit) = h.get("crit") {
        match crit {
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                // We understand no extension, so any listed one is unknown (RFC 7515 §4.1.11).
                return Err(JwtError::UnsupportedHeader("crit"));
            }
            _ => return Err(JwtError::Malformed(Malformed::CritInvalid)),
        }
    }
    let typ = match h.get("typ") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(Header { alg, kid, typ })
}

fn parse_claims(bytes: &[u8]) -> Result<Claims, JwtError> {
    let Some(all) = strict_object(bytes) else {
        return Err(JwtError::Malformed(Malformed::PayloadJson));
    };
    let aud = match all.get("aud") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    _ => return Err(JwtError::Malformed(Malformed::Claim("aud"))),
                }
            }
            out
        }
        Some(_) => return Err(JwtError::Malformed(Malformed::Claim("aud"))),
    };
    Ok(Claims {
        iss: string_claim(&all, "iss")?,
        sub: string_claim(&all, "sub")?,
        jti: string_claim(&all, "jti")?,
        azp: string_claim(&all, "azp")?,
        aud,
        exp: numeric_date(&all, "exp")?,
        nbf: numeric_date(&all, "nbf")?,
        iat: numeric_date(&all, "iat")?,
        all,
    })
}

fn string_claim(all: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JwtError> {
    match all.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::Malformed(Malformed::Claim(name))),
    }
}

/// A NumericDate: a JSON number, ≥ 0, < 2^64; a fraction is cut off. Strings are refused.
fn numeric_date(all: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    let bad = JwtError::Malformed(Malformed::Claim(name));
    match all.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                return Ok(Some(u));
            }
            if n.is_i64() {
                return Err(bad); // negative
            }
            match n.as_f64() {
                // 2^64 as f64 is exact; anything at or above it does not fit.
                Some(f) if (0.0..18_446_744_073_709_551_616.0).contains(&f) =>
                {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Ok(Some(f.trunc() as u64))
                }
                _ => Err(bad),
            }
        }
        Some(_) => Err(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn tok(h: &str, p: &str) -> String {
        format!("{}.{}.{}", enc(h), enc(p), enc("sig"))
    }

    #[test]
    fn parses_registered_claims() {
        let t = tok(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"i","sub":"s","aud":["a","b"],"exp":10,"nbf":1.9,"iat":2,"jti":"j"}"#,
        );
        let j = parse(&t).unwrap();
        assert_eq!(j.header.alg, Alg::RS256);
        assert_eq!(j.header.kid.as_deref(), Some("k1"));
        assert_eq!(j.claims.aud, vec!["a", "b"]);
        assert_eq!(j.claims.exp, Some(10));
        assert_eq!(j.claims.nbf, Some(1));
        assert_eq!(j.signature, b"sig");
    }

    #[test]
    fn numeric_dates_must_be_numbers_in_range() {
        for (p, claim) in [
            (r#"{"exp":"10"}"#, "exp"),
            (r#"{"nbf":-1}"#, "nbf"),
            (r#"{"iat":18446744073709551616}"#, "iat"),
            (r#"{"exp":1e30}"#, "exp"),
            (r#"{"aud":1}"#, "aud"),
            (r#"{"aud":["a",1]}"#, "aud"),
            (r#"{"iss":1}"#, "iss"),
        ] {
            let t = tok(r#"{"alg":"RS256"}"#, p);
            assert_eq!(
                parse(&t).unwrap_err(),
                JwtError::Malformed(Malformed::Claim(claim)),
                "{p}"
            );
        }
    }

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        let t = tok(r#"{"alg":"RS256","alg":"none"}"#, r#"{"sub":"a"}"#);
        assert_eq!(
            parse(&t).unwrap_err(),
            JwtError::Malformed(Malformed::HeaderJson)
        );
        let t = tok(r#"{"alg":"RS256"}"#, r#"{"sub":"a","sub":"admin"}"#);
        assert_eq!(
            parse(&t).unwrap_err(),
            JwtError::Malformed(Malformed::PayloadJson)
        );
        let t = tok(r#"{"alg":"RS256"}"#, r#"{"jit":{"id":"1","id":"2"}}"#);
        assert!(parse(&t).is_err());
        let t = tok(
            r#"{"alg":"RS256"}"#,
            r#"{"a":[{"x":1},{"x":2}],"n":null,"f":1.5}"#,
        );
        let j = parse(&t).unwrap();
        assert_eq!(j.claims.all["a"][1]["x"], 2);
        assert!(j.claims.all["n"].is_null());
    }

    #[test]
    fn too_large_before_decoding() {
        let t = "x".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(parse(&t), Err(JwtError::TooLarge { .. })));
    }

    #[test]
    fn display_never_contains_token_text() {
        let t = tok(
            r#"{"alg":"RS256","kid":"SECRETKID"}"#,
            r#"{"exp":"SECRET"}"#,
        );
        let e = parse(&t).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET"));
    }
}
