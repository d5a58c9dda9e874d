use crate::routes::{GrpcMatch, Matcher, PathMatch};

fn t(s: &str) -> PathMatch {
    PathMatch::template(s).unwrap()
}

fn m(methods: &[&str], path: Option<PathMatch>) -> Matcher {
    Matcher {
        methods: methods.iter().map(|s| s.to_string()).collect(),
        path,
        ..Matcher::default()
    }
}

#[test]
fn covers_is_sure_or_says_no() {
    let any = Matcher::default();
    let prefix = |p: &str| Some(PathMatch::Prefix(p.to_string()));
    assert!(any.covers(&m(&["GET"], Some(t("/v1/cards/{id}")))));
    assert!(m(&[], prefix("/v1/")).covers(&m(&["GET"], Some(t("/v1/cards/{id}")))));
    assert!(m(&[], prefix("/v1/")).covers(&m(&[], prefix("/v1/cards"))));
    assert!(!m(&[], prefix("/v1/cards")).covers(&m(&[], prefix("/v1/"))));
    assert!(m(&["GET", "POST"], Some(t("/a/{x}"))).covers(&m(&["GET"], Some(t("/a/b")))));
    assert!(!m(&["GET"], Some(t("/a/{x}"))).covers(&m(&[], Some(t("/a/b")))));
    assert!(m(&[], Some(t("/a/**"))).covers(&m(&[], Some(t("/a/{x}/c")))));
    assert!(m(&[], Some(t("/a/**"))).covers(&m(&[], prefix("/a/b"))));
    assert!(!m(&[], Some(t("/a/**"))).covers(&m(&[], prefix("/ab"))));
    assert!(!m(&[], Some(t("/a/{x}"))).covers(&m(&[], Some(t("/a/**")))));
    assert!(!m(&[], prefix("/a/")).covers(&m(&[], Some(t("/a/**")))));
    assert!(m(&[], prefix("/a")).covers(&m(&[], Some(t("/a/**")))));
    let grpc = |g: &str| Matcher {
        grpc: GrpcMatch::parse(g),
        ..Matcher::default()
    };
    assert!(grpc("p.S/*").covers(&grpc("p.S/M")));
    assert!(!grpc("p.S/M").covers(&grpc("p.S/*")));
    assert!(!grpc("p.S/M").covers(&any));
}
