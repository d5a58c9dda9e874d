//! The plugin driven callback by callback through the fake host: what Envoy would see.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::fake::{Envoy, Reply};
use super::host::Action;
use serde_json::json;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn payments() -> Vec<u8> {
    std::fs::read(root().join("testdata/policies/payments.json")).unwrap()
}

/// A corp-idp token (inline keys in payments.json) for `sub` with `scope`, valid around the
/// fake host's clock.
fn token(sub: &str, scope: &str) -> String {
    let now = 1_800_000_000u64;
    pci_guard_testkit::mint_as(
        "rsa1",
        &json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": sub,
                "iat": now - 10, "exp": now + 600, "scope": scope}),
    )
}

fn get(path: &str, token: Option<&str>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (":method", "GET".to_string()),
        (":path", path.to_string()),
        (":authority", "payments.test".to_string()),
        ("x-request-id", "req-1".to_string()),
    ];
    if let Some(t) = token {
        h.push(("authorization", format!("Bearer {t}")));
    }
    h
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn an_allowed_request_goes_upstream_with_identity_headers_and_without_its_token() {
    let mut envoy = Envoy::start(&payments());
    let t = token("agent-7", "cards:read");
    let mut h = get("/v1/cards/c_1", Some(&t));
    h.push(("x-pci-subject", "forged".into()));
    h.push(("range", "bytes=0-30".into()));
    let (id, action) = envoy.request(&h);
    assert_eq!(action, Action::Continue);
    let s = envoy.host.stream(id);
    assert!(s.reply.is_none());
    assert_eq!(header(&s.request_headers, "authorization"), None);
    assert_eq!(
        header(&s.request_headers, "range"),
        None,
        "scanned: whole bodies only"
    );
    assert_eq!(header(&s.request_headers, "x-pci-subject"), Some("agent-7"));
    assert_eq!(
        header(&s.request_headers, "accept-encoding"),
        Some("identity")
    );
}

#[test]
fn a_request_without_a_token_is_answered_401_and_its_event_says_why() {
    let mut envoy = Envoy::start(&payments());
    let (id, action) = envoy.request(&get("/v1/cards/c_1", None));
    assert_eq!(action, Action::Pause);
    let reply = envoy.host.stream(id).reply.clone();
    let Some(Reply::Http {
        status, headers, ..
    }) = reply
    else {
        panic!("no local reply: {reply:?}")
    };
    assert_eq!(status, 401);
    assert_eq!(
        header(&headers, "www-authenticate"),
        Some("Bearer realm=\"pci-guard\"")
    );
    let e = envoy.log(id);
    assert_eq!(e["decision"]["result"], "deny");
    assert_eq!(e["decision"]["reason"], "token_missing");
    assert_eq!(e["request"]["route"], "cards-read");
    assert_eq!(e["source"]["address"], "10.0.0.5:53211");
}

/// A token for rotating-idp (remote keys, `/rotating/jwks.json`), signed with rsa1.
fn rotating_token() -> String {
    token("agent-7", "cards:read")
}

fn rsa1_jwks() -> Vec<u8> {
    std::fs::read(root().join("testdata/keys/rsa1.jwks.json")).unwrap()
}

/// The token of the newest key fetch dispatched for `path`.
fn fetch_for(envoy: &Envoy, path: &str) -> u32 {
    let w = envoy.host.0.borrow();
    w.calls
        .iter()
        .rev()
        .find(|c| c.headers.iter().any(|(n, v)| n == ":path" && v == path))
        .map(|c| {
            assert_eq!(c.cluster, "idp_jwks", "the provider's cluster");
            c.token
        })
        .unwrap_or_else(|| panic!("no fetch of {path}: {:?}", w.calls))
}

