//! Card numbers and security codes as real systems spell them, through a real Envoy: every
//! case of `pci_guard_testkit::spellings` reaches an HTTP/1.1 and an HTTP/2 client exactly as
//! its table says (masked, or unchanged for the look-alikes), sent by the upstream in one piece,
//! in 1-byte chunks, in small uneven chunks and cut in two in the middle. Every failure is
//! listed, not only the first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::*;
use pci_guard_testkit::spellings::{Case, CODES, PANS, UNCHANGED};
use std::sync::Arc;

const POLICY: &str = r#"{"version": "spellings-e2e", "routes": [{"name": "all", "match": {"path_prefix": "/"}, "auth": "public"}]}"#;

/// How the upstream sends a body of `len` bytes: `/case/<n>/<framing>`.
fn framing(name: &str, len: usize) -> Framing {
    match name {
        "whole" => Framing::ContentLength,
        "bytes" => Framing::Chunked(vec![1]),
        "uneven" => Framing::Chunked(vec![5, 2, 11]),
        _ => Framing::Chunked(vec![len / 2, len]),
    }
}

const FRAMINGS: [&str; 4] = ["whole", "bytes", "uneven", "halves"];

/// An upstream answering `/case/<n>/<framing>` with case `n`, framed so.
fn upstream(cases: Arc<Vec<Case>>) -> Upstream {
    Upstream::start(Arc::new(move |r: &Received| {
        let mut parts = r.path.trim_start_matches("/case/").split('/');
        let n: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let f = parts.next().unwrap_or("whole");
        let case = cases[n.min(cases.len() - 1)];
        Reply {
            framing: framing(f, case.body.len()),
            ..Reply::with(case.content_type, case.body.as_bytes().to_vec())
        }
    }))
}

/// Sends every case in every framing over HTTP/1.1 and HTTP/2; asserts each arrives as
/// `case.masked`.
fn through_envoy(cases: Vec<Case>) {
    let cases = Arc::new(cases);
    let up = upstream(cases.clone());
    // An HTTP/1.1 upstream for HTTP/2 clients too (the usual sidecar setup).
    let envoy = Harness::new("pci-guard.yaml", POLICY, up.port)
        .replace(
            "use_downstream_protocol_config:\n          http_protocol_options: {}\n          http2_protocol_options: {}",
            "explicit_http_config:\n          http_protocol_options: {}",
        )
        .start();
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        for f in FRAMINGS {
            let path = format!("/case/{n}/{f}");
            let h1 = envoy.send("GET", &path, &[], b"");
            let h2 = h2_get(envoy.port, &path);
            for (proto, got) in [("HTTP/1.1", Ok((h1.status, h1.body))), ("HTTP/2", h2)] {
                match got {
                    Ok((200, body)) if body == case.masked.as_bytes() => {}
                    Ok((status, body)) => failures.push(format!(
                        "{} ({proto}, {f}): {status} {:?}",
                        case.name,
                        String::from_utf8_lossy(&body)
                    )),
                    Err(e) => failures.push(format!("{} ({proto}, {f}): {e}", case.name)),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} responses differ from the table:\n{}",
        failures.len(),
        cases.len() * FRAMINGS.len() * 2,
        failures.join("\n")
    );
    let events = envoy.audit_events(cases.len() * FRAMINGS.len() * 2);
    assert!(
        events.iter().all(|e| e["redaction"]["refused"].is_null()),
        "a response was refused"
    );
}

#[test]
fn card_numbers_in_every_spelling_reach_clients_masked() {
    through_envoy(PANS.to_vec());
}

#[test]
fn security_codes_under_every_key_and_shape_reach_clients_masked() {
    through_envoy(CODES.to_vec());
}

#[test]
fn look_alikes_of_card_data_reach_clients_unchanged() {
    through_envoy(
        UNCHANGED
            .iter()
            .map(|&(name, body)| Case {
                name,
                content_type: "text/plain",
                body,
                masked: body,
            })
            .collect(),
    );
}

/// The `testdata/bodies/spellings.*` bodies (a JSON response, an HTML receipt, a
/// quoted-printable e-mail, log lines) reach clients exactly as their `.expected` twins.
#[test]
fn spelling_fixtures_reach_clients_as_expected() {
    let dir = root().join("testdata/bodies");
    let leak = |s: &str| Box::leak(s.to_owned().into_boxed_str()) as &'static str;
    let cases: Vec<Case> = [
        ("spellings.json", "application/json"),
        ("spellings.html", "text/html"),
        ("spellings.eml", "message/rfc822"),
        ("spellings.txt", "text/plain"),
    ]
    .into_iter()
    .map(|(name, content_type)| {
        let read = |f: String| leak(&std::fs::read_to_string(dir.join(f)).unwrap());
        Case {
            name,
            content_type,
            body: read(name.to_owned()),
            masked: read(format!("{name}.expected")),
        }
    })
    .collect();
    through_envoy(cases);
}
