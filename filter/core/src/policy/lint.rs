//! Lint warnings for a policy that loads: things that are allowed but are usually a mistake
//! before a rollout. `pci-guard policy check` prints them (and fails on them with `--strict`);
//! the plugin never looks at them.
//!
//! Each warning has a stable code (for suppression lists in CI scripts and for the docs), the
//! JSON pointer of the field to look at, and a message.
//!
//! Not checked: "scopes no provider can grant". A policy names issuers, not the scopes an IdP
//! issues, so the answer is outside the document; `pci-guard audit review` over dry-run
//! events shows the scopes callers actually lacked.

use super::{Auth, Policy, RuleAction};
use crate::policy::{DefaultAction, Mode};
use std::fmt;

/// Longest just-in-time grant the linter accepts without a warning.
pub const MAX_JIT_TTL_SECONDS: u64 = 48 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable code, e.g. `shadowed-route`.
    pub code: &'static str,
    /// JSON pointer of the field concerned.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {} [{}]", self.message, self.code)
    }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn hours(seconds: u64) -> String {
    if seconds % 3600 == 0 {
        format!("{} h", seconds / 3600)
    } else {
        format!("{seconds} s")
    }
}

/// Every warning for a policy that compiled, in document order.
pub fn lint(p: &Policy) -> Vec<Warning> {
    let mut w = Vec::new();
    let mut warn = |code, pointer: String, message: String| {
        w.push(Warning {
            code,
            pointer,
            message,
        })
    };
    if p.mode == Mode::DryRun {
        warn(
            "dry-run",
            "/mode".into(),
            "dry_run: nothing is blocked, requests that should be denied pass with a would_deny audit event; switch to enforce once `pci-guard audit review` is clean".into(),
        );
    }
    if p.default == DefaultAction::Allow {
        warn(
            "default-allow",
            "/default".into(),
            "allow: a request no route matches passes without any check; list public routes explicitly and keep default deny".into(),
        );
    }
    for pr in &p.providers {
        let hs: Vec<&str> = pr
            .config
            .algorithms
            .iter()
            .filter(|a| a.is_hmac())
            .map(|a| a.name())
            .collect();
        if !hs.is_empty() || pr.hmac_secret_env.is_some() {
            warn(
                "shared-secret",
                format!("/providers/{}", escape(&pr.name)),
                format!(
                    "provider {:?} verifies with a shared secret ({}): every proxy holding the secret can mint tokens; prefer RS*/ES*/EdDSA with a JWKS",
                    pr.name,
                    if hs.is_empty() { "hmac_secret_env".to_string() } else { hs.join(", ") }
                ),
            );
        }
    }
    for (i, r) in p.rules.iter().enumerate() {
        if r.dry_run {
            warn(
                "dry-run",
                format!("/rules/{i}/dry_run"),
                format!(
                    "rule {:?} is in dry run: it only logs would_deny; remove \"dry_run\" to enforce it",
                    r.id
                ),
            );
        }
        if r.action == RuleAction::RequireApproval && r.jit.max_ttl_seconds > MAX_JIT_TTL_SECONDS {
            warn(
                "long-jit-ttl",
                format!("/rules/{i}/max_ttl"),
                format!(
                    "grants for rule {:?} may last {}: just-in-time access should expire within {}",
                    r.id,
                    hours(r.jit.max_ttl_seconds),
                    hours(MAX_JIT_TTL_SECONDS)
                ),
            );
        }
    }
    for (i, r) in p.routes.iter().enumerate() {
        if let Some(j) = &r.jit {
            if j.max_ttl_seconds > MAX_JIT_TTL_SECONDS {
                warn(
                    "long-jit-ttl",
                    format!("/routes/{i}/jit/max_ttl"),
                    format!(
                        "grants for route {:?} may last {}: just-in-time access should expire within {}",
                        r.name,
                        hours(j.max_ttl_seconds),
                        hours(MAX_JIT_TTL_SECONDS)
                    ),
                );
            }
        }
        // First match wins: a route whose every request an earlier route takes is dead.
        if let Some((k, earlier)) = p.routes[..i]
            .iter()
            .enumerate()
            .find(|(_, e)| e.matcher.covers(&r.matcher))
        {
            let what = match (&earlier.auth, &r.auth) {
                (Auth::Public, Auth::AnyOf(_)) => " (and makes it public)",
                _ => "",
            };
            warn(
                "shadowed-route",
                format!("/routes/{i}/match"),
                format!(
                    "route {:?} never matches: every request it matches goes to the earlier route {:?} (/routes/{k}){what}; move it up or narrow the earlier one",
                    r.name, earlier.name
                ),
            );
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The public half of `testdata/keys/rsa1.pem` (any RSA key makes a JWKS load).
    const RSA_N: &str = "voFw1N8FkAY6f6xMIRsUA2R6P1GS02I6YucX3QtOKSnqGsLipw-9RthFYhgz_ul6934Ms4Ke6TI3FMX2nOsSitgfhvibmGwfTd127Hv8MPMK4NIKG9mYN759zn9wt-DhjyshtGzlYW3j2YogCZAikQoPKOmlMbtUJAQt4R5ssgdKzZlvyj35PKFxuoBDHhUCaBJ1wrLs_j71Z7PQW_ctWIDy7sy5y3KwpWdWFjs9l3krBhOl-WF-wGg0Fjk_h3-5cZK6oPWGTQvJN1k2I1g3qCBNSmTuH-Ih8oAQ7Z7LCd5Sjb_-552y1zSH61kcyP5sdCo44xWl4tRIsb7BLuQc_Q";

    fn codes(policy: serde_json::Value) -> Vec<(&'static str, String)> {
        let p = Policy::from_value(&policy).unwrap();
        lint(&p).into_iter().map(|w| (w.code, w.pointer)).collect()
    }

    #[test]
    fn a_plain_enforcing_policy_is_clean() {
        let p = json!({"version": "v", "routes": [
            {"name": "a", "match": {"path": "/a/{id}"}, "auth": "public"},
            {"name": "b", "match": {"path": "/b/**"}, "auth": "public"}
        ]});
        assert_eq!(codes(p), vec![]);
    }

    #[test]
    fn each_warning_names_its_field() {
        let p = json!({
            "version": "v", "mode": "dry_run", "default": "allow",
            "providers": {"s": {"issuer": "i", "jwks": {"keys": [{"kty": "RSA", "kid": "k", "e": "AQAB", "n": RSA_N}]},
                                "algorithms": ["HS256"], "hmac_secret_env": "S"}},
            "rules": [{"id": "r", "action": "require_approval", "match": {"path": "/x"},
                       "scopes": ["x"], "max_ttl": "49h", "dry_run": true}],
            "routes": [
                {"name": "all-v1", "match": {"path_prefix": "/v1/"}, "auth": ["s"]},
                {"name": "card", "match": {"methods": ["GET"], "path": "/v1/cards/{id}"}, "auth": ["s"]},
                {"name": "grant", "match": {"path": "/v2/x"}, "auth": ["s"], "scopes": ["x"],
                 "jit": {"max_ttl": "48h"}}
            ]
        });
        assert_eq!(
            codes(p),
            vec![
                ("dry-run", "/mode".to_string()),
                ("default-allow", "/default".to_string()),
                ("shared-secret", "/providers/s".to_string()),
                ("dry-run", "/rules/0/dry_run".to_string()),
                ("long-jit-ttl", "/rules/0/max_ttl".to_string()),
                ("shadowed-route", "/routes/1/match".to_string()),
            ],
            "48 h exactly is fine, 49 h is not"
        );
    }
}
