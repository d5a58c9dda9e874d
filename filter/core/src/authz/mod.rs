//! The decision: which route a request is on, which rules apply, whether the caller's
//! identity, scopes and just-in-time grant satisfy them. Returns a [`Decision`]; only the glue
//! turns it into an answer.
//!
//! Order, like Envoy's `jwt_authn` then `rbac`:
//! 1. the request line itself: a non-canonical path or a method-override header is refused
//!    (400) before anything else, so no rule can be bypassed by spelling;
//! 2. the route (first match); none means the policy's `default`;
//! 3. authentication, if the route needs it, so even a blocked attempt is tied to an identity;
//! 4. `deny` rules, then `require_approval` rules, then the route's scopes and grant.
//!
//! Dry-run (`mode: dry_run`, or a rule's `dry_run`) turns a deny into `would_deny`: the first
//! such finding is recorded and checking goes on, so an enforced deny further down still blocks.

pub mod grant;
pub mod jit;

use crate::identity::Verified;
use crate::policy::{Auth, DefaultAction, Mode, NoncanonicalPaths, Policy, RuleAction};
use crate::reason::Reason;
use crate::routes::{self, RequestLine};
use grant::{GrantSource, Grants, Presented, Target, Who};
use jit::Grant;

/// Who is calling, as far as authorization needs to know.
pub trait Caller {
    fn subject(&self) -> Option<&str>;
    /// The token's issuer: a signed grant names its holder by issuer and subject.
    fn issuer(&self) -> Option<&str> {
        None
    }
    /// The client the token was issued to (`azp`, or `client_id`).
    fn client(&self) -> Option<&str> {
        None
    }
    /// A standing scope (from `scope` or `scp`).
    fn has_scope(&self, scope: &str) -> bool;
    /// A claim of the verified token (the JIT grant lives in one).
    fn claim(&self, name: &str) -> Option<&serde_json::Value>;
    /// The provider's clock skew allowance.
    fn clock_skew_seconds(&self) -> u64;
}

impl Caller for Verified {
    fn subject(&self) -> Option<&str> {
        self.identity.sub.as_deref()
    }
    fn issuer(&self) -> Option<&str> {
        self.identity.iss.as_deref()
    }
    fn client(&self) -> Option<&str> {
        self.identity.azp.as_deref()
    }
    fn has_scope(&self, scope: &str) -> bool {
        self.identity.scopes.iter().any(|s| s == scope)
    }
    fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.identity.claims.get(name)
    }
    fn clock_skew_seconds(&self) -> u64 {
        self.clock_skew_seconds
    }
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Deny,
    /// Dry-run: the request passed, but enforcement would have denied it.
    WouldDeny,
}

/// Headers that ask frameworks to treat a request as another method: a rule on `DELETE` must
/// not be dodged by `POST` + `X-HTTP-Method-Override: DELETE`.
pub const METHOD_OVERRIDE_HEADERS: [&str; 4] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
];

/// The query parameter Laravel, Symfony and Rails read as the method of a `POST`.
pub const METHOD_OVERRIDE_PARAM: &str = "_method";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub reason: Reason,
    /// Index into [`Policy::routes`].
    pub route: Option<usize>,
    /// Index into [`Policy::rules`] of the rule that decided.
    pub rule: Option<usize>,
    /// False when the deny is only recorded (dry-run).
    pub enforced: bool,
    /// The just-in-time grant that was used (allow) or examined (deny).
    pub grant: Option<Grant>,
    /// Where [`Self::grant`] came from.
    pub grant_source: Option<GrantSource>,
    /// Why the grant header's grant did not count, when one was sent for a requirement and
    /// did not satisfy it.
    pub grant_refused: Option<Reason>,
}

impl Decision {
    fn new(reason: Reason, route: Option<usize>, rule: Option<usize>, enforced: bool) -> Self {
        Self {
            reason,
            route,
            rule,
            enforced,
            grant: None,
            grant_source: None,
            grant_refused: None,
        }
    }

    /// No policy is loaded: nothing can be judged, so nothing passes.
    pub fn unavailable() -> Self {
        Self::new(Reason::FilterUnavailable, None, None, true)
    }

    /// Decided before any route was tried (a body that cannot be read, the filter's own
    /// metadata answer): enforced even in dry-run, like a path that is not canonical.
    pub fn before_routes(reason: Reason) -> Self {
        Self::new(reason, None, None, true)
    }

    pub fn outcome(&self) -> Outcome {
        match (self.reason.is_allow(), self.enforced) {
            (true, _) => Outcome::Allow,
            (false, true) => Outcome::Deny,
            (false, false) => Outcome::WouldDeny,
        }
    }

    /// Whether the request must be answered locally instead of going upstream.
    pub fn blocks(&self) -> bool {
        self.outcome() == Outcome::Deny
    }
}

/// What the request says about itself, beyond the request line.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFlags {
    /// One of [`METHOD_OVERRIDE_HEADERS`] is present, or the query names a method
    /// ([`METHOD_OVERRIDE_PARAM`]).
    pub method_override: bool,
}

/// Decides a request at `now` (Unix seconds, host clock). `authenticate` is called at most
/// once, with the route's providers, and returns the verified caller or the reason none could
/// be established.
pub fn decide<C: Caller>(
    policy: &Policy,
    req: &RequestLine<'_>,
    flags: RequestFlags,
    now: u64,
    authenticate: impl FnOnce(&[usize]) -> Result<C, Reason>,
) -> (Decision, Option<C>) {
    decide_with_grant(policy, req, flags, now, None, authenticate)
}

