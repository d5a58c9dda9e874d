//! What the API shows of a request: its facts, its decisions, and for the requester of an
//! approved request the signed grant (responses that carry one are `no-store`).

use crate::model::Person;
use crate::store::Decided;
use crate::time::rfc3339;
use serde_json::{json, Value};

/// The header the filter reads grants from.
pub const GRANT_HEADER: &str = "x-pci-guard-grant";
/// RFC 8693's type for a JWT.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

fn person(p: &Person) -> Value {
    json!({"iss": p.iss, "sub": p.sub})
}

/// `d` at `now`, with `min_approvals` from the policy and the grant `token` when the caller
/// may have it.
pub fn request(d: &Decided, now: u64, min_approvals: u32, token: Option<String>) -> Value {
    let r = &d.request;
    let decisions: Vec<Value> = d
        .decisions
        .iter()
        .map(|x| {
            json!({"by": person(&x.by), "verdict": x.verdict.as_str(),
                   "comment": x.comment, "at": rfc3339(x.at)})
        })
        .collect();
    let grant = d.grant.as_ref().map(|g| {
        let mut v = json!({
            "id": g.id,
            "approved_by": g.approved_by.iter().map(person).collect::<Vec<_>>(),
            "not_before": rfc3339(g.nbf),
            "expires_at": rfc3339(g.exp),
            "revoked_at": g.revoked_at.map(rfc3339),
            "active": g.active_at(now),
        });
        if let Some(t) = token {
            v["token"] = json!(t);
            v["token_type"] = json!(JWT_TOKEN_TYPE);
            v["header"] = json!(GRANT_HEADER);
        }
        v
    });
    json!({
        "id": r.id,
        "state": r.state_at(now).as_str(),
        "requester": person(&r.requester),
        "rule": r.rule(),
        "route": r.route(),
        "scopes": r.scopes,
        "operation": r.operation,
        "duration_seconds": r.duration_seconds,
        "justification": r.justification,
        "filed_at": rfc3339(r.filed_at),
        "expires_at": rfc3339(r.expires_at),
        "decided_at": r.decided_at.map(rfc3339),
        "min_approvals": min_approvals,
        "decisions": decisions,
        "grant": grant,
    })
}
