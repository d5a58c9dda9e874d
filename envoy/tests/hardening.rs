//! The data path under attack, through a real Envoy: spellings of a blocked operation, card
//! data in response headers and trailers, ranges, content-type lists, bytes that are not
//! UTF-8, and tokens sent where none is needed. Each test is one class of attack, over
//! HTTP/1.1 and, where it applies, HTTP/2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const CARD: &str = "4111111111111111";
const MASKED: &str = "************1111";

/// pci-guard in front of an HTTP/1.1 upstream, for HTTP/1.1 and HTTP/2 clients alike.
fn guard(upstream: &Upstream) -> Envoy {
    Harness::new("pci-guard.yaml", policy(), upstream.port)
        .replace(
            "use_downstream_protocol_config:\n          http_protocol_options: {}\n          http2_protocol_options: {}",
            "explicit_http_config:\n          http_protocol_options: {}",
        )
        .start()
}

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap()
}

/// An HTTP/2 answer as the client saw it.
#[derive(Debug, Default)]
struct H2Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
}

impl H2Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// One request over HTTP/2 (prior knowledge), the path and headers exactly as given.
fn h2(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> H2Response {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.unwrap();
        let mut req = http::Request::builder()
            .method(http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri(format!("http://payments.test{path}"));
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let (resp, _) = client.send_request(req.body(()).unwrap(), true).unwrap();
        let resp = resp.await.unwrap();
        let mut out = H2Response {
            status: resp.status().as_u16(),
            headers: pairs(resp.headers()),
            ..H2Response::default()
        };
        let mut body = resp.into_body();
        while let Some(chunk) = body.data().await {
            let Ok(chunk) = chunk else { break };
            let _ = body.flow_control().release_capacity(chunk.len());
            out.body.extend_from_slice(&chunk);
        }
        if let Ok(Some(t)) = body.trailers().await {
            out.trailers = pairs(&t);
        }
        out
    })
}

/// What an HTTP/2 upstream answers.
#[derive(Clone, Default)]
struct H2Reply {
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// `None`: the body ends the stream; `Some`: trailers end it (an empty body and trailers
    /// is still a body frame; for a trailers-only answer use `headers_only`).
    trailers: Option<Vec<(&'static str, String)>>,
    /// The headers end the stream (a gRPC trailers-only answer carries its status there).
    headers_only: bool,
}

/// An HTTP/2 (h2c) upstream answering every request with `reply`; counts requests.
struct H2Upstream {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl H2Upstream {
    fn start(reply: H2Reply) -> H2Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let (reply, h) = (reply.clone(), h.clone());
                    tokio::spawn(async move {
                        let Ok(mut conn) = h2::server::handshake(tcp).await else {
                            return;
                        };
                        while let Some(Ok((_req, mut respond))) = conn.accept().await {
                            h.fetch_add(1, Ordering::SeqCst);
                            let mut resp = http::Response::builder().status(200);
                            for (n, v) in &reply.headers {
                                resp = resp.header(*n, v.as_str());
                            }
                            let Ok(mut send) =
                                respond.send_response(resp.body(()).unwrap(), reply.headers_only)
                            else {
                                continue;
                            };
                            if reply.headers_only {
                                continue;
                            }
                            let last = reply.trailers.is_none();
                            let _ = send.send_data(reply.body.clone().into(), last);
                            if let Some(t) = &reply.trailers {
                                let mut map = http::HeaderMap::new();
                                for (n, v) in t {
                                    map.append(*n, v.parse().unwrap());
                                }
                                let _ = send.send_trailers(map);
                            }
                        }
                    });
                }
            });
        });
        H2Upstream { port, hits }
    }
}

