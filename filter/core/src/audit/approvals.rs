//! The approvals service's audit events: one line per step of a just-in-time request (filed,
//! approved, denied, expired, revoked, grant issued), sealed by the same [`Chain`] as the
//! filter's request events, so `pci-guard audit verify` checks both logs and an auditor reads
//! one format. `policy-schema/approvals-audit.schema.json` describes the line.
//!
//! Never a token: an event names people by issuer and subject, grants by id and times. The
//! justification and comments are free text from people: the service masks card data in them
//! when it accepts them, and [`ApprovalEvent::cap_fields`] caps every outside string again
//! here, so a bug upstream cannot put a megabyte into every sink.
//!
//! [`Chain`]: super::Chain

use super::chain::Chained;
use super::event::{cap, ChainRef, PolicyRef, EVENT_VERSION, MAX_APPROVERS, MAX_FIELD_BYTES};
use crate::policy::MAX_JUSTIFICATION_BYTES;
use serde::Serialize;

/// The `kind` of every approvals event; the filter's request events have none.
pub const APPROVALS_KIND: &str = "approvals";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAction {
    /// A requester filed a request.
    Filed,
    /// One approver approved (the request may still wait for more).
    Approved,
    Denied,
    /// The request waited longer than the policy's `pending_ttl`.
    Expired,
    /// A grant was revoked before its `exp`.
    Revoked,
    /// The final approval made a grant: its window starts now.
    GrantIssued,
}

impl ApprovalAction {
    /// The stable name (also the webhook event name).
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalAction::Filed => "filed",
            ApprovalAction::Approved => "approved",
            ApprovalAction::Denied => "denied",
            ApprovalAction::Expired => "expired",
            ApprovalAction::Revoked => "revoked",
            ApprovalAction::GrantIssued => "grant_issued",
        }
    }
}

/// A person (or agent), as the service compares them: issuer and subject, exactly.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRef {
    pub iss: String,
    pub sub: String,
}

/// Which service replica wrote the event.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ServiceRef {
    /// The service's `iss`.
    pub issuer: String,
    /// This replica's chain id.
    pub replica: String,
}

/// The operations a grant is bound to (empty: all its rule's or route's operations).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct OperationRef {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<String>,
}

/// The request, as it stands after the event.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RequestRef {
    pub id: String,
    pub requester: PersonRef,
    pub rule: Option<String>,
    pub route: Option<String>,
    pub scopes: Vec<String>,
    pub operation: Option<OperationRef>,
    pub duration_seconds: u64,
    pub justification: String,
    pub filed_at: String,
    pub expires_at: String,
    /// `pending`, `approved`, `denied` or `expired`.
    pub state: String,
    pub approvals: u32,
    pub min_approvals: u32,
}

/// The grant, once there is one.
#[derive(Debug, Default, Clone, Serialize)]
pub struct GrantRef {
    pub id: String,
    pub approved_by: Vec<PersonRef>,
    pub approved_at: String,
    pub not_before: String,
    pub expires_at: String,
    /// Set on the `revoked` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// One line of the approvals service's audit log.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalEvent {
    pub version: u32,
    /// Always [`APPROVALS_KIND`]: tells these lines from the filter's.
    pub kind: &'static str,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub event: ApprovalAction,
    pub service: ServiceRef,
    pub policy: PolicyRef,
    /// Who did it; `None` when the service did (expiry).
    pub actor: Option<PersonRef>,
    pub request: RequestRef,
    pub grant: Option<GrantRef>,
    /// The approver's or revoker's comment.
    pub comment: Option<String>,
    /// Set by [`super::Chain::seal`].
    pub chain: Option<ChainRef>,
}

impl ApprovalEvent {
    pub fn new(event: ApprovalAction, time: String, request: RequestRef) -> Self {
        Self {
            version: EVENT_VERSION,
            kind: APPROVALS_KIND,
            time,
            event,
            service: ServiceRef::default(),
            policy: PolicyRef::default(),
            actor: None,
            request,
            grant: None,
            comment: None,
            chain: None,
        }
    }
}

/// Cuts `s` to `max` bytes at a character boundary with the same marker as [`cap`].
fn cap_at(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = s.len() - cut;
    s.truncate(cut);
    s.push_str(&format!("…[+{dropped} bytes]"));
}

fn cap_person(p: &mut PersonRef) {
    cap(&mut p.iss);
    cap(&mut p.sub);
}

impl Chained for ApprovalEvent {
    fn cap_fields(&mut self) {
        cap(&mut self.service.issuer);
        cap(&mut self.service.replica);
        cap(&mut self.policy.version);
        if let Some(a) = &mut self.actor {
            cap_person(a);
        }
        let r = &mut self.request;
        cap(&mut r.id);
        cap_person(&mut r.requester);
        r.rule.iter_mut().for_each(cap);
        r.route.iter_mut().for_each(cap);
        r.scopes.truncate(MAX_APPROVERS);
        r.scopes.iter_mut().for_each(cap);
        if let Some(op) = &mut r.operation {
            op.methods.truncate(MAX_APPROVERS);
            op.methods.iter_mut().for_each(cap);
            op.path.iter_mut().for_each(cap);
            op.grpc.iter_mut().for_each(cap);
        }
        cap_at(&mut r.justification, MAX_JUSTIFICATION_BYTES);
        if let Some(g) = &mut self.grant {
            cap(&mut g.id);
            g.approved_by.truncate(MAX_APPROVERS);
            g.approved_by.iter_mut().for_each(cap_person);
        }
        self.comment
            .iter_mut()
            .for_each(|c| cap_at(c, MAX_FIELD_BYTES));
    }

    fn set_chain(&mut self, chain: ChainRef) {
        self.chain = Some(chain);
    }

    fn to_json(&self) -> Vec<u8> {
        // Plain strings and numbers cannot fail to serialize; an empty line would still be
        // written, so the gap shows.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify::Verifier;
    use crate::audit::Chain;

    fn event(action: ApprovalAction) -> ApprovalEvent {
        ApprovalEvent::new(
            action,
            "2026-11-27T10:00:00.000Z".into(),
            RequestRef {
                id: "req_1".into(),
                requester: PersonRef {
                    iss: "https://idp".into(),
                    sub: "agent-7".into(),
                },
                justification: "x".repeat(MAX_JUSTIFICATION_BYTES + 10),
                ..Default::default()
            },
        )
    }

    #[test]
    fn approvals_events_chain_and_verify_like_request_events() {
        let mut chain = Chain::new("approvals-1".into(), Some(b"k".to_vec()));
        let mut v = Verifier::new(Some(b"k".to_vec()));
        for a in [ApprovalAction::Filed, ApprovalAction::Approved] {
            v.push(&chain.seal(&mut event(a)));
        }
        assert_eq!(v.events, 2);
        assert!(v.findings.is_empty(), "{:?}", v.findings);
    }

    #[test]
    fn justification_is_capped_with_a_marker() {
        let mut chain = Chain::new("c".into(), None);
        let line = chain.seal(&mut event(ApprovalAction::Filed));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let j = v["request"]["justification"].as_str().unwrap();
        assert!(j.ends_with("…[+10 bytes]"), "{}", &j[j.len() - 20..]);
        assert_eq!(v["kind"], "approvals");
        assert_eq!(v["event"], "filed");
    }
}