#[test]
fn a_request_waits_for_first_keys_and_is_resumed_when_they_arrive() {
    let mut envoy = Envoy::start(&payments());
    let t = rotating_token();
    let (id, action) = envoy.request(&get("/v2/cards/c_1", Some(&t)));
    assert_eq!(action, Action::Pause, "waits: rotating-idp has no keys yet");
    assert!(envoy.host.stream(id).reply.is_none());
    let call = fetch_for(&envoy, "/rotating/jwks.json");
    envoy.answer_call(call, "200", &rsa1_jwks());
    let s = envoy.host.stream(id);
    assert!(s.resumed, "resumed when the keys arrived");
    assert!(s.reply.is_none());
    drop(s);
    let e = envoy.log(id);
    assert_eq!(e["decision"]["result"], "allow");
}

#[test]
fn a_wait_for_keys_ends_in_a_401_when_they_do_not_come_in_time() {
    let mut envoy = Envoy::start(&payments());
    let (id, action) = envoy.request(&get("/v2/cards/c_1", Some(&rotating_token())));
    assert_eq!(action, Action::Pause);
    // rotating-idp's fetch timeout is 1 s: the wait ends 2 × 1 s + 1 s after loading.
    envoy.host.advance(2_900);
    envoy.tick();
    assert!(envoy.host.stream(id).reply.is_none(), "still waiting");
    envoy.host.advance(200);
    envoy.tick();
    let reply = envoy.host.stream(id).reply.clone();
    assert!(
        matches!(reply, Some(Reply::Http { status: 401, .. })),
        "{reply:?}"
    );
    assert!(!envoy.host.stream(id).resumed);
    assert_eq!(envoy.log(id)["decision"]["reason"], "jwks_unavailable");
}

#[test]
fn a_policy_swap_while_requests_wait_for_keys_leaves_none_paused() {
    let mut envoy = Envoy::start(&payments());
    let (id, action) = envoy.request(&get("/v2/cards/c_1", Some(&rotating_token())));
    assert_eq!(action, Action::Pause);
    // A new policy revision arrives (ECDS) while the request waits.
    let mut next: serde_json::Value = serde_json::from_slice(&payments()).unwrap();
    next["version"] = json!("next");
    assert!(envoy.configure(next.to_string().as_bytes()));
    // The new policy's VM fetches its own keys on its next tick; when they arrive, the
    // request goes on.
    envoy.tick();
    let call = fetch_for(&envoy, "/rotating/jwks.json");
    envoy.answer_call(call, "200", &rsa1_jwks());
    let s = envoy.host.stream(id);
    assert!(
        s.resumed || s.reply.is_some(),
        "the waiting request was neither resumed nor answered after the policy swap"
    );
    assert!(s.resumed, "{:?}", s.reply);
}

const CARD: &str = "4111111111111111";

/// An allowed GET on cards-read, its response headers given; returns the stream id.
fn allowed(envoy: &mut Envoy, protocol: &str, response: &[(&str, &str)]) -> u32 {
    let t = token("agent-7", "cards:read");
    let (id, action) = envoy.request(&get("/v1/cards/c_1", Some(&t)));
    assert_eq!(action, Action::Continue);
    envoy
        .host
        .stream(id)
        .properties
        .insert("request.protocol".into(), protocol.as_bytes().to_vec());
    assert_eq!(
        envoy.response_headers(id, response, false),
        Action::Continue
    );
    id
}

const JSON_200: &[(&str, &str)] = &[(":status", "200"), ("content-type", "application/json")];

