//! One provider's checks on one token: who is calling.
//!
//! Order (cheap and structural first, claims only once the signature holds, so every
//! claim-level reason describes an authentic token):
//! 1. length cap, three segments, base64url, JSON, header rules ([`crate::jwt::parse`]);
//! 2. `alg` allowed for the provider (HS* only with a configured `hmac_secret`: a token
//!    "signed" with an RSA public key as HMAC secret is refused here, before any key);
//! 3. signature length for the algorithm (an ES256 signature must be 64 raw bytes, so a
//!    DER signature is refused; RSA: the modulus length);
//! 4. key selection by `kid`/`alg` (unknown `kid` → [`TokenUnknownKid`](crate::reason::Reason::TokenUnknownKid), which the
//!    glue may answer with a rate-limited refetch) and the signature, through a
//!    [`SignatureVerifier`]; at most [`MAX_KEY_ATTEMPTS`] keys are tried for one token;
//! 5. claims: `iss` (exact), `aud` (any match), `exp` (+skew), required `exp`, `nbf` (−skew),
//!    `iat` not in the future (+skew), lifetime cap, subject allow-list.
//!
//! `now` is always an argument (the host's clock): nothing here reads a clock.
//!
//! # Per request, in the glue
//! ```ignore
//! let token = match extractor::extract(&provider_sources, &headers) {
//!     Ok(Some(t)) => t,
//!     Ok(None) => return deny(Reason::TokenMissing),
//!     Err(e) => return deny(e.reason()),
//! };
//! // Several providers on a route: parse once, pick by `iss`, then `verify_parsed`.
//! let key = TokenKey::new(&provider.name, token);
//! if let Some(id) = vm.jwt_cache.get(&key, now) { return allow(id) }
//! let Some(keys) = key_store.keys(now) else { return deny(Reason::JwksUnavailable) };
//! match verify(&provider, keys, token, now, &vm.crypto /* host_crypto::envoy_verifier() */) {
//!     Ok(id) => {
//!         let id = Arc::new(id);
//!         vm.jwt_cache.insert(key, id.clone(), provider.clock_skew_seconds, now);
//!         allow(id)
//!     }
//!     Err(e) => {
//!         if e.reason() == Reason::TokenUnknownKid { key_store.on_unknown_kid(now); }
//!         deny(e.reason()) // e's Display is safe to log: no token or key bytes
//!     }
//! }
//! ```

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::crypto::{
    ecdsa_raw_to_der, host_supports, CryptoError, FallbackVerifier, HostVerifier, PureVerifier,
    SignatureVerifier,
};
use crate::jwks::{Jwk, KeySet};
pub use crate::jwt::{Alg, JwtError};
use crate::jwt::{Claims, Jwt};

/// Most keys tried for one token (tokens without `kid` against a set with several keys of
/// the same type). Bounds the signature work an attacker can cause per request.
pub const MAX_KEY_ATTEMPTS: usize = 4;

/// Which subjects a provider accepts: any exact match or any prefix match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectMatch {
    pub exact: Vec<String>,
    pub prefixes: Vec<String>,
}

impl SubjectMatch {
    pub fn matches(&self, sub: &str) -> bool {
        self.exact.iter().any(|e| e == sub) || self.prefixes.iter().any(|p| sub.starts_with(p))
    }
}

