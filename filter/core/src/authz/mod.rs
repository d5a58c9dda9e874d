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

pub mod jit;

use crate::identity::Verified;
use crate::policy::{Auth, DefaultAction, Mode, NoncanonicalPaths, Policy, RuleAction};
use crate::reason::Reason;
use crate::routes::{self, RequestLine};
use jit::Grant;

/// Who is calling, as far as authorization needs to know.
pub trait Caller {
    fn subject(&self) -> Option<&str>;
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
}

impl Decision {
    fn new(reason: Reason, route: Option<usize>, rule: Option<usize>, enforced: bool) -> Self {
        Self {
            reason,
            route,
            rule,
            enforced,
            grant: None,
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

    let grant = caller
        .as_ref()
        .and_then(|c| c.claim(&policy.jit_claim))
        .and_then(Grant::from_claim);
    let holder = jit::Holder {
        subject: caller.as_ref().and_then(|c| c.subject()),
        client: caller.as_ref().and_then(|c| c.client()),
    };
    let skew = caller.as_ref().map_or(0, |c| c.clock_skew_seconds());

    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.action != RuleAction::RequireApproval || !rule.matcher.matches(req) {
            continue;
        }
        let verdict = match &grant {
            None => Err(Reason::ApprovalRequired),
            Some(g) => jit::check(g, &rule.jit, &rule.scopes, holder, now, skew),
        };
        if let Err(reason) = verdict {
            let mut d = Decision::new(reason, Some(ri), Some(i), true);
            d.grant = grant.clone();
            if let Some(d) = state.deny(d, rule.dry_run) {
                return (d, caller);
            }
        }
    }

    if let Some(c) = &caller {
        let verdict = match &route.jit {
            // The route's scopes must come from an active grant, not from standing scopes.
            Some(req) => match &grant {
                None => Err(Reason::JitMissing),
                Some(g) => jit::check(g, req, &route.scopes, holder, now, skew),
            },
            None => match route.scopes.iter().all(|s| c.has_scope(s)) {
                true => Ok(()),
                false => Err(Reason::ScopeMissing),
            },
        };
        if let Err(reason) = verdict {
            let mut d = Decision::new(reason, Some(ri), None, true);
            d.grant = grant.clone();
            if let Some(d) = state.deny(d, false) {
                return (d, caller);
            }
        }
    }

    let mut allow = Decision::new(
        if caller.is_some() {
            Reason::Ok
        } else {
            Reason::Public
        },
        Some(ri),
        None,
        true,
    );
    allow.grant = grant;
    (state.shadow.unwrap_or(allow), caller)
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