/// Sends raw bytes as one HTTP/1.1 request; returns the status line.
fn raw(port: u16, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_header_value_that_is_not_utf8_is_judged_and_the_vm_lives_on() {
    let up = Upstream::ok();
    let envoy = guard(&up);
    // Judged (no token: 401), not a VM crash (503). Refused requests do not reach the test
    // upstream, which reads headers as UTF-8 itself.
    for value in [&b"caf\xe9"[..], b"\xff\xfe", b"ok \x80"] {
        let mut req = b"GET /v1/cards/c_1 HTTP/1.1\r\nhost: x\r\nx-note: ".to_vec();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
        assert_eq!(
            raw(envoy.port, &req),
            "HTTP/1.1 401 Unauthorized",
            "{value:?}"
        );
    }
    // The VM still serves: a crash would answer 503 from here on.
    assert_eq!(envoy.send("GET", "/healthz", &[], b"").status, 200);
    assert!(
        envoy.critical_lines().is_empty(),
        "{:?}",
        envoy.critical_lines()
    );
}

/// The names of the headers that carried a card in the tests below.
const CARRIERS: [&str; 6] = [
    "x-debug",
    "www-authenticate",
    "content-location",
    "link",
    "refresh",
    "x-card",
];

fn card_headers() -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = CARRIERS
        .iter()
        .map(|n| (n.to_string(), format!("v {CARD} v")))
        .collect();
    h.push(("set-cookie".into(), "a=1".into()));
    h.push(("set-cookie".into(), format!("pan={CARD}")));
    // Digits of other scripts, which hold no ASCII digit at all.
    for (name, value, _) in OTHER_SCRIPTS {
        h.push((name.into(), value.into()));
    }
    h
}

/// Header, card in full-width or Arabic-Indic digits, and its masked form (byte for byte: a
/// full-width digit is three bytes, an Arabic-Indic one two).
const OTHER_SCRIPTS: [(&str, &str, &str); 2] = [
    (
        "x-wide",
        "v ４１１１ １１１１ １１１１ １１１１ v",
        "v ************ ************ ************ １１１１ v",
    ),
    (
        "x-arabic",
        "v ٤١١١١١١١١١١١١١١١ v",
        "v ************************١١١١ v",
    ),
];

fn assert_headers_masked(headers: &[(String, String)], proto: &str) {
    for name in CARRIERS {
        let v = headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        assert_eq!(v, Some(format!("v {MASKED} v").as_str()), "{proto} {name}");
    }
    let cookies: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        ["a=1", &format!("pan={MASKED}")],
        "{proto}: both cookies"
    );
    assert!(!format!("{headers:?}").contains(CARD), "{proto}");
    for (name, _, masked) in OTHER_SCRIPTS {
        let v = headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        assert_eq!(v, Some(masked), "{proto} {name}");
    }
}

#[test]
fn card_data_in_any_response_header_is_masked() {
    for headers_only in [false, true] {
        let up = Upstream::start(Arc::new(move |_: &Received| {
            let mut r = Reply::json("{}");
            if headers_only {
                // Content-Length 0: Envoy ends the stream with the headers.
                r.body.clear();
            }
            r.headers.extend(card_headers());
            r
        }));
        let envoy = guard(&up);
        let token = bearer(&sign("rsa1", &claims("agent-7", &["cards:read"])));
        let r = envoy.send("GET", "/v1/cards/c_1", &[("authorization", &token)], b"");
        assert_headers_masked(
            &r.headers,
            &format!("HTTP/1.1, headers only {headers_only}"),
        );
        let r = h2(
            envoy.port,
            "GET",
            "/v1/cards/c_1",
            &[("authorization", &token)],
        );
        assert_headers_masked(&r.headers, &format!("HTTP/2, headers only {headers_only}"));
    }
}

