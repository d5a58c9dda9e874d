//! Operations in the request entries, as decision tables: which requests are asked for their
//! body, and what each JSON-RPC call, batch, GraphQL operation and form is answered.

use super::*;

fn agents() -> Policy {
    Policy::parse(&std::fs::read(root().join("testdata/policies/agents.json")).unwrap()).unwrap()
}

fn bearer(claims: serde_json::Value) -> String {
    let now = NOW_MS / 1000;
    let mut c = json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                       "iat": now, "exp": now + 600});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    pci_guard_testkit::mint_as("rsa1", &c)
}

fn post(path: &str, ct: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut h = headers("POST", path, token);
    h.push(("content-type".into(), ct.into()));
    h
}

fn req(h: &[(String, String)]) -> Request<'_, [(String, String)]> {
    Request {
        headers: h,
        route_name: None,
        route_metadata: None,
        source_address: None,
        source_principal: None,
        started_ms: NOW_MS,
    }
}

/// Judges the headers, then (if asked) the body, as a host does.
fn run(p: &Policy, h: &[(String, String)], body: &[u8]) -> Verdict {
    let mut keyring = Keyring::new(&p.providers, NOW_MS);
    fn state<'a>(policy: &'a Policy, keyring: &'a mut Keyring) -> State<'a> {
        State {
            policy,
            keyring,
            crypto: &PureVerifier,
            grants: None,
        }
    }
    match request(Some(state(p, &mut keyring)), &req(h), NOW_MS, false) {
        Judged::ReadBody { limit, .. } => {
            let b = Body {
                bytes: &body[..body.len().min(limit)],
                over_limit: body.len() > limit,
            };
            done(request_body(
                Some(state(p, &mut keyring)),
                &req(h),
                b,
                NOW_MS,
                false,
            ))
        }
        other => {
            assert!(body.is_empty(), "the body was not asked for");
            done(other)
        }
    }
}

fn asks_for_body(p: &Policy, h: &[(String, String)]) -> bool {
    let mut keyring = Keyring::new(&p.providers, NOW_MS);
    let state = State {
        policy: p,
        keyring: &mut keyring,
        crypto: &PureVerifier,
        grants: None,
    };
    matches!(
        request(Some(state), &req(h), NOW_MS, false),
        Judged::ReadBody { limit: 65536, .. }
    )
}

fn status_and_body(v: &Verdict) -> (u16, serde_json::Value) {
    match &v.reply {
        Some(Answer::Http { status, body, .. }) => {
            (*status, serde_json::from_slice(body).unwrap_or_default())
        }
        other => panic!("{other:?}"),
    }
}

fn reply_header<'a>(v: &'a Verdict, name: &str) -> Option<&'a str> {
    match &v.reply {
        Some(Answer::Http { headers, .. }) => headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str()),
        _ => None,
    }
}

fn tool(id: u32, name: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#
    )
}

#[test]
fn the_body_is_asked_for_only_where_the_decision_depends_on_it() {
    let p = agents();
    let t = bearer(json!({"scope": "mcp:use"}));
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    let table: &[(&str, &str, &str, bool)] = &[
        ("POST", "/mcp", json, true), // a route with a JSON-RPC matcher
        ("GET", "/mcp", json, false), // the SSE stream: the path-only route decides
        // Rules on tools name no method: a body could carry a call (an empty one has none).
        ("DELETE", "/mcp", json, true),
        ("POST", "/graphql", json, true),      // a GraphQL matcher
        ("GET", "/graphql", json, false),      // its operation is in the query string
        ("POST", "/rpc-plain", json, false),   // a path-only route: JSON is never read
        ("POST", "/v1/forms/f_1", form, true), // a form where a route decides on the method
        (
            "POST",
            "/v1/forms/f_1",
            "multipart/form-data; boundary=x",
            true,
        ),
        ("POST", "/v1/uploads", form, false), // a form where nothing decides on the method
        ("PUT", "/v1/forms/f_1", form, false), // overrides ride on POST
        ("POST", "/v1/forms/f_1", json, false),
    ];
    for (method, path, ct, want) in table {
        let mut h = headers(method, path, Some(&t));
        h.push(("content-type".into(), ct.to_string()));
        assert_eq!(asks_for_body(&p, &h), *want, "{method} {path} {ct}");
    }
}

