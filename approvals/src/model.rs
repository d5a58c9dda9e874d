//! The service's records, as stored and as the API shows them: access requests, the
//! decisions people made on them, and the grants they produced.

use pci_guard_core::audit::approvals::{OperationRef, PersonRef};
use serde::{Deserialize, Serialize};

/// Someone, as the service tells people apart: the exact issuer and subject of their verified
/// token. No normalisation (case, Unicode form, spaces): `Alice` is not `alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Person {
    pub iss: String,
    pub sub: String,
}

impl Person {
    /// Only when both are non-empty: an empty subject names nobody and must never match.
    pub fn new(iss: &str, sub: &str) -> Option<Person> {
        (!iss.is_empty() && !sub.is_empty()).then(|| Person {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
        })
    }

    pub fn as_ref(&self) -> PersonRef {
        PersonRef {
            iss: self.iss.clone(),
            sub: self.sub.clone(),
        }
    }
}

/// Where a request stands. `Approved` requests have exactly one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "approved" => State::Approved,
            "denied" => State::Denied,
            "expired" => State::Expired,
            _ => return None,
        })
    }
}

/// What a request asks for: a rule's grant, a route's grant, or scopes (every rule and route
/// that requires a grant for one of them applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRef {
    Rule(String),
    Route(String),
    Scopes(Vec<String>),
}

/// The operations a grant is limited to: HTTP methods and a path template (policy syntax),
/// or one gRPC method. Both absent: every operation of the rule or route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<String>,
}

impl Operation {
    pub fn as_ref(&self) -> OperationRef {
        OperationRef {
            methods: self.methods.clone(),
            path: self.path.clone(),
            grpc: self.grpc.clone(),
        }
    }
}

/// An access request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: String,
    pub requester: Person,
    pub target: TargetRef,
    /// The scopes its grant will carry.
    pub scopes: Vec<String>,
    pub operation: Option<Operation>,
    pub duration_seconds: u64,
    /// Card data already masked.
    pub justification: String,
    pub state: State,
    pub filed_at: u64,
    /// A pending request past this is expired.
    pub expires_at: u64,
    pub decided_at: Option<u64>,
}

impl AccessRequest {
    /// The state at `now`: a pending request past its `expires_at` is expired even before the
    /// sweeper records it, so nobody can approve it in that gap.
    pub fn state_at(&self, now: u64) -> State {
        if self.state == State::Pending && now >= self.expires_at {
            State::Expired
        } else {
            self.state
        }
    }

    pub fn rule(&self) -> Option<&str> {
        match &self.target {
            TargetRef::Rule(r) => Some(r),
            _ => None,
        }
    }

    pub fn route(&self) -> Option<&str> {
        match &self.target {
            TargetRef::Route(r) => Some(r),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

/// One person's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub by: Person,
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub at: u64,
}

/// A grant: the final approval's result. Its window starts at that approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub request_id: String,
    pub subject: Person,
    pub scopes: Vec<String>,
    pub approved_by: Vec<Person>,
    pub approved_at: u64,
    pub nbf: u64,
    pub exp: u64,
    pub revoked_at: Option<u64>,
    pub revoked_by: Option<Person>,
}

impl Grant {
    pub fn active_at(&self, now: u64) -> bool {
        self.revoked_at.is_none() && now < self.exp
    }
}