#[test]
fn a_card_split_across_chunks_is_held_back_and_masked_on_http1() {
    let mut envoy = Envoy::start(&payments());
    let id = allowed(&mut envoy, "HTTP/1.1", JSON_200);
    let body = format!(r#"{{"number":"{CARD}","x":1}}"#);
    let (a, b) = body.split_at(16); // inside the number
    assert_eq!(envoy.body(id, a.as_bytes(), false), Action::Continue);
    assert!(
        !String::from_utf8_lossy(&envoy.host.stream(id).sent).contains("41111111"),
        "the held digits did not go out"
    );
    assert_eq!(envoy.body(id, b.as_bytes(), false), Action::Continue);
    assert_eq!(envoy.body(id, b"", true), Action::Continue);
    let sent = String::from_utf8(envoy.host.stream(id).sent.clone()).unwrap();
    assert_eq!(sent, r#"{"number":"************1111","x":1}"#);
    let e = envoy.log(id);
    assert_eq!(e["redaction"]["pan"], 1);
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["response"]["bytes"], body.len());
}

#[test]
fn on_http2_an_ambiguous_tail_stays_paused_in_the_host_and_trailers_flush_it() {
    let mut envoy = Envoy::start(&payments());
    let id = allowed(&mut envoy, "HTTP/2", JSON_200);
    let body = format!(r#"{{"number":"{CARD}"}}"#);
    let (a, b) = body.split_at(14);
    assert_eq!(envoy.body(id, a.as_bytes(), false), Action::Pause);
    assert!(envoy.host.stream(id).sent.is_empty());
    assert_eq!(envoy.body(id, b.as_bytes(), false), Action::Continue);
    assert_eq!(envoy.trailers(id), Action::Continue);
    let s = envoy.host.stream(id);
    assert_eq!(
        String::from_utf8_lossy(&s.sent),
        r#"{"number":"************1111"}"#
    );
    assert!(!s.reset);
}

#[test]
fn trailers_while_the_filter_itself_holds_bytes_reset_the_stream() {
    let mut envoy = Envoy::start(&payments());
    let id = allowed(&mut envoy, "HTTP/2", JSON_200);
    // One chunk over the pause bound, ending in digits that might still become a card: its
    // tail is held in the filter, and the body can no longer be written once trailers come.
    let mut chunk = br#"{"pad":""#.to_vec();
    chunk.resize(70 * 1024, b'x');
    chunk.extend_from_slice(br#"","n":"411111"#);
    assert_eq!(envoy.body(id, &chunk, false), Action::Continue);
    assert_eq!(envoy.trailers(id), Action::Continue);
    let s = envoy.host.stream(id);
    assert!(s.reset, "held bytes at trailers must reset the stream");
    assert!(!String::from_utf8_lossy(&s.sent).contains("411111"));
}

#[test]
fn a_decoded_body_keeps_its_final_bytes_paused_so_trailers_flush_its_tail() {
    use std::io::Write;
    let mut envoy = Envoy::start(&payments());
    let gz = [
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let id = allowed(&mut envoy, "HTTP/2", &gz);
    let text = format!(r#"{{"n":"{CARD}"#);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    let all = enc.finish().unwrap();
    let (a, b) = all.split_at(all.len() / 2);
    envoy.body(id, a, false);
    // The digits at the end might still grow: the decoded text so far waits in the host.
    assert_eq!(envoy.body(id, b, false), Action::Pause);
    assert!(!String::from_utf8_lossy(&envoy.host.stream(id).sent).contains("4111"));
    assert_eq!(envoy.trailers(id), Action::Continue);
    let s = envoy.host.stream(id);
    assert!(!s.reset);
    assert_eq!(
        String::from_utf8_lossy(&s.sent),
        r#"{"n":"************1111"#
    );
    assert_eq!(header(&s.response_headers, "content-encoding"), None);
}

#[test]
fn a_body_that_cannot_be_decoded_is_refused_with_a_502_before_any_byte() {
    let mut envoy = Envoy::start(&payments());
    let t = token("agent-7", "cards:read");
    let (id, _) = envoy.request(&get("/v1/cards/c_1", Some(&t)));
    let br = [
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-encoding", "br"),
    ];
    assert_eq!(envoy.response_headers(id, &br, false), Action::Pause);
    let reply = envoy.host.stream(id).reply.clone();
    assert!(
        matches!(reply, Some(Reply::Http { status: 502, .. })),
        "{reply:?}"
    );
    let e = envoy.log(id);
    assert_eq!(e["redaction"]["refused"], "body_undecodable");
    assert_eq!(e["response"]["status"], 502, "the status the client got");
}

#[test]
fn a_card_in_the_location_header_is_masked() {
    let mut envoy = Envoy::start(&payments());
    let loc = format!("/v1/cards/{CARD}");
    let id = allowed(
        &mut envoy,
        "HTTP/1.1",
        &[(":status", "302"), ("location", &loc)],
    );
    assert_eq!(
        header(&envoy.host.stream(id).response_headers, "location"),
        Some("/v1/cards/************1111")
    );
}

#[test]
fn grpc_callers_are_refused_with_a_grpc_status() {
    let mut envoy = Envoy::start(&payments());
    let h = [
        (":method", "POST"),
        (":path", "/payments.v1.Cards/GetCard"),
        ("content-type", "application/grpc"),
    ];
    let (id, action) = envoy.request(&h);
    assert_eq!(action, Action::Pause);
    assert!(matches!(
        envoy.host.stream(id).reply,
        Some(Reply::Grpc { status: 16, .. })
    ));
}

#[test]
fn every_event_joins_the_vm_hash_chain() {
    let mut envoy = Envoy::start(&payments());
    let (a, _) = envoy.request(&get("/healthz", None));
    let ea = envoy.log(a);
    let (b, _) = envoy.request(&get("/healthz", None));
    let eb = envoy.log(b);
    // seq 0 is the VM's start record (vm_audit/tests.rs).
    assert_eq!(ea["chain"]["seq"], 1);
    assert_eq!(eb["chain"]["seq"], 2);
    assert_eq!(eb["chain"]["id"], ea["chain"]["id"]);
    let line_a = envoy.host.stream(a).filter_state["pci_guard_audit"].clone();
    assert_eq!(
        eb["chain"]["prev"],
        pci_guard_core::audit::link(None, &line_a)
    );
}

#[test]
fn without_a_policy_every_request_is_refused_with_503() {
    let host = super::fake::FakeHost::default();
    let share = std::rc::Rc::new(super::keys::SharedDataLease::new(host.clone()));
    let audit = std::rc::Rc::new(std::cell::RefCell::new(super::vm_audit::VmAudit::new(0)));
    let mut root = super::root::Root::new(host.clone(), share, audit);
    assert!(root.on_vm_start());
    host.world().config = Some(b"{not a policy".to_vec());
    assert!(!root.on_configure());
    assert!(host
        .world()
        .logs
        .iter()
        .any(|(_, m)| m.contains("policy rejected")));
    host.stream(1).request_headers = vec![(":path".into(), "/healthz".into())];
    host.world().current = 1;
    let mut s = root.create_stream(1);
    assert_eq!(s.on_request_headers(false), Action::Pause);
    assert!(matches!(
        host.stream(1).reply,
        Some(Reply::Http { status: 503, .. })
    ));
}

#[test]
fn counters_reach_the_host_on_the_tick_and_when_the_vm_stops() {
    let mut envoy = Envoy::start(&payments());
    let (a, _) = envoy.request(&get("/healthz", None));
    envoy.log(a);
    let count = |envoy: &Envoy, name: &str| {
        envoy
            .host
            .0
            .borrow()
            .counters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    assert_eq!(count(&envoy, "pci_guard.requests.allow"), Some(0));
    envoy.tick();
    assert_eq!(count(&envoy, "pci_guard.requests.allow"), Some(1));
    let (b, _) = envoy.request(&get("/v1/cards/c_1", None));
    envoy.log(b);
    // False: the VM's last root context waits for its end record (vm_audit/tests.rs).
    assert!(!envoy.root.on_done());
    assert_eq!(count(&envoy, "pci_guard.requests.deny"), Some(1));
    assert_eq!(count(&envoy, "pci_guard.decisions.token_missing"), Some(1));
}

/// The host calls one warm-token request makes: token in the verified-token cache, a 1 KiB
/// JSON response in one chunk plus Envoy's final empty callback, audit event written.
#[test]
fn a_warm_token_1kib_request_makes_thirteen_host_calls() {
    let mut envoy = Envoy::start(&payments());
    let t = token("agent-7", "cards:read");
    let (cold, _) = envoy.request(&get("/v1/cards/c_1", Some(&t)));
    envoy.log(cold);
    let body = format!(r#"{{"id":"c_1","pad":"{}"}}"#, "x".repeat(1000));
    let before = envoy.host.world().host_calls.clone();
    let id = allowed(&mut envoy, "HTTP/1.1", JSON_200);
    assert_eq!(envoy.body(id, body.as_bytes(), false), Action::Continue);
    assert_eq!(envoy.body(id, b"", true), Action::Continue);
    let e = envoy.log(id);
    assert_eq!(e["decision"]["result"], "allow");
    let after = envoy.host.world().host_calls.clone();
    let made: Vec<(&str, usize)> = after
        .iter()
        .map(|(k, v)| (*k, v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // Request: time, the header map, route metadata, source address, peer SAN; three edits
    // (the token removed, `x-pci-subject` and accept-encoding set). Response: the header map
    // (its `:status` is the event's status), one body read (none for the final empty
    // callback). Log: time, code details, filter state.
    assert_eq!(
        made,
        vec![
            ("edit", 3),
            ("map", 2),
            ("now_ms", 2),
            ("property", 4),
            ("response_body", 1),
            ("set_property", 1),
        ],
    );
    assert_eq!(made.iter().map(|(_, n)| n).sum::<usize>(), 13);
}

#[test]
fn a_failed_key_fetch_reads_no_answer_and_the_wait_still_ends() {
    let mut envoy = Envoy::start(&payments());
    let (id, action) = envoy.request(&get("/v2/cards/c_1", Some(&rotating_token())));
    assert_eq!(action, Action::Pause);
    let call = fetch_for(&envoy, "/rotating/jwks.json");
    envoy.fail_call(call);
    assert!(envoy
        .host
        .world()
        .logs
        .iter()
        .any(|(_, m)| m.contains("JWKS fetch failed: no response")));
    envoy.host.advance(3_100);
    envoy.tick();
    let reply = envoy.host.stream(id).reply.clone();
    assert!(
        matches!(reply, Some(Reply::Http { status: 401, .. })),
        "{reply:?}"
    );
}

#[test]
fn card_data_is_masked_in_every_response_header_and_in_trailers() {
    let mut envoy = Envoy::start(&payments());
    let dotted = format!("a=1; note={CARD}");
    let id = allowed(
        &mut envoy,
        "HTTP/2",
        &[
            (":status", "200"),
            ("content-type", "application/json"),
            ("x-debug", CARD),
            ("set-cookie", "a=1"),
            ("set-cookie", &dotted),
            ("www-authenticate", "Bearer realm=\"4111111111111111\""),
        ],
    );
    let s = envoy.host.stream(id);
    let h = &s.response_headers;
    assert_eq!(header(h, "x-debug"), Some("************1111"));
    let cookies: Vec<&str> = h
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        ["a=1", "a=1; note=************1111"],
        "both kept, in order"
    );
    assert!(!format!("{h:?}").contains(CARD));
    drop(s);
    assert_eq!(envoy.body(id, b"{}", false), Action::Continue);
    let msg = format!("card%20{CARD}%20cvv%3A%20123");
    assert_eq!(
        envoy.trailers_with(
            id,
            &[("grpc-status", "0"), ("grpc-message", &msg), ("x-t", CARD)]
        ),
        Action::Continue
    );
    let t = envoy.host.stream(id).response_trailers.clone();
    assert_eq!(header(&t, "x-t"), Some("************1111"));
    let m = header(&t, "grpc-message").unwrap();
    assert!(!m.contains(CARD) && !m.contains("123"), "{m}");
}

#[test]
fn a_partial_response_on_a_scanned_route_is_refused() {
    let mut envoy = Envoy::start(&payments());
    let t = token("agent-7", "cards:read");
    let (id, _) = envoy.request(&get("/v1/cards/c_1", Some(&t)));
    let partial = [(":status", "206"), ("content-type", "application/json")];
    assert_eq!(envoy.response_headers(id, &partial, false), Action::Pause);
    assert!(matches!(
        envoy.host.stream(id).reply,
        Some(Reply::Http { status: 502, .. })
    ));
    assert_eq!(envoy.log(id)["redaction"]["refused"], "body_partial");
}

#[test]
fn a_token_sent_to_a_public_route_is_not_forwarded() {
    let mut envoy = Envoy::start(&payments());
    let t = token("agent-7", "cards:read");
    let (id, action) = envoy.request(&get("/healthz", Some(&t)));
    assert_eq!(action, Action::Continue);
    assert_eq!(
        header(&envoy.host.stream(id).request_headers, "authorization"),
        None
    );
}

#[test]
fn a_request_envoy_refused_before_the_filter_still_gets_a_whole_event() {
    let mut envoy = Envoy::start(&payments());
    let (a, _) = envoy.request(&get("/healthz", None));
    let first = envoy.log(a);
    // A stream whose request headers never reached the filter: only `on_log` runs.
    let id = 99;
    {
        let mut s = envoy.host.stream(id);
        s.properties
            .insert("request.path".into(), b"/v1/cards%2F1?x=1".to_vec());
        s.properties
            .insert("request.method".into(), b"GET".to_vec());
        s.properties
            .insert("source.address".into(), b"10.0.0.9:4000".to_vec());
        s.properties
            .insert("response.code".into(), 400u64.to_le_bytes().to_vec());
        s.properties.insert(
            "response.code_details".into(),
            b"path_normalization_failed".to_vec(),
        );
    }
    let mut stream = envoy.root.create_stream(id);
    envoy.host.world().current = id;
    stream.on_log();
    let line = envoy.host.stream(id).filter_state["pci_guard_audit"].clone();
    let e: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(e["version"], 1);
    assert_eq!(e["decision"]["result"], "deny");
    assert_eq!(e["decision"]["reason"], "refused_before_filter");
    assert_eq!(e["policy"]["digest"], first["policy"]["digest"]);
    assert_eq!(e["request"]["path"], "/v1/cards%2F1");
    assert_eq!(e["source"]["address"], "10.0.0.9:4000");
    assert_eq!(e["response"]["status"], 400);
    assert_eq!(e["response"]["details"], "path_normalization_failed");
    assert_eq!(e["duration_ms"], 0.0);
    assert_eq!(e["chain"]["seq"], 2, "it takes its place in the chain");
    assert_eq!(e["chain"]["id"], first["chain"]["id"]);
}

#[test]
fn a_request_that_starts_to_wait_for_keys_tells_the_host() {
    let mut envoy = Envoy::start(&payments());
    let (id, action) = envoy.request(&get("/v2/cards/c_1", Some(&rotating_token())));
    assert_eq!(action, Action::Pause);
    assert!(
        envoy.host.stream(id).waiting,
        "a host without a timer must be told"
    );
    let (other, _) = envoy.request(&get("/v1/cards/c_1", Some(&token("agent-7", "cards:read"))));
    assert!(
        !envoy.host.stream(other).waiting,
        "a judged request does not wait"
    );
}

/// A key share like the dynamic module's: one root of the process fetches, the others only
/// adopt what it published and pass their wish for an early refetch on to it.
#[derive(Default)]
struct OneFetcher {
    published: std::cell::RefCell<Option<(u64, Vec<u8>)>>,
    /// Providers a worker asked to refetch.
    wished: std::cell::RefCell<Vec<String>>,
}

struct Side(std::rc::Rc<OneFetcher>, bool);

impl super::keys::KeyShare for Side {
    fn newer(&self, _d: &str, provider: &str, mine: Option<u64>) -> Option<(u64, Vec<u8>)> {
        if provider != "rotating-idp" {
            return None;
        }
        let p = self.0.published.borrow();
        p.as_ref()
            .filter(|(at, _)| mine.is_none_or(|m| *at > m))
            .cloned()
    }
    fn claim(&self, _d: &str, provider: &str, _now: u64, _timeout_ms: u64) -> bool {
        if !self.1 {
            self.0.wished.borrow_mut().push(provider.to_string());
        }
        self.1
    }
    fn publish(&self, _d: &str, provider: &str, at: u64, jwks: &[u8]) {
        if provider == "rotating-idp" {
            *self.0.published.borrow_mut() = Some((at, jwks.to_vec()));
        }
    }
    fn release(&self, _d: &str, _p: &str) {}
    fn refetch_wanted(&self, _d: &str, provider: &str) -> bool {
        let mut w = self.0.wished.borrow_mut();
        let had = w.iter().any(|p| p == provider);
        w.retain(|p| !self.1 || p != provider);
        self.1 && had
    }
}

/// The calls a root made other than its audit self-requests.
fn idp_calls(e: &Envoy) -> usize {
    e.host
        .world()
        .calls
        .iter()
        .filter(|c| c.cluster != super::fake::SELF_CLUSTER)
        .count()
}

#[test]
fn a_root_that_cannot_fetch_adopts_the_fetchers_keys_and_resumes_its_waiters() {
    use super::fake::FakeHost;
    let board = std::rc::Rc::new(OneFetcher::default());
    let mut fetcher = Envoy::start_with(
        &payments(),
        FakeHost::default(),
        std::rc::Rc::new(Side(board.clone(), true)),
    );
    let mut worker = Envoy::start_with(
        &payments(),
        FakeHost::default(),
        std::rc::Rc::new(Side(board.clone(), false)),
    );
    assert_eq!(idp_calls(&worker), 0, "a worker root never calls the IdP");
    let (id, action) = worker.request(&get("/v2/cards/c_1", Some(&rotating_token())));
    assert_eq!(action, Action::Pause);
    // The fetcher's answer is published; the worker's next tick adopts it and resumes.
    let call = fetch_for(&fetcher, "/rotating/jwks.json");
    fetcher.answer_call(call, "200", &rsa1_jwks());
    assert!(!worker.host.stream(id).resumed);
    worker.tick();
    assert!(
        worker.host.stream(id).resumed,
        "resumed with the adopted keys"
    );
    assert_eq!(idp_calls(&worker), 0);
    assert_eq!(worker.log(id)["decision"]["result"], "allow");
}

#[test]
fn an_unknown_kid_at_a_worker_makes_the_fetcher_refetch_early() {
    use super::fake::FakeHost;
    let board = std::rc::Rc::new(OneFetcher::default());
    let mut fetcher = Envoy::start_with(
        &payments(),
        FakeHost::default(),
        std::rc::Rc::new(Side(board.clone(), true)),
    );
    let call = fetch_for(&fetcher, "/rotating/jwks.json");
    fetcher.answer_call(call, "200", &rsa1_jwks());
    let fetches = |e: &Envoy| {
        e.host
            .world()
            .calls
            .iter()
            .filter(|c| c.headers.iter().any(|(_, v)| v == "/rotating/jwks.json"))
            .count()
    };
    assert_eq!(fetches(&fetcher), 1);
    fetcher.host.advance(1_000);
    fetcher.tick();
    assert_eq!(fetches(&fetcher), 1, "fresh keys: nothing due");
    // A worker sees a token signed by a key it does not know (rotation): it cannot fetch,
    // so it asks; the fetcher's next tick refetches.
    let mut worker = Envoy::start_with(
        &payments(),
        FakeHost::default(),
        std::rc::Rc::new(Side(board.clone(), false)),
    );
    worker.tick();
    let now = 1_800_000_000u64;
    let rotated = pci_guard_testkit::mint_as(
        "rsa2",
        &json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                "iat": now - 10, "exp": now + 600, "scope": "cards:read"}),
    );
    let (id, _) = worker.request(&get("/v2/cards/c_1", Some(&rotated)));
    assert_eq!(worker.log(id)["decision"]["reason"], "token_unknown_kid");
    worker.tick();
    assert_eq!(idp_calls(&worker), 0);
    fetcher.host.advance(1_000);
    fetcher.tick();
    assert_eq!(
        fetches(&fetcher),
        2,
        "the worker's wish made the fetcher refetch"
    );
}
