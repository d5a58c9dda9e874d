//! Grants signed by the approvals service, sent in their own header (default
//! `x-pci-guard-grant`) beside the caller's access token, and how they and the in-token `jit`
//! claim satisfy a rule's or route's requirement.
//!
//! ```text
//! grant header ─► state::GrantState::verify (judge, once per request):
//!                 token::verify: signature with the service's keys, typ, iss, aud, shape,
//!                 revocations::Revocations (fresh? revoked?) ─► Presented
//! each requirement (authz::decide) ─► Grants::check:
//!                 the claim's grant: jit::check
//!                 the header's grant: sub_id = the caller's iss + sub, binding::covers
//!                 (rule or route, method, path or gRPC method), then jit::check
//! ```
//!
//! Either grant may satisfy a requirement. When neither does, the header grant's reason is
//! the answer if one was sent (the caller meant it), else the claim's, else `missing`.

pub mod binding;
pub mod revocations;
pub mod state;
pub mod token;

use super::jit::{self, Grant, Holder};
use crate::policy::JitRequirement;
use crate::reason::Reason;
use crate::routes::RequestLine;
pub use binding::{Binding, Target};
pub use state::GrantState;
use std::sync::Arc;

/// A grant whose signature, issuer, audience and revocation state held; what remains to check
/// depends on the route and the caller.
#[derive(Debug, Clone)]
pub struct SignedGrant {
    /// `jti` = `jit.id`.
    pub id: String,
    /// `sub_id`: the requester's issuer and subject.
    pub issuer: String,
    pub subject: String,
    /// `jit.approvers`: each approver's issuer and subject.
    pub approvers: Vec<(String, String)>,
    /// The `jit` fields, its window bounded by the token's `nbf` and `exp`.
    pub jit: Grant,
    pub bindings: Vec<Binding>,
}

/// What the grant header held.
#[derive(Debug, Clone)]
pub enum Presented {
    /// Shared with the VM's cache of verified grants.
    Verified(Arc<SignedGrant>),
    /// Signed by the service, but not usable now: revoked, or the revocation list too old to
    /// tell. The grant is known, so the audit event names it (and the review joins it).
    Withheld(Arc<SignedGrant>, Reason),
    /// Not a grant the service signed for this filter, or no keys to tell.
    Refused(Reason),
}

/// Where the grant that counted (or was examined) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantSource {
    /// The verified access token's `jit` claim.
    Claim,
    /// The grant header.
    Header,
}

/// The caller as grants see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    pub issuer: Option<&'a str>,
    pub holder: Holder<'a>,
}

/// Every grant a request carries, checked against one requirement at a time.
#[derive(Debug)]
pub struct Grants<'a> {
    pub claim: Option<Grant>,
    pub header: Option<&'a Presented>,
    pub who: Who<'a>,
    pub now: u64,
    pub skew: u64,
}

/// One requirement's outcome.
#[derive(Debug, Clone)]
pub struct Checked {
    pub verdict: Result<(), Reason>,
    /// The grant that counted, or the one examined when none did.
    pub grant: Option<(Grant, GrantSource)>,
    /// Why the header's grant did not count, when one was sent and it did not.
    pub header_refused: Option<Reason>,
}

impl Grants<'_> {
    /// Checks the requirement `req` of `target` for `scopes` on `line`; `missing` is the
    /// reason when the request carries no grant at all.
    pub fn check(
        &self,
        target: Target<'_>,
        line: &RequestLine<'_>,
        req: &JitRequirement,
        scopes: &[String],
        missing: Reason,
    ) -> Checked {
        let (holder, now, skew) = (self.who.holder, self.now, self.skew);
        let claim = self
            .claim
            .as_ref()
            .map(|g| (g, jit::check(g, req, scopes, holder, now, skew)));
        let header = self.header.map(|p| match p {
            Presented::Refused(r) => (None, Err(*r)),
            Presented::Withheld(g, r) => (Some(&g.jit), Err(*r)),
            Presented::Verified(g) => (
                Some(&g.jit),
                header_check(g, target, line, req, scopes, self.who, now, skew),
            ),
        });
        let header_refused = header.as_ref().and_then(|(_, v)| v.err());
        if let Some((g, Ok(()))) = &header {
            return Checked {
                verdict: Ok(()),
                grant: g.map(|g| (g.clone(), GrantSource::Header)),
                header_refused: None,
            };
        }
        if let Some((g, Ok(()))) = &claim {
            return Checked {
                verdict: Ok(()),
                grant: Some(((*g).clone(), GrantSource::Claim)),
                header_refused,
            };
        }
        let verdict = match (&header, &claim) {
            (Some((_, v)), _) | (None, Some((_, v))) => *v,
            (None, None) => Err(missing),
        };
        let grant = match (&header, &claim) {
            (Some((Some(g), _)), _) => Some(((*g).clone(), GrantSource::Header)),
            (_, Some((g, _))) => Some(((*g).clone(), GrantSource::Claim)),
            _ => None,
        };
        Checked {
            verdict,
            grant,
            header_refused,
        }
    }
}

/// A verified header grant against one requirement: issued to this caller (issuer and
/// subject, exactly), not approved by them, bound to this operation, then the checks every
/// grant passes.
#[allow(clippy::too_many_arguments)]
fn header_check(
    g: &SignedGrant,
    target: Target<'_>,
    line: &RequestLine<'_>,
    req: &JitRequirement,
    scopes: &[String],
    who: Who<'_>,
    now: u64,
    skew: u64,
) -> Result<(), Reason> {
    let (Some(iss), Some(sub)) = (who.issuer, who.holder.subject) else {
        return Err(Reason::JitNoSubject);
    };
    if iss.is_empty() || sub.is_empty() {
        return Err(Reason::JitNoSubject);
    }
    if g.issuer != iss || g.subject != sub {
        return Err(Reason::GrantWrongSubject);
    }
    if g.approvers.iter().any(|(i, s)| i == iss && s == sub) {
        return Err(Reason::JitSelfApproved);
    }
    if !g.bindings.iter().any(|b| b.covers(target, scopes, line)) {
        return Err(Reason::GrantNotForOperation);
    }
    jit::check(&g.jit, req, scopes, who.holder, now, skew)
}

#[cfg(test)]
mod tests;