/// One identity provider's rules, compiled from the policy.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub name: String,
    /// Exact `iss`. Empty means "not checked" (jwt_authn semantics); the policy should
    /// require one.
    pub issuer: String,
    /// Any one must appear in `aud`. Empty means "not checked".
    pub audiences: Vec<String>,
    pub subjects: Option<SubjectMatch>,
    pub clock_skew_seconds: u64,
    pub require_expiration: bool,
    /// Largest `exp − iat` (or `exp − nbf`, or `exp − now` without either).
    pub max_lifetime_seconds: Option<u64>,
    pub algorithms: Vec<Alg>,
    /// Shared secret for HS*; without it HS* tokens are refused whatever `algorithms` says.
    pub hmac_secret: Option<Vec<u8>>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("subjects", &self.subjects)
            .field("clock_skew_seconds", &self.clock_skew_seconds)
            .field("require_expiration", &self.require_expiration)
            .field("max_lifetime_seconds", &self.max_lifetime_seconds)
            .field("algorithms", &self.algorithms)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ProviderConfig {
    /// A provider with the defaults: skew 60 s, `exp` required, no lifetime cap, every
    /// asymmetric algorithm, no HMAC.
    pub fn new(name: impl Into<String>, issuer: impl Into<String>) -> Self {
        ProviderConfig {
            name: name.into(),
            issuer: issuer.into(),
            audiences: Vec::new(),
            subjects: None,
            clock_skew_seconds: 60,
            require_expiration: true,
            max_lifetime_seconds: None,
            algorithms: Alg::DEFAULT_ALLOWED.to_vec(),
            hmac_secret: None,
        }
    }

    /// Configuration mistakes, for the policy loader to report (with its JSON pointer) at
    /// load time. Empty when the provider is usable.
    pub fn problems(&self) -> Vec<ProviderProblem> {
        let mut out = Vec::new();
        let mut push =
            |field: &'static str, message: String| out.push(ProviderProblem { field, message });
        if self.name.is_empty() {
            push("name", "must not be empty".into());
        }
        if self.issuer.is_empty() {
            push(
                "issuer",
                "must be set: tokens from any issuer would do".into(),
            );
        }
        if self.algorithms.is_empty() {
            push("algorithms", "must list at least one algorithm".into());
        }
        let hmac_listed: Vec<Alg> = self
            .algorithms
            .iter()
            .copied()
            .filter(|a| a.is_hmac())
            .collect();
        match (&self.hmac_secret, hmac_listed.is_empty()) {
            (None, false) => push(
                "hmac_secret",
                "HS* algorithms are listed but no shared secret is configured".into(),
            ),
            (Some(_), true) => push(
                "algorithms",
                "a shared secret is configured but no HS* algorithm is listed".into(),
            ),
            (Some(secret), false) => {
                // RFC 7518 §3.2: a key at least as long as the hash output.
                let need = hmac_listed
                    .iter()
                    .filter_map(|a| a.fixed_signature_len())
                    .max()
                    .unwrap_or(32);
                if secret.len() < need {
                    push(
                        "hmac_secret",
                        format!("is {} bytes; HS* needs at least {need}", secret.len()),
                    );
                }
                if hmac_listed.len() != self.algorithms.len() {
                    push(
                        "algorithms",
                        "mixes HS* with public-key algorithms; use one provider for each".into(),
                    );
                }
            }
            (None, true) => {}
        }
        if self.clock_skew_seconds > 300 {
            push("clock_skew_seconds", "above 300 s".into());
        }
        if self.max_lifetime_seconds == Some(0) {
            push("max_lifetime", "must be positive".into());
        }
        out
    }

    /// Whether a token with this `alg` may be verified at all.
    pub fn allows(&self, alg: Alg) -> bool {
        self.algorithms.contains(&alg) && (!alg.is_hmac() || self.hmac_secret.is_some())
    }
}

/// One configuration mistake in a [`ProviderConfig`] (see [`ProviderConfig::problems`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderProblem {
    /// The field, as named in the policy.
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for ProviderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

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
    /// From `scope` (space-delimited) and/or `scp` (list, or space-delimited string),
    /// deduplicated, in order.
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
    let jwt = crate::jwt::parse(token)?;
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
        scopes: scopes(&c.all),
        claims: c.all,
    }
}

fn scopes(all: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    for name in ["scope", "scp"] {
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

    #[test]
    fn scopes_merge_scope_and_scp() {
        let m: Map<String, Value> =
            serde_json::from_str(r#"{"scope":"a b  c","scp":["b","d",1]}"#).unwrap();
        assert_eq!(scopes(&m), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn provider_problems() {
        assert!(ProviderConfig::new("p", "https://i").problems().is_empty());
        let fields = |p: &ProviderConfig| -> Vec<&'static str> {
            p.problems().iter().map(|x| x.field).collect()
        };
        let mut p = ProviderConfig::new("p", "");
        p.algorithms.push(Alg::HS256);
        assert_eq!(fields(&p), vec!["issuer", "hmac_secret"]);
        p.issuer = "https://i".into();
        p.hmac_secret = Some(vec![1; 16]);
        assert_eq!(fields(&p), vec!["hmac_secret", "algorithms"]);
        p.algorithms = vec![Alg::HS256];
        p.hmac_secret = Some(vec![1; 32]);
        assert!(p.problems().is_empty());
        // The message never repeats the secret.
        p.hmac_secret = Some(b"short-secret".to_vec());
        assert!(!format!("{:?}", p.problems()).contains("short-secret"));
    }

    #[test]
    fn identity_serializes_without_raw_claims() {
        let id = Identity {
            provider: "p".into(),
            iss: None,
            sub: Some("s".into()),
            azp: None,
            jti: None,
            kid: None,
            alg: "RS256",
            aud: vec![],
            exp: None,
            iat: None,
            nbf: None,
            scopes: vec![],
            claims: serde_json::from_str(r#"{"email":"a@b.c"}"#).unwrap(),
        };
        let j = serde_json::to_string(&id).unwrap();
        assert!(j.contains("\"sub\":\"s\"") && !j.contains("a@b.c"));
    }

    #[test]
    fn provider_debug_hides_secret() {
        let mut p = ProviderConfig::new("p", "i");
        p.hmac_secret = Some(b"topsecret".to_vec());
        assert!(!format!("{p:?}").contains("topsecret"));
    }

    #[test]
    fn reasons_are_token_reasons() {
        assert_eq!(JwtError::BadAudience.reason(), Reason::TokenBadAudience);
        assert_eq!(JwtError::UnknownKid.reason(), Reason::TokenUnknownKid);
        assert_eq!(JwtError::NoKeys.reason(), Reason::JwksUnavailable);
    }
}
