use crate::routes::{PathMatch, TemplateError};

fn t(s: &str) -> PathMatch {
    PathMatch::template(s).unwrap()
}

#[test]
fn template_variables_match_exactly_one_nonempty_segment() {
    let m = t("/v1/cards/{id}");
    assert!(m.matches("/v1/cards/c_1"));
    assert!(!m.matches("/v1/cards/"));
    assert!(!m.matches("/v1/cards"));
    assert!(!m.matches("/v1/cards/c_1/refunds"));
}

#[test]
fn double_star_matches_the_rest_including_nothing() {
    let m = t("/v1/cards/**");
    assert!(m.matches("/v1/cards"));
    assert!(m.matches("/v1/cards/a/b/c"));
    assert!(!m.matches("/v1/cardsx"));
}

#[test]
fn template_without_variables_is_exact() {
    assert_eq!(t("/healthz"), PathMatch::Exact("/healthz".into()));
    assert!(!t("/healthz").matches("/healthz/"));
}

#[test]
fn bad_templates_are_rejected_with_a_reason() {
    assert_eq!(PathMatch::template("v1"), Err(TemplateError::NotAbsolute));
    assert_eq!(
        PathMatch::template("/a/**/b"),
        Err(TemplateError::RestNotLast)
    );
    assert!(matches!(
        PathMatch::template("/a/x{id}"),
        Err(TemplateError::BadVariable(_))
    ));
}
