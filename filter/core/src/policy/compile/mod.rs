//! Spec → model: checks what serde cannot (cross-references, ranges, exclusive fields) and
//! builds the compiled [`Policy`]. It never stops at the first problem: every error is
//! collected with its JSON pointer, so an operator fixes a policy in one pass.
//!
//! One file per part of the document: `provider` (identity providers and their keys),
//! `routes` (matchers, rules, routes, just-in-time requirements), `operations` (JSON-RPC and
//! GraphQL matchers, the body limit, protected-resource metadata), `redaction`, `audit`.

pub(super) mod approvals;
mod audit;
pub(super) mod grants;
mod operations;
mod provider;
mod redaction;
mod routes;

use super::duration;
use super::error::{PolicyError, PolicyErrors};
use super::model::{Policy, Provider, Route, Rule};
use super::spec::PolicySpec;
use super::{MAX_PROVIDERS, MAX_ROUTES, MAX_RULES};
use std::collections::HashSet;

/// Compiles a deserialized policy; `digest` identifies the document it came from.
pub(super) fn compile(spec: PolicySpec, digest: String) -> Result<Policy, PolicyErrors> {
    Compiler::default().compile(spec, digest)
}

/// Collects every error instead of stopping at the first.
#[derive(Default)]
struct Compiler {
    errors: Vec<PolicyError>,
    /// Pointers of every `approver_groups`: they need `approvals.groups_claim`.
    group_users: Vec<String>,
}

impl Compiler {
    fn err(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.errors.push(PolicyError {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn duration_ms(&mut self, at: &str, s: Option<&str>, default: u64) -> u64 {
        match s {
            None => default,
            Some(s) => match duration::parse_millis(s) {
                Some(ms) if ms > 0 => ms,
                _ => {
                    self.err(
                        at,
                        format!("{s:?} is not a duration: use {}", duration::FORMS),
                    );
                    default
                }
            },
        }
    }

    fn compile(mut self, spec: PolicySpec, digest: String) -> Result<Policy, PolicyErrors> {
        if spec.version.trim().is_empty() {
            self.err("/version", "must not be empty: name this policy revision");
        }
        for (at, n, max) in [
            ("/routes", spec.routes.len(), MAX_ROUTES),
            ("/rules", spec.rules.len(), MAX_RULES),
            ("/providers", spec.providers.len(), MAX_PROVIDERS),
        ] {
            if n > max {
                self.err(at, format!("{n} entries, more than the {max} allowed"));
            }
        }
        let providers: Vec<Provider> = spec
            .providers
            .into_iter()
            .map(|(name, p)| self.provider(name, p))
            .collect();
        let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();

        let mut rule_ids = HashSet::new();
        let rules: Vec<Rule> = spec
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("/rules/{i}");
                if !rule_ids.insert(r.id.clone()) {
                    self.err(format!("{at}/id"), format!("duplicate rule id {:?}", r.id));
                }
                self.rule(&at, r)
            })
            .collect();

        let mut route_names = HashSet::new();
        let routes: Vec<Route> = spec
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("/routes/{i}");
                if !route_names.insert(r.name.clone()) {
                    self.err(
                        format!("{at}/name"),
                        format!("duplicate route name {:?}", r.name),
                    );
                }
                self.route(&at, r, &names)
            })
            .collect();

        let redaction = self.redaction(spec.redaction);
        let max_body_bytes = self.max_body_bytes(&spec.operations);
        let issuers: Vec<&str> = providers.iter().map(|p| p.config.issuer.as_str()).collect();
        let protected_resource =
            self.protected_resource(spec.protected_resource, &issuers, &routes, &rules);
        let audit = self.audit(spec.audit);
        if spec.jit.claim.is_empty() {
            self.err(
                "/jit/claim",
                "must name the token claim that carries grants",
            );
        }
        let token_headers: Vec<&str> = providers
            .iter()
            .flat_map(|p| p.sources.iter().map(|s| s.header.as_str()))
            .collect();
        let approvals = spec
            .approvals
            .map(|a| self.approvals(a, &names, &token_headers));
        if approvals
            .as_ref()
            .and_then(|a| a.groups_claim.as_ref())
            .is_none()
        {
            for at in std::mem::take(&mut self.group_users) {
                self.err(
                    at,
                    "needs approvals.groups_claim: the claim that lists a caller's groups",
                );
            }
        }
        if !self.errors.is_empty() {
            return Err(PolicyErrors(self.errors));
        }
        Ok(Policy {
            version: spec.version,
            digest,
            mode: spec.mode,
            default: spec.default,
            noncanonical_paths: spec.noncanonical_paths,
            providers,
            jit_claim: spec.jit.claim,
            rules,
            routes,
            redaction,
            audit,
            approvals,
            max_body_bytes,
            protected_resource,
        })
    }
}
