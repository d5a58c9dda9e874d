//! Before a setup is measured, it is checked to do what it claims: the same policy enforced,
//! bodies masked (or, where nothing masks, unchanged).

use pci_guard_e2e::{tokens, Envoy};

use crate::bodies::Body;
use crate::setups::Setup;
use crate::Ctx;

/// The `Authorization` header value for `token`.
pub fn auth(token: &str) -> String {
    tokens::bearer(token)
}

/// 200 with the token, 401 without or with a bad one, 403 without the scope, 403 on DELETE;
/// nothing to check for setups that enforce nothing.
pub fn check_policy(ctx: &Ctx, setup: &Setup, envoy: &Envoy) {
    if !setup.enforces() {
        return;
    }
    let name = setup.label();
    let ok = envoy.send(
        "GET",
        "/v1/cards/small",
        &[("authorization", &auth(&ctx.warm))],
        b"",
    );
    assert_eq!(ok.status, 200, "{name}: valid token");
    let none = envoy.send("GET", "/v1/cards/small", &[], b"");
    assert_eq!(none.status, 401, "{name}: no token");
    let bad = envoy.send(
        "GET",
        "/v1/cards/small",
        &[("authorization", "Bearer x.y.z")],
        b"",
    );
    assert_eq!(bad.status, 401, "{name}: bad token");
    let scope = envoy.send(
        "GET",
        "/v1/cards/small",
        &[("authorization", &auth(&ctx.noscope))],
        b"",
    );
    assert_eq!(scope.status, 403, "{name}: token without cards:read");
    let del = envoy.send(
        "DELETE",
        "/v1/cards/c_1",
        &[("authorization", &auth(&ctx.warm))],
        b"",
    );
    assert_eq!(del.status, 403, "{name}: DELETE is blocked");
}

/// The body through `setup` is the raw one (bare) or the masked one.
pub fn check_body(setup: &Setup, envoy: &Envoy, ctx: &Ctx, path: &str, body: &Body) {
    let r = envoy.send("GET", path, &[("authorization", &auth(&ctx.warm))], b"");
    assert_eq!(r.status, 200, "{}: {path}", setup.label());
    let want = if setup.masks() {
        &body.masked
    } else {
        &body.raw
    };
    if &r.body != want {
        let at = r
            .body
            .iter()
            .zip(want.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(r.body.len().min(want.len()));
        let from = at.saturating_sub(60);
        panic!(
            "{}: {path}: body differs from the expected one at byte {at} (lengths {} vs {}):\n got  …{}…\n want …{}…",
            setup.label(),
            r.body.len(),
            want.len(),
            String::from_utf8_lossy(&r.body[from..(at + 60).min(r.body.len())]),
            String::from_utf8_lossy(&want[from..(at + 60).min(want.len())]),
        );
    }
}
