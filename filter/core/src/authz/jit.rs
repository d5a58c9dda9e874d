//! Just-in-time grants: time-boxed access approved by someone other than the caller.
//!
//! A grant is a claim in the verified token (default name `jit`), issued by the organisation's
//! access-request system:
//! `{"id", "scopes": [...], "approved_by": [...], "approved_at", "nbf", "exp", "reason"}`.
//! Because the token's signature covers it, the filter trusts its fields as the access-request
//! system wrote them, and checks them against what the route or rule demands.

use crate::policy::JitRequirement;
use crate::reason::Reason;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Grant {
    pub id: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub approved_by: Vec<String>,
    #[serde(default)]
    pub approved_at: Option<u64>,
    pub nbf: u64,
    pub exp: u64,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Grant {
    /// A grant claim that is not of the documented shape counts as no grant: the caller is
    /// told a grant is needed, never given access on a half-read one.
    pub fn from_claim(v: &serde_json::Value) -> Option<Grant> {
        Grant::deserialize(v).ok()
    }
}

/// Who holds a grant, as the self-approval check sees them: the token's subject and the
/// client it was issued to (`azp`, or `client_id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Holder<'a> {
    pub subject: Option<&'a str>,
    pub client: Option<&'a str>,
}

/// A name as approvals compare it: trimmed and in ASCII lower case, so `Alice`, `alice` and
/// `alice ` are one person. A name that is empty, or not plain printable ASCII (a full-width
/// letter, another Unicode normal form of the same text), cannot be compared safely without
/// the issuer's own rules: `None`, and whoever depends on it is refused.
fn comparable(name: &str) -> Option<String> {
    let n = name.trim();
    (!n.is_empty() && n.bytes().all(|b| (0x21..0x7f).contains(&b) || b == b' '))
        .then(|| n.to_ascii_lowercase())
}

