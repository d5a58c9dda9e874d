//! Local replies in every form.

use super::*;

fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
    let h = match a {
        Answer::Http { headers, .. } => headers,
        Answer::Grpc { metadata, .. } => metadata,
    };
    h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

#[test]
fn missing_token_gets_a_bare_bearer_challenge() {
    let a = answer(
        Reason::TokenMissing,
        Form::Http,
        &Context {
            realm: "payments",
            ..Default::default()
        },
    );
    assert!(matches!(a, Answer::Http { status: 401, .. }));
    assert_eq!(
        header(&a, "www-authenticate"),
        Some("Bearer realm=\"payments\"")
    );
}

#[test]
fn invalid_token_says_invalid_token_per_rfc6750() {
    let a = answer(
        Reason::TokenExpired,
        Form::Http,
        &Context {
            realm: "p",
            ..Default::default()
        },
    );
    assert_eq!(
            header(&a, "www-authenticate"),
            Some("Bearer realm=\"p\", error=\"invalid_token\", error_description=\"the token has expired\"")
        );
}

#[test]
fn forbidden_body_names_reason_rule_and_request_id() {
    let cx = Context {
        realm: "p",
        request_id: Some("r-1"),
        rule: Some("no-card-delete"),
        message: Some("Deleting cards is not allowed"),
        ..Default::default()
    };
    let Answer::Http { status, body, .. } = answer(Reason::RuleDenied, Form::Http, &cx) else {
        panic!()
    };
    assert_eq!(status, 403);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"], "rule_denied");
    assert_eq!(v["rule"], "no-card-delete");
    assert_eq!(v["request_id"], "r-1");
    assert_eq!(v["message"], "Deleting cards is not allowed");
}

#[test]
fn grpc_callers_get_envoy_mapped_status_codes() {
    let cx = Context::default();
    assert!(matches!(
        answer(Reason::TokenMissing, Form::Grpc, &cx),
        Answer::Grpc { status: 16, .. }
    ));
    assert!(matches!(
        answer(Reason::ScopeMissing, Form::Grpc, &cx),
        Answer::Grpc { status: 7, .. }
    ));
    assert!(matches!(
        answer(Reason::TokenBadAudience, Form::Grpc, &cx),
        Answer::Grpc { status: 7, .. }
    ));
}

fn body(a: &Answer) -> serde_json::Value {
    match a {
        Answer::Http { body, .. } => serde_json::from_slice(body).unwrap(),
        Answer::Grpc { .. } => panic!("not HTTP"),
    }
}

#[test]
fn challenges_name_the_resource_metadata_and_the_missing_scopes() {
    let scopes = vec!["payments:refund".to_string(), "mcp:use".to_string()];
    let url = "https://mcp.test/.well-known/oauth-protected-resource/mcp";
    let cx = Context {
        realm: "pci-guard",
        resource_metadata: Some(url),
        ..Default::default()
    };
    let a = answer(Reason::TokenMissing, Form::Http, &cx);
    assert_eq!(
        header(&a, "www-authenticate"),
        Some(format!("Bearer realm=\"pci-guard\", resource_metadata=\"{url}\"").as_str())
    );
    let cx = Context {
        needs_scopes: &scopes,
        ..cx
    };
    let a = answer(Reason::ScopeMissing, Form::Http, &cx);
    assert!(matches!(a, Answer::Http { status: 403, .. }));
    assert_eq!(
        header(&a, "www-authenticate"),
        Some(format!("Bearer realm=\"pci-guard\", error=\"insufficient_scope\", scope=\"payments:refund mcp:use\", resource_metadata=\"{url}\"").as_str())
    );
    // A denial that no scope can lift is no scope challenge.
    let a = answer(
        Reason::RuleDenied,
        Form::Http,
        &Context {
            needs_scopes: &[],
            ..cx
        },
    );
    assert_eq!(header(&a, "www-authenticate"), None);
}

#[test]
fn jsonrpc_callers_get_an_error_object_per_call_with_their_ids() {
    let (one, two) = (RpcId::Number("1".into()), RpcId::Str("b".into()));
    let scopes = vec!["payments:refund".to_string()];
    let hint = AccessRequest {
        scopes: &scopes,
        rule: Some("refund-approval"),
        route: Some("mcp"),
        max_ttl_seconds: 900,
        min_approvals: 1,
        url: None,
        body: None,
    };
    let cx = Context {
        realm: "pci-guard",
        request_id: Some("r-1"),
        needs_scopes: &scopes,
        access_request: Some(hint),
        ..Default::default()
    };
    let calls = [RpcDenial {
        id: Some(&one),
        reason: Reason::ApprovalRequired,
        rule: Some("refund-approval"),
        message: None,
    }];
    let a = answer(
        Reason::ApprovalRequired,
        Form::JsonRpc {
            calls: &calls,
            batch: false,
        },
        &cx,
    );
    assert!(matches!(a, Answer::Http { status: 403, .. }));
    let v = body(&a);
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], 1);
    assert_eq!(v["error"]["code"], -32003);
    assert_eq!(v["error"]["data"]["reason"], "approval_required");
    assert_eq!(v["error"]["data"]["rule"], "refund-approval");
    assert_eq!(v["error"]["data"]["required_scopes"][0], "payments:refund");
    assert_eq!(v["error"]["data"]["access_request"]["max_ttl_seconds"], 900);
    assert_eq!(v["error"]["data"]["request_id"], "r-1");

    // A batch: one answer per call with an id, each with its own reason; none for the
    // notification.
    let calls = [
        RpcDenial {
            id: Some(&one),
            reason: Reason::OperationBatchDenied,
            rule: None,
            message: None,
        },
        RpcDenial {
            id: None,
            reason: Reason::OperationBatchDenied,
            rule: None,
            message: None,
        },
        RpcDenial {
            id: Some(&two),
            reason: Reason::RuleDenied,
            rule: Some("no-delete"),
            message: Some("No."),
        },
    ];
    let a = answer(
        Reason::OperationBatchDenied,
        Form::JsonRpc {
            calls: &calls,
            batch: true,
        },
        &Context::default(),
    );
    let v = body(&a);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["id"], 1);
    assert_eq!(arr[0]["error"]["data"]["reason"], "operation_batch_denied");
    assert_eq!(arr[1]["id"], "b");
    assert_eq!(arr[1]["error"]["data"]["reason"], "rule_denied");
    assert_eq!(arr[1]["error"]["data"]["rule"], "no-delete");
    assert_eq!(arr[1]["error"]["message"], "No.");
}

#[test]
fn graphql_callers_get_an_errors_array() {
    let cx = Context {
        rule: Some("no-mutations"),
        request_id: Some("r-2"),
        ..Default::default()
    };
    let a = answer(Reason::RuleDenied, Form::GraphQl, &cx);
    assert!(matches!(a, Answer::Http { status: 403, .. }));
    let v = body(&a);
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(v["errors"][0]["extensions"]["reason"], "rule_denied");
    assert_eq!(v["errors"][0]["extensions"]["rule"], "no-mutations");
    assert!(v.get("data").is_none(), "nothing ran");
    let a = answer(Reason::BodyTooLarge, Form::GraphQl, &Context::default());
    assert!(matches!(a, Answer::Http { status: 413, .. }));
}
