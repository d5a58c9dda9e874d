//! The service's scenarios on SQLite (an embedded file, the default).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{rt, scenarios, Config, TempDir};

fn cfg(dir: &TempDir) -> Config {
    Config::new(format!("sqlite://{}/approvals.db", dir.0.display()), &dir.0)
}

macro_rules! on_sqlite {
    ($($name:ident => $scenario:expr;)*) => {$(
        #[test]
        fn $name() {
            let dir = TempDir::new(stringify!($name));
            rt().block_on($scenario(cfg(&dir)));
        }
    )*};
}

on_sqlite! {
    request_two_approvals_exchange_grant_on_sqlite => scenarios::flow;
    simultaneous_approvals_give_one_grant_on_sqlite => |c| scenarios::concurrent_approvals(c, 1);
    bad_input_is_refused_and_changes_nothing_on_sqlite => scenarios::bad_input;
    revocation_is_listed_and_stops_the_grant_on_sqlite => scenarios::revocation;
    restart_keeps_pending_requests_and_the_key_on_sqlite => scenarios::restart;
    webhooks_are_retried_and_carry_no_token_on_sqlite => scenarios::webhooks;
    pending_requests_expire_on_sqlite => scenarios::expiry;
    grpc_method_binding_on_sqlite => scenarios::grpc_binding;
    keys_rotate_published_before_they_sign_on_sqlite => scenarios::key_rotation;
}

/// A provider with remote keys: the service fetches them itself (here from a local server
/// named with `--jwks-url`) and refuses tokens with 401 until it has them.
#[test]
fn remote_provider_keys_are_fetched_by_the_service() {
    use axum::routing::get;
    let dir = TempDir::new("remote-jwks");
    let rt = rt();
    let jwks = std::fs::read_to_string(pci_guard_testkit::keys::keys_dir().join("ec256.jwks.json"))
        .unwrap();
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let f = fetches.clone();
    let url = rt.block_on(async move {
        let app = axum::Router::new().route(
            "/jwks",
            get(move || {
                f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = jwks.clone();
                async move { body }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        url
    });
    let mut c = cfg(&dir);
    c.remote_jwks = Some(url);
    let svc = common::Service::start(&c);
    let client = common::Client::new(&svc.url);
    let status = rt.block_on(async {
        for _ in 0..50 {
            let (s, _) = client.get("/v1/requests", &common::agent()).await;
            if s != 401 {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        401
    });
    assert_eq!(status, 200);
    assert!(fetches.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}