#[test]
fn card_data_in_http2_trailers_and_grpc_status_messages_is_masked() {
    let message = format!("card%20{CARD}%20cvv%3A%20123");
    let token = bearer(&sign("rsa1", &claims("agent-7", &["cards:read"])));
    // A body ending in trailers, and a gRPC answer: status and message in trailers, or in the
    // headers of a trailers-only answer.
    let cases = [
        (
            "trailers",
            "/v1/cards/c_1",
            H2Reply {
                headers: vec![("content-type", "application/json".into())],
                body: b"{}".to_vec(),
                trailers: Some(vec![("x-card", CARD.into())]),
                ..H2Reply::default()
            },
        ),
        (
            "grpc trailers",
            "/payments.v1.Cards/GetCard",
            H2Reply {
                headers: vec![("content-type", "application/grpc".into())],
                body: Vec::new(),
                trailers: Some(vec![
                    ("grpc-status", "13".into()),
                    ("grpc-message", message.clone()),
                ]),
                ..H2Reply::default()
            },
        ),
        (
            "grpc trailers-only",
            "/payments.v1.Cards/GetCard",
            H2Reply {
                headers: vec![
                    ("content-type", "application/grpc".into()),
                    ("grpc-status", "13".into()),
                    ("grpc-message", message.clone()),
                ],
                headers_only: true,
                ..H2Reply::default()
            },
        ),
    ];
    for (name, path, reply) in cases {
        let up = H2Upstream::start(reply);
        let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
        let ct = if path.starts_with("/payments") {
            "application/grpc"
        } else {
            "application/json"
        };
        let method = if path.starts_with("/payments") {
            "POST"
        } else {
            "GET"
        };
        let r = h2(
            envoy.port,
            method,
            path,
            &[
                ("authorization", &token),
                ("content-type", ct),
                ("te", "trailers"),
            ],
        );
        let all = format!("{:?} {:?}", r.headers, r.trailers);
        assert!(!all.contains(CARD), "{name}: {all}");
        assert!(
            !all.contains("%20123"),
            "{name}: the security code is masked: {all}"
        );
        assert!(
            r.trailers
                .iter()
                .chain(&r.headers)
                .any(|(n, _)| n.starts_with("grpc-status") || n == "x-card"),
            "{name}: the trailers arrived: {all}"
        );
        assert_eq!(up.hits.load(Ordering::SeqCst), 1, "{name}");
    }
}

