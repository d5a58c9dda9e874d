//! `policy-schema/audit.schema.json` describes the events the core writes: a fully populated
//! event and a minimal one both validate, and the schema rejects what it must.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::audit::*;
use pci_guard_core::authz::grant::GrantSource;
use pci_guard_core::authz::Outcome;
use pci_guard_core::reason::Reason;
use std::path::Path;

fn validator() -> jsonschema::Validator {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy-schema/audit.schema.json");
    jsonschema::draft202012::new(&serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .unwrap()
}

fn sealed(mut e: Event) -> serde_json::Value {
    let mut chain = Chain::new("vm-test".into(), Some(b"k".to_vec()));
    chain.seal(&mut Event::default());
    serde_json::from_slice(&chain.seal(&mut e)).unwrap()
}

#[test]
fn full_event_matches_the_schema() {
    let e = Event {
        version: EVENT_VERSION,
        time: rfc3339_millis(1_795_790_000_123),
        request_id: Some("r-1".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        policy: PolicyRef {
            version: "v1".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
        },
        source: Source {
            address: Some("10.0.0.5:53211".into()),
            principal: Some("spiffe://cluster.local/ns/ci/sa/runner".into()),
        },
        identity: Some(IdentityRef {
            provider: "corp-idp".into(),
            iss: Some("https://idp".into()),
            sub: Some("agent-7".into()),
            azp: Some("ci-runner".into()),
            jti: Some("j-1".into()),
            kid: Some("k1".into()),
            alg: Some("RS256".into()),
        }),
        request: Request {
            method: "POST".into(),
            path: "/v1/payments/p1/refunds".into(),
            authority: Some("payments.internal".into()),
            route: Some("refund".into()),
            grpc: None,
            operation: Some(OperationRef {
                protocol: pci_guard_core::operation::Protocol::JsonRpc,
                batch: true,
                calls: vec![
                    CallRef {
                        method: Some("tools/call".into()),
                        tool: Some("refund_payment".into()),
                        reason: Some(Reason::Ok),
                        ..Default::default()
                    },
                    CallRef {
                        method: Some("notifications/progress".into()),
                        reason: Some(Reason::Ok),
                        ..Default::default()
                    },
                ],
                more_calls: 3,
            }),
        },
        decision: Some(DecisionRef {
            result: Outcome::Allow,
            reason: Reason::Ok,
            rule: None,
            dry_run: false,
            grant_refused: Some(Reason::GrantRevoked),
        }),
        jit: Some(JitRef {
            id: "AR-1042".into(),
            approved_by: vec!["alice".into()],
            approved_at: Some(rfc3339_millis(1_795_789_000_000)),
            expires_at: rfc3339_millis(1_795_791_800_000),
            source: Some(GrantSource::Header),
        }),
        response: Response {
            status: Some(200),
            grpc_status: None,
            bytes: 1234,
            details: Some("via_upstream".into()),
        },
        redaction: Some(RedactionRef {
            pan: 2,
            cvv: 1,
            track: 0,
            bytes_scanned: 1234,
            refused: None,
        }),
        duration_ms: Some(3.2),
        chain: None,
    };
    let v = sealed(e);
    let errors: Vec<String> = validator().iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn minimal_event_matches_the_schema() {
    let v = sealed(Event {
        version: EVENT_VERSION,
        time: rfc3339_millis(0),
        ..Default::default()
    });
    assert!(validator().is_valid(&v), "{v}");
}

#[test]
fn schema_rejects_unknown_fields_and_wrong_results() {
    let mut v = sealed(Event {
        version: EVENT_VERSION,
        time: rfc3339_millis(0),
        ..Default::default()
    });
    v["token"] = serde_json::json!("eyJ...");
    assert!(!validator().is_valid(&v));
    let mut v = sealed(Event {
        version: EVENT_VERSION,
        time: rfc3339_millis(0),
        ..Default::default()
    });
    v["decision"] =
        serde_json::json!({"result": "maybe", "reason": "ok", "rule": null, "dry_run": false});
    assert!(!validator().is_valid(&v));
}

#[test]
fn a_graphql_operation_matches_the_schema_and_a_stray_field_does_not() {
    use pci_guard_core::operation::{OpKind, Protocol};
    let e = Event {
        version: EVENT_VERSION,
        time: rfc3339_millis(0),
        request: Request {
            operation: Some(OperationRef {
                protocol: Protocol::GraphQl,
                batch: false,
                calls: vec![CallRef {
                    kind: Some(OpKind::Mutation),
                    name: Some("Refund".into()),
                    fields: Some(vec!["refundPayment".into()]),
                    hash: Some("a".repeat(64)),
                    ..Default::default()
                }],
                more_calls: 0,
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut v = sealed(e);
    let errors: Vec<String> = validator().iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    v["request"]["operation"]["calls"][0]["arguments"] = serde_json::json!({"id": 1});
    assert!(!validator().is_valid(&v), "arguments are never recorded");
}

/// Every kind of VM record, as the plugin seals them, matches the schema; a control failure
/// without its `control`, or a heartbeat with one, does not.
#[test]
fn every_vm_record_matches_the_schema() {
    use pci_guard_core::audit::checkpoint::Signer;
    use pci_guard_core::audit::control::ControlFailure;
    use pci_guard_core::audit::record::{ControlRef, VmEvent, VmRecord, VmRef};
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([3; 32]));
    let signer = Signer::from_pem(&pair.sk.to_pem()).unwrap();
    let mut chain = Chain::new("0123456789abcdef".into(), Some(b"k".to_vec()));
    let vm = VmRef {
        id: "0123456789abcdef".into(),
        started_at: rfc3339_millis(1_795_790_000_000),
        heartbeat_s: 60,
        checkpoint_s: 60,
        siblings: vec!["0123456789abcdef".into(), "fedcba9876543210".into()],
    };
    let policy = PolicyRef {
        version: "v1".into(),
        digest: format!("sha256:{}", "a".repeat(64)),
    };
    let v = validator();
    let mut records = Vec::new();
    for event in [
        VmEvent::Start,
        VmEvent::Heartbeat,
        VmEvent::ControlFailure,
        VmEvent::Checkpoint,
        VmEvent::End,
    ] {
        let mut r = VmRecord::new(
            event,
            rfc3339_millis(1_795_790_001_000),
            vm.clone(),
            policy.clone(),
        );
        if event == VmEvent::ControlFailure {
            r.control = Some(ControlRef {
                reason: ControlFailure::JwksStale,
                detail: "keys older than max_stale (1h)".into(),
                provider: Some("corp-idp".into()),
                request_id: None,
                count: 1,
            });
        }
        if event == VmEvent::Checkpoint {
            r.checkpoint = Some(signer.sign(&chain.take_head().unwrap(), 60));
        }
        let line: serde_json::Value = serde_json::from_slice(&chain.seal(&mut r)).unwrap();
        let errors: Vec<String> = v.iter_errors(&line).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{event:?}: {errors:#?}\n{line}");
        records.push(line);
    }
    let mut no_control = records[2].clone();
    no_control["control"] = serde_json::Value::Null;
    assert!(!v.is_valid(&no_control));
    let mut with_control = records[1].clone();
    with_control["control"] = records[2]["control"].clone();
    assert!(!v.is_valid(&with_control));
    let mut unknown = records[1].clone();
    unknown["event"] = serde_json::json!("reboot");
    assert!(!v.is_valid(&unknown));
}
