use super::*;
use crate::authz::Outcome;
use crate::reason::Reason;
use crate::redact::RedactOptions;

#[test]
fn formats_rfc3339_utc_with_millis() {
    assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        rfc3339_millis(1_795_766_400_123),
        "2026-11-27T08:00:00.123Z"
    );
    assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
}

#[test]
fn sanitize_masks_cards_in_caller_supplied_fields() {
    let mut e = Event {
        request_id: Some("req-4111111111111111".into()),
        request: Request {
            method: "GET".into(),
            path: "/v1/cards/4111111111111111/x".into(),
            ..Default::default()
        },
        identity: Some(IdentityRef {
            provider: "idp".into(),
            sub: Some("5555 5555 5555 4444".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    e.sanitize(&RedactOptions::default());
    assert_eq!(e.request.path, "/v1/cards/************1111/x");
    assert_eq!(e.request_id.as_deref(), Some("req-************1111"));
    assert_eq!(
        e.identity.as_ref().unwrap().sub.as_deref(),
        Some("**** **** **** 4444")
    );
}

#[test]
fn chain_links_each_event_to_the_hash_of_the_previous_line() {
    let mut chain = Chain::new("vm-1".into(), None);
    let mut a = Event {
        version: EVENT_VERSION,
        ..Default::default()
    };
    let mut b = Event {
        version: EVENT_VERSION,
        ..Default::default()
    };
    let line_a = chain.seal(&mut a);
    let line_b = chain.seal(&mut b);
    let va: serde_json::Value = serde_json::from_slice(&line_a).unwrap();
    let vb: serde_json::Value = serde_json::from_slice(&line_b).unwrap();
    assert_eq!(va["chain"]["seq"], 0);
    assert!(va["chain"]["prev"].is_null());
    assert_eq!(vb["chain"]["seq"], 1);
    assert_eq!(vb["chain"]["prev"], link(None, &line_a));
}

#[test]
fn keyed_links_depend_on_the_key() {
    let line = br#"{"version":1}"#;
    let k1 = link(Some(b"k1"), line);
    assert!(k1.starts_with("hmac-sha256:"));
    assert_ne!(k1, link(Some(b"k2"), line));
    assert_ne!(link(None, line), link(None, br#"{"version":2}"#));
}

#[test]
fn outside_input_is_capped_with_a_marker_and_the_event_stays_bounded() {
    let huge = "é".repeat(40_000); // 80 000 bytes, two per character
    let mut e = Event {
        version: EVENT_VERSION,
        request_id: Some(huge.clone()),
        trace_id: Some(huge.clone()),
        request: Request {
            method: huge.clone(),
            path: format!("/{huge}"),
            authority: Some(huge.clone()),
            route: Some(huge.clone()),
            grpc: Some(huge.clone()),
            operation: None,
        },
        identity: Some(IdentityRef {
            provider: "p".into(),
            iss: Some(huge.clone()),
            sub: Some(huge.clone()),
            azp: Some(huge.clone()),
            jti: Some(huge.clone()),
            kid: Some(huge.clone()),
            alg: None,
        }),
        jit: Some(JitRef {
            id: huge.clone(),
            approved_by: vec![huge.clone(); 100],
            approved_at: None,
            expires_at: String::new(),
            source: None,
        }),
        ..Default::default()
    };
    let line = Chain::new("vm".into(), None).seal(&mut e);
    assert!(line.len() < MAX_EVENT_BYTES, "{} bytes", line.len());
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    let path = v["request"]["path"].as_str().unwrap();
    assert!(
        path.ends_with("…[+78978 bytes]"),
        "{}",
        &path[path.len() - 20..]
    );
    assert_eq!(
        v["jit"]["approved_by"].as_array().unwrap().len(),
        MAX_APPROVERS
    );
    assert_eq!(v["jit"]["approved_by"][MAX_APPROVERS - 1], "…[+85 more]");
    // Short values are untouched.
    let mut s = "short".to_string();
    cap(&mut s);
    assert_eq!(s, "short");
}

#[test]
fn event_serializes_reason_as_its_stable_string() {
    let e = Event {
        version: EVENT_VERSION,
        decision: Some(DecisionRef {
            result: Outcome::WouldDeny,
            reason: Reason::NoRoute,
            rule: None,
            dry_run: true,
            grant_refused: None,
        }),
        ..Default::default()
    };
    let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
    assert_eq!(v["decision"]["result"], "would_deny");
    assert_eq!(v["decision"]["reason"], "no_route");
}

#[test]
fn line_separators_in_a_claim_are_escaped_so_the_event_stays_one_line() {
    let e = Event {
        version: EVENT_VERSION,
        identity: Some(IdentityRef {
            provider: "p".into(),
            sub: Some("a\u{2028}b\u{2029}c\nd".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let line = e.to_json();
    let text = String::from_utf8(line.clone()).unwrap();
    assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}') && !text.contains('\n'));
    assert!(text.contains(r"a\u2028b\u2029c\nd"), "{text}");
    let back: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(back["identity"]["sub"], "a\u{2028}b\u{2029}c\nd");
}

#[test]
fn cards_glued_into_identifiers_are_masked_in_audit_fields() {
    let mut e = Event {
        trace_id: Some("40000566556655560000000000000000".into()),
        request: Request {
            method: "GET".into(),
            path: "/payments.v1.Cards/Get4000056655665556".into(),
            ..Default::default()
        },
        request_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
        ..Default::default()
    };
    e.sanitize(&RedactOptions::default());
    // The longest card-shaped window wins (here 18 digits); the rest of the id stays.
    let trace = e.trace_id.as_deref().unwrap();
    assert!(
        trace.starts_with("**************") && trace.ends_with("0000000000000000"),
        "{trace}"
    );
    assert_eq!(e.request.path, "/payments.v1.Cards/Get************5556");
    // An ordinary trace id with no card in it keeps every digit.
    assert_eq!(
        e.request_id.as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
}
