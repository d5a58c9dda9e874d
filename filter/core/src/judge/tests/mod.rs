//! The three entries as every host calls them.

use super::*;
use crate::answer::Answer;
use crate::audit::Chain;
use crate::identity::signature::PureVerifier;
use crate::identity::Keyring;
use crate::policy::Policy;
use crate::reason::Reason;
use serde_json::json;
use std::path::PathBuf;

mod grants;
mod operations;

const NOW_MS: u64 = 1_800_000_000_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn payments() -> Policy {
    Policy::parse(&std::fs::read(root().join("testdata/policies/payments.json")).unwrap()).unwrap()
}

fn token(scope: &str) -> String {
    let now = NOW_MS / 1000;
    pci_guard_testkit::mint_as(
        "rsa1",
        &json!({"iss": "https://idp.example.com", "aud": "payments-api", "sub": "agent-7",
                "iat": now, "exp": now + 600, "scope": scope}),
    )
}

fn headers(method: &str, path: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_string(), method.to_string()),
        (":path".to_string(), path.to_string()),
        (":authority".to_string(), "payments.test".to_string()),
        ("x-request-id".to_string(), "req-9".to_string()),
    ];
    if let Some(t) = token {
        h.push(("authorization".into(), format!("Bearer {t}")));
    }
    h
}

fn judge(policy: &Policy, h: &[(String, String)], may_wait: bool) -> Judged {
    let mut keyring = Keyring::new(&policy.providers, NOW_MS);
    let state = State {
        policy,
        keyring: &mut keyring,
        crypto: &PureVerifier,
        grants: None,
    };
    let req = Request {
        headers: h,
        route_name: None,
        route_metadata: None,
        source_address: Some("10.0.0.5:1234"),
        source_principal: None,
        started_ms: NOW_MS,
    };
    request(Some(state), &req, NOW_MS, may_wait)
}

fn done(j: Judged) -> Verdict {
    match j {
        Judged::Done(v) => *v,
        Judged::Wait { .. } => panic!("told to wait"),
        Judged::ReadBody { .. } => panic!("asked for the body"),
    }
}

fn edit(v: &Verdict, name: &str) -> Option<Option<String>> {
    v.edits
        .iter()
        .find(|e| e.name() == name)
        .map(|e| e.value().map(str::to_string))
}

#[test]
fn an_allowed_request_gets_its_edits_its_event_and_a_response_plan() {
    let p = payments();
    let v = done(judge(
        &p,
        &headers("GET", "/v1/cards/c_1?x=1", Some(&token("cards:read"))),
        true,
    ));
    assert!(!v.blocks());
    assert_eq!(v.decision.reason, Reason::Ok);
    assert_eq!(
        edit(&v, "authorization"),
        Some(None),
        "the token is stripped"
    );
    assert_eq!(edit(&v, "x-pci-subject"), Some(Some("agent-7".into())));
    assert_eq!(edit(&v, "accept-encoding"), Some(Some("identity".into())));
    let e = &v.event;
    assert_eq!(e.request.path, "/v1/cards/c_1", "no query string");
    assert_eq!(e.request.route.as_deref(), Some("cards-read"));
    assert_eq!(e.identity.as_ref().unwrap().sub.as_deref(), Some("agent-7"));
    assert_eq!(e.policy.digest, p.digest);
    assert_eq!(e.source.address.as_deref(), Some("10.0.0.5:1234"));
    assert!(v.response.is_some());
}

#[test]
fn a_denied_request_gets_its_reply_and_no_edits() {
    let p = payments();
    let v = done(judge(&p, &headers("GET", "/v1/cards/c_1", None), true));
    assert!(v.blocks() && v.edits.is_empty() && v.response.is_none());
    let Some(Answer::Http { status, body, .. }) = &v.reply else {
        panic!("{:?}", v.reply)
    };
    assert_eq!(*status, 401);
    assert!(String::from_utf8_lossy(body).contains("\"request_id\":\"req-9\""));
    let d = v.event.decision.as_ref().unwrap();
    assert_eq!(d.reason, Reason::TokenMissing);
}

#[test]
fn a_rule_in_dry_run_lets_the_request_pass_and_says_would_deny() {
    let p = payments();
    let v = done(judge(
        &p,
        &headers("GET", "/v1/cards/search", Some(&token("cards:read"))),
        true,
    ));
    assert!(!v.blocks());
    let d = v.event.decision.as_ref().unwrap();
    assert_eq!(d.rule.as_deref(), Some("watch-card-search"));
    assert!(d.dry_run);
}

#[test]
fn a_provider_without_keys_yet_makes_the_request_wait_only_if_it_may() {
    let p = payments();
    let h = headers("GET", "/v2/cards/c_1", Some(&token("cards:read")));
    match judge(&p, &h, true) {
        Judged::Wait {
            deadline_ms,
            providers,
        } => {
            // rotating-idp: 1 s fetch timeout, two of them and a second of grace.
            assert_eq!(deadline_ms, NOW_MS + 3_000);
            let rotating = p.providers.iter().position(|x| x.name == "rotating-idp");
            assert_eq!(providers, vec![rotating.unwrap()]);
        }
        Judged::Done(v) => panic!("{:?}", v.decision),
        Judged::ReadBody { .. } => panic!("asked for the body"),
    }
    let v = done(judge(&p, &h, false));
    assert_eq!(v.decision.reason, Reason::JwksUnavailable);
}

