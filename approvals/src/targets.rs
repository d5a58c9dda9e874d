//! Which requirement a request falls under, from the policy: a `require_approval` rule by id,
//! a route with `jit` by name, or scopes (every such rule and route whose scopes include one of
//! them). With several, the strictest wins: the shortest `max_ttl`, the most approvals, and an
//! approver must be allowed by every one. Resolved again at each decision, so a policy that
//! tightens takes effect on requests already filed.

use crate::authn::Caller;
use crate::error::Error;
use crate::model::{Operation, TargetRef};
use pci_guard_core::policy::{JitRequirement, Policy, RuleAction};
use pci_guard_core::routes::{GrpcMatch, Matcher, PathMatch};

/// Most scopes in one request.
pub const MAX_SCOPES: usize = 16;
/// Most HTTP methods in one operation binding.
pub const MAX_METHODS: usize = 8;

/// What a request needs, resolved from the policy.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The scopes the grant carries.
    pub scopes: Vec<String>,
    pub max_ttl_seconds: u64,
    pub min_approvals: u32,
    /// Every rule's or route's requirement that applies.
    pub parts: Vec<JitRequirement>,
    /// Their matchers, to check an operation binding against.
    matchers: Vec<Matcher>,
}

fn push(out: &mut Requirement, jit: &JitRequirement, matcher: &Matcher) {
    out.max_ttl_seconds = out.max_ttl_seconds.min(jit.max_ttl_seconds);
    out.min_approvals = out.min_approvals.max(jit.min_approvals);
    out.parts.push(jit.clone());
    out.matchers.push(matcher.clone());
}

/// The requirement for `target`, or a 400 naming what the policy knows.
pub fn resolve(policy: &Policy, target: &TargetRef) -> Result<Requirement, Error> {
    let mut out = Requirement {
        scopes: Vec::new(),
        max_ttl_seconds: u64::MAX,
        min_approvals: 1,
        parts: Vec::new(),
        matchers: Vec::new(),
    };
    let approval_rules = || {
        policy
            .rules
            .iter()
            .filter(|r| r.action == RuleAction::RequireApproval)
    };
    let jit_routes = || policy.routes.iter().filter(|r| r.jit.is_some());
    match target {
        TargetRef::Rule(id) => {
            let Some(rule) = approval_rules().find(|r| &r.id == id) else {
                let known: Vec<&str> = approval_rules().map(|r| r.id.as_str()).collect();
                return Err(Error::bad(
                    "unknown_rule",
                    format!("no require_approval rule {id:?}; rules: {}", list(&known)),
                ));
            };
            out.scopes = rule.scopes.clone();
            push(&mut out, &rule.jit, &rule.matcher);
        }
        TargetRef::Route(name) => {
            let found = jit_routes().find(|r| &r.name == name);
            let Some((route, jit)) = found.and_then(|r| r.jit.as_ref().map(|j| (r, j))) else {
                let known: Vec<&str> = jit_routes().map(|r| r.name.as_str()).collect();
                return Err(Error::bad(
                    "unknown_route",
                    format!(
                        "no route {name:?} that requires a grant; routes: {}",
                        list(&known)
                    ),
                ));
            };
            out.scopes = route.scopes.clone();
            push(&mut out, jit, &route.matcher);
        }
        TargetRef::Scopes(scopes) => {
            if scopes.is_empty() || scopes.len() > MAX_SCOPES {
                return Err(Error::bad(
                    "bad_scopes",
                    format!("name between 1 and {MAX_SCOPES} scopes"),
                ));
            }
            for s in scopes {
                let mut found = false;
                for r in approval_rules().filter(|r| r.scopes.contains(s)) {
                    push(&mut out, &r.jit, &r.matcher);
                    found = true;
                }
                for r in jit_routes().filter(|r| r.scopes.contains(s)) {
                    if let Some(j) = &r.jit {
                        push(&mut out, j, &r.matcher);
                        found = true;
                    }
                }
                if !found {
                    return Err(Error::bad(
                        "unknown_scope",
                        format!("no rule or route grants {s:?} just in time; ask for a rule or route instead"),
                    ));
                }
            }
            let mut scopes = scopes.clone();
            scopes.sort();
            scopes.dedup();
            out.scopes = scopes;
        }
    }
    Ok(out)
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none in this policy".into()
    } else {
        names.join(", ")
    }
}

/// Checks an operation binding's syntax and that some rule or route of the requirement covers
/// all of it (a grant for operations nothing requires would be a grant for nothing).
pub fn check_operation(req: &Requirement, op: &Operation) -> Result<(), Error> {
    let bad = |m: String| Error::bad("bad_operation", m);
    if op.methods.len() > MAX_METHODS {
        return Err(bad(format!("at most {MAX_METHODS} methods")));
    }
    for m in &op.methods {
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad(format!("{m:?} is not an upper-case HTTP method")));
        }
    }
    let path = match &op.path {
        None => None,
        Some(p) => Some(PathMatch::template(p).map_err(|e| bad(format!("path {p:?}: {e}")))?),
    };
    let grpc = match &op.grpc {
        None => None,
        Some(g) => Some(
            GrpcMatch::parse(g)
                .ok_or_else(|| bad(format!("grpc {g:?} is not \"package.Service/Method\"")))?,
        ),
    };
    if grpc.is_some() && (path.is_some() || !op.methods.is_empty()) {
        return Err(bad("give methods and path, or grpc, not both".into()));
    }
    if grpc.is_none() && path.is_none() {
        return Err(bad("give a path (with methods) or a grpc method".into()));
    }
    let binding = Matcher {
        methods: op.methods.clone(),
        path,
        grpc,
        ..Matcher::default()
    };
    if req.matchers.iter().any(|m| m.covers(&binding)) {
        Ok(())
    } else {
        Err(bad(
            "no rule or route of this request covers that operation entirely".into(),
        ))
    }
}

