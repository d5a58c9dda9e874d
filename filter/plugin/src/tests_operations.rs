//! Request bodies read for operations, and event streams masked event by event, driven
//! callback by callback through the fake host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::fake::{Envoy, Reply};
use super::host::Action;
use serde_json::json;
use std::path::PathBuf;

fn agents() -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/policies/agents.json"),
    )
    .unwrap()
}

fn token(claims: serde_json::Value) -> String {
    let now = 1_800_000_000u64;
    let mut c = json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                       "iat": now - 10, "exp": now + 600, "scope": "mcp:use"});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    pci_guard_testkit::mint_as("rsa1", &c)
}

fn post(path: &str, t: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "POST".to_string()),
        (":path", path.to_string()),
        (":authority", "mcp.test".to_string()),
        ("content-type", "application/json".to_string()),
        ("authorization", format!("Bearer {t}")),
    ]
}

fn call(id: u32, tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"account":"a_1"}}}}}}"#
    )
}

#[test]
fn a_tool_call_is_held_until_its_body_ends_then_passes_unchanged() {
    let mut envoy = Envoy::start(&agents());
    let (id, action) = envoy.request(&post("/mcp", &token(json!({}))));
    assert_eq!(
        action,
        Action::Continue,
        "the headers go on, the body is held"
    );
    let h = envoy.host.stream(id).request_headers.clone();
    assert!(
        !h.iter().any(|(n, _)| n == "authorization"),
        "edited before they went: the token is stripped"
    );
    assert!(h
        .iter()
        .any(|(n, v)| n == "x-pci-subject" && v == "agent-7"));
    let body = call(1, "get_balance");
    let (a, b) = body.split_at(30);
    assert_eq!(envoy.request_body(id, a.as_bytes(), false), Action::Pause);
    assert!(
        envoy.host.stream(id).request_sent.is_empty(),
        "nothing upstream yet"
    );
    assert_eq!(envoy.request_body(id, b.as_bytes(), true), Action::Continue);
    let s = envoy.host.stream(id);
    assert_eq!(
        s.request_sent,
        body.as_bytes(),
        "the body goes on as it came"
    );
    assert!(s.reply.is_none());
    drop(s);
    let e = envoy.log(id);
    assert_eq!(e["decision"]["result"], "allow");
    assert_eq!(e["request"]["operation"]["calls"][0]["tool"], "get_balance");
    envoy.tick();
    let count = |name: &str| {
        envoy
            .host
            .0
            .borrow()
            .counters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    assert_eq!(count("pci_guard.operations.jsonrpc.allow"), Some(1));
    assert_eq!(count("pci_guard.operations.jsonrpc.calls"), Some(1));
    assert_eq!(count("pci_guard.operations.graphql.deny"), Some(0));
}

#[test]
fn a_denied_tool_is_answered_in_json_rpc_and_never_goes_upstream() {
    let mut envoy = Envoy::start(&agents());
    let (id, _) = envoy.request(&post("/mcp", &token(json!({}))));
    assert_eq!(
        envoy.request_body(id, call(7, "delete_account").as_bytes(), true),
        Action::Pause
    );
    let s = envoy.host.stream(id);
    assert!(s.request_sent.is_empty());
    let Some(Reply::Http { status, body, .. }) = s.reply.clone() else {
        panic!("{:?}", s.reply)
    };
    assert_eq!(status, 403);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["id"], 7);
    assert_eq!(v["error"]["data"]["rule"], "no-account-delete");
}

#[test]
fn a_body_past_the_limit_is_refused_at_once_and_trailers_end_a_body() {
    let mut envoy = Envoy::start(&agents());
    let (id, _) = envoy.request(&post("/mcp", &token(json!({}))));
    let big = vec![b' '; 70_000];
    assert_eq!(envoy.request_body(id, &big, false), Action::Pause);
    assert!(
        matches!(
            envoy.host.stream(id).reply,
            Some(Reply::Http { status: 413, .. })
        ),
        "refused without waiting for the end"
    );
    assert_eq!(envoy.log(id)["decision"]["reason"], "body_too_large");

    let (id, _) = envoy.request(&post("/mcp", &token(json!({}))));
    assert_eq!(
        envoy.request_body(id, call(1, "get_balance").as_bytes(), false),
        Action::Pause
    );
    envoy.host.world().current = id;
    let action = envoy.trailers_request(id);
    assert_eq!(
        action,
        Action::Continue,
        "trailers end the body: judged, allowed"
    );
}

#[test]
fn requests_that_need_no_body_are_judged_on_their_headers() {
    let mut envoy = Envoy::start(&agents());
    let t = token(json!({}));
    let mut h = post("/mcp", &t);
    h[0].1 = "GET".into();
    let (id, action) = envoy.request(&h);
    assert_eq!(
        action,
        Action::Continue,
        "the event stream: a path-only route"
    );
    // A body on a request already decided passes without being read.
    assert_eq!(envoy.request_body(id, b"ignored", true), Action::Continue);
    assert_eq!(envoy.host.world().host_calls.get("request_body"), None);
    // A POST whose headers end the stream is judged at once: an empty body has no call.
    let (id, action) = envoy.request_eos(&post("/mcp", &t), true);
    assert_eq!(action, Action::Pause);
    assert_eq!(envoy.log(id)["decision"]["reason"], "no_route");
}

