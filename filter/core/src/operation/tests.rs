//! The body readers as decision tables: what each body is read as, or why it is refused.

use super::*;

fn rpc(body: &str) -> Result<Operations, OpError> {
    parse(Protocol::JsonRpc, Some("application/json"), body.as_bytes())
}

fn gql(body: &str) -> Result<Operations, OpError> {
    parse(Protocol::GraphQl, Some("application/json"), body.as_bytes())
}

fn call(method: Option<&str>, tool: Option<&str>, id: Option<RpcId>) -> Call {
    Call::JsonRpc(RpcCall {
        method: method.map(str::to_string),
        tool: tool.map(str::to_string),
        id,
    })
}

fn num(n: &str) -> Option<RpcId> {
    Some(RpcId::Number(n.to_string()))
}

#[test]
fn jsonrpc_bodies_are_read_as_calls_or_refused() {
    use OpError::*;
    let table: &[(&str, Result<Vec<Call>, OpError>)] = &[
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund_payment","arguments":{"id":"p_1"}}}"#,
            Ok(vec![call(
                Some("tools/call"),
                Some("refund_payment"),
                num("1"),
            )]),
        ),
        (
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#,
            Ok(vec![call(
                Some("tools/list"),
                None,
                Some(RpcId::Str("a".into())),
            )]),
        ),
        // A notification: no id.
        (
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            Ok(vec![call(Some("notifications/initialized"), None, None)]),
        ),
        // A null id is kept as null, not taken for a notification.
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            Ok(vec![call(Some("ping"), None, Some(RpcId::Null))]),
        ),
        // The client answering a server's request.
        (
            r#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
            Ok(vec![call(None, None, num("7"))]),
        ),
        // Positional params are skipped; escapes in keys and values are decoded.
        (
            r#"{"jsonrpc":"2.0","id":2,"me\u0074hod":"prompts/get","params":[1,2]}"#,
            Ok(vec![call(Some("prompts/get"), None, num("2"))]),
        ),
        (r#"{"jsonrpc":"2.0","id":1}"#, Err(Malformed)),
        (r#"{"id":1,"method":"tools/list"}"#, Err(Malformed)),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            Err(Malformed),
        ),
        // Read two ways by two servers: refused.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"x"}}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get","name":"refund"}}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get","NAME":"refund"}}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"x","result":1}"#,
            Err(Malformed),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"x"} trailing"#,
            Err(Malformed),
        ),
        (r#"{"jsonrpc":"2.0","id":1,"method":"x""#, Err(Malformed)),
        ("[]", Err(Malformed)),
        ("\"tools/call\"", Err(Malformed)),
        ("", Err(Malformed)),
    ];
    for (body, want) in table {
        let got = rpc(body).map(|o| o.calls);
        assert_eq!(&got, want, "{body}");
    }
}

#[test]
fn a_jsonrpc_batch_is_every_call_in_order() {
    let ops = rpc(
        r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balance"}},
            {"jsonrpc":"2.0","method":"notifications/progress"},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refund_payment"}}]"#,
    )
    .unwrap();
    assert!(ops.batch);
    assert_eq!(
        ops.calls,
        vec![
            call(Some("tools/call"), Some("get_balance"), num("1")),
            call(Some("notifications/progress"), None, None),
            call(Some("tools/call"), Some("refund_payment"), num("2")),
        ]
    );
    // One bad message spoils the batch.
    assert_eq!(
        rpc(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 3]"#),
        Err(OpError::Malformed)
    );
}

#[test]
fn operations_are_only_read_from_their_content_types() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
    ] {
        assert_eq!(
            parse(Protocol::JsonRpc, ct, body),
            Err(OpError::ContentType),
            "{ct:?}"
        );
    }
    for ct in ["application/json", "Application/JSON; charset=UTF-8"] {
        assert!(parse(Protocol::JsonRpc, Some(ct), body).is_ok(), "{ct}");
    }
    assert_eq!(
        parse(Protocol::JsonRpc, Some("application/graphql"), b"{ a }"),
        Err(OpError::ContentType)
    );
}

