//! The Envoy setups compared: bare, Envoy's native filters, and pci-guard variants, and how
//! each is started (pinned to its own CPU).

use std::path::{Path, PathBuf};
use std::process::Command;

use pci_guard_e2e::{policy_scalar, root, Envoy, Harness, Runtime};
use serde_json::{json, Value};

use crate::Ctx;

/// One Envoy configuration under test.
#[derive(Clone)]
pub enum Setup {
    Bare,
    Native,
    Guard {
        label: String,
        policy: String,
        audit: bool,
        /// The wasm build (ignored for the dynamic module, which the harness finds).
        wasm: PathBuf,
        runtime: Runtime,
        /// Another dynamic module than pci-guard's (the empty one), in this directory.
        module_dir: Option<PathBuf>,
        checks: Checks,
    },
}

/// What a pci-guard variant is checked for before it is measured.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// The bench policy: tokens, scopes, DELETE rule, masked bodies.
    Full,
    /// The bench policy with redaction off: bodies arrive unchanged.
    NoRedaction,
    /// Nothing enforced (floors): bodies arrive unchanged.
    None,
}

impl Setup {
    /// Whether it checks tokens, scopes and rules.
    pub fn enforces(&self) -> bool {
        match self {
            Setup::Bare => false,
            Setup::Native => true,
            Setup::Guard { checks, .. } => *checks != Checks::None,
        }
    }

    /// Whether card numbers in JSON bodies arrive masked.
    pub fn masks(&self) -> bool {
        match self {
            Setup::Bare => false,
            Setup::Native => true,
            Setup::Guard { checks, .. } => *checks == Checks::Full,
        }
    }

    /// The name in the tables and in `BENCH_ONLY` filters.
    pub fn label(&self) -> String {
        match self {
            Setup::Bare => "bare".into(),
            Setup::Native => "native".into(),
            Setup::Guard { label, .. } => label.clone(),
        }
    }
}

/// A pci-guard variant checked for everything the bench policy enforces.
pub fn guard(label: &str, policy: &Value, audit: bool, wasm: &Path) -> Setup {
    guard_checked(label, policy, audit, wasm, Checks::Full)
}

/// A pci-guard variant checked for `checks` only (its policy enforces less).
pub fn guard_checked(
    label: &str,
    policy: &Value,
    audit: bool,
    wasm: &Path,
    checks: Checks,
) -> Setup {
    Setup::Guard {
        label: label.into(),
        policy: serde_json::to_string(policy).unwrap(),
        audit,
        wasm: wasm.to_path_buf(),
        runtime: Runtime::Wasm,
        module_dir: None,
        checks,
    }
}

/// pci-guard as the Envoy dynamic module (`make dynamic`; `PCI_GUARD_DYNAMIC_DIR` overrides
/// where it is), checked for `checks`.
pub fn guard_dynamic(label: &str, policy: &Value, audit: bool, checks: Checks) -> Setup {
    Setup::Guard {
        label: label.into(),
        policy: serde_json::to_string(policy).unwrap(),
        audit,
        wasm: PathBuf::new(),
        runtime: Runtime::Dynamic,
        module_dir: None,
        checks,
    }
}

/// The empty dynamic module of `envoy/bench/noop-dynamic` (in `dir`, under the file name the
/// harness loads): the floor of any dynamic-module filter.
pub fn empty_dynamic(policy: &Value, dir: &Path) -> Setup {
    match guard_dynamic(EMPTY_DYNAMIC_LABEL, policy, false, Checks::None) {
        Setup::Guard {
            label,
            policy,
            audit,
            wasm,
            runtime,
            checks,
            ..
        } => Setup::Guard {
            label,
            policy,
            audit,
            wasm,
            runtime,
            module_dir: Some(dir.to_path_buf()),
            checks,
        },
        other => other,
    }
}