const SSE: &[(&str, &str)] = &[(":status", "200"), ("content-type", "text/event-stream")];

#[test]
fn each_event_goes_out_masked_with_the_chunk_that_completes_it() {
    let mut envoy = Envoy::start(&agents());
    let (id, _) = envoy.request(&post("/mcp", &token(json!({}))));
    assert_eq!(
        envoy.request_body(id, call(1, "get_card").as_bytes(), true),
        Action::Continue
    );
    assert_eq!(envoy.response_headers(id, SSE, false), Action::Continue);
    // Event 1 ends in this chunk, right after a card number; event 2 begins with digits that
    // may still become one.
    let e1 = "event: message\ndata: {\"card\":\"4111111111111111\"}\n\n";
    let chunk1 = format!("{e1}data: {{\"n\":\"4111 1111");
    assert_eq!(envoy.body(id, chunk1.as_bytes(), false), Action::Continue);
    let sent = String::from_utf8(envoy.host.stream(id).sent.clone()).unwrap();
    assert!(
        sent.starts_with("event: message\ndata: {\"card\":\"************1111\"}\n\n"),
        "event 1 went out whole and masked: {sent:?}"
    );
    assert!(
        !sent.contains("4111 1111"),
        "event 2's digits are still held"
    );
    assert_eq!(
        envoy.body(id, b" 1111 1111\"}\r\n\r\n", false),
        Action::Continue
    );
    let sent = String::from_utf8(envoy.host.stream(id).sent.clone()).unwrap();
    assert!(
        sent.ends_with("data: {\"n\":\"**** **** **** 1111\"}\r\n\r\n"),
        "{sent:?}"
    );
    assert_eq!(envoy.body(id, b"", true), Action::Continue);
    assert_eq!(envoy.log(id)["redaction"]["pan"], 2);
}

#[test]
fn event_ends_are_found_across_chunks_and_line_endings() {
    use super::body::EventEnds;
    let ends = |chunks: &[&str]| -> Vec<Option<usize>> {
        let mut e = EventEnds::default();
        chunks.iter().map(|c| e.last_end(c.as_bytes())).collect()
    };
    assert_eq!(ends(&["a\n\nb"]), [Some(3)]);
    assert_eq!(ends(&["a\r\n\r\nb\n"]), [Some(5)]);
    assert_eq!(ends(&["a\r\rb"]), [Some(3)]);
    assert_eq!(ends(&["a\n", "\nb"]), [None, Some(1)]);
    assert_eq!(ends(&["a\r\n", "\r\n"]), [None, Some(2)]);
    assert_eq!(
        ends(&["a\nb\nc"]),
        [None],
        "one line ending is no event end"
    );
    assert_eq!(
        ends(&["a\n\nb\n\nc"]),
        [Some(6)],
        "the last end in the chunk"
    );
}

/// A body-reading request that arrives in a VM's first second, before its start record is out,
/// waits with its headers held (Envoy holds the body with them). When the wait ends and the
/// route needs the body, the headers must go on so that Envoy hands the filter the body;
/// otherwise the request hangs until Envoy's timeout (seen with a config whose self-request
/// listener is missing, where every wait runs to its deadline).
#[test]
fn a_tool_call_that_waited_for_the_start_record_is_then_read_and_judged() {
    use super::fake::FakeHost;
    use super::keys::SharedDataLease;
    use super::root::Root;
    use super::vm_audit::{VmAudit, START_WAIT_MS};
    use std::cell::RefCell;
    use std::rc::Rc;

    let host = FakeHost::default();
    host.world().now_ms = 1_800_000_000_000;
    host.world().config = Some(agents());
    let audit = Rc::new(RefCell::new(VmAudit::new(1_800_000_000_000)));
    let share = Rc::new(SharedDataLease::new(host.clone()));
    let mut root = Root::new(host.clone(), share, audit);
    assert!(root.on_vm_start() && root.on_configure());
    host.stream(7).request_headers = post("/mcp", &token(json!({})))
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    host.world().current = 7;
    let mut s = root.create_stream(7);
    assert_eq!(
        s.on_request_headers(false),
        Action::Pause,
        "it waits for the start"
    );
    host.advance(START_WAIT_MS);
    host.world().calls.clear(); // the self-request never answers
    host.world().current = 0;
    root.on_tick();
    assert!(
        host.stream(7).resumed,
        "the headers go on once the wait is over, so that Envoy delivers the body"
    );
    let body = call(3, "delete_account");
    host.stream(7)
        .request_buffered
        .extend_from_slice(body.as_bytes());
    host.world().current = 7;
    assert_eq!(s.on_request_body(body.len(), true), Action::Pause);
    let st = host.stream(7);
    assert!(st.request_sent.is_empty(), "the body never went upstream");
    assert!(
        matches!(&st.reply, Some(Reply::Http { status: 403, .. })),
        "judged on its body: {:?}",
        st.reply
    );
}