/// Whether `who` may approve under `req`. Never the requester (the caller checks that first);
/// a part that names no approvers allows anyone else.
pub fn may_approve(req: &Requirement, who: &Caller) -> bool {
    req.parts.iter().all(|p| {
        if !p.names_approvers() {
            return true;
        }
        let by_subject = p
            .approvers
            .as_ref()
            .is_some_and(|a| a.contains(&who.person.sub));
        let by_group = p
            .approver_groups
            .iter()
            .any(|g| who.groups.iter().any(|h| h == g));
        by_subject || by_group
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Person;
    use serde_json::json;

    fn policy() -> Policy {
        let jwks: serde_json::Value = serde_json::from_slice(
            &std::fs::read(pci_guard_testkit::keys::keys_dir().join("ec256.jwks.json")).unwrap(),
        )
        .unwrap();
        Policy::from_value(&json!({
            "version": "t",
            "providers": {"idp": {"issuer": "https://idp", "jwks": jwks}},
            "rules": [{"id": "export", "action": "require_approval", "match": {"path": "/v1/exports/**"},
                       "scopes": ["exports:run"], "max_ttl": "15m", "approvers": ["alice", "bob"]}],
            "routes": [
                {"name": "export-route", "match": {"methods": ["POST"], "path": "/v1/exports/{id}"},
                 "auth": ["idp"], "scopes": ["exports:run"],
                 "jit": {"max_ttl": "5m", "min_approvals": 2, "approver_groups": ["ops"]}},
                {"name": "open", "match": {"path": "/v1/open"}, "auth": ["idp"], "scopes": ["open"],
                 "jit": {"max_ttl": "1h"}}
            ],
            "approvals": {"issuer": "https://approvals", "providers": ["idp"], "groups_claim": "groups"}
        }))
        .unwrap()
    }

    fn caller(sub: &str, groups: &[&str]) -> Caller {
        Caller {
            person: Person::new("https://idp", sub).unwrap(),
            provider: "idp".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn a_request_by_scopes_takes_the_strictest_of_every_requirement() {
        let q = resolve(&policy(), &TargetRef::Scopes(vec!["exports:run".into()])).unwrap();
        assert_eq!(q.max_ttl_seconds, 300, "the route's 5m, not the rule's 15m");
        assert_eq!(q.min_approvals, 2);
        // Allowed by the rule (alice) but not the route (no group ops): refused.
        assert!(!may_approve(&q, &caller("alice", &[])));
        assert!(!may_approve(&q, &caller("carol", &["ops"])));
        assert!(may_approve(&q, &caller("alice", &["ops"])));
    }

    #[test]
    fn approvers_are_compared_exactly() {
        let q = resolve(&policy(), &TargetRef::Rule("export".into())).unwrap();
        assert!(may_approve(&q, &caller("alice", &[])));
        for lookalike in [
            "Alice",
            "alice ",
            " alice",
            "ａlice",
            "alic\u{0065}\u{0301}",
            "ALICE",
        ] {
            assert!(!may_approve(&q, &caller(lookalike, &[])), "{lookalike:?}");
        }
        let q = resolve(&policy(), &TargetRef::Route("export-route".into())).unwrap();
        assert!(!may_approve(&q, &caller("carol", &["Ops", "ops "])));
        assert!(Person::new("https://idp", "").is_none());
        assert!(Person::new("", "alice").is_none());
    }

    #[test]
    fn a_requirement_without_named_approvers_allows_anyone() {
        let q = resolve(&policy(), &TargetRef::Route("open".into())).unwrap();
        assert!(may_approve(&q, &caller("anyone", &[])));
    }

    #[test]
    fn an_operation_must_lie_within_the_rule_or_route() {
        let q = resolve(&policy(), &TargetRef::Route("export-route".into())).unwrap();
        let op = |m: &[&str], p: &str| Operation {
            methods: m.iter().map(|s| s.to_string()).collect(),
            path: Some(p.into()),
            grpc: None,
        };
        assert!(check_operation(&q, &op(&["POST"], "/v1/exports/e_1")).is_ok());
        assert!(check_operation(&q, &op(&["GET"], "/v1/exports/e_1")).is_err());
        assert!(
            check_operation(&q, &op(&[], "/v1/exports/e_1")).is_err(),
            "any method is wider"
        );
        assert!(check_operation(&q, &op(&["POST"], "/v1/exports/e_1/x")).is_err());
        assert!(check_operation(&q, &op(&["post"], "/v1/exports/e_1")).is_err());
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let e = resolve(&policy(), &TargetRef::Rule("nope".into())).unwrap_err();
        assert!(e.message().contains("export"), "{}", e.message());
        assert_eq!(
            resolve(&policy(), &TargetRef::Scopes(vec!["admin".into()]))
                .unwrap_err()
                .code(),
            "unknown_scope"
        );
    }
}