#[test]
fn mcp_tool_calls_are_allowed_denied_or_held_for_approval_by_name() {
    let p = agents();
    let plain = bearer(json!({"scope": "mcp:use"}));
    let now = NOW_MS / 1000;
    let grant = json!({"id": "AR-7", "scopes": ["payments:refund"], "approved_by": ["alice"],
                       "nbf": now - 60, "exp": now + 600});
    let granted = bearer(json!({"scope": "mcp:use", "jit": grant}));
    let no_scope = bearer(json!({"scope": "other"}));
    struct Case<'a> {
        token: &'a str,
        body: String,
        status: u16,
        reason: Reason,
        rule: Option<&'a str>,
    }
    let cases = [
        Case {
            token: &plain,
            body: tool(1, "get_balance"),
            status: 0,
            reason: Reason::Ok,
            rule: None,
        },
        Case {
            token: &plain,
            body: tool(2, "delete_account"),
            status: 403,
            reason: Reason::RuleDenied,
            rule: Some("no-account-delete"),
        },
        Case {
            token: &plain,
            body: tool(3, "refund_payment"),
            status: 403,
            reason: Reason::ApprovalRequired,
            rule: Some("refund-approval"),
        },
        Case {
            token: &granted,
            body: tool(4, "refund_payment"),
            status: 0,
            reason: Reason::Ok,
            rule: None,
        },
        Case {
            token: &no_scope,
            body: tool(5, "get_balance"),
            status: 403,
            reason: Reason::ScopeMissing,
            rule: None,
        },
        // Dry-run rule: recorded, not enforced.
        Case {
            token: &plain,
            body: tool(6, "export_ledger"),
            status: 0,
            reason: Reason::RuleDenied,
            rule: Some("watch-exports"),
        },
        Case {
            token: &plain,
            body: r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            status: 0,
            reason: Reason::Ok,
            rule: None,
        },
        Case {
            token: &plain,
            body: r#"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"#.into(),
            status: 0,
            reason: Reason::Ok,
            rule: None,
        },
    ];
    for c in &cases {
        let v = run(
            &p,
            &post("/mcp", "application/json", Some(c.token)),
            c.body.as_bytes(),
        );
        let d = v.event.decision.as_ref().unwrap();
        assert_eq!(d.reason, c.reason, "{}", c.body);
        assert_eq!(d.rule.as_deref(), c.rule, "{}", c.body);
        assert_eq!(v.event.request.route.as_deref(), Some("mcp"), "{}", c.body);
        let op = v
            .event
            .request
            .operation
            .as_ref()
            .expect("the operation is recorded");
        assert_eq!(op.protocol, crate::operation::Protocol::JsonRpc);
        if c.status == 0 {
            assert!(!v.blocks(), "{}", c.body);
            continue;
        }
        let (status, body) = status_and_body(&v);
        assert_eq!(status, c.status, "{}", c.body);
        let id: serde_json::Value =
            serde_json::from_str::<serde_json::Value>(&c.body).unwrap()["id"].clone();
        assert_eq!(body["id"], id, "the error answers the request's id");
        assert_eq!(body["error"]["data"]["reason"], c.reason.as_str());
    }
    // What the approval-required answer tells the agent.
    let v = run(
        &p,
        &post("/mcp", "application/json", Some(&plain)),
        tool(3, "refund_payment").as_bytes(),
    );
    let (_, body) = status_and_body(&v);
    let hint = &body["error"]["data"]["access_request"];
    assert_eq!(hint["scopes"], json!(["payments:refund"]));
    assert_eq!(hint["rule"], "refund-approval");
    assert_eq!(hint["max_ttl_seconds"], 900);
    let www = reply_header(&v, "www-authenticate").unwrap();
    assert!(
        www.contains(r#"error="insufficient_scope", scope="payments:refund""#),
        "{www}"
    );
    assert!(
        www.contains(
            r#"resource_metadata="https://payments.test/.well-known/oauth-protected-resource/mcp""#
        ),
        "{www}"
    );
    // The granted call records its grant.
    let v = run(
        &p,
        &post("/mcp", "application/json", Some(&granted)),
        tool(4, "refund_payment").as_bytes(),
    );
    assert_eq!(v.event.jit.as_ref().map(|j| j.id.as_str()), Some("AR-7"));
}

