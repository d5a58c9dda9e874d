//! One test file per module file: `Matcher` and `RequestLine` here, the others under their
//! own names.

mod canonical;
mod covers;
mod metadata;
mod path;

use super::*;

#[test]
fn query_string_never_takes_part_in_matching() {
    let r = RequestLine::new("GET", "/healthz?x=/v1/cards/1", false);
    assert_eq!(r.path, "/healthz");
}

#[test]
fn grpc_matcher_needs_a_grpc_request() {
    let m = Matcher {
        grpc: GrpcMatch::parse("payments.v1.Cards/GetCard"),
        ..Default::default()
    };
    assert!(m.matches(&RequestLine::new(
        "POST",
        "/payments.v1.Cards/GetCard",
        true
    )));
    assert!(!m.matches(&RequestLine::new(
        "POST",
        "/payments.v1.Cards/GetCard",
        false
    )));
    assert!(!m.matches(&RequestLine::new(
        "POST",
        "/payments.v1.Cards/ListCards",
        true
    )));
    let any = Matcher {
        grpc: GrpcMatch::parse("payments.v1.Cards/*"),
        ..Default::default()
    };
    assert!(any.matches(&RequestLine::new(
        "POST",
        "/payments.v1.Cards/ListCards",
        true
    )));
}

#[test]
fn methods_and_route_name_must_all_hold() {
    let m = Matcher {
        methods: vec!["GET".into()],
        route_name: Some("cards".into()),
        ..Default::default()
    };
    let mut r = RequestLine::new("GET", "/x", false);
    assert!(!m.matches(&r));
    r.route_name = Some("cards");
    assert!(m.matches(&r));
    r.method = "POST";
    assert!(!m.matches(&r));
}