/// [`decide`], with what the grant header held (`None`: no header, or the policy takes no
/// grants from one).
pub fn decide_with_grant<C: Caller>(
    policy: &Policy,
    req: &RequestLine<'_>,
    flags: RequestFlags,
    now: u64,
    header_grant: Option<&Presented>,
    authenticate: impl FnOnce(&[usize]) -> Result<C, Reason>,
) -> (Decision, Option<C>) {
    let dry = policy.mode == Mode::DryRun;
    let mut state = Findings { dry, shadow: None };

    // Refused even in dry-run: a request the filter cannot read unambiguously is not one it
    // can vouch for.
    if policy.noncanonical_paths == NoncanonicalPaths::Reject && !routes::is_canonical(req.path) {
        return (Decision::new(Reason::PathRejected, None, None, true), None);
    }
    if flags.method_override {
        return (
            Decision::new(Reason::MethodOverride, None, None, true),
            None,
        );
    }

    let found = match req.metadata_route {
        // Named by the Envoy route itself: an unknown name matches nothing (default applies).
        Some(name) => policy.routes.iter().position(|r| r.name == name),
        None => policy.routes.iter().position(|r| r.matcher.matches(req)),
    };
    let Some(ri) = found else {
        let d = match policy.default {
            DefaultAction::Deny => Decision::new(Reason::NoRoute, None, None, !dry),
            DefaultAction::Allow => Decision::new(Reason::Public, None, None, true),
        };
        return (d, None);
    };
    let route = &policy.routes[ri];
    let caller = match &route.auth {
        Auth::Public => None,
        Auth::AnyOf(providers) => match authenticate(providers) {
            Ok(c) => Some(c),
            Err(reason) => return (Decision::new(reason, Some(ri), None, !dry), None),
        },
    };

    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.action != RuleAction::Deny || !rule.matcher.matches(req) {
            continue;
        }
        if let Some(d) = state.deny(
            Decision::new(Reason::RuleDenied, Some(ri), Some(i), true),
            rule.dry_run,
        ) {
            return (d, caller);
        }
    }

    let holder = jit::Holder {
        subject: caller.as_ref().and_then(|c| c.subject()),
        client: caller.as_ref().and_then(|c| c.client()),
    };
    let grants = Grants {
        claim: caller
            .as_ref()
            .and_then(|c| c.claim(&policy.jit_claim))
            .and_then(Grant::from_claim),
        // Only a verified caller holds a grant from the header.
        header: header_grant.filter(|_| caller.is_some()),
        who: Who {
            issuer: caller.as_ref().and_then(|c| c.issuer()),
            holder,
        },
        now,
        skew: caller.as_ref().map_or(0, |c| c.clock_skew_seconds()),
    };
    // The grant that counted last; without any requirement, the claim's is recorded.
    let mut used = grants.claim.clone().map(|g| (g, GrantSource::Claim));
    let mut header_refused = None;

    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.action != RuleAction::RequireApproval || !rule.matcher.matches(req) {
            continue;
        }
        let c = grants.check(
            Target::Rule(&rule.id),
            req,
            &rule.jit,
            &rule.scopes,
            Reason::ApprovalRequired,
        );
        header_refused = header_refused.or(c.header_refused);
        match c.verdict {
            Ok(()) => used = c.grant,
            Err(reason) => {
                let d = with_grant(
                    Decision::new(reason, Some(ri), Some(i), true),
                    c.grant,
                    c.header_refused,
                );
                if let Some(d) = state.deny(d, rule.dry_run) {
                    return (d, caller);
                }
            }
        }
    }

    if let Some(c) = &caller {
        let verdict = match &route.jit {
            // The route's scopes must come from an active grant, not from standing scopes.
            Some(jreq) => {
                let c = grants.check(
                    Target::Route(&route.name),
                    req,
                    jreq,
                    &route.scopes,
                    Reason::JitMissing,
                );
                header_refused = header_refused.or(c.header_refused);
                match c.verdict {
                    Ok(()) => {
                        used = c.grant;
                        Ok(())
                    }
                    Err(reason) => Err((reason, c.grant, c.header_refused)),
                }
            }
            None => match route.scopes.iter().all(|s| c.has_scope(s)) {
                true => Ok(()),
                false => Err((Reason::ScopeMissing, used.clone(), None)),
            },
        };
        if let Err((reason, grant, refused)) = verdict {
            let d = with_grant(Decision::new(reason, Some(ri), None, true), grant, refused);
            if let Some(d) = state.deny(d, false) {
                return (d, caller);
            }
        }
    }

    let allow = Decision::new(
        if caller.is_some() {
            Reason::Ok
        } else {
            Reason::Public
        },
        Some(ri),
        None,
        true,
    );
    let allow = with_grant(allow, used, header_refused);
    (state.shadow.unwrap_or(allow), caller)
}

/// `d` with the grant that was used or examined, and why the header's did not count.
fn with_grant(
    mut d: Decision,
    grant: Option<(Grant, GrantSource)>,
    refused: Option<Reason>,
) -> Decision {
    if let Some((g, source)) = grant {
        d.grant = Some(g);
        d.grant_source = Some(source);
    }
    d.grant_refused = refused;
    d
}

/// Denials found so far: enforced ones end the decision, dry-run ones are remembered.
struct Findings {
    dry: bool,
    shadow: Option<Decision>,
}

impl Findings {
    /// Returns the decision if it ends checking (enforced); otherwise records it as the
    /// would-deny finding (the first one wins) and returns `None`.
    fn deny(&mut self, mut d: Decision, rule_dry_run: bool) -> Option<Decision> {
        d.enforced = !(self.dry || rule_dry_run);
        if d.enforced {
            return Some(d);
        }
        self.shadow.get_or_insert(d);
        None
    }
}

#[cfg(test)]
mod tests;