#[test]
fn a_batch_passes_only_if_every_call_does_and_each_denied_call_is_answered() {
    let p = agents();
    let t = bearer(json!({"scope": "mcp:use"}));
    let ok = format!("[{},{}]", tool(1, "get_balance"), tool(2, "list_cards"));
    let v = run(
        &p,
        &post("/mcp", "application/json", Some(&t)),
        ok.as_bytes(),
    );
    assert!(!v.blocks());
    assert_eq!(v.event.request.operation.as_ref().unwrap().calls.len(), 2);

    let mixed = format!(
        r#"[{},{{"jsonrpc":"2.0","method":"notifications/progress"}},{}]"#,
        tool(1, "get_balance"),
        tool(2, "delete_account")
    );
    let v = run(
        &p,
        &post("/mcp", "application/json", Some(&t)),
        mixed.as_bytes(),
    );
    assert_eq!(v.decision.reason, Reason::OperationBatchDenied);
    let (status, body) = status_and_body(&v);
    assert_eq!(status, 403);
    let arr = body.as_array().unwrap();
    assert_eq!(arr.len(), 2, "one answer per call with an id: {body}");
    assert_eq!(arr[0]["id"], 1);
    assert_eq!(arr[0]["error"]["data"]["reason"], "operation_batch_denied");
    assert_eq!(arr[1]["id"], 2);
    assert_eq!(arr[1]["error"]["data"]["reason"], "rule_denied");
    let calls = &v.event.request.operation.as_ref().unwrap().calls;
    assert_eq!(
        calls[2].reason,
        Some(Reason::RuleDenied),
        "each call's own outcome is recorded"
    );

    // Every call denied alike: the batch gets that reason (here: no token, 401).
    let v = run(&p, &post("/mcp", "application/json", None), ok.as_bytes());
    assert_eq!(v.decision.reason, Reason::TokenMissing);
    assert_eq!(status_and_body(&v).0, 401);
}

#[test]
fn bodies_that_cannot_be_read_are_refused_each_with_its_reason() {
    let p = agents();
    let t = bearer(json!({"scope": "mcp:use graphql:use"}));
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","pad":"{}"}}"#,
        "x".repeat(70_000)
    );
    let table: &[(&str, &str, &[u8], u16, Reason)] = &[
        (
            "/mcp",
            "application/json",
            b"{not json",
            400,
            Reason::OperationMalformed,
        ),
        (
            "/mcp",
            "application/json",
            br#"{"jsonrpc":"2.0","id":1,"method":"a","Method":"b"}"#,
            400,
            Reason::OperationMalformed,
        ),
        (
            "/mcp",
            "text/plain",
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            415,
            Reason::OperationContentType,
        ),
        (
            "/mcp",
            "application/json",
            big.as_bytes(),
            413,
            Reason::BodyTooLarge,
        ),
        (
            "/graphql",
            "application/json",
            br#"{"query":"query A { a } mutation B { b }"}"#,
            400,
            Reason::OperationAmbiguous,
        ),
    ];
    for (path, ct, body, status, reason) in table {
        let v = run(&p, &post(path, ct, Some(&t)), body);
        assert_eq!(v.decision.reason, *reason, "{path} {ct}");
        assert_eq!(status_and_body(&v).0, *status, "{path} {ct}");
        assert!(
            v.event.identity.is_none(),
            "refused before any token was read"
        );
    }
    // A malformed JSON-RPC body gets a JSON-RPC error (id null: none could be read).
    let v = run(&p, &post("/mcp", "application/json", Some(&t)), b"[]");
    let (_, body) = status_and_body(&v);
    assert_eq!(body["id"], serde_json::Value::Null);
    assert_eq!(body["error"]["code"], -32600);
    // A declared length over the limit is refused before any byte is read.
    let mut h = post("/mcp", "application/json", Some(&t));
    h.push(("content-length".into(), "65537".into()));
    let v = done(judge(&p, &h, false));
    assert_eq!(v.decision.reason, Reason::BodyTooLarge);
}