#[test]
fn a_range_on_a_scanned_route_gets_the_whole_body_masked_or_nothing() {
    let body = format!(r#"{{"number":"{CARD}","pad":"xxxxxxxxxxxxxxxx"}}"#);
    // An upstream that honours ranges, and one that answers 206 whatever it is asked.
    for always_partial in [false, true] {
        let b = body.clone();
        let up = Upstream::start(Arc::new(move |r: &Received| {
            let range = r.header("range").and_then(|v| v.strip_prefix("bytes="));
            match (range, always_partial) {
                (None, false) => Reply::json(&b),
                (range, _) => {
                    let (from, to) = range.unwrap_or("0-15").split_once('-').unwrap();
                    let from: usize = from.parse().unwrap_or(0);
                    let to: usize = to.parse().unwrap_or(b.len() - 1).min(b.len() - 1);
                    let mut reply =
                        Reply::with("application/json", b.as_bytes()[from..=to].to_vec());
                    reply.status = 206;
                    reply.headers.push((
                        "content-range".into(),
                        format!("bytes {from}-{to}/{}", b.len()),
                    ));
                    reply
                }
            }
        }));
        let envoy = guard(&up);
        let token = bearer(&sign("rsa1", &claims("agent-7", &["cards:read"])));
        for range in ["bytes=0-18", "bytes=19-"] {
            let h = [("authorization", token.as_str()), ("range", range)];
            let r = envoy.send("GET", "/v1/cards/c_1", &h, b"");
            let r2 = h2(envoy.port, "GET", "/v1/cards/c_1", &h);
            for (proto, status, got) in [
                ("HTTP/1.1", r.status, r.body),
                ("HTTP/2", r2.status, r2.body),
            ] {
                let got = String::from_utf8_lossy(&got).to_string();
                assert!(
                    !got.contains("41111111") && !got.contains("11111111"),
                    "{proto} {range}: {got}"
                );
                if always_partial {
                    assert_eq!(status, 502, "{proto} {range}: a partial answer is refused");
                } else {
                    assert_eq!(
                        (status, got.as_str()),
                        (200, body.replace(CARD, MASKED).as_str()),
                        "{proto} {range}"
                    );
                }
            }
        }
        assert!(
            up.received().iter().all(|r| r.header("range").is_none()),
            "the upstream was asked for whole bodies"
        );
    }
}

#[test]
fn a_list_of_content_types_never_skips_the_scan() {
    let lists: [&[&str]; 2] = [
        &["image/png, application/json"],
        &["image/png", "application/json"],
    ];
    for types in lists {
        let t: Vec<String> = types.iter().map(|s| s.to_string()).collect();
        let up = Upstream::start(Arc::new(move |_: &Received| {
            let mut r = Reply::json(&format!(r#"{{"number":"{CARD}"}}"#));
            r.headers.clear();
            for ct in &t {
                r.headers.push(("content-type".into(), ct.clone()));
            }
            r
        }));
        let envoy = guard(&up);
        let token = bearer(&sign("rsa1", &claims("agent-7", &["cards:read"])));
        let r = envoy.send("GET", "/v1/cards/c_1", &[("authorization", &token)], b"");
        assert_eq!(r.status, 200, "{types:?}");
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            format!(r#"{{"number":"{MASKED}"}}"#),
            "{types:?}"
        );
    }
}

#[test]
fn a_token_sent_to_a_public_route_never_reaches_the_upstream() {
    let up = Upstream::ok();
    let envoy = guard(&up);
    let token = bearer(&sign("rsa1", &claims("agent-7", &["cards:read"])));
    assert_eq!(
        envoy
            .send("GET", "/healthz", &[("authorization", &token)], b"")
            .status,
        200
    );
    assert_eq!(
        h2(envoy.port, "GET", "/healthz", &[("authorization", &token)]).status,
        200
    );
    let got = up.received();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter().all(|r| r.header("authorization").is_none()),
        "{got:?}"
    );
}

/// What reached the upstream, as `METHOD path` lines.
fn arrivals(up: &Upstream) -> Vec<String> {
    up.received()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn spellings_of_a_blocked_operation_are_blocked() {
    let up = Upstream::ok();
    let envoy = guard(&up);
    let n = now();
    // Standing scopes for everything: only the rules, JIT and approvals stand in the way.
    let mut c = claims(
        "agent-7",
        &[
            "cards:read",
            "cards:write",
            "payments:refund",
            "exports:read",
            "admin",
        ],
    );
    c["exp"] = serde_json::json!(n + 600);
    let token = bearer(&sign("rsa1", &c));
    let auth = [("authorization", token.as_str())];
    // (method, path, the reason it must be refused with)
    let rows = [
        ("POST", "/v1/payments/p_1/Refunds", "jit_missing"),
        ("POST", "/v1/payments/p_1/refunds;x", "jit_missing"),
        ("POST", "/v1/payments/p_1/refunds/", "jit_missing"),
        ("GET", "/v1/Exports/all", "approval_required"),
        ("GET", "/v1/exports;a/all", "approval_required"),
        ("DELETE", "/v1/cards./c_1", "rule_denied"),
        ("DELETE", "/V1/CARDS/c_1", "rule_denied"),
        ("DELETE", "/v1/%63ards/c_1", "rule_denied"),
        ("POST", "/v1/cards/c_1?_method=DELETE", "method_override"),
    ];
    for (method, path, reason) in rows {
        let r = envoy.send(method, path, &auth, b"");
        assert_eq!(
            (r.status / 100, r.header("x-pci-guard-reason")),
            (4, Some(reason)),
            "HTTP/1.1 {method} {path}"
        );
        let r = h2(envoy.port, method, path, &auth);
        assert_eq!(
            (r.status / 100, r.header("x-pci-guard-reason")),
            (4, Some(reason)),
            "HTTP/2 {method} {path}"
        );
    }
    let mut h = auth.to_vec();
    h.push(("x-original-method", "DELETE"));
    assert_eq!(
        envoy
            .send("POST", "/v1/cards/c_1", &h, b"")
            .header("x-pci-guard-reason"),
        Some("method_override")
    );
    // HTTP/2 carries the method as sent; Envoy refuses lower-case methods only on HTTP/1.1.
    for method in ["delete", "dElEtE"] {
        let r = h2(envoy.port, method, "/v1/cards/c_1", &auth);
        assert_eq!(
            r.header("x-pci-guard-reason"),
            Some("rule_denied"),
            "HTTP/2 :method {method}"
        );
    }
    // The gRPC method is named by its path whatever the content type (or its case) says.
    for (path, ct) in [
        ("/payments.v1.Admin/PurgeAll", Some("Application/grpc")),
        ("/payments.v1.Admin/PurgeAll", Some("APPLICATION/GRPC")),
        ("/payments.v1.Admin/PurgeAll", Some("application/x-grpc")),
        ("/payments.v1.Admin/PurgeAll", Some("application/json")),
        ("/payments.v1.Admin/PurgeAll", None),
        ("/payments.v1.admin/PurgeAll", Some("application/grpc")),
        ("/payments.v1.Admin/PurgeAll/", Some("application/grpc")),
    ] {
        let mut h = auth.to_vec();
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        let r = h2(envoy.port, "POST", path, &h);
        let reason = r
            .header("x-pci-guard-reason")
            .or_else(|| r.header("grpc-message").map(|_| "grpc"));
        assert_eq!(
            r.header("x-pci-guard-reason"),
            Some("rule_denied"),
            "{path} {ct:?}: {reason:?} {:?}",
            r.headers
        );
    }
    let mut twice = auth.to_vec();
    twice.push(("content-type", "text/plain"));
    twice.push(("content-type", "application/grpc"));
    let r = h2(envoy.port, "POST", "/payments.v1.Admin/PurgeAll", &twice);
    assert_eq!(
        r.header("x-pci-guard-reason"),
        Some("rule_denied"),
        "two content types"
    );
    assert_eq!(
        arrivals(&up),
        Vec::<String>::new(),
        "nothing reached the upstream"
    );
}

#[test]
fn requests_envoy_refuses_before_the_filter_each_get_an_event_and_the_chain_holds() {
    let up = Upstream::ok();
    let envoy = guard(&up);
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "x".repeat(70 * 1024)
    );
    let refused: Vec<(&str, Vec<u8>)> = vec![
        (
            "encoded slash",
            b"GET /v1/cards%2F1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
        ),
        ("headers too large", big.into_bytes()),
        (
            "malformed header",
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n".to_vec(),
        ),
        ("HTTP/1.0", b"GET /healthz HTTP/1.0\r\n\r\n".to_vec()),
        (
            "lower-case method",
            b"get /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
        ),
        (
            "raw byte in the path",
            b"GET /v1/\x01cards HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
        ),
    ];
    for (name, req) in &refused {
        let status = raw(envoy.port, req);
        assert!(status.starts_with("HTTP/1.1 4"), "{name}: {status}");
        // An ordinary request after each: the chain must hold across them.
        assert_eq!(
            envoy.send("GET", "/healthz", &[], b"").status,
            200,
            "{name}"
        );
    }
    let n = 2 * refused.len();
    let lines = envoy.audit_lines(n);
    let events = envoy.audit_events(n);
    assert_eq!(events.len(), n, "one event per request: {lines:#?}");
    let denied: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["decision"]["reason"] == "refused_before_filter")
        .collect();
    assert_eq!(denied.len(), refused.len(), "{lines:#?}");
    for e in &denied {
        assert_eq!(e["decision"]["result"], "deny");
        assert!(
            e["response"]["status"]
                .as_u64()
                .is_some_and(|s| (400..500).contains(&s)),
            "{e}"
        );
        assert!(
            e["source"]["address"]
                .as_str()
                .is_some_and(|a| a.starts_with("127.0.0.1:")),
            "{e}"
        );
        assert!(
            e["policy"]["digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:")),
            "{e}"
        );
    }
    // The chain holds over every line, the VM's own records (its start) included.
    let all = envoy.audit_log(n);
    let mut verifier = pci_guard_core::audit::verify::Verifier::new(None);
    for l in &all {
        verifier.push(l.as_bytes());
    }
    assert_eq!(verifier.events, all.len() as u64);
    assert!(all.len() > n, "the start record is there too");
    assert!(verifier.findings.is_empty(), "{:#?}", verifier.findings);
}

