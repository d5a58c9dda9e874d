//! The service's scenarios on PostgreSQL (Debian's package; each test starts its own cluster
//! on 127.0.0.1 and stops it), plus what only PostgreSQL offers: replicas sharing one
//! database, and the database going away and coming back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::pg::Pg;
use common::{agent, alice, rt, scenarios, Client, Config, Service, TempDir};
use serde_json::json;

macro_rules! on_postgres {
    ($($name:ident => $scenario:expr;)*) => {$(
        #[test]
        fn $name() {
            let Some(pg) = Pg::require(stringify!($name)) else { return };
            let dir = TempDir::new(stringify!($name));
            let cfg = Config::new(pg.database("approvals"), &dir.0);
            rt().block_on($scenario(cfg));
        }
    )*};
}

on_postgres! {
    request_two_approvals_exchange_grant_on_postgres => scenarios::flow;
    simultaneous_approvals_give_one_grant_on_postgres => |c| scenarios::concurrent_approvals(c, 1);
    two_replicas_on_one_database_act_as_one => |c| scenarios::concurrent_approvals(c, 2);
    bad_input_is_refused_and_changes_nothing_on_postgres => scenarios::bad_input;
    revocation_is_listed_and_stops_the_grant_on_postgres => scenarios::revocation;
    restart_keeps_pending_requests_and_the_key_on_postgres => scenarios::restart;
    webhooks_are_retried_and_carry_no_token_on_postgres => scenarios::webhooks;
}

/// The database down: 503 (and nothing half-done); back up: everything accepted before is
/// there and the service works again without a restart.
#[test]
fn database_down_gives_503_then_recovers_with_nothing_lost() {
    let Some(mut pg) = Pg::require("database_down_gives_503_then_recovers_with_nothing_lost")
    else {
        return;
    };
    let dir = TempDir::new("outage");
    let cfg = Config::new(pg.database("approvals"), &dir.0);
    let svc = Service::start(&cfg);
    let c = Client::new(&svc.url);
    let rt = rt();
    let id = rt.block_on(c.file_export(&agent()));

    pg.stop();
    rt.block_on(async {
        let (s, v) = c
            .post(
                "/v1/requests",
                &agent(),
                json!({"rule": "bulk-export", "justification": "x"}),
            )
            .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (503, Some("database_unavailable")),
            "{v}"
        );
        let (s, _) = c
            .post(&format!("/v1/requests/{id}/approve"), &alice(), json!({}))
            .await;
        assert_eq!(s, 503);
        let (s, _) = c.call("GET", "/healthz", None, None).await;
        assert_eq!(s, 503);
    });

    pg.start_again().unwrap();
    rt.block_on(async {
        let (s, _) = c.call("GET", "/healthz", None, None).await;
        assert_eq!(s, 200);
        let (_, v) = c.get(&format!("/v1/requests/{id}"), &agent()).await;
        assert_eq!(
            v["state"], "pending",
            "accepted before the outage, kept: {v}"
        );
        let (_, l) = c.get("/v1/requests", &agent()).await;
        assert_eq!(
            l["requests"].as_array().unwrap().len(),
            1,
            "the refused call filed nothing"
        );
        let (s, v) = c
            .post(&format!("/v1/requests/{id}/approve"), &alice(), json!({}))
            .await;
        assert_eq!((s, v["state"].as_str()), (200, Some("approved")), "{v}");
    });
}
