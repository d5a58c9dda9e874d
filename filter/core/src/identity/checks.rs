//! One provider's checks on one token: who is calling.
//!
//! Order (cheap and structural first, claims only once the signature holds, so every
//! claim-level reason describes an authentic token):
//! 1. length cap, three segments, base64url, JSON, header rules ([`super::token::parse`]);
//! 2. `alg` allowed for the provider (HS* only with a configured `hmac_secret`: a token
//!    "signed" with an RSA public key as HMAC secret is refused here, before any key);
//! 3. signature length for the algorithm (an ES256 signature must be 64 raw bytes, so a
//!    DER signature is refused; RSA: the modulus length);
//! 4. key selection by `kid`/`alg` (unknown `kid` → [`TokenUnknownKid`](crate::reason::Reason::TokenUnknownKid),
//!    which asks the provider's key store for a rate-limited refetch) and the signature,
//!    through a [`SignatureVerifier`]; at most [`MAX_KEY_ATTEMPTS`] keys are tried per token;
//! 5. claims: `iss` (exact), `aud` (any match), `exp` (+skew), required `exp`, `nbf` (−skew),
//!    `iat` not in the future (+skew), lifetime cap, subject allow-list.
//!
//! `now` is always an argument (the host's clock): nothing here reads a clock or does I/O.
//! Which provider, the verified-token cache and the key stores are [`super::authn`]'s.

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::JwtError;
use super::jwk::Jwk;
use super::keyset::KeySet;
use super::provider::ProviderConfig;
use super::signature::SignatureVerifier;
use super::token::{Claims, Jwt};

/// Most keys tried for one token (tokens without `kid` against a set with several keys of
/// the same type). Bounds the signature work an attacker can cause per request.
pub const MAX_KEY_ATTEMPTS: usize = 4;

/// Who is calling: the verified token's identity and claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub provider: String,
    pub iss: Option<String>,
    pub sub: Option<String>,
    /// `azp`, or `client_id` when there is no `azp`.
    pub azp: Option<String>,
    pub jti: Option<String>,
    pub kid: Option<String>,
    pub alg: &'static str,
    pub aud: Vec<String>,
    pub exp: Option<u64>,
    pub iat: Option<u64>,
    pub nbf: Option<u64>,
    /// From the provider's scope claims (default `scope` and `scp`), each a space-delimited
    /// string or a list of strings; deduplicated, in order.
    pub scopes: Vec<String>,
    /// Every claim, for JIT grants and `claim_to_headers`. Not serialized with the
    /// identity (claims may carry personal data): audit events pick fields explicitly.
    #[serde(skip)]
    pub claims: Map<String, Value>,
}

/// Parses and verifies `token` for `provider` with `keys` at `now` (Unix seconds).
pub fn verify(
    provider: &ProviderConfig,
    keys: &KeySet,
    token: &str,
    now_unix_secs: u64,
    crypto: &dyn SignatureVerifier,
) -> Result<Identity, JwtError> {
    let jwt = super::token::parse(token)?;
    verify_parsed(provider, keys, jwt, now_unix_secs, crypto)
}

/// As [`verify`], for a token already parsed (e.g. to pick the provider by `iss` first).
/// Takes the token so its claims move into the [`Identity`] instead of being copied.
pub fn verify_parsed(
    provider: &ProviderConfig,
    keys: &KeySet,
    jwt: Jwt<'_>,
    now: u64,
    crypto: &dyn SignatureVerifier,
) -> Result<Identity, JwtError> {
    check_signature(provider, keys, &jwt, crypto)?;
    check_claims(provider, &jwt.claims, now)?;
    Ok(identity(provider, jwt))
}

/// Steps 2–4: algorithm policy, signature length, key selection, signature.
pub fn check_signature(
    provider: &ProviderConfig,
    keys: &KeySet,
    jwt: &Jwt<'_>,
    crypto: &dyn SignatureVerifier,
) -> Result<(), JwtError> {
    let alg = jwt.header.alg;
    if !provider.allows(alg) {
        return Err(JwtError::AlgNotAllowed(Some(alg)));
    }
    let sig = jwt.signature.as_slice();
    if let Some(len) = alg.fixed_signature_len() {
        if sig.len() != len {
            return Err(JwtError::SignatureLength {
                alg,
                len: sig.len(),
            });
        }
    }
    let input = jwt.signing_input.as_bytes();

    if alg.is_hmac() {
        let secret = provider
            .hmac_secret
            .as_deref()
            .ok_or(JwtError::AlgNotAllowed(Some(alg)))?;
        let key = Jwk::hmac(secret);
        return match crypto.verify(alg, &key, input, sig) {
            Ok(true) => Ok(()),
            Ok(false) => Err(JwtError::BadSignature),
            Err(e) => Err(JwtError::Crypto(e)),
        };
    }

    if keys.is_empty() {
        return Err(JwtError::NoKeys);
    }
    let kid = jwt.header.kid.as_deref();
    let mut tried = 0usize;
    let mut any_false = false;
    let mut wrong_len = false;
    let mut last_err = None;
    let mut any_candidate = false;
    for key in keys.candidates(kid, alg) {
        any_candidate = true;
        if key.rsa_modulus_len().is_some_and(|n| n != sig.len()) {
            wrong_len = true;
            continue;
        }
        if tried == MAX_KEY_ATTEMPTS {
            break;
        }
        tried += 1;
        match crypto.verify(alg, key, input, sig) {
            Ok(true) => return Ok(()),
            Ok(false) => any_false = true,
            Err(e) => last_err = Some(e),
        }
    }
    if !any_candidate {
        return Err(match kid {
            Some(k) if !keys.has_kid(k) => JwtError::UnknownKid,
            _ => JwtError::NoMatchingKey,
        });
    }
    if any_false {
        return Err(JwtError::BadSignature);
    }
    if let Some(e) = last_err {
        // No key said "false" and some could not tell: fail closed as an internal error.
        return Err(JwtError::Crypto(e));
    }
    debug_assert!(wrong_len && tried == 0);
    Err(JwtError::SignatureLength {
        alg,
        len: sig.len(),
    })
}