#[test]
fn audit_events_keep_one_line_whatever_a_claim_holds() {
    let up = Upstream::ok();
    let envoy = guard(&up);
    let token = bearer(&sign(
        "rsa1",
        &claims("agent\u{2028}7\u{2029}x", &["cards:read"]),
    ));
    assert_eq!(
        envoy
            .send("GET", "/v1/cards/c_1", &[("authorization", &token)], b"")
            .status,
        200
    );
    let text = std::fs::read_to_string(&envoy.access_log).unwrap();
    assert!(
        !text.contains('\u{2028}') && !text.contains('\u{2029}'),
        "{text}"
    );
    assert_eq!(
        envoy.audit_events(1)[0]["identity"]["sub"],
        "agent\u{2028}7\u{2029}x"
    );
}

/// Whether `text` holds the digits of `pan` in order, each within a few bytes of the last
/// (separators of any kind), after percent-encoded digits are decoded: a hunter that does
/// not care how the card was spelled.
fn holds_card(text: &str, pan: &str) -> bool {
    let mut decoded = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1] == b'3' && b[i + 2].is_ascii_digit() {
            decoded.push(b[i + 2] as char);
            i += 3;
        } else {
            decoded.push(b[i] as char);
            i += 1;
        }
    }
    let want: Vec<u8> = pan.bytes().collect();
    let d = decoded.as_bytes();
    (0..d.len()).any(|start| {
        let mut at = start;
        for (k, &digit) in want.iter().enumerate() {
            let window = if k == 0 { 1 } else { 7 };
            match (at..(at + window).min(d.len())).find(|&j| d[j] == digit) {
                Some(j) if k == 0 || d[at..j].iter().all(|c| !c.is_ascii_digit()) => at = j + 1,
                _ => return false,
            }
        }
        true
    })
}

