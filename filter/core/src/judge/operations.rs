//! Operations in the decision: whether a request's body must be read, and how the calls it
//! carries are judged.
//!
//! The body is read only when the decision can depend on it: a route or rule whose request
//! line matches has an operation condition (`match.jsonrpc`, `match.graphql`), or the request
//! is a form `POST` and some route or rule for its path decides on the method (a `_method`
//! field would change the method frameworks act on). Everything else is judged on its
//! headers alone, as before.
//!
//! Each call of a batch is judged on its own, as if it came alone (the caller is authenticated
//! once per set of providers). A batch passes only if every call does: otherwise it is
//! refused whole, with the reason all denied calls share, or `operation_batch_denied`.

use crate::authz::grant::Presented;
use crate::authz::{self, Decision, Outcome, RequestFlags};
use crate::identity::Verified;
use crate::operation::form::{self, FormKind};
use crate::operation::{Operations, Protocol};
use crate::policy::Policy;
use crate::reason::Reason;
use crate::routes::RequestLine;

/// What a decision needs beyond the headers.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Need {
    /// The protocol whose operations the matching routes and rules read.
    pub protocol: Option<Protocol>,
    /// A form whose `_method` field matters.
    pub form: Option<FormKind>,
}

impl Need {
    /// Whether the body must be read (a GraphQL `GET` carries its operation in the query).
    pub fn body(&self, method: &str) -> bool {
        self.form.is_some() || (self.protocol.is_some() && !matches!(method, "GET" | "HEAD"))
    }
}

/// What `line` (sent with `content_type`) needs for its decision under `policy`.
pub(super) fn need(policy: &Policy, line: &RequestLine<'_>, content_type: Option<&str>) -> Need {
    let mut protocol = None;
    if line.metadata_route.is_none() {
        for r in &policy.routes {
            match &r.matcher.operation {
                Some(op) if r.matcher.matches_line(line, true) => {
                    protocol = Some(op.protocol());
                    break;
                }
                // A route matched without reading the body: later ones never decide.
                None if r.matcher.matches(line) => break,
                _ => {}
            }
        }
    }
    if protocol.is_none() {
        protocol = policy.rules.iter().find_map(|r| {
            r.matcher
                .operation
                .as_ref()
                .filter(|_| r.matcher.matches_line(line, true))
                .map(|op| op.protocol())
        });
    }
    let form = (line.method == "POST")
        .then(|| form::kind(content_type))
        .flatten()
        .filter(|_| {
            policy
                .matchers()
                .any(|m| !m.methods.is_empty() && m.matches_line(line, false))
        });
    Need { protocol, form }
}

/// Judges every call of `ops`; returns the request's decision, its caller and each call's
/// own decision.
pub(super) fn decide_calls(
    policy: &Policy,
    line: &RequestLine<'_>,
    flags: RequestFlags,
    now: u64,
    header_grant: Option<&Presented>,
    ops: &Operations,
    mut authenticate: impl FnMut(&[usize]) -> Result<Verified, Reason>,
) -> (Decision, Option<Verified>, Vec<Decision>) {
    // One authentication per set of providers, however many calls share it.
    let mut seen: Vec<(Vec<usize>, Result<Verified, Reason>)> = Vec::new();
    let mut caller = None;
    let mut each = Vec::with_capacity(ops.calls.len());
    for call in &ops.calls {
        let mut l = line.clone();
        l.operation = Some(call);
        let (d, c) = authz::decide_with_grant(policy, &l, flags, now, header_grant, |providers| {
            if let Some((_, r)) = seen.iter().find(|(p, _)| p == providers) {
                return r.clone();
            }
            let r = authenticate(providers);
            seen.push((providers.to_vec(), r.clone()));
            r
        });
        if caller.is_none() {
            caller = c;
        }
        each.push(d);
    }
    (combine(&each, ops.batch), caller, each)
}

/// The decision of a request from those of its calls.
fn combine(each: &[Decision], batch: bool) -> Decision {
    let first = each.first().cloned().unwrap_or_else(Decision::unavailable);
    if !batch {
        return first;
    }
    let mut denied = each.iter().filter(|d| d.blocks());
    if let Some(d) = denied.next() {
        let mut out = d.clone();
        if !each.iter().all(|e| e.blocks() && e.reason == d.reason) {
            out.reason = Reason::OperationBatchDenied;
        }
        return out;
    }
    each.iter()
        .find(|d| d.outcome() == Outcome::WouldDeny)
        .cloned()
        .unwrap_or(first)
}