#[test]
fn a_graphql_mutation_is_blocked_whatever_its_spelling_while_a_query_passes() {
    let p = agents();
    let t = bearer(json!({"scope": "graphql:use"}));
    let table: &[(&str, bool)] = &[
        (r#"{"query":"{ payments { id amount } }"}"#, true),
        (
            r#"{"query":"query Q { ...F } fragment F on Query { payments { id } }"}"#,
            true,
        ),
        (
            r#"{"query":"mutation { refundPayment(id: 1) { id } }"}"#,
            false,
        ),
        (
            r#"{"query":"mutation { payments: refundPayment(id: 1) { id } }"}"#,
            false,
        ),
        (
            r#"{"query":"query A { payments } mutation B { refundPayment }","operationName":"B"}"#,
            false,
        ),
        (
            r#"{"query":"query A { payments } mutation B { refundPayment }","operationName":"A"}"#,
            true,
        ),
        (
            r#"[{"query":"{ payments }"},{"query":"mutation { refundPayment }"}]"#,
            false,
        ),
    ];
    for (body, allowed) in table {
        let v = run(
            &p,
            &post("/graphql", "application/json", Some(&t)),
            body.as_bytes(),
        );
        assert_eq!(!v.blocks(), *allowed, "{body}");
        if !allowed {
            let (status, b) = status_and_body(&v);
            assert_eq!(status, 403);
            assert_eq!(b["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
        }
    }
    // A GET carries its operation in the query string: judged without a body.
    let h = headers(
        "GET",
        "/graphql?query=mutation%7BrefundPayment%7D",
        Some(&t),
    );
    let v = done(judge(&p, &h, false));
    assert_eq!(v.decision.reason, Reason::RuleDenied);
    let op = v.event.request.operation.as_ref().unwrap();
    assert_eq!(op.calls[0].kind, Some(crate::operation::OpKind::Mutation));
    assert_eq!(
        op.calls[0].fields.as_deref(),
        Some(&["refundPayment".to_string()][..])
    );
}

#[test]
fn a_form_that_names_another_method_is_refused_where_the_method_decides() {
    let p = agents();
    let form = "application/x-www-form-urlencoded";
    let v = run(
        &p,
        &post("/v1/forms/f_1", form, None),
        b"a=1&_method=DELETE",
    );
    assert_eq!(v.decision.reason, Reason::MethodOverride);
    assert_eq!(status_and_body(&v).0, 400);
    let mp = "multipart/form-data; boundary=x";
    let body =
        b"--x\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--x--\r\n";
    assert_eq!(
        run(&p, &post("/v1/forms/f_1", mp, None), body)
            .decision
            .reason,
        Reason::MethodOverride
    );
    // The same form without an override is judged as the POST it is.
    let v = run(&p, &post("/v1/forms/f_1", form, None), b"a=1&method=x");
    assert_eq!(v.decision.reason, Reason::Public);
}

#[test]
fn the_protected_resource_metadata_is_answered_from_the_policy() {
    let p = agents();
    for (path, resource) in [
        (
            "/.well-known/oauth-protected-resource/mcp",
            "https://payments.test/mcp",
        ),
        (
            "/.well-known/oauth-protected-resource",
            "https://payments.test",
        ),
    ] {
        let v = done(judge(&p, &headers("GET", path, None), false));
        let (status, doc) = status_and_body(&v);
        assert_eq!(status, 200, "{path}");
        assert_eq!(doc["resource"], resource);
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://idp.example.com"])
        );
        assert_eq!(doc["resource_name"], "Payments MCP");
        let scopes = doc["scopes_supported"].as_array().unwrap();
        for s in ["mcp:use", "graphql:use", "payments:refund"] {
            assert!(scopes.contains(&json!(s)), "{s} in {scopes:?}");
        }
        assert_eq!(v.decision.reason, Reason::ResourceMetadata);
    }
    // The scheme Envoy says the client used.
    let mut h = headers("GET", "/.well-known/oauth-protected-resource/mcp", None);
    h.push((":scheme".into(), "http".into()));
    let (_, doc) = status_and_body(&done(judge(&p, &h, false)));
    assert_eq!(doc["resource"], "http://payments.test/mcp");
    // A refused call names it.
    let v = run(
        &p,
        &post("/mcp", "application/json", None),
        tool(1, "get_balance").as_bytes(),
    );
    assert_eq!(
        reply_header(&v, "www-authenticate"),
        Some(
            r#"Bearer realm="pci-guard", resource_metadata="https://payments.test/.well-known/oauth-protected-resource/mcp""#
        )
    );
    // Without the section, the path is an ordinary one (no route: default deny).
    let v = done(judge(
        &payments(),
        &headers("GET", "/.well-known/oauth-protected-resource", None),
        false,
    ));
    assert_eq!(v.decision.reason, Reason::NoRoute);
}
