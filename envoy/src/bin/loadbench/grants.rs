//! Issue 20's row: what a just-in-time grant costs the filter. The same 1 KiB GET through a
//! route that needs only the token's scope, and through the same route made just-in-time with a
//! grant in `x-pci-guard-grant` (ES256, signed like the approvals service's), interleaved, on
//! each runtime. The grant-signing keys are inline; the revocation list is polled from the
//! upstream through the `approvals` cluster, as a deployment polls the service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pci_guard_e2e::tokens;
use pci_guard_testkit::{mint_grant, signed_grant, APPROVALS};
use serde_json::{json, Value};

use crate::bodies::{upstream, Bodies};
use crate::checks::{auth, check_body};
use crate::measure::{run_http, Tokens};
use crate::ops_report::GRANT_WORKLOAD;
use crate::runs::{record, Row};
use crate::setups::{guard, guard_dynamic, start, Checks, Setup};
use crate::{wanted, Ctx};

const PATH: &str = "/v1/cards/small";

/// The bench policy with `cards-read` just-in-time, grants taken from the approvals service.
fn jit_policy(policy: &Value) -> Value {
    let keys = std::fs::read(pci_guard_e2e::root().join("testdata/keys/ec256.jwks.json")).unwrap();
    let mut p = policy.clone();
    for r in p["routes"].as_array_mut().unwrap() {
        if r["name"] == "cards-read" {
            r["jit"] = json!({"max_ttl": "1h"});
        }
    }
    p["approvals"] = json!({
        "issuer": APPROVALS,
        "providers": ["corp-idp"],
        "grants": {"cluster": "approvals",
                   "jwks": serde_json::from_slice::<Value>(&keys).unwrap()}
    });
    p
}

/// A grant for the warm token's subject on `cards-read`, valid for the whole run.
fn grant() -> String {
    let now = tokens::now();
    let c = signed_grant(
        "grt_bench",
        "agent-warm",
        &["cards:read"],
        &["alice", "bob"],
        now - 60,
        3000,
        json!({"route": "cards-read"}),
    );
    mint_grant(&c)
}

/// The setups in the order each round runs them: per runtime, without then with a grant.
pub fn setups(policy: &Value, wasm: &std::path::Path) -> Vec<(Setup, bool)> {
    let jit = jit_policy(policy);
    vec![
        (
            guard("pci-guard, without a grant", policy, true, wasm),
            false,
        ),
        (
            guard("pci-guard, JIT route with a grant", &jit, true, wasm),
            true,
        ),
        (
            guard_dynamic(
                "pci-guard dynamic module, without a grant",
                policy,
                true,
                Checks::Full,
            ),
            false,
        ),
        (
            guard_dynamic(
                "pci-guard dynamic module, JIT route with a grant",
                &jit,
                true,
                Checks::Full,
            ),
            true,
        ),
    ]
}

/// One run: fresh upstream and Envoy; checked first (the JIT route refuses the token alone
/// as `jit_missing` and answers it with the grant, masked), then measured.
pub fn grant_run(
    ctx: &Ctx,
    rows: &mut Vec<Row>,
    bodies: &Arc<Bodies>,
    setup: &Setup,
    with_grant: bool,
) {
    let name = format!("extra/{GRANT_WORKLOAD}/{}", setup.label());
    if !wanted(&name) {
        return;
    }
    let up = upstream(bodies);
    let envoy = start(ctx, setup, up.port);
    let grant = grant();
    let token = auth(&ctx.warm);
    if with_grant {
        let alone = envoy.send("GET", PATH, &[("authorization", &token)], b"");
        assert_eq!(
            alone.header("x-pci-guard-reason"),
            Some("jit_missing"),
            "{name}: the token alone is refused"
        );
        // Until the first revocation list is in, grants cannot be checked (503).
        let headers = [
            ("authorization", token.as_str()),
            ("x-pci-guard-grant", &grant),
        ];
        let deadline = Instant::now() + Duration::from_secs(10);
        let ok = loop {
            let r = envoy.send("GET", PATH, &headers, b"");
            if r.status != 503 || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            ok.status,
            200,
            "{name}: the grant is taken ({:?})",
            ok.header("x-pci-guard-reason")
        );
        assert_eq!(ok.body, bodies.small.masked, "{name}: the answer is masked");
    } else {
        check_body(setup, &envoy, ctx, PATH, &bodies.small);
    }
    let tok = if with_grant {
        Tokens::Granted(&ctx.warm, &grant)
    } else {
        Tokens::Warm(&ctx.warm)
    };
    let m = run_http(ctx, &envoy, PATH, &tok);
    record(rows, &envoy, &name, "extra", GRANT_WORKLOAD, setup, m);
}
