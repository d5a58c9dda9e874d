//! A grant's operation binding: its RFC 9396 `authorization_details` entries of type
//! [`OPERATION_TYPE`], compiled into matchers when the grant is verified, and whether one of
//! them covers the request being judged.
//!
//! An entry names what it was approved for: a rule (`rule`), a route (`route`), or neither
//! (a request by scopes: any rule or route whose scopes its `privileges` hold). Its binding
//! (`methods` plus a `path` template in the policy's syntax, or one `grpc` method) is matched
//! against the request line after the same normalisation rules use, so no spelling of a path
//! escapes the binding. Entries of other types are left alone (a token may carry several);
//! an entry of ours with a field we do not know refuses the grant, since it might narrow it.

use crate::routes::{GrpcMatch, Matcher, PathMatch, RequestLine};
use serde::Deserialize;
use serde_json::Value;

/// The `type` of pci-guard's operation entries.
pub const OPERATION_TYPE: &str = "https://pci-guard.dev/operation";
/// Most entries read from one grant.
pub const MAX_ENTRIES: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(rename = "type")]
    _type: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    privileges: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    grpc: Option<String>,
}

/// One operation entry, compiled.
#[derive(Debug, Clone)]
pub struct Binding {
    pub rule: Option<String>,
    pub route: Option<String>,
    pub privileges: Vec<String>,
    /// Methods, path and gRPC method; all empty: every operation of the rule or route.
    matcher: Matcher,
}

/// What a requirement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A `require_approval` rule, by id.
    Rule(&'a str),
    /// A route with `jit`, by name.
    Route(&'a str),
}

/// The operation entries of `details`; `None` when the claim is not an array of objects or
/// an entry of ours cannot be read (the grant is then refused as invalid).
pub fn parse(details: Option<&Value>) -> Option<Vec<Binding>> {
    let Some(Value::Array(items)) = details else {
        return None;
    };
    if items.len() > MAX_ENTRIES {
        return None;
    }
    let mut out = Vec::new();
    for item in items {
        let Value::Object(o) = item else {
            return None;
        };
        if o.get("type").and_then(Value::as_str) != Some(OPERATION_TYPE) {
            continue;
        }
        let e = Entry::deserialize(item).ok()?;
        if e.grpc.is_some() && (e.path.is_some() || !e.methods.is_empty()) {
            return None;
        }
        if e.methods
            .iter()
            .any(|m| m.is_empty() || m.bytes().any(|b| !b.is_ascii_uppercase()))
        {
            return None;
        }
        let path = match &e.path {
            Some(p) => Some(PathMatch::template(p).ok()?),
            None => None,
        };
        let grpc = match &e.grpc {
            Some(g) => Some(GrpcMatch::parse(g)?),
            None => None,
        };
        out.push(Binding {
            rule: e.rule,
            route: e.route,
            privileges: e.privileges,
            matcher: Matcher {
                methods: e.methods,
                path,
                grpc,
                ..Matcher::default()
            },
        });
    }
    Some(out)
}

impl Binding {
    /// Whether this entry covers a requirement of `target` for `scopes` on `line`. A rule's
    /// grant covers only that rule, a route's only that route; one by scopes covers any
    /// requirement whose scopes its privileges hold.
    pub fn covers(&self, target: Target<'_>, scopes: &[String], line: &RequestLine<'_>) -> bool {
        let named = match (target, &self.rule, &self.route) {
            (Target::Rule(id), Some(r), None) => r == id,
            (Target::Route(name), None, Some(r)) => r == name,
            (_, None, None) => scopes.iter().all(|s| self.privileges.contains(s)),
            _ => false,
        };
        named && self.matcher.matches_line(line, true)
    }
}

#[cfg(test)]
mod tests;