fn op(kind: OpKind, name: Option<&str>, fields: &[&str]) -> Call {
    Call::GraphQl(GqlOperation {
        kind: Some(kind),
        name: name.map(str::to_string),
        fields: Some(fields.iter().map(|f| f.to_string()).collect()),
        hash: None,
    })
}

#[test]
fn graphql_requests_are_read_as_the_operation_that_runs() {
    use OpError::*;
    use OpKind::*;
    let table: &[(&str, Result<Call, OpError>)] = &[
        (
            r#"{"query":"{ payments { id } }"}"#,
            Ok(op(Query, None, &["payments"])),
        ),
        (
            r#"{"query":"mutation Refund($id: ID!) { refundPayment(id: $id) { id } }","variables":{"id":"p_1"}}"#,
            Ok(op(Mutation, Some("Refund"), &["refundPayment"])),
        ),
        // Aliases name the answer, not the field.
        (
            r#"{"query":"mutation { harmless: refundPayment(id: 1) { id } }"}"#,
            Ok(op(Mutation, None, &["refundPayment"])),
        ),
        // Fragments spread at the root, inline fragments, nested spreads, __typename.
        (
            r#"{"query":"query Q { __typename ...A ... on Query { c } ... @include(if: true) { d } } fragment A on Query { a ...B } fragment B on Query { b a }"}"#,
            Ok(op(Query, Some("Q"), &["a", "b", "c", "d"])),
        ),
        // A spread below the root does not make a root field.
        (
            r#"{"query":"{ payments { ...P } } fragment P on Payment { refund }"}"#,
            Ok(op(Query, None, &["payments"])),
        ),
        // operationName picks one of several.
        (
            r#"{"query":"query A { a } mutation B { refundPayment }","operationName":"B"}"#,
            Ok(op(Mutation, Some("B"), &["refundPayment"])),
        ),
        (
            r#"{"query":"query A { a } mutation B { refundPayment }"}"#,
            Err(Ambiguous),
        ),
        (
            r#"{"query":"query A { a } mutation B { refundPayment }","operationName":null}"#,
            Err(Ambiguous),
        ),
        (
            r#"{"query":"query A { a } mutation B { b }","operationName":"C"}"#,
            Err(Malformed),
        ),
        // Strings, block strings and comments hide nothing.
        (
            r##"{"query":"# mutation { x }\n{ a(s: \"} mutation {\", b: \"\"\"{\"\"\") }"}"##,
            Ok(op(Query, None, &["a"])),
        ),
        (
            r#"{"query":"subscription { paid }"}"#,
            Ok(op(Subscription, None, &["paid"])),
        ),
        // What a server refuses.
        (r#"{"query":"{ a } { b }"}"#, Err(Malformed)),
        (r#"{"query":"{ a } query { b }"}"#, Err(Malformed)),
        (
            r#"{"query":"query A { a } query A { b }","operationName":"A"}"#,
            Err(Malformed),
        ),
        (r#"{"query":"{ ...X }"}"#, Err(Malformed)),
        (
            r#"{"query":"{ ...X } fragment X on Q { ...X }"}"#,
            Err(Malformed),
        ),
        (r#"{"query":"{ }"}"#, Err(Malformed)),
        (r#"{"query":"{ a(x: [1, 2) }"}"#, Err(Malformed)),
        (r#"{"query":"type Query { a: Int }"}"#, Err(Malformed)),
        (r#"{"query":"{ a "}"#, Err(Malformed)),
        (
            r#"{"query":"{ a }","query":"mutation { b }"}"#,
            Err(Malformed),
        ),
        (r#"{"query":"{ a }","OperationName":"x"}"#, Err(Malformed)),
        (r#"{"variables":{}}"#, Err(Malformed)),
    ];
    for (body, want) in table {
        let got = gql(body).map(|mut o| o.calls.remove(0));
        assert_eq!(&got, want, "{body}");
    }
}

#[test]
fn deep_inline_fragments_and_fragment_bombs_are_refused_not_followed() {
    let deep = format!("{{ {} a {} }}", "... { ".repeat(64), "} ".repeat(64));
    let body = serde_json::json!({ "query": deep }).to_string();
    assert_eq!(gql(&body), Err(OpError::Malformed));
    // Each fragment spreads the next twice: 2^20 expansions if followed naively.
    let mut doc = String::from("{ ...F0 }");
    for i in 0..20 {
        doc.push_str(&format!(
            " fragment F{i} on Q {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    doc.push_str(" fragment F20 on Q { a }");
    let body = serde_json::json!({ "query": doc }).to_string();
    assert_eq!(gql(&body), Err(OpError::Malformed));
}

#[test]
fn persisted_queries_are_known_by_their_hash_which_must_be_the_documents() {
    let q = "mutation { refundPayment }";
    let h = crate::digest::sha256(q.as_bytes());
    let h = h.strip_prefix("sha256:").unwrap();
    let ext = |h: &str| format!(r#"{{"persistedQuery":{{"version":1,"sha256Hash":"{h}"}}}}"#);
    let only_hash = gql(&format!(r#"{{"extensions":{}}}"#, ext(h))).unwrap();
    assert_eq!(
        only_hash.calls,
        vec![Call::GraphQl(GqlOperation {
            kind: None,
            name: None,
            fields: None,
            hash: Some(h.to_string()),
        })]
    );
    let both = gql(&format!(
        r#"{{"query":"{q}","extensions":{}}}"#,
        ext(&h.to_uppercase())
    ));
    assert!(
        matches!(&both.unwrap().calls[0], Call::GraphQl(g) if g.kind == Some(OpKind::Mutation))
    );
    let other = "0".repeat(64);
    assert_eq!(
        gql(&format!(
            r#"{{"query":"{q}","extensions":{}}}"#,
            ext(&other)
        )),
        Err(OpError::Malformed),
        "a hash that is not the document's"
    );
    assert_eq!(
        gql(&format!(r#"{{"extensions":{}}}"#, ext("abc"))),
        Err(OpError::Malformed)
    );
}

#[test]
fn graphql_comes_batched_as_a_document_or_in_a_query_string() {
    let ops = gql(r#"[{"query":"{ a }"},{"query":"mutation { b }"}]"#).unwrap();
    assert!(ops.batch);
    assert_eq!(ops.calls.len(), 2);
    let doc = parse(
        Protocol::GraphQl,
        Some("application/graphql"),
        b"mutation M { b }",
    )
    .unwrap();
    assert_eq!(doc.calls, vec![op(OpKind::Mutation, Some("M"), &["b"])]);
    let get =
        parse_graphql_query("query=mutation%20M%7B%20refund%20%7D&operationName=M&x=1").unwrap();
    assert_eq!(
        get.calls,
        vec![op(OpKind::Mutation, Some("M"), &["refund"])]
    );
    assert_eq!(
        parse_graphql_query("query=%7Ba%7D&query=mutation%7Bb%7D"),
        Err(OpError::Malformed)
    );
    assert_eq!(parse_graphql_query("x=1"), Err(OpError::Malformed));
}

#[test]
fn a_form_that_names_a_method_is_found_in_either_encoding() {
    use form::{kind, names_a_method, FormKind};
    assert_eq!(
        kind(Some("application/x-www-form-urlencoded; charset=utf-8")),
        Some(FormKind::UrlEncoded)
    );
    assert_eq!(
        kind(Some("Multipart/Form-Data; boundary=x")),
        Some(FormKind::Multipart)
    );
    assert_eq!(kind(Some("application/json")), None);
    let url = |b: &str| names_a_method(FormKind::UrlEncoded, b.as_bytes(), "_method");
    assert!(url("a=1&_method=DELETE"));
    assert!(url("_METHOD=delete"));
    assert!(url("a=1&%5Fmethod=DELETE"));
    assert!(url("a=1;_method=DELETE"));
    assert!(!url("a=1&x_method=DELETE&method=DELETE"));
    let mp = |b: &str| names_a_method(FormKind::Multipart, b.as_bytes(), "_method");
    let form = "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x\r\ncontent-disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--x--\r\n";
    assert!(mp(form));
    assert!(mp(
        "--x\r\nCONTENT-DISPOSITION: form-data; name=_METHOD\r\n\r\nDELETE\r\n--x--"
    ));
    assert!(!mp(
        "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n_method\r\n--x--"
    ));
}
