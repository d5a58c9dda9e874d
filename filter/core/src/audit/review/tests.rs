use super::*;
use serde_json::json;

fn ev(t: &str, sub: Option<&str>, route: &str, result: &str, pans: u64) -> serde_json::Value {
    json!({"time": t, "identity": sub.map(|s| json!({"provider": "idp", "sub": s})),
           "request": {"route": route}, "decision": {"result": result},
           "redaction": {"pan": pans, "cvv": 0, "track": 0}})
}

#[test]
fn parses_the_filters_time_format() {
    assert_eq!(parse_time("1970-01-01T00:00:00.000Z"), Some(0));
    assert_eq!(parse_time("2026-11-27T08:00:00.123Z"), Some(1_795_766_400));
}

#[test]
fn counts_per_identity_and_route() {
    let mut r = Review::new(None, None);
    r.push(&ev(
        "2026-11-27T10:00:00.000Z",
        Some("a"),
        "cards",
        "allow",
        2,
    ));
    r.push(&ev(
        "2026-11-27T10:00:01.000Z",
        Some("a"),
        "cards",
        "deny",
        0,
    ));
    r.push(&ev(
        "2026-11-27T10:00:02.000Z",
        None,
        "health",
        "would_deny",
        0,
    ));
    let rep = r.finish();
    assert_eq!(rep.events, 3);
    let c = &rep.by_identity["idp/a"]["cards"];
    assert_eq!((c.allowed, c.denied, c.pan_masked), (1, 1, 2));
    assert_eq!(rep.by_identity["(anonymous)"]["health"].would_deny, 1);
}

#[test]
fn flags_a_denial_burst_once() {
    let mut r = Review::new(None, None);
    for i in 0..8 {
        r.push(&ev(
            &format!("2026-11-27T10:00:{:02}.000Z", i * 5),
            Some("a"),
            "x",
            "deny",
            0,
        ));
    }
    let rep = r.finish();
    assert_eq!(
        rep.flags
            .iter()
            .filter(|f| f.kind == "denial_burst")
            .count(),
        1
    );
}

#[test]
fn spread_out_denials_are_not_a_burst() {
    let mut r = Review::new(None, None);
    for i in 0..8 {
        r.push(&ev(
            &format!("2026-11-27T10:{:02}:00.000Z", i * 5),
            Some("a"),
            "x",
            "deny",
            0,
        ));
    }
    assert!(r.finish().flags.is_empty());
}

#[test]
fn flags_a_sudden_rise_in_masked_pans() {
    let mut r = Review::new(None, None);
    for h in 0..3 {
        r.push(&ev(
            &format!("2026-11-27T{:02}:00:00.000Z", 10 + h),
            Some("a"),
            "x",
            "allow",
            5,
        ));
    }
    r.push(&ev(
        "2026-11-27T13:00:00.000Z",
        Some("a"),
        "x",
        "allow",
        500,
    ));
    let rep = r.finish();
    assert_eq!(rep.flags.len(), 1, "{:?}", rep.flags);
    assert_eq!(rep.flags[0].kind, "masked_pan_rise");
}

#[test]
fn flags_grant_use_after_expiry_and_lists_grants() {
    let mut r = Review::new(None, None);
    let mut e = ev("2026-11-27T11:00:00.000Z", Some("a"), "refund", "allow", 0);
    e["jit"] = json!({"id": "AR-1", "approved_by": ["alice"], "approved_at": "2026-11-27T09:00:00.000Z", "expires_at": "2026-11-27T10:30:00.000Z"});
    r.push(&e);
    let rep = r.finish();
    assert_eq!(rep.grants.len(), 1);
    assert_eq!(rep.grants[0].approved_by, vec!["alice"]);
    assert_eq!(rep.flags[0].kind, "grant_outside_window");
}

#[test]
fn since_and_until_bound_the_review() {
    let mut r = Review::new(
        Some("2026-11-27T10:00:01".into()),
        Some("2026-11-27T10:00:02".into()),
    );
    for i in 0..4 {
        r.push(&ev(
            &format!("2026-11-27T10:00:0{i}.000Z"),
            Some("a"),
            "x",
            "allow",
            0,
        ));
    }
    assert_eq!(r.finish().events, 1);
}
