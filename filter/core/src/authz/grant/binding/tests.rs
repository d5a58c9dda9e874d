use super::*;
use serde_json::json;

fn one(entry: Value) -> Option<Vec<Binding>> {
    let mut e = entry;
    e["type"] = json!(OPERATION_TYPE);
    parse(Some(&json!([e])))
}

fn line(method: &'static str, path: &'static str) -> RequestLine<'static> {
    RequestLine::new(method, path, false)
}

fn scopes(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn a_route_grant_covers_its_route_and_operation_only() {
    let b = one(
        json!({"route": "refund", "privileges": ["payments:refund"], "methods": ["POST"],
                       "path": "/v1/payments/pay_123/refunds"}),
    )
    .unwrap();
    let s = scopes(&["payments:refund"]);
    let refund = Target::Route("refund");
    assert!(b[0].covers(refund, &s, &line("POST", "/v1/payments/pay_123/refunds")));
    // The same normalisation as rules: case, a trailing slash, ;params, %-encoding.
    assert!(b[0].covers(
        refund,
        &s,
        &line("post", "/V1/Payments/pay_123/%72efunds/;x")
    ));
    assert!(!b[0].covers(refund, &s, &line("POST", "/v1/payments/pay_124/refunds")));
    assert!(!b[0].covers(refund, &s, &line("GET", "/v1/payments/pay_123/refunds")));
    assert!(!b[0].covers(
        Target::Route("capture"),
        &s,
        &line("POST", "/v1/payments/pay_123/refunds")
    ));
    assert!(!b[0].covers(
        Target::Rule("refund"),
        &s,
        &line("POST", "/v1/payments/pay_123/refunds")
    ));
}

#[test]
fn a_rule_grant_covers_only_that_rule() {
    let b = one(json!({"rule": "bulk-export", "methods": ["POST"], "path": "/v1/exports/{id}"}))
        .unwrap();
    let l = line("POST", "/v1/exports/e_1");
    assert!(b[0].covers(Target::Rule("bulk-export"), &[], &l));
    assert!(!b[0].covers(Target::Rule("other"), &[], &l));
    assert!(!b[0].covers(Target::Route("exports"), &[], &l));
}

#[test]
fn a_grant_by_scopes_covers_requirements_its_privileges_hold() {
    let b = one(json!({"privileges": ["exports:run"]})).unwrap();
    let l = line("POST", "/v1/exports/e_1");
    assert!(b[0].covers(Target::Rule("bulk-export"), &scopes(&["exports:run"]), &l));
    assert!(!b[0].covers(
        Target::Rule("bulk-export"),
        &scopes(&["payments:refund"]),
        &l
    ));
}

#[test]
fn a_grpc_binding_matches_the_method_whatever_its_case() {
    let b = one(json!({"route": "cards-grpc", "grpc": "payments.v1.Cards/GetCard"})).unwrap();
    let t = Target::Route("cards-grpc");
    assert!(b[0].covers(
        t,
        &[],
        &RequestLine::new("POST", "/payments.v1.Cards/GetCard", true)
    ));
    assert!(b[0].covers(
        t,
        &[],
        &RequestLine::new("POST", "/payments.v1.cards/getcard", true)
    ));
    assert!(!b[0].covers(
        t,
        &[],
        &RequestLine::new("POST", "/payments.v1.Cards/ListCards", true)
    ));
}

#[test]
fn entries_that_cannot_be_read_refuse_the_grant_and_other_types_are_ignored() {
    for bad in [
        json!({"route": "r", "path": "/x", "extra": 1}),
        json!({"route": "r", "grpc": "a.B/C", "path": "/x"}),
        json!({"route": "r", "methods": ["post"], "path": "/x"}),
        json!({"route": "r", "path": "no-slash"}),
        json!({"route": "r", "grpc": "nomethod"}),
    ] {
        assert!(one(bad.clone()).is_none(), "{bad}");
    }
    assert!(parse(Some(&json!("x"))).is_none());
    assert!(parse(None).is_none());
    let other = parse(Some(&json!([{"type": "payment_initiation", "amount": 1}]))).unwrap();
    assert!(other.is_empty(), "no entry of ours: covers nothing");
    let many: Vec<Value> = (0..=MAX_ENTRIES)
        .map(|_| json!({"type": OPERATION_TYPE}))
        .collect();
    assert!(parse(Some(&Value::Array(many))).is_none());
}
