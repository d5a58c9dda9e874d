//! `policy-schema/approvals-audit.schema.json` describes the approvals service's events: every
//! kind, with and without a grant, validates; a token field or an unknown event does not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::audit::approvals::*;
use pci_guard_core::audit::{rfc3339_millis, Chain};
use std::path::Path;

fn validator() -> jsonschema::Validator {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policy-schema/approvals-audit.schema.json");
    jsonschema::draft202012::new(&serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .unwrap()
}

fn person(sub: &str) -> PersonRef {
    PersonRef {
        iss: "https://idp.example.com".into(),
        sub: sub.into(),
    }
}

fn event(action: ApprovalAction, with_grant: bool) -> serde_json::Value {
    let mut e = ApprovalEvent::new(
        action,
        rfc3339_millis(1_795_790_000_123),
        RequestRef {
            id: "req_x".into(),
            requester: person("agent-7"),
            rule: None,
            route: Some("refund".into()),
            scopes: vec!["payments:refund".into()],
            operation: Some(OperationRef {
                methods: vec!["POST".into()],
                path: Some("/v1/payments/{id}/refunds".into()),
                grpc: None,
            }),
            duration_seconds: 600,
            justification: "chargeback #7731".into(),
            filed_at: rfc3339_millis(1_795_789_000_000),
            expires_at: rfc3339_millis(1_795_792_600_000),
            state: "approved".into(),
            approvals: 2,
            min_approvals: 2,
        },
    );
    e.service = ServiceRef {
        issuer: "https://approvals.example.com".into(),
        replica: "approvals_1".into(),
    };
    e.actor = (action != ApprovalAction::Expired).then(|| person("alice"));
    if with_grant {
        e.grant = Some(GrantRef {
            id: "grt_x".into(),
            approved_by: vec![person("alice"), person("bob")],
            approved_at: rfc3339_millis(1_795_790_000_000),
            not_before: rfc3339_millis(1_795_790_000_000),
            expires_at: rfc3339_millis(1_795_790_600_000),
            revoked_at: (action == ApprovalAction::Revoked)
                .then(|| rfc3339_millis(1_795_790_100_000)),
        });
        e.comment = Some("done early".into());
    }
    let mut chain = Chain::new("approvals_1".into(), Some(b"k".to_vec()));
    chain.seal(&mut ApprovalEvent::new(
        ApprovalAction::Filed,
        rfc3339_millis(0),
        RequestRef::default(),
    ));
    serde_json::from_slice(&chain.seal(&mut e)).unwrap()
}

#[test]
fn every_approvals_event_matches_the_schema() {
    let v = validator();
    for (action, grant) in [
        (ApprovalAction::Filed, false),
        (ApprovalAction::Approved, false),
        (ApprovalAction::Denied, false),
        (ApprovalAction::Expired, false),
        (ApprovalAction::GrantIssued, true),
        (ApprovalAction::Revoked, true),
    ] {
        let e = event(action, grant);
        let errors: Vec<String> = v.iter_errors(&e).map(|x| x.to_string()).collect();
        assert!(errors.is_empty(), "{action:?}: {errors:#?}\n{e}");
    }
}

#[test]
fn schema_rejects_a_token_field_and_unknown_events() {
    let v = validator();
    let mut e = event(ApprovalAction::GrantIssued, true);
    e["grant"]["token"] = serde_json::json!("eyJ...");
    assert!(!v.is_valid(&e));
    let mut e = event(ApprovalAction::Filed, false);
    e["event"] = serde_json::json!("granted_forever");
    assert!(!v.is_valid(&e));
}
