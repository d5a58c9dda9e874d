//! Parsing a compact JWS (`header.payload.signature`) into typed parts. Nothing here is
//! trusted yet: [`super::checks`] checks the signature and the claims.
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

use super::alg::Alg;
use super::error::{JwtError, Malformed};

/// The default cap on a token's length in bytes. Real access tokens are 1–2 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

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
