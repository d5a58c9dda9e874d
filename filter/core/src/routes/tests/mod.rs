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
fn grpc_matcher_matches_the_method_path_whatever_the_content_type() {
    let m = Matcher {
        grpc: GrpcMatch::parse("payments.v1.Cards/GetCard"),
        ..Default::default()
    };
    assert!(m.matches(&RequestLine::new(
        "POST",
        "/payments.v1.Cards/GetCard",
        true
    )));
    // The path names the method whatever the content type says, in any case, with or
    // without a trailing slash.
    for (path, grpc) in [
        ("/payments.v1.Cards/GetCard", false),
        ("/payments.v1.cards/getcard", true),
        ("/PAYMENTS.V1.CARDS/GETCARD/", false),
    ] {
        assert!(m.matches(&RequestLine::new("POST", path, grpc)), "{path}");
    }
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
    r.method = "POST".into();
    assert!(!m.matches(&r));
}
