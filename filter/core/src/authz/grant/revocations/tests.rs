use super::*;

fn cfg() -> RevocationsConfig {
    RevocationsConfig {
        refresh_secs: 5,
        max_stale_secs: 30,
        retry_secs: 1,
        fetch_timeout_secs: 2,
    }
}

const V1: &[u8] = br#"{"version": 1, "generated_at": 9, "revoked": [{"id": "grt_a", "revoked_at": 5, "exp": 99}]}"#;
const V2: &[u8] =
    br#"{"version": 2, "generated_at": 9, "revoked": [{"id": "grt_a"}, {"id": "grt_b"}]}"#;

#[test]
fn a_revoked_grant_is_refused_and_others_pass() {
    let mut r = Revocations::new(cfg());
    r.on_fetch_ok(V1, Some("\"e1\""), 100).unwrap();
    assert_eq!(r.check("grt_a", 100), Err(true));
    assert_eq!(r.check("grt_b", 100), Ok(()));
    assert_eq!(r.version(), Some(1));
    assert_eq!(r.etag(), Some("\"e1\""));
}

#[test]
fn never_fetched_or_past_max_stale_nothing_can_be_told() {
    let mut r = Revocations::new(cfg());
    assert_eq!(r.check("grt_b", 0), Err(false), "never fetched");
    r.on_fetch_ok(V1, None, 100).unwrap();
    assert_eq!(r.check("grt_b", 129), Ok(()));
    assert_eq!(r.check("grt_b", 130), Err(false), "30 s old");
    r.on_not_modified(131);
    assert_eq!(r.check("grt_b", 131), Ok(()), "a 304 is a fresh answer");
}

#[test]
fn a_304_before_any_list_is_not_fresh() {
    let mut r = Revocations::new(cfg());
    r.on_not_modified(5);
    assert!(!r.fresh(5));
}

#[test]
fn a_lagging_copy_is_ignored_and_does_not_refresh() {
    let mut r = Revocations::new(cfg());
    r.on_fetch_ok(V2, None, 100).unwrap();
    assert_eq!(
        r.on_fetch_ok(V1, None, 120),
        Err(ListError::Older { got: 1, have: 2 })
    );
    assert_eq!(r.check("grt_b", 120), Err(true), "grt_b stays revoked");
    assert_eq!(r.check("grt_c", 130), Err(false), "age from 100, not 120");
}

#[test]
fn garbage_keeps_the_list_and_backs_off() {
    let mut r = Revocations::new(cfg());
    r.on_fetch_ok(V1, None, 100).unwrap();
    r.on_fetch_start(105);
    assert!(r.on_fetch_ok(b"<html>", None, 105).is_err());
    assert_eq!(r.check("grt_a", 106), Err(true));
    assert!(!r.should_fetch(105), "retry after a second");
    assert!(r.should_fetch(106));
    r.on_fetch_start(106);
    r.on_fetch_err(106);
    assert!(!r.should_fetch(107), "two failures: two seconds");
    assert!(r.should_fetch(108));
}

#[test]
fn polls_every_refresh_one_at_a_time() {
    let mut r = Revocations::new(cfg());
    assert!(r.should_fetch(0));
    r.on_fetch_start(0);
    assert!(!r.should_fetch(1), "in flight");
    r.on_fetch_ok(V1, None, 1).unwrap();
    assert!(!r.should_fetch(5));
    assert!(r.should_fetch(6));
    r.on_fetch_start(6);
    assert!(
        r.should_fetch(8),
        "a poll in flight past its timeout is lost"
    );
}

#[test]
fn a_list_from_another_vm_is_adopted_with_its_age() {
    let mut r = Revocations::new(cfg());
    r.adopt(V2, 50).unwrap();
    assert_eq!(r.check("grt_b", 60), Err(true));
    assert_eq!(
        r.check("grt_c", 80),
        Err(false),
        "fetched at 50 by the other VM"
    );
    r.adopt(V1, 40).unwrap();
    assert_eq!(r.version(), Some(2), "not newer: ignored");
}
