//! A grant header's token checked as far as it can be without the route: the signature with
//! the approvals service's keys, then `typ`, `iss`, `aud`, the claims' shape. The revocation
//! list is [`super::state`]'s (it changes under a verified grant); what depends on the route
//! and the caller (subject, binding, times, approvals) is [`super::Grants::check`]'s.
//!
//! Order, as for access tokens: nothing of the payload is believed before the signature
//! holds, so every reason after it describes a grant the service really signed.

use super::binding::{self, Binding};
use super::SignedGrant;
use crate::authz::jit::Grant;
use crate::identity::checks::check_signature;
use crate::identity::error::JwtError;
use crate::identity::signature::SignatureVerifier;
use crate::identity::{token, KeySet, ProviderConfig};
use crate::reason::Reason;
use serde_json::Value;

/// The JWT `typ` of a grant (RFC 8725 §3.11): an access token is never taken for a grant.
pub const GRANT_TYP: &str = "pci-guard-grant+jwt";

/// Why a grant did not verify; [`Refusal::reason`] is what the request is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token itself (parse, signature, key): the identity code's error.
    Token(JwtError),
    Typ,
    Issuer,
    Audience,
    /// A claim the service always writes is missing or of the wrong shape.
    Claims(&'static str),
    Revoked,
    RevocationsStale,
}

impl Refusal {
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::Token(JwtError::NoKeys) => Reason::GrantKeysUnavailable,
            Refusal::Token(e) if e.reason() == Reason::FilterUnavailable => {
                Reason::FilterUnavailable
            }
            Refusal::Revoked => Reason::GrantRevoked,
            Refusal::RevocationsStale => Reason::GrantRevocationsStale,
            _ => Reason::GrantInvalid,
        }
    }
}

/// Verifies `raw` against `config` (the service's issuer, audience and algorithms) and `keys`.
pub fn verify(
    config: &ProviderConfig,
    keys: &KeySet,
    raw: &str,
    crypto: &dyn SignatureVerifier,
) -> Result<SignedGrant, Refusal> {
    let jwt = token::parse(raw).map_err(Refusal::Token)?;
    check_signature(config, keys, &jwt, crypto).map_err(Refusal::Token)?;
    if !jwt
        .header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(GRANT_TYP))
    {
        return Err(Refusal::Typ);
    }
    let c = jwt.claims;
    if c.iss.as_deref() != Some(config.issuer.as_str()) {
        return Err(Refusal::Issuer);
    }
    if !c.aud.iter().any(|a| config.audiences.contains(a)) {
        return Err(Refusal::Audience);
    }
    let (Some(nbf), Some(exp)) = (c.nbf, c.exp) else {
        return Err(Refusal::Claims("nbf, exp"));
    };
    let Some(id) = c.jti else {
        return Err(Refusal::Claims("jti"));
    };
    let (iss, sub) = subject_id(c.all.get("sub_id")).ok_or(Refusal::Claims("sub_id"))?;
    if c.sub.as_deref() != Some(sub.as_str()) {
        return Err(Refusal::Claims("sub"));
    }
    let mut jit = c
        .all
        .get("jit")
        .and_then(Grant::from_claim)
        .filter(|g| g.id == id)
        .ok_or(Refusal::Claims("jit"))?;
    // The token's own window bounds the grant's, whatever `jit` says.
    jit.nbf = jit.nbf.max(nbf);
    jit.exp = jit.exp.min(exp);
    let approvers = approvers(c.all.get("jit").and_then(|j| j.get("approvers")));
    let bindings: Vec<Binding> = binding::parse(c.all.get("authorization_details"))
        .ok_or(Refusal::Claims("authorization_details"))?;
    Ok(SignedGrant {
        id,
        issuer: iss,
        subject: sub,
        approvers,
        jit,
        bindings,
    })
}

/// RFC 9493 `{"format": "iss_sub", "iss", "sub"}`, both non-empty.
fn subject_id(v: Option<&Value>) -> Option<(String, String)> {
    let v = v?;
    if v.get("format")?.as_str()? != "iss_sub" {
        return None;
    }
    let iss = v.get("iss")?.as_str()?;
    let sub = v.get("sub")?.as_str()?;
    (!iss.is_empty() && !sub.is_empty()).then(|| (iss.to_owned(), sub.to_owned()))
}

/// The approvers' issuer and subject pairs, where the service wrote them.
fn approvers(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| subject_id(Some(i))).collect(),
        _ => Vec::new(),
    }
}
