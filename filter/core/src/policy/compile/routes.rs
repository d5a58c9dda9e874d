//! Routes and operation rules: their `match` blocks, who may call (`auth`), and the
//! just-in-time grants they require. Provider names are resolved to indices here, so an
//! unknown name is a load error, never a request-time surprise.

use super::Compiler;
use crate::policy::model::{Auth, JitRequirement, Route, Rule};
use crate::policy::spec::{AuthSpec, MatchSpec, RouteSpec, RuleAction, RuleSpec};
use crate::routes::{GrpcMatch, Matcher, PathMatch, Role};

impl Compiler {
    fn matcher(&mut self, at: &str, m: MatchSpec, role: Role) -> Matcher {
        let at = format!("{at}/match");
        let methods = m
            .methods
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, meth)| {
                if meth.is_empty() || !meth.bytes().all(|b| b.is_ascii_alphabetic()) {
                    self.err(
                        format!("{at}/methods/{i}"),
                        format!("{meth:?} is not an HTTP method"),
                    );
                }
                meth.to_ascii_uppercase()
            })
            .collect();
        let path = match (m.path, m.path_prefix) {
            (Some(_), Some(_)) => {
                self.err(
                    at.clone(),
                    "give either \"path\" or \"path_prefix\", not both",
                );
                None
            }
            (Some(t), None) => match PathMatch::template(&t) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.err(format!("{at}/path"), format!("{t:?}: {e}"));
                    None
                }
            },
            (None, Some(p)) => {
                if !p.starts_with('/') {
                    self.err(format!("{at}/path_prefix"), "must start with '/'");
                }
                Some(PathMatch::prefix(&p))
            }
            (None, None) => None,
        };
        let grpc = m.grpc.and_then(|g| {
            let parsed = GrpcMatch::parse(&g);
            if parsed.is_none() {
                self.err(
                    format!("{at}/grpc"),
                    format!("{g:?} is not \"package.Service/Method\" or \"package.Service/*\""),
                );
            }
            parsed
        });
        let operation = self.operation_matcher(&at, m.jsonrpc, m.graphql, role);
        if grpc.is_some() && operation.is_some() {
            self.err(
                at.clone(),
                "a gRPC method carries no JSON-RPC or GraphQL operation: give one or the other",
            );
        }
        Matcher {
            methods,
            path,
            grpc,
            route_name: m.route_name,
            operation,
        }
    }

    fn jit_requirement(
        &mut self,
        at: &str,
        max_ttl: Option<&str>,
        min_approvals: u32,
        approvers: Option<Vec<String>>,
        approver_groups: Option<Vec<String>>,
    ) -> JitRequirement {
        let max_ttl_seconds = match max_ttl {
            Some(s) => self.duration_ms(&format!("{at}/max_ttl"), Some(s), 0) / 1000,
            None => {
                self.err(
                    format!("{at}/max_ttl"),
                    "a just-in-time grant needs a maximum duration",
                );
                0
            }
        };
        if min_approvals == 0 {
            self.err(format!("{at}/min_approvals"), "must be at least 1");
        }
        if approvers.as_ref().is_some_and(|a| a.is_empty()) {
            self.err(
                format!("{at}/approvers"),
                "must not be empty; omit it to allow any approver",
            );
        }
        for (field, list) in [
            ("approvers", &approvers),
            ("approver_groups", &approver_groups),
        ] {
            for (i, name) in list.iter().flatten().enumerate() {
                if name.is_empty() || name.trim() != name {
                    self.err(
                        format!("{at}/{field}/{i}"),
                        format!(
                            "{name:?}: names are compared exactly; no empty names or outer spaces"
                        ),
                    );
                }
            }
        }
        if approver_groups.as_ref().is_some_and(|g| g.is_empty()) {
            self.err(
                format!("{at}/approver_groups"),
                "must not be empty; omit it to allow any approver",
            );
        }
        if approver_groups.is_some() {
            self.group_users.push(format!("{at}/approver_groups"));
        }
        JitRequirement {
            max_ttl_seconds,
            min_approvals,
            approvers,
            approver_groups: approver_groups.unwrap_or_default(),
        }
    }

    pub(super) fn rule(&mut self, at: &str, r: RuleSpec) -> Rule {
        if r.id.is_empty() {
            self.err(format!("{at}/id"), "must not be empty");
        }
        let matcher = self.matcher(at, r.matcher, Role::Rule);
        let jit = match r.action {
            RuleAction::RequireApproval => {
                if r.scopes.is_empty() {
                    self.err(
                        format!("{at}/scopes"),
                        "a require_approval rule must name the scopes its grant must cover",
                    );
                }
                self.jit_requirement(
                    at,
                    r.max_ttl.as_deref(),
                    r.min_approvals.unwrap_or(1),
                    r.approvers,
                    r.approver_groups,
                )
            }
            RuleAction::Deny => {
                for f in [
                    ("max_ttl", r.max_ttl.is_some()),
                    ("min_approvals", r.min_approvals.is_some()),
                    ("approvers", r.approvers.is_some()),
                    ("approver_groups", r.approver_groups.is_some()),
                ] {
                    if f.1 {
                        self.err(
                            format!("{at}/{}", f.0),
                            "only applies to require_approval rules",
                        );
                    }
                }
                JitRequirement {
                    max_ttl_seconds: 0,
                    min_approvals: 0,
                    approvers: None,
                    approver_groups: Vec::new(),
                }
            }
        };
        Rule {
            id: r.id,
            action: r.action,
            matcher,
            message: r.message,
            scopes: r.scopes,
            jit,
            dry_run: r.dry_run,
        }
    }

    pub(super) fn route(&mut self, at: &str, r: RouteSpec, providers: &[&str]) -> Route {
        if r.name.is_empty() {
            self.err(format!("{at}/name"), "must not be empty");
        }
        let matcher = self.matcher(at, r.matcher, Role::Route);
        let auth = match r.auth {
            AuthSpec::Public => {
                if !r.scopes.is_empty() || r.jit.is_some() {
                    self.err(
                        format!("{at}/auth"),
                        "a public route cannot require scopes or grants",
                    );
                }
                Auth::Public
            }
            AuthSpec::AnyOf(list) => {
                if list.is_empty() {
                    self.err(
                        format!("{at}/auth"),
                        "name at least one provider, or use \"public\"",
                    );
                }
                let idx = list
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        let found = providers.iter().position(|p| p == n);
                        if found.is_none() {
                            let known = if providers.is_empty() {
                                "none are defined under \"providers\"".to_string()
                            } else {
                                format!("known providers: {}", providers.join(", "))
                            };
                            self.err(
                                format!("{at}/auth/{i}"),
                                format!("unknown provider {n:?}; {known}"),
                            );
                        }
                        found
                    })
                    .collect();
                Auth::AnyOf(idx)
            }
        };
        let jit = r.jit.and_then(|j| {
            let req = self.jit_requirement(
                &format!("{at}/jit"),
                Some(&j.max_ttl),
                j.min_approvals,
                j.approvers,
                j.approver_groups,
            );
            j.required.then_some(req)
        });
        if jit.is_some() && r.scopes.is_empty() {
            self.err(
                format!("{at}/scopes"),
                "a route that requires a grant must name the scopes the grant covers",
            );
        }
        let (redact, skip) = match r.redaction {
            None => (true, Vec::new()),
            Some(rr) => (rr.enabled, rr.skip_content_types.unwrap_or_default()),
        };
        Route {
            name: r.name,
            matcher,
            auth,
            scopes: r.scopes,
            jit,
            redact,
            skip_content_types: skip,
        }
    }
}
