//! A grant as a JWT: its claims (what the filter will check) and its signature. The token is
//! signed whenever the requester fetches it and never stored: a database copy cannot leak
//! bearer grants, only the facts they carry.
//!
//! ```json
//! {"iss": "https://approvals.example.com", "aud": "pci-guard", "sub": "agent-7",
//!  "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com", "sub": "agent-7"},
//!  "jti": "grt_…", "iat": 1795790100, "nbf": 1795790000, "exp": 1795791800,
//!  "jit": {"id": "grt_…", "request": "req_…", "scopes": ["payments:refund"],
//!          "approved_by": ["alice", "bob"],
//!          "approvers": [{"format": "iss_sub", "iss": "https://idp.example.com", "sub": "alice"}, …],
//!          "approved_at": 1795790000, "nbf": 1795790000, "exp": 1795791800, "reason": "chargeback #7731"},
//!  "authorization_details": [{"type": "https://pci-guard.dev/operation", "route": "refund",
//!          "privileges": ["payments:refund"], "methods": ["POST"],
//!          "path": "/v1/payments/pay_123/refunds"}]}
//! ```
//! `sub_id` is an RFC 9493 subject identifier: the requester's issuer and subject together,
//! which the filter compares with the caller's. `authorization_details` follows RFC 9396.

use crate::error::Error;
use crate::keys::Keys;
use crate::model::{AccessRequest, Grant, Person, TargetRef};
use pci_guard_core::policy::Approvals;
use serde_json::{json, Map, Value};

/// The RFC 9396 `type` of a grant's operation binding.
pub const OPERATION_TYPE: &str = "https://pci-guard.dev/operation";
/// Longest justification copied into a grant's `jit.reason` (the filter caps tokens at 8 KiB).
pub const MAX_REASON_BYTES: usize = 512;

fn iss_sub(p: &Person) -> Value {
    json!({"format": "iss_sub", "iss": p.iss, "sub": p.sub})
}

fn reason(s: &str) -> String {
    if s.len() <= MAX_REASON_BYTES {
        return s.to_owned();
    }
    let mut cut = MAX_REASON_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// The grant's claims, issued at `iat`.
pub fn claims(a: &Approvals, req: &AccessRequest, g: &Grant, iat: u64) -> Value {
    let mut detail = Map::new();
    detail.insert("type".into(), json!(OPERATION_TYPE));
    match &req.target {
        TargetRef::Rule(r) => {
            detail.insert("rule".into(), json!(r));
        }
        TargetRef::Route(r) => {
            detail.insert("route".into(), json!(r));
        }
        TargetRef::Scopes(_) => {}
    }
    detail.insert("privileges".into(), json!(g.scopes));
    if let Some(op) = &req.operation {
        if !op.methods.is_empty() {
            detail.insert("methods".into(), json!(op.methods));
        }
        if let Some(p) = &op.path {
            detail.insert("path".into(), json!(p));
        }
        if let Some(m) = &op.grpc {
            detail.insert("grpc".into(), json!(m));
        }
    }
    json!({
        "iss": a.issuer,
        "aud": a.audience,
        "sub": g.subject.sub,
        "sub_id": iss_sub(&g.subject),
        "jti": g.id,
        "iat": iat,
        "nbf": g.nbf,
        "exp": g.exp,
        "jit": {
            "id": g.id,
            "request": req.id,
            "scopes": g.scopes,
            "approved_by": g.approved_by.iter().map(|p| p.sub.clone()).collect::<Vec<_>>(),
            "approvers": g.approved_by.iter().map(iss_sub).collect::<Vec<_>>(),
            "approved_at": g.approved_at,
            "nbf": g.nbf,
            "exp": g.exp,
            "reason": reason(&req.justification),
        },
        "authorization_details": [Value::Object(detail)],
    })
}

/// The signed grant, or why there is none to hand out.
pub fn token(
    a: &Approvals,
    keys: &Keys,
    req: &AccessRequest,
    g: &Grant,
    now: u64,
) -> Result<String, Error> {
    if g.revoked_at.is_some() {
        return Err(Error::conflict("grant_revoked", "the grant was revoked"));
    }
    if now >= g.exp {
        return Err(Error::conflict("grant_expired", "the grant has expired"));
    }
    keys.sign(&claims(a, req, g, now), now)
}