/// The bench policy with `n` routes: `n - 1` others before `cards-read`.
pub fn policy_with_routes(base: &Value, n: usize) -> Value {
    let mut p = base.clone();
    let cards = p["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cards-read")
        .unwrap()
        .clone();
    let mut routes: Vec<Value> = (1..n)
        .map(|i| {
            json!({"name": format!("svc-{i}"), "match": {"methods": ["GET", "POST"], "path": format!("/v1/service{i}/{{id}}/items/**")},
                   "auth": ["corp-idp"], "scopes": [format!("svc{i}:read")]})
        })
        .collect();
    routes.push(cards);
    p["routes"] = Value::Array(routes);
    p
}

/// The setup label of the empty proxy-wasm filter.
/// The label of `PCI_GUARD_WASM_BASELINE`'s build in the tables.
pub const BASELINE_LABEL: &str = "pci-guard, baseline build (PCI_GUARD_WASM_BASELINE)";
pub const EMPTY_LABEL: &str = "empty wasm filter (envoy/bench/noop-filter)";
/// The setup label of the dynamic module.
pub const DYNAMIC_LABEL: &str = "pci-guard dynamic module";
/// The setup label of the empty dynamic module.
pub const EMPTY_DYNAMIC_LABEL: &str = "empty dynamic module (envoy/bench/noop-dynamic)";

/// Starts `setup`'s Envoy in front of the upstream on `upstream_port`, pinned to CPU 0.
pub fn start(ctx: &Ctx, setup: &Setup, upstream_port: u16) -> Envoy {
    let envoy = match setup {
        Setup::Bare => Harness::new("bench/bare.yaml", "", upstream_port).start(),
        Setup::Native => {
            let jwks = serde_json::to_string(&ctx.policy["providers"]["corp-idp"]["jwks"]).unwrap();
            Harness::new("bench/native.yaml", "", upstream_port)
                .var("JWKS", policy_scalar(&jwks))
                .var("LUA_PATH", root().join("envoy/bench/mask.lua").display())
                .start()
        }
        Setup::Guard {
            policy,
            audit,
            wasm,
            runtime,
            module_dir,
            ..
        } => {
            let harness = Harness::new("bench/pci-guard.yaml", policy.clone(), upstream_port);
            let harness = if *audit {
                harness
            } else {
                // The same config without the access logger.
                harness.edit(|text| {
                    let (head, rest) = text.split_once("          access_log:\n").unwrap();
                    let (_, tail) = rest.split_once("          route_config:\n").unwrap();
                    format!("{head}          route_config:\n{tail}")
                })
            };
            match runtime {
                Runtime::Wasm => harness.wasm(wasm).start(),
                Runtime::Dynamic => match module_dir {
                    Some(dir) => harness.runtime(Runtime::Dynamic).dynamic_module(dir),
                    None => harness.runtime(Runtime::Dynamic),
                }
                .start(),
            }
        }
    };
    if ctx.pinned {
        pin(envoy.pid(), "0");
    }
    envoy
}

/// Pins every thread of `pid` (and what it starts later) to `cpus`.
pub fn pin(pid: u32, cpus: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The bench policy with a `POST /mcp` route: path-only, and the same route reading the body
/// as JSON-RPC with one rule on a tool name. The pair prices reading and matching the body.
pub fn mcp_policies(policy: &Value) -> (Value, Value) {
    let route = json!({"name": "mcp", "match": {"methods": ["POST"], "path": "/mcp"},
                       "auth": ["corp-idp"], "scopes": ["cards:read"]});
    let mut path_only = policy.clone();
    path_only["routes"]
        .as_array_mut()
        .unwrap()
        .push(route.clone());
    let mut matched = policy.clone();
    let mut op_route = route;
    op_route["match"]["jsonrpc"] = json!({});
    matched["routes"].as_array_mut().unwrap().push(op_route);
    matched["rules"].as_array_mut().unwrap().push(json!({
        "id": "no-card-delete-tool", "action": "deny",
        "match": {"path": "/mcp", "jsonrpc": {"tools": ["delete_*"]}}
    }));
    (path_only, matched)
}