/// Checks a grant against a requirement for `scopes`, for the caller `holder`, at `now`.
///
/// `skew` widens the start of the window only: a grant's end is the approver's promise that
/// access stops then, so a request one second after `exp` is denied whatever the clocks say.
///
/// Approvals are compared conservatively: a holder without a comparable subject holds no
/// grant (nobody could tell it was not self-approved); an approver name that cannot be
/// compared refuses the grant; an approver equal to the holder's subject or client refuses it;
/// distinct approvers are counted after folding.
pub fn check(
    grant: &Grant,
    req: &JitRequirement,
    scopes: &[String],
    holder: Holder<'_>,
    now: u64,
    skew: u64,
) -> Result<(), Reason> {
    if !scopes.iter().all(|s| grant.scopes.contains(s)) {
        return Err(Reason::JitScopeNotGranted);
    }
    if now.saturating_add(skew) < grant.nbf {
        return Err(Reason::JitNotYetValid);
    }
    if now > grant.exp {
        return Err(Reason::JitExpired);
    }
    if grant.exp.saturating_sub(grant.nbf) > req.max_ttl_seconds {
        return Err(Reason::JitTtlExceeded);
    }
    let Some(subject) = holder.subject.and_then(comparable) else {
        return Err(Reason::JitNoSubject);
    };
    let client = holder.client.and_then(comparable);
    let mut distinct: Vec<String> = Vec::with_capacity(grant.approved_by.len());
    for a in &grant.approved_by {
        let Some(a) = comparable(a) else {
            return Err(Reason::JitApproverNotAllowed);
        };
        if a == subject || client.as_ref() == Some(&a) {
            return Err(Reason::JitSelfApproved);
        }
        if !distinct.contains(&a) {
            distinct.push(a);
        }
    }
    if let Some(allowed) = &req.approvers {
        let allowed: Vec<String> = allowed.iter().filter_map(|x| comparable(x)).collect();
        if distinct.iter().any(|a| !allowed.contains(a)) {
            return Err(Reason::JitApproverNotAllowed);
        }
    }
    if (distinct.len() as u64) < u64::from(req.min_approvals) {
        return Err(Reason::JitTooFewApprovals);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_790_000;

    fn grant() -> Grant {
        Grant {
            id: "AR-1042".into(),
            scopes: vec!["payments:refund".into()],
            approved_by: vec!["alice".into()],
            approved_at: Some(NOW - 60),
            nbf: NOW - 60,
            exp: NOW + 1_740,
            reason: Some("chargeback #7731".into()),
        }
    }

    fn req() -> JitRequirement {
        JitRequirement {
            max_ttl_seconds: 1_800,
            min_approvals: 1,
            approvers: Some(vec!["alice".into(), "bob".into()]),
            approver_groups: Vec::new(),
        }
    }

    fn agent() -> Holder<'static> {
        Holder {
            subject: Some("agent-7"),
            client: Some("ci-runner"),
        }
    }

    fn run(g: &Grant, now: u64) -> Result<(), Reason> {
        check(g, &req(), &["payments:refund".into()], agent(), now, 60)
    }

    #[test]
    fn valid_grant_passes() {
        assert_eq!(run(&grant(), NOW), Ok(()));
    }

    #[test]
    fn grant_is_denied_one_second_after_exp_whatever_the_skew() {
        let g = grant();
        assert_eq!(run(&g, g.exp), Ok(()));
        assert_eq!(run(&g, g.exp + 1), Err(Reason::JitExpired));
    }

    #[test]
    fn grant_before_nbf_is_denied_beyond_the_skew() {
        let g = grant();
        assert_eq!(run(&g, g.nbf - 60), Ok(()));
        assert_eq!(run(&g, g.nbf - 61), Err(Reason::JitNotYetValid));
    }

    #[test]
    fn grant_longer_than_max_ttl_is_denied() {
        let g = Grant {
            exp: NOW - 60 + 1_801,
            ..grant()
        };
        assert_eq!(run(&g, NOW), Err(Reason::JitTtlExceeded));
    }

    #[test]
    fn self_approved_grant_is_denied() {
        let g = Grant {
            approved_by: vec!["agent-7".into(), "alice".into()],
            ..grant()
        };
        assert_eq!(run(&g, NOW), Err(Reason::JitSelfApproved));
    }

    #[test]
    fn repeated_approver_counts_once() {
        let g = Grant {
            approved_by: vec!["alice".into(), "alice".into()],
            ..grant()
        };
        let two = JitRequirement {
            min_approvals: 2,
            ..req()
        };
        assert_eq!(
            check(&g, &two, &[], agent(), NOW, 60),
            Err(Reason::JitTooFewApprovals)
        );
        let g = Grant {
            approved_by: vec!["alice".into(), "bob".into()],
            ..grant()
        };
        assert_eq!(check(&g, &two, &[], agent(), NOW, 60), Ok(()));
    }

    #[test]
    fn approver_outside_the_list_is_denied() {
        let g = Grant {
            approved_by: vec!["mallory".into()],
            ..grant()
        };
        assert_eq!(run(&g, NOW), Err(Reason::JitApproverNotAllowed));
    }

    #[test]
    fn grant_for_another_scope_is_denied() {
        let g = Grant {
            scopes: vec!["cards:read".into()],
            ..grant()
        };
        assert_eq!(run(&g, NOW), Err(Reason::JitScopeNotGranted));
    }

    #[test]
    fn malformed_grant_claim_is_no_grant() {
        assert_eq!(
            Grant::from_claim(&serde_json::json!({"id": "x", "scopes": "all"})),
            None
        );
        assert_eq!(Grant::from_claim(&serde_json::json!("AR-1")), None);
    }

    #[test]
    fn self_approval_is_found_whatever_the_spelling_and_without_a_subject_nothing_passes() {
        for by in ["Agent-7", "agent-7 ", " AGENT-7", "ci-runner", "CI-Runner"] {
            let g = Grant {
                approved_by: vec![by.into(), "alice".into()],
                ..grant()
            };
            assert_eq!(run(&g, NOW), Err(Reason::JitSelfApproved), "{by:?}");
        }
        let no_subject = Holder {
            subject: None,
            client: Some("ci-runner"),
        };
        let ok = grant();
        assert_eq!(
            check(&ok, &req(), &[], no_subject, NOW, 60),
            Err(Reason::JitNoSubject),
            "a token without sub holds no grant"
        );
    }

    #[test]
    fn an_approver_that_cannot_be_compared_refuses_the_grant_and_none_counts_twice() {
        // Full-width letters, a decomposed accent, an empty name.
        for by in ["\u{ff41}lice", "a\u{301}lice", "", "   "] {
            let g = Grant {
                approved_by: vec![by.into(), "alice".into()],
                ..grant()
            };
            assert_eq!(run(&g, NOW), Err(Reason::JitApproverNotAllowed), "{by:?}");
        }
        let two = JitRequirement {
            min_approvals: 2,
            ..req()
        };
        let g = Grant {
            approved_by: vec!["alice".into(), "Alice ".into()],
            ..grant()
        };
        assert_eq!(
            check(&g, &two, &[], agent(), NOW, 60),
            Err(Reason::JitTooFewApprovals)
        );
    }
}
