//! `make run`'s just-in-time walk-through, on the shipped demo configs: `envoy/demo.yaml`
//! (the wasm plugin) and `envoy/demo-dynamic.yaml` (`make run RUNTIME=native`, the dynamic
//! module). Each is run as `make run` runs it, on free ports instead of its fixed ones: the
//! approvals service on the policy `envoy/demo-policy.py` takes from that config, tokens from
//! `pci-guard token`, and the printed `pci-guard access` commands, until the grant is revoked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The approvals service as the grants tests run it (this file uses only its start).
#[path = "grants/service.rs"]
#[allow(dead_code)]
mod service;

use pci_guard_e2e::*;
use serde_json::Value;
use service::{Service, TempDir};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REFUND: &str = "/v1/payments/pay_123/refunds";

/// The demo config `make run` starts for `runtime`.
fn demo_config(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Wasm => "envoy/demo.yaml",
        Runtime::Dynamic => "envoy/demo-dynamic.yaml",
    }
}

/// `python3 envoy/demo-policy.py CONFIG`, as `make run` writes the service's policy.
fn demo_policy(config: &str) -> Value {
    let out = Command::new("python3")
        .arg("envoy/demo-policy.py")
        .arg(config)
        .current_dir(root())
        .output()
        .expect("run python3 envoy/demo-policy.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `pci-guard token …`, as `make run` mints the demo's tokens.
fn mint(sub: &str, scope: &str) -> String {
    let out = Command::new(pci_guard_bin())
        .args([
            "token",
            "--key",
            "testdata/keys/rsa1.pem",
            "--kid",
            "rsa-2026-a",
        ])
        .args([
            "--iss",
            "https://idp.demo.test",
            "--sub",
            sub,
            "--scope",
            scope,
        ])
        .args(["--ttl", "3600"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `PCI_GUARD_TOKEN=<token> pci-guard access ARGS` against the service: exit status, stdout.
fn access(svc: &Service, token: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(pci_guard_bin())
        .arg("access")
        .args(args)
        .env(
            "PCI_GUARD_APPROVALS_URL",
            format!("http://127.0.0.1:{}", svc.port),
        )
        .env("PCI_GUARD_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// The shipped config with its fixed ports replaced (each must be there exactly once, or the
/// config changed shape) and the wasm file at this build's path.
fn on_free_ports(config: &str, ports: &[(u16, u16)]) -> String {
    let mut text = std::fs::read_to_string(root().join(config)).unwrap();
    for (fixed, port) in ports {
        let from = format!("port_value: {fixed} ");
        assert_eq!(text.matches(&from).count(), 1, "{config}: {from:?}");
        text = text.replace(&from, &format!("port_value: {port} "));
    }
    text.replace(
        "target/wasm32-wasip1/release/pci_guard.wasm",
        &wasm_path().display().to_string(),
    )
}

/// Envoy on a rendered demo config, killed on drop.
struct Demo {
    child: Child,
    port: u16,
}

impl Demo {
    fn start(runtime: Runtime, dir: &Path, config_text: &str, admin: u16, port: u16) -> Demo {
        let config = dir.join("demo.yaml");
        std::fs::write(&config, config_text).unwrap();
        let mut command = Command::new(envoy_bin());
        if runtime == Runtime::Dynamic {
            command.env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", dynamic_module_dir());
        }
        let stderr = dir.join("envoy.stderr");
        let child = command
            .arg("-c")
            .arg(&config)
            .args([
                "--concurrency",
                "1",
                "--use-dynamic-base-id",
                "--log-level",
                "warn",
            ])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start envoy");
        let mut demo = Demo { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = request(admin, "GET", "/ready", &[], b"") {
                if r.status == 200 {
                    return demo;
                }
            }
            let exited = demo.child.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                panic!(
                    "the demo's Envoy did not start:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn refund(&self, path: &str, agent: &str, grant: Option<&str>) -> Response {
        let auth = format!("Bearer {agent}");
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(g) = grant {
            h.push(("x-pci-guard-grant", g));
        }
        request(self.port, "POST", path, &h, b"").unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks until the answer is not `from`, at most `within`.
fn until_not(from: u16, within: Duration, mut ask: impl FnMut() -> Response) -> Response {
    let start = Instant::now();
    loop {
        let r = ask();
        if r.status != from || start.elapsed() > within {
            return r;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

fn make_runs_printed_jit_walk_through(runtime: Runtime) {
    let config = demo_config(runtime);
    let dir = TempDir::new("jit-demo");
    let policy = demo_policy(config);
    let db = format!("sqlite://{}/approvals.db", dir.0.display());
    let svc = Service::start(&dir.0, &policy, &db);
    let up = Upstream::ok();
    let (admin, port) = (free_port(), free_port());
    let text = on_free_ports(
        config,
        &[
            (10000, port),
            (9901, admin),
            (8081, up.port),
            (8787, svc.port),
        ],
    );
    let demo = Demo::start(runtime, &dir.0, &text, admin, port);
    let (agent, alice, bob) = (mint("agent-7", ""), mint("alice", ""), mint("bob", ""));

    // The refund without a grant: 403, and where to ask.
    let r = demo.refund(REFUND, &agent, None);
    assert_eq!((r.status, error_of(&r)), (403, "jit_missing".into()));
    assert_eq!(
        r.json()["access_request"]["url"],
        "http://127.0.0.1:8787/v1/requests"
    );

    // The printed commands, in order.
    let (ok, out) = access(
        &svc,
        &agent,
        &[
            "request",
            "--route",
            "refund",
            "--method",
            "POST",
            "--path",
            REFUND,
            "--duration",
            "10m",
            "--justification",
            "chargeback #7731",
        ],
    );
    assert!(ok, "{out}");
    let req: Value = serde_json::from_str(&out).unwrap();
    let req = req["id"].as_str().unwrap().to_string();
    let (ok, out) = access(&svc, &agent, &["approve", &req]);
    assert!(!ok, "the agent approved its own request: {out}");
    let (ok, out) = access(&svc, &alice, &["approve", &req]);
    assert!(ok && out.contains("pending"), "{out}");
    let (ok, out) = access(&svc, &bob, &["approve", &req]);
    assert!(ok && out.contains("approved"), "{out}");
    let (ok, grant) = access(&svc, &agent, &["grant", &req]);
    assert!(ok, "{grant}");

    // The filter has the service's keys once its first poll answered: 503 until then.
    let r = until_not(503, Duration::from_secs(15), || {
        demo.refund(REFUND, &agent, Some(&grant))
    });
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = demo.refund("/v1/payments/pay_999/refunds", &agent, Some(&grant));
    assert_eq!(
        (r.status, error_of(&r)),
        (403, "grant_not_for_operation".into())
    );

    let (ok, shown) = access(&svc, &agent, &["show", &req]);
    assert!(ok, "{shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let grant_id = shown["grant"]["id"].as_str().unwrap().to_string();
    let (ok, out) = access(&svc, &alice, &["revoke", &grant_id]);
    assert!(ok, "{out}");
    // Refused within the default refresh (5 s), with room for a slow machine.
    let r = until_not(200, Duration::from_secs(15), || {
        demo.refund(REFUND, &agent, Some(&grant))
    });
    assert_eq!((r.status, error_of(&r)), (403, "grant_revoked".into()));
}
with_runtimes!(make_runs_printed_jit_walk_through);