#[test]
fn without_a_policy_every_request_is_refused() {
    let h = headers("GET", "/healthz", None);
    let req = Request {
        headers: &h,
        route_name: None,
        route_metadata: None,
        source_address: None,
        source_principal: None,
        started_ms: NOW_MS,
    };
    let v = done(request(None, &req, NOW_MS, true));
    assert!(matches!(v.reply, Some(Answer::Http { status: 503, .. })));
    assert_eq!(
        v.event.decision.as_ref().unwrap().reason,
        Reason::FilterUnavailable
    );
}

fn plan(p: &Policy) -> ResponsePlan {
    done(judge(
        p,
        &headers("GET", "/v1/cards/c_1", Some(&token("cards:read"))),
        true,
    ))
    .response
    .unwrap()
}

fn pairs(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_response_headers_decide_the_body_plan() {
    let p = payments();
    let plan = plan(&p);
    let start = |h: &[(&str, &str)], eos: bool| response(&plan, &pairs(h), eos, Some("r"));
    assert!(matches!(
        start(&[("content-type", "application/json")], false).body,
        BodyPlan::Scan {
            grpc: false,
            decoder: None,
            events: false,
        }
    ));
    assert!(matches!(
        start(
            &[("content-type", "text/event-stream; charset=utf-8")],
            false
        )
        .body,
        BodyPlan::Scan { events: true, .. }
    ));
    let gz = start(
        &[("content-type", "text/plain"), ("content-encoding", "gzip")],
        false,
    );
    assert!(matches!(
        gz.body,
        BodyPlan::Scan {
            decoder: Some(_),
            ..
        }
    ));
    let dropped: Vec<&str> = gz.edits.iter().map(|e| e.name()).collect();
    assert_eq!(dropped, ["content-encoding", "content-length"]);
    assert!(matches!(
        start(&[("content-type", "image/png")], false).body,
        BodyPlan::Pass
    ));
    assert!(matches!(
        start(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "br")
            ],
            false
        )
        .body,
        BodyPlan::Refuse {
            reason: Reason::BodyUndecodable,
            reply: Answer::Http { status: 502, .. }
        }
    ));
    // Several content types (a list, or the header twice): the body is scanned unless every
    // one says to pass it.
    for listed in [
        &[("content-type", "image/png, application/json")][..],
        &[
            ("content-type", "image/png"),
            ("content-type", "application/json"),
        ][..],
    ] {
        assert!(
            matches!(start(listed, false).body, BodyPlan::Scan { .. }),
            "{listed:?}"
        );
    }
    assert!(matches!(
        start(&[("content-type", "image/png, video/mp4")], false).body,
        BodyPlan::Pass
    ));
    assert!(matches!(
        start(
            &[(":status", "206"), ("content-type", "application/json")],
            false
        )
        .body,
        BodyPlan::Refuse {
            reason: Reason::BodyPartial,
            ..
        }
    ));
    let no_body = start(&[("location", "/c/4111111111111111")], true);
    assert!(matches!(no_body.body, BodyPlan::Pass));
    assert_eq!(no_body.edits[0].value(), Some("/c/************1111"));
}

#[test]
fn log_completes_masks_and_seals_the_event() {
    let p = payments();
    let mut v = done(judge(
        &p,
        &headers(
            "GET",
            "/v1/cards/4111111111111111",
            Some(&token("cards:read")),
        ),
        true,
    ));
    let mut chain = Chain::new("vm-1".into(), None);
    let facts = ResponseFacts {
        status: Some(200),
        bytes: 42,
        ended_ms: NOW_MS + 7,
        ..Default::default()
    };
    let line = log(
        &mut v.event,
        facts,
        NOW_MS,
        &p.redaction.options,
        Some(&mut chain),
    );
    let e: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(e["request"]["path"], "/v1/cards/************1111");
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["response"]["bytes"], 42);
    assert_eq!(e["duration_ms"], 7.0);
    assert_eq!(e["chain"]["seq"], 0);
    assert!(!String::from_utf8_lossy(&line).contains("4111111111111111"));
}

#[test]
fn a_method_override_in_a_header_or_the_query_is_refused() {
    let p = payments();
    let t = token("cards:read");
    for (path, header) in [
        ("/v1/cards/c_1?_method=DELETE", None),
        ("/v1/cards/c_1?a=1&%5Fmethod=DELETE", None),
        ("/v1/cards/c_1?_METHOD=delete", None),
        ("/v1/cards/c_1", Some("x-original-method")),
        ("/v1/cards/c_1", Some("x-http-method-override")),
    ] {
        let mut h = headers("POST", path, Some(&t));
        if let Some(name) = header {
            h.push((name.to_string(), "DELETE".to_string()));
        }
        let v = done(judge(&p, &h, true));
        assert_eq!(
            v.decision.reason,
            Reason::MethodOverride,
            "{path} {header:?}"
        );
        assert!(matches!(v.reply, Some(Answer::Http { status: 400, .. })));
    }
    // A parameter that only ends in `_method` is not one.
    let v = done(judge(
        &p,
        &headers("GET", "/v1/cards/c_1?payment_method=card", Some(&t)),
        true,
    ));
    assert_eq!(v.decision.reason, Reason::Ok);
}

#[test]
fn the_event_records_the_request_as_sent_not_as_folded() {
    let p = payments();
    let v = done(judge(
        &p,
        &headers("get", "/V1/Cards/C_1;x?q=1", Some(&token("cards:read"))),
        true,
    ));
    assert_eq!(
        v.decision.reason,
        Reason::Ok,
        "cards-read matched the folded path"
    );
    assert_eq!(v.event.request.method, "get");
    assert_eq!(v.event.request.path, "/V1/Cards/C_1;x");
}
