//! The service's audit log: [`ApprovalEvent`]s sealed by the core's hash chain and written one
//! line each to a file (appended, flushed per line) or stdout. Each replica start is its own
//! chain (a fresh random id), so `pci-guard audit verify` checks every replica's lines.

use crate::model::{AccessRequest, Decision, Grant, Person, Verdict};
use crate::time::rfc3339;
use pci_guard_core::audit::approvals::{
    ApprovalAction, ApprovalEvent, GrantRef, RequestRef, ServiceRef,
};
use pci_guard_core::audit::{Chain, PolicyRef};
use pci_guard_core::policy::Policy;
use std::io::Write;
use std::sync::Mutex;

pub struct AuditLog {
    inner: Mutex<(Chain, Box<dyn Write + Send>)>,
    service: ServiceRef,
    policy: PolicyRef,
}

impl AuditLog {
    /// `path`: a file to append to, or `-` for stdout.
    pub fn open(
        path: &str,
        key: Option<Vec<u8>>,
        replica: &str,
        policy: &Policy,
    ) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        let issuer = policy
            .approvals
            .as_ref()
            .map(|a| a.issuer.clone())
            .unwrap_or_default();
        Ok(Self {
            inner: Mutex::new((Chain::new(replica.to_owned(), key), out)),
            service: ServiceRef {
                issuer,
                replica: replica.to_owned(),
            },
            policy: PolicyRef {
                version: policy.version.clone(),
                digest: policy.digest.clone(),
            },
        })
    }

    /// Fills in the service and policy fields (also done by [`Self::write`]), for a notice
    /// built from the event before it is written.
    pub fn stamp(&self, e: &mut ApprovalEvent) {
        e.service = self.service.clone();
        e.policy = self.policy.clone();
    }

    /// Seals and writes one event. A write failure is reported on stderr: the change it
    /// records is already committed and its notices are in the outbox.
    pub fn write(&self, mut e: ApprovalEvent) {
        self.stamp(&mut e);
        let Ok(mut g) = self.inner.lock() else {
            eprintln!("pci-guard-approvals: audit log unavailable (poisoned)");
            return;
        };
        let (chain, out) = &mut *g;
        let mut line = chain.seal(&mut e);
        line.push(b'\n');
        if let Err(err) = out.write_all(&line).and_then(|()| out.flush()) {
            eprintln!("pci-guard-approvals: audit log write failed: {err}");
        }
    }
}

/// The request as an event names it.
pub fn request_ref(r: &AccessRequest, decisions: &[Decision], min_approvals: u32) -> RequestRef {
    let approvals = decisions
        .iter()
        .filter(|d| d.verdict == Verdict::Approve)
        .count();
    RequestRef {
        id: r.id.clone(),
        requester: r.requester.as_ref(),
        rule: r.rule().map(str::to_owned),
        route: r.route().map(str::to_owned),
        scopes: r.scopes.clone(),
        operation: r.operation.as_ref().map(|o| o.as_ref()),
        duration_seconds: r.duration_seconds,
        justification: r.justification.clone(),
        filed_at: rfc3339(r.filed_at),
        expires_at: rfc3339(r.expires_at),
        state: r.state.as_str().to_owned(),
        approvals: u32::try_from(approvals).unwrap_or(u32::MAX),
        min_approvals,
    }
}

pub fn grant_ref(g: &Grant) -> GrantRef {
    GrantRef {
        id: g.id.clone(),
        approved_by: g.approved_by.iter().map(Person::as_ref).collect(),
        approved_at: rfc3339(g.approved_at),
        not_before: rfc3339(g.nbf),
        expires_at: rfc3339(g.exp),
        revoked_at: g.revoked_at.map(rfc3339),
    }
}

/// An event of `action` by `actor` about `request`.
pub fn event(
    action: ApprovalAction,
    now: u64,
    actor: Option<&Person>,
    request: RequestRef,
    grant: Option<&Grant>,
    comment: Option<&str>,
) -> ApprovalEvent {
    let mut e = ApprovalEvent::new(action, rfc3339(now), request);
    e.actor = actor.map(Person::as_ref);
    e.grant = grant.map(grant_ref);
    e.comment = comment.map(str::to_owned);
    e
}
