//! Just-in-time grants as evidence (PCI DSS 7.2.5, 8.2.2, 10.2.1.2): the approvals service's
//! events (filed, approved, grant issued, revoked) joined with the requests the filter let
//! through or refused under each grant, keyed by the grant id (the grant token's `jti`, the
//! proxy event's `jit.id`).
//!
//! Either side may be missing: grants minted by an organisation's own system appear from the
//! proxy events alone, and grants never used appear from the approvals log alone.

use super::{s, Flag};
use crate::reason::Reason;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// An approver's approval, as the approvals service recorded it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Approval {
    pub approver: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One grant: who asked, why, who approved and when, its window, and what was done under it.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct GrantUse {
    pub grant: String,
    /// The caller as the filter saw it (`provider/sub`); the requester when never used.
    pub identity: String,
    /// The requester as the approvals service authenticated it (`sub` at `iss`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The rule or route the grant was asked for, and its scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub scopes: Vec<String>,
    /// Approvals recorded by the approvals service, in order.
    pub approvals: Vec<Approval>,
    /// Approvers named inside the grant the filter checked.
    pub approved_by: Vec<String>,
    pub approved_at: Option<String>,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// Requests let through under the grant.
    pub uses: u64,
    pub first_use: Option<String>,
    pub last_use: Option<String>,
    /// Requests refused while presenting the grant, by reason.
    pub refused: BTreeMap<String, u64>,
}

/// The request an approvals event describes, kept until its grant is issued.
#[derive(Default)]
struct Filed {
    requester: Option<String>,
    justification: Option<String>,
    target: Option<String>,
    scopes: Vec<String>,
    approvals: Vec<Approval>,
}

#[derive(Default)]
pub(super) struct Grants {
    /// (identity, grant id) → what the proxy events say.
    used: BTreeMap<(String, String), GrantUse>,
    /// request id → the approvals side of it.
    filed: BTreeMap<String, Filed>,
    /// grant id → the approvals side of the grant (its request id inside), from
    /// `grant_issued` and `revoked` events.
    issued: BTreeMap<String, GrantUse>,
}

fn person(v: &Value) -> Option<String> {
    Some(format!("{} at {}", v["sub"].as_str()?, v["iss"].as_str()?))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(s).collect())
        .unwrap_or_default()
}

/// Refusals that mean the grant was presented after it was withdrawn or had expired: a daily
/// review must see who kept trying.
fn refused_after_end(reason: &str) -> bool {
    Reason::ALL
        .iter()
        .find(|r| r.as_str() == reason)
        .is_some_and(|r| matches!(r, Reason::GrantRevoked | Reason::JitExpired))
}

impl Grants {
    /// A proxy event that carried a grant: a use when allowed, a refusal otherwise.
    pub fn proxy(&mut self, identity: &str, e: &Value, time: &str, flags: &mut Vec<Flag>) {
        let j = &e["jit"];
        let Some(id) = s(&j["id"]) else { return };
        let expires = s(&j["expires_at"]).unwrap_or_default();
        let g = self
            .used
            .entry((identity.to_string(), id.clone()))
            .or_insert_with(|| GrantUse {
                grant: id.clone(),
                identity: identity.to_string(),
                approved_by: strings(&j["approved_by"]),
                approved_at: s(&j["approved_at"]),
                expires_at: expires.clone(),
                ..GrantUse::default()
            });
        match e["decision"]["result"].as_str() {
            Some("allow") => {
                if !expires.is_empty() && time > expires.as_str() {
                    flags.push(Flag {
                        kind: "grant_outside_window",
                        identity: identity.to_string(),
                        detail: format!("grant {id} used at {time}, after it expired at {expires}"),
                    });
                }
                g.uses += 1;
                if g.first_use.as_deref().is_none_or(|f| time < f) {
                    g.first_use = Some(time.to_string());
                }
                if g.last_use.as_deref().is_none_or(|l| time > l) {
                    g.last_use = Some(time.to_string());
                }
            }
            Some("deny") | Some("would_deny") => {
                let reason = s(&e["decision"]["reason"]).unwrap_or_else(|| "denied".into());
                *g.refused.entry(reason.clone()).or_default() += 1;
                if refused_after_end(&reason) {
                    flags.push(Flag {
                        kind: "grant_refused_after_end",
                        identity: identity.to_string(),
                        detail: format!("grant {id} presented at {time}: {reason}"),
                    });
                }
            }
            _ => {}
        }
    }

