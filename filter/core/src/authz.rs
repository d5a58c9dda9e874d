//! The decision: which route a request is on, which rules apply, whether the caller's
//! identity and grants satisfy them. Returns a [`Decision`]; the glue turns it into an answer.
//!
//! Order (like Envoy's `jwt_authn` then `rbac`): find the route; no route means the policy's
//! `default`. Authenticate if the route needs it, so even a blocked attempt is tied to an
//! identity in the audit. Then `deny` rules, then the route's scopes and grants.
//! Dry-run (`mode: dry_run`, or a rule's `dry_run`) turns a deny into `would_deny`.

use crate::audit::Outcome;
use crate::policy::{Auth, DefaultAction, Mode, Policy, RuleAction};
use crate::reason::Reason;
use crate::routes::RequestLine;

/// Who is calling, as far as authorization needs to know.
pub trait Caller {
    fn subject(&self) -> Option<&str>;
    fn has_scope(&self, scope: &str) -> bool;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub reason: Reason,
    /// Index into [`Policy::routes`].
    pub route: Option<usize>,
    /// Index into [`Policy::rules`] of the rule that decided.
    pub rule: Option<usize>,
    /// False when the deny is only recorded (dry-run).
    pub enforced: bool,
}

impl Decision {
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

/// Decides a request. `authenticate` is called at most once, with the route's providers, and
/// returns the verified caller or the reason none could be established.
pub fn decide<C: Caller>(
    policy: &Policy,
    req: &RequestLine<'_>,
    authenticate: impl FnOnce(&[usize]) -> Result<C, Reason>,
) -> (Decision, Option<C>) {
    let dry = policy.mode == Mode::DryRun;
    let mk = |reason, route, rule, rule_dry: bool| Decision {
        reason,
        route,
        rule,
        enforced: !(dry || rule_dry),
    };

    let Some(ri) = policy.routes.iter().position(|r| r.matcher.matches(req)) else {
        let reason = match policy.default {
            DefaultAction::Deny => Reason::NoRoute,
            DefaultAction::Allow => Reason::Public,
        };
        return (mk(reason, None, None, false), None);
    };
    let route = &policy.routes[ri];
    let caller = match &route.auth {
        Auth::Public => None,
        Auth::AnyOf(providers) => match authenticate(providers) {
            Ok(c) => Some(c),
            Err(reason) => return (mk(reason, Some(ri), None, false), None),
        },
    };
    // Deny rules bind everybody. A dry-run rule that matches is recorded and checking goes on,
    // so an enforced check further down still applies.
    let mut shadow: Option<Decision> = None;
    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.action == RuleAction::Deny && rule.matcher.matches(req) {
            let d = mk(Reason::RuleDenied, Some(ri), Some(i), rule.dry_run);
            if d.enforced {
                return (d, caller);
            }
            shadow.get_or_insert(d);
        }
    }
    if let Some(c) = &caller {
        if !route.scopes.iter().all(|s| c.has_scope(s)) {
            return (mk(Reason::ScopeMissing, Some(ri), None, false), caller);
        }
    }
    let allow = Decision {
        reason: if caller.is_some() {
            Reason::Ok
        } else {
            Reason::Public
        },
        route: Some(ri),
        rule: None,
        enforced: !dry,
    };
    (shadow.unwrap_or(allow), caller)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Sub(Vec<&'static str>);
    impl Caller for Sub {
        fn subject(&self) -> Option<&str> {
            Some("agent-7")
        }
        fn has_scope(&self, s: &str) -> bool {
            self.0.contains(&s)
        }
    }

    fn policy(extra: serde_json::Value) -> Policy {
        let mut v = json!({"version": "t", "providers": {"idp": {"issuer": "i", "jwks": {"keys": []}}},
        "rules": [{"id": "no-card-delete", "action": "deny", "match": {"methods": ["DELETE"], "path": "/v1/cards/**"}}],
        "routes": [
            {"name": "health", "match": {"path": "/healthz"}, "auth": "public"},
            {"name": "cards", "match": {"path": "/v1/cards/**"}, "auth": ["idp"], "scopes": ["cards:read"]}
        ]});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        Policy::from_value(&v).unwrap()
    }

    fn run(p: &Policy, m: &str, path: &str, who: Result<Sub, Reason>) -> Decision {
        decide(p, &RequestLine::new(m, path, false), |_| who).0
    }

    #[test]
    fn public_route_is_allowed_without_authentication() {
        let d = run(
            &policy(json!({})),
            "GET",
            "/healthz",
            Err(Reason::TokenMissing),
        );
        assert_eq!(
            (d.reason, d.route, d.outcome()),
            (Reason::Public, Some(0), Outcome::Allow)
        );
    }

    #[test]
    fn unmatched_request_gets_the_default_deny() {
        let d = run(&policy(json!({})), "GET", "/admin", Ok(Sub(vec![])));
        assert_eq!(
            (d.reason, d.route, d.outcome()),
            (Reason::NoRoute, None, Outcome::Deny)
        );
    }

    #[test]
    fn default_allow_lets_unmatched_requests_pass() {
        let d = run(
            &policy(json!({"default": "allow"})),
            "GET",
            "/admin",
            Err(Reason::TokenMissing),
        );
        assert_eq!(d.outcome(), Outcome::Allow);
    }

    #[test]
    fn authentication_failure_is_the_reason() {
        let d = run(
            &policy(json!({})),
            "GET",
            "/v1/cards/1",
            Err(Reason::TokenExpired),
        );
        assert_eq!((d.reason, d.route), (Reason::TokenExpired, Some(1)));
    }

    #[test]
    fn deny_rule_blocks_even_a_fully_scoped_caller() {
        let d = run(
            &policy(json!({})),
            "DELETE",
            "/v1/cards/1",
            Ok(Sub(vec!["cards:read"])),
        );
        assert_eq!(
            (d.reason, d.rule, d.blocks()),
            (Reason::RuleDenied, Some(0), true)
        );
    }

    #[test]
    fn missing_scope_is_denied_and_present_scope_allowed() {
        let p = policy(json!({}));
        assert_eq!(
            run(&p, "GET", "/v1/cards/1", Ok(Sub(vec!["x"]))).reason,
            Reason::ScopeMissing
        );
        assert_eq!(
            run(&p, "GET", "/v1/cards/1", Ok(Sub(vec!["cards:read"]))).reason,
            Reason::Ok
        );
    }

    #[test]
    fn dry_run_mode_records_would_deny_and_does_not_block() {
        let d = run(
            &policy(json!({"mode": "dry_run"})),
            "GET",
            "/admin",
            Ok(Sub(vec![])),
        );
        assert_eq!(
            (d.reason, d.outcome(), d.blocks()),
            (Reason::NoRoute, Outcome::WouldDeny, false)
        );
    }
}