#[test]
fn no_audit_field_carries_a_card_or_security_code_the_request_carried() {
    const PAN: &str = "4000056655665556";
    const CVV: &str = "7391";
    let up = Upstream::ok();
    let policy = policy().replace(
        r#""name": "health""#,
        r#""name": "canary", "match": {"path": "/v1/accounts/**"}, "auth": ["corp-idp"]}, {"name": "health""#,
    );
    let envoy = Harness::new("pci-guard.yaml", policy, up.port)
        .replace(
            "use_downstream_protocol_config:\n          http_protocol_options: {}\n          http2_protocol_options: {}",
            "explicit_http_config:\n          http_protocol_options: {}",
        )
        .start();
    let spaced = "4000 0566 5566 5556";
    let n = now();
    let mut c = claims(&format!("agent {spaced}"), &["cards:read", "exports:read"]);
    c["azp"] = serde_json::json!(format!("client-{PAN}"));
    c["jti"] = serde_json::json!(format!("jti cvv={CVV}"));
    c["jit"] = grant(
        &format!("AR-{PAN} cvv: {CVV}"),
        &["exports:run"],
        &[&format!("bob {spaced}"), &format!("carol cvv={CVV}")],
        n - 60,
        600,
    );
    let token = bearer(&sign("rsa1", &c));
    let paths = [
        format!("/v1/accounts/{PAN}"),
        "/v1/accounts/%34%30%30%30%30%35%36%36%35%35%36%36%35%35%35%36".to_string(),
        format!("/v1/accounts/{}", spaced.replace(' ', "%20")),
        format!("/v1/accounts/x;card={PAN}"),
        format!("/v1/accounts/cvv={CVV}"),
        format!("/v1/exports/{PAN}"),
        format!("/payments.v1.Cards/Get{PAN}"),
    ];
    let headers = [
        ("authorization", token.as_str()),
        ("x-request-id", &format!("rid {PAN} cvv={CVV}")),
        (
            "traceparent",
            &format!("00-{PAN}0000000000000000-0000000000000001-01"),
        ),
        ("host", &format!("{PAN}.payments.test")),
    ];
    for path in &paths {
        let _ = envoy.send("GET", path, &headers, b"");
        let _ = h2(envoy.port, "GET", path, &headers);
    }
    let events = envoy.audit_events(2 * paths.len());
    assert_eq!(events.len(), 2 * paths.len());
    let mut leaks = Vec::new();
    for e in &events {
        // Every leaf field but the chain's hex digests (not input).
        let mut stack = vec![(String::new(), e)];
        while let Some((at, v)) = stack.pop() {
            match v {
                serde_json::Value::Object(m) => stack.extend(
                    m.iter()
                        .filter(|(k, _)| *k != "chain")
                        .map(|(k, v)| (format!("{at}/{k}"), v)),
                ),
                serde_json::Value::Array(a) => {
                    stack.extend(a.iter().enumerate().map(|(i, v)| (format!("{at}/{i}"), v)))
                }
                other => {
                    let text = other.to_string();
                    if holds_card(&text, PAN) || text.contains(CVV) {
                        leaks.push(format!("{} {at}: {text}", e["request"]["path"]));
                    }
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "card data in audit fields:\n{}",
        leaks.join("\n")
    );
    // The hunter finds what it hunts.
    assert!(holds_card("x 4000-0566-5566-5556 y", PAN));
    assert!(holds_card(
        "%34%30%30%30%30%35%36%36%35%35%36%36%35%35%35%36",
        PAN
    ));
    assert!(!holds_card("************5556", PAN));
}

/// A non-gRPC HTTP/2 answer whose body ends inside what may still be a card number (more
/// digits could follow), right before its trailers: the tail is held while the body streams
/// and goes out masked when the trailers say the body is over, plain and gzip-encoded alike
/// (the filter decodes gzip and sends the text plain). Neither is reset, nothing is in clear.
fn a_body_ending_in_a_card_right_before_http2_trailers_comes_out_masked(runtime: Runtime) {
    use std::io::Write as _;
    let token = bearer(&sign("rsa1", &claims("agent-7", &["cards:read"])));
    let text = format!("{{\"note\":\"paid with {CARD}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let json = ("content-type", "application/json".to_string());
    let cases = [
        ("plain", vec![json.clone()], text.clone().into_bytes()),
        ("gzip", vec![json, ("content-encoding", "gzip".into())], gz),
    ];
    for (name, headers, body) in cases {
        let up = H2Upstream::start(H2Reply {
            headers,
            body,
            trailers: Some(vec![("x-done", "1".into())]),
            ..H2Reply::default()
        });
        let envoy = Harness::new("pci-guard.yaml", policy(), up.port)
            .runtime(runtime)
            .start();
        let r = h2(
            envoy.port,
            "GET",
            "/v1/cards/c_1",
            &[("authorization", &token), ("te", "trailers")],
        );
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            format!("{{\"note\":\"paid with {MASKED}"),
            "{name}: the whole body, masked"
        );
        assert!(
            r.trailers.iter().any(|(n, _)| n == "x-done"),
            "{name}: the trailers arrived (the stream was not reset): {r:?}"
        );
        let e = &envoy.audit_events(1)[0];
        assert!(e["redaction"]["refused"].is_null(), "{name}: {e}");
        assert_eq!(e["redaction"]["pan"], 1, "{name}: {e}");
    }
}

with_runtimes!(a_body_ending_in_a_card_right_before_http2_trailers_comes_out_masked);