    /// One of the approvals service's events.
    pub fn approvals(&mut self, e: &Value, time: &str) {
        let r = &e["request"];
        let request = s(&r["id"]);
        let actor = person(&e["actor"]);
        if let Some(request) = &request {
            let filed = self.filed.entry(request.clone()).or_default();
            filed.requester = filed.requester.take().or_else(|| person(&r["requester"]));
            filed.justification = filed
                .justification
                .take()
                .or_else(|| s(&r["justification"]));
            if filed.target.is_none() {
                filed.target = s(&r["rule"])
                    .map(|x| format!("rule {x}"))
                    .or_else(|| s(&r["route"]).map(|x| format!("route {x}")));
            }
            if filed.scopes.is_empty() {
                filed.scopes = strings(&r["scopes"]);
            }
            if let (Some("approved"), Some(approver)) = (e["event"].as_str(), &actor) {
                let a = Approval {
                    approver: approver.clone(),
                    at: time.to_string(),
                    comment: s(&e["comment"]),
                };
                if !filed.approvals.contains(&a) {
                    filed.approvals.push(a);
                }
            }
        }
        let event = e["event"].as_str();
        if !matches!(event, Some("grant_issued") | Some("revoked")) {
            return;
        }
        let g = &e["grant"];
        let Some(id) = s(&g["id"]) else { return };
        let entry = self.issued.entry(id.clone()).or_default();
        entry.request = entry.request.take().or(request);
        entry.grant = id;
        entry.approved_at = s(&g["approved_at"]).or(entry.approved_at.take());
        if let Some(exp) = s(&g["expires_at"]) {
            entry.expires_at = exp;
        }
        if entry.approved_by.is_empty() {
            entry.approved_by = g["approved_by"]
                .as_array()
                .map(|a| a.iter().filter_map(person).collect())
                .unwrap_or_default();
        }
        if event == Some("revoked") {
            entry.revoked_at = s(&g["revoked_at"]).or_else(|| Some(time.to_string()));
            entry.revoked_by = actor;
        }
    }

    /// Every grant, both sides joined, and the flags only the join can raise.
    pub fn finish(self, flags: &mut Vec<Flag>) -> Vec<GrantUse> {
        let Grants {
            used,
            filed,
            mut issued,
        } = self;
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for ((_, id), mut g) in used {
            if let Some(a) = issued.get(&id) {
                seen.insert(id.clone());
                g.request = a.request.clone();
                g.revoked_at = a.revoked_at.clone();
                g.revoked_by = a.revoked_by.clone();
                g.approved_at = g.approved_at.or(a.approved_at.clone());
                if let Some(f) = g.request.as_ref().and_then(|r| filed.get(r)) {
                    join(&mut g, f);
                }
            }
            if let (Some(at), Some(last)) = (&g.revoked_at, &g.last_use) {
                if last > at {
                    flags.push(Flag {
                        kind: "grant_used_after_revocation",
                        identity: g.identity.clone(),
                        detail: format!("grant {} revoked at {at}, used until {last}", g.grant),
                    });
                }
            }
            out.push(g);
        }
        issued.retain(|id, _| !seen.contains(id));
        for (_, mut g) in issued {
            if let Some(f) = g.request.as_ref().and_then(|r| filed.get(r)) {
                join(&mut g, f);
            }
            g.identity = g.requester.clone().unwrap_or_default();
            out.push(g);
        }
        out.sort_by(|a, b| (&a.approved_at, &a.grant).cmp(&(&b.approved_at, &b.grant)));
        out
    }
}

fn join(g: &mut GrantUse, f: &Filed) {
    g.requester = f.requester.clone();
    g.justification = f.justification.clone();
    g.target = f.target.clone();
    g.scopes = f.scopes.clone();
    g.approvals = f.approvals.clone();
}
