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