/// Step 5: the claims of a token whose signature holds (or, for tests, of any token).
pub fn check_claims(provider: &ProviderConfig, c: &Claims, now: u64) -> Result<(), JwtError> {
    let skew = provider.clock_skew_seconds;
    if !provider.issuer.is_empty() && c.iss.as_deref() != Some(provider.issuer.as_str()) {
        return Err(JwtError::BadIssuer);
    }
    if !provider.audiences.is_empty() && !c.aud.iter().any(|a| provider.audiences.contains(a)) {
        return Err(JwtError::BadAudience);
    }
    match c.exp {
        // RFC 7519 §4.1.4: valid only *before* exp; the skew extends that.
        Some(exp) if now >= exp.saturating_add(skew) => {
            return Err(JwtError::Expired { exp, now });
        }
        None if provider.require_expiration || provider.max_lifetime_seconds.is_some() => {
            return Err(JwtError::MissingExp);
        }
        _ => {}
    }
    if let Some(nbf) = c.nbf {
        if now.saturating_add(skew) < nbf {
            return Err(JwtError::NotYetValid { nbf, now });
        }
    }
    if let Some(iat) = c.iat {
        if iat > now.saturating_add(skew) {
            return Err(JwtError::IssuedInFuture { iat, now });
        }
    }
    if let (Some(max), Some(exp)) = (provider.max_lifetime_seconds, c.exp) {
        let start = c.iat.or(c.nbf).unwrap_or(now);
        let lifetime = exp.saturating_sub(start);
        if lifetime > max {
            return Err(JwtError::LifetimeTooLong { lifetime, max });
        }
    }
    if let Some(subjects) = &provider.subjects {
        match c.sub.as_deref() {
            Some(s) if subjects.matches(s) => {}
            _ => return Err(JwtError::BadSubject),
        }
    }
    Ok(())
}

/// A verified identity for tests: subject `s` of provider `p`, expiring at `exp`.
#[cfg(test)]
pub(crate) fn test_identity(exp: Option<u64>, nbf: Option<u64>) -> Identity {
    Identity {
        provider: "p".into(),
        iss: None,
        sub: Some("s".into()),
        azp: None,
        jti: None,
        kid: None,
        alg: "RS256",
        aud: vec![],
        exp,
        iat: None,
        nbf,
        scopes: vec![],
        claims: Default::default(),
    }
}

fn identity(provider: &ProviderConfig, jwt: Jwt<'_>) -> Identity {
    let c = jwt.claims;
    let azp = c.azp.or_else(|| {
        c.all
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Identity {
        provider: provider.name.clone(),
        iss: c.iss,
        sub: c.sub,
        azp,
        jti: c.jti,
        kid: jwt.header.kid,
        alg: jwt.header.alg.name(),
        aud: c.aud,
        exp: c.exp,
        iat: c.iat,
        nbf: c.nbf,
        scopes: scopes(&c.all, &provider.scope_claims),
        claims: c.all,
    }
}

fn scopes(all: &Map<String, Value>, claims: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    for name in claims {
        match all.get(name) {
            Some(Value::String(s)) => s.split_ascii_whitespace().for_each(&mut push),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut push),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scopes_merge_scope_and_scp() {
        let m: Map<String, Value> =
            serde_json::from_str(r#"{"scope":"a b  c","scp":["b","d",1]}"#).unwrap();
        let default = names(&super::super::provider::DEFAULT_SCOPE_CLAIMS);
        assert_eq!(scopes(&m, &default), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn scopes_come_only_from_the_claims_the_provider_names() {
        let m: Map<String, Value> = serde_json::from_str(
            r#"{"scope":"cards:read","roles":["Cards.Write","exports:run"],"groups":"g1 g2","scp":7}"#,
        )
        .unwrap();
        // Entra ID app roles: an array; scope is not read once other claims are named.
        assert_eq!(
            scopes(&m, &names(&["roles"])),
            vec!["Cards.Write", "exports:run"]
        );
        // A custom claim holding a space-delimited string, then the standard one.
        assert_eq!(
            scopes(&m, &names(&["groups", "scope"])),
            vec!["g1", "g2", "cards:read"]
        );
        // A claim of another type, or a missing one, gives nothing.
        assert!(scopes(&m, &names(&["scp", "nope"])).is_empty());
    }

    #[test]
    fn identity_serializes_without_raw_claims() {
        let id = Identity {
            claims: serde_json::from_str(r#"{"email":"a@b.c"}"#).unwrap(),
            ..test_identity(None, None)
        };
        let j = serde_json::to_string(&id).unwrap();
        assert!(j.contains("\"sub\":\"s\"") && !j.contains("a@b.c"));
    }

    #[test]
    fn reasons_are_token_reasons() {
        assert_eq!(JwtError::BadAudience.reason(), Reason::TokenBadAudience);
        assert_eq!(JwtError::UnknownKid.reason(), Reason::TokenUnknownKid);
        assert_eq!(JwtError::NoKeys.reason(), Reason::JwksUnavailable);
    }
}
