//! The host's side of a callout's answer, without Envoy: what the callout-done hook delivers
//! is what the plugin reads (status, headers, body), and only while it is delivered.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn main_host() -> DynamicHost {
    DynamicHost::main(Shared::new(EnvoyPtr(std::ptr::null_mut()), Vec::new()))
}

fn headers(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_callout_answer_gives_the_plugin_its_etag_for_the_next_poll() {
    let host = main_host();
    let answer = headers(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("etag", "\"rv-3f1c\""),
    ]);
    // The callout was not dispatched by this host: no token, but the answer is readable.
    assert_eq!(host.deliver(7, answer, b"{\"revoked\":[]}".to_vec()), None);
    assert_eq!(host.http_call_status().as_deref(), Some("200"));
    assert_eq!(
        host.http_call_header("etag").as_deref(),
        Some("\"rv-3f1c\"")
    );
    assert_eq!(
        host.http_call_header("ETag").as_deref(),
        Some("\"rv-3f1c\"")
    );
    assert_eq!(host.http_call_header("last-modified"), None);
    assert_eq!(host.http_call_body(100).unwrap(), b"{\"revoked\":[]}");
    host.delivered();
    assert_eq!(host.http_call_header("etag"), None, "only while delivered");
    assert_eq!(host.http_call_status(), None);
}

#[test]
fn a_not_modified_answer_has_its_status_and_no_body() {
    let host = main_host();
    host.deliver(
        8,
        headers(&[(":status", "304"), ("etag", "\"rv-3f1c\"")]),
        Vec::new(),
    );
    assert_eq!(host.http_call_status().as_deref(), Some("304"));
    assert_eq!(host.http_call_body(0).unwrap(), b"");
}

#[test]
fn a_failed_callout_has_no_status_and_no_headers() {
    let host = main_host();
    host.deliver(9, Vec::new(), Vec::new());
    assert_eq!(host.http_call_status(), None);
    assert_eq!(host.http_call_header("etag"), None);
}
