//! Agents' operations through a real Envoy: an MCP server and client from the official MCP
//! SDK (PyPI `mcp`) and a GraphQL server on `graphql-core`, none of them ours, in front of and
//! behind pci-guard with `testdata/policies/agents.json`. `make e2e` installs both into the
//! project's `.venv` (`envoy/agents/requirements.txt`); the servers listen on 127.0.0.1 and
//! are killed when each test ends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::tokens::*;
use pci_guard_e2e::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CARD: &str = "4111111111111111";

fn python() -> PathBuf {
    let p = std::env::var_os("PCI_GUARD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "no Python at {}: run `make e2e` (it installs the MCP SDK and graphql-core into .venv)",
        p.display()
    );
    p
}

fn script(name: &str) -> String {
    root().join("envoy/agents").join(name).display().to_string()
}

/// A Python server from `envoy/agents/`, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let port = free_port();
        let child = Command::new(python())
            .arg(script(name))
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the SDK client (`envoy/agents/mcp_client.py`) against `url`; its JSON output.
fn client(url: &str, token: &str, mode: &str) -> Value {
    let out = Command::new(python())
        .args([&script("mcp_client.py"), url, token, mode])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mcp_client.py {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/agents.json")).unwrap()
}

fn token(scopes: &[&str], grant: Option<Value>) -> String {
    let mut c = claims("agent-7", scopes);
    if let Some(g) = grant {
        c["jit"] = g;
    }
    sign("rsa1", &c)
}

fn events(envoy: &Envoy, n: usize) -> Vec<Value> {
    envoy.audit_events(n)
}

fn mcp_tools_are_allowed_denied_or_held_for_approval_by_name(runtime: Runtime) {
    let server = Server::start("mcp_server.py", &[]);
    let envoy = Harness::new("pci-guard.yaml", policy(), server.port)
        .runtime(runtime)
        .start();
    let url = format!("http://127.0.0.1:{}/mcp", envoy.port);

    let out = client(&url, &token(&["mcp:use"], None), "calls");
    assert!(out["tools"].as_array().unwrap().len() >= 4, "{out}");
    assert_eq!(out["get_balance"]["ok"], true, "{out}");
    assert_eq!(out["get_balance"]["text"], "a_1: 120.00 EUR");
    let denied = &out["delete_account"]["error"];
    assert_eq!(denied["data"]["reason"], "rule_denied", "{out}");
    assert_eq!(denied["data"]["rule"], "no-account-delete");
    assert_eq!(
        denied["message"],
        "Deleting accounts is not allowed through the gateway"
    );
    let held = &out["refund_payment"]["error"];
    assert_eq!(held["data"]["reason"], "approval_required", "{out}");
    assert_eq!(
        held["data"]["access_request"]["scopes"],
        json!(["payments:refund"])
    );

    // With an approved grant in the token, the same call passes.
    let g = grant("AR-77", &["payments:refund"], &["alice"], now() - 60, 600);
    let out = client(&url, &token(&["mcp:use"], Some(g)), "calls");
    assert_eq!(out["refund_payment"]["ok"], true, "{out}");
    assert_eq!(out["refund_payment"]["text"], "p_1 refunded");

    // Every request has its event, with the tool it called.
    let all = events(&envoy, 10);
    let tool_events = |tool: &str| -> Vec<&Value> {
        all.iter()
            .filter(|e| e["request"]["operation"]["calls"][0]["tool"] == tool)
            .collect()
    };
    let del = tool_events("delete_account");
    assert_eq!(del.len(), 2, "one per client run");
    assert!(del.iter().all(|e| e["decision"]["result"] == "deny"));
    let refunds = tool_events("refund_payment");
    assert_eq!(refunds[0]["decision"]["reason"], "approval_required");
    assert_eq!(refunds[1]["decision"]["result"], "allow");
    assert_eq!(refunds[1]["jit"]["id"], "AR-77");
    assert!(
        envoy.critical_lines().is_empty(),
        "{:?}",
        envoy.critical_lines()
    );
}

fn an_sse_tool_result_is_masked_and_each_event_arrives_before_the_next_is_sent(runtime: Runtime) {
    const EVENTS: usize = 5;
    const GAP: f64 = 0.4;
    let server = Server::start("mcp_server.py", &[&EVENTS.to_string(), &GAP.to_string()]);
    let envoy = Harness::new("pci-guard.yaml", policy(), server.port)
        .runtime(runtime)
        .start();
    let t = token(&["mcp:use"], None);
    let direct = client(
        &format!("http://127.0.0.1:{}/mcp", server.port),
        &t,
        "stream",
    );
    let through = client(
        &format!("http://127.0.0.1:{}/mcp", envoy.port),
        &t,
        "stream",
    );

    let text = through.to_string();
    assert!(!text.contains(CARD), "a card went through in clear: {text}");
    assert!(
        direct.to_string().contains(CARD),
        "the server does send cards"
    );
    assert_eq!(through["result"]["text"], "a_1: card ************1111");
    let evs = through["events"].as_array().unwrap();
    assert_eq!(evs.len(), EVENTS, "{through}");
    for e in evs {
        assert!(
            e["data"]
                .as_str()
                .unwrap()
                .ends_with("card ************1111"),
            "{e}"
        );
    }
    // Nothing waits for the next event: each arrived before the next one was even sent.
    let at = |v: &Value, k: &str| v[k].as_f64().unwrap();
    for w in evs.windows(2) {
        assert!(at(&w[0], "arrived_at") < at(&w[1], "sent_at"), "{w:?}");
    }
    let delays = |v: &Value| -> Vec<f64> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (at(e, "arrived_at") - at(e, "sent_at")) * 1000.0)
            .collect()
    };
    let (d, p) = (delays(&direct), delays(&through));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "SSE event delay, sent → received: direct {:.2} ms mean, through Envoy + pci-guard {:.2} ms mean (max {:.2}); added {:.2} ms per event",
        mean(&d),
        mean(&p),
        p.iter().cloned().fold(0.0, f64::max),
        mean(&p) - mean(&d)
    );
    let e = events(&envoy, 2);
    let call = e
        .iter()
        .find(|e| e["request"]["operation"]["calls"][0]["tool"] == "get_card")
        .unwrap();
    assert!(
        call["redaction"]["pan"].as_u64().unwrap() > EVENTS as u64,
        "{call}"
    );
}

#[test]
fn the_mcp_client_discovers_the_protected_resource_metadata_through_envoy() {
    let server = Server::start("mcp_server.py", &[]);
    let envoy = Harness::new("pci-guard.yaml", policy(), server.port).start();
    let url = format!("http://127.0.0.1:{}/mcp", envoy.port);
    let out = client(&url, "", "discover");
    assert_eq!(out["status"], 401, "{out}");
    let meta_url = format!(
        "http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp",
        envoy.port
    );
    assert_eq!(out["resource_metadata"], meta_url.as_str(), "{out}");
    assert_eq!(out["found_at"], meta_url.as_str());
    let m = &out["metadata"];
    assert_eq!(m["resource"], url.as_str());
    assert_eq!(m["authorization_servers"], json!([ISSUER]));
    assert!(m["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("mcp:use")));
    assert_eq!(m["resource_name"], "Payments MCP");
}

fn a_graphql_mutation_is_blocked_while_a_query_passes(runtime: Runtime) {
    let server = Server::start("graphql_server.py", &[]);
    let envoy = Harness::new("pci-guard.yaml", policy(), server.port)
        .runtime(runtime)
        .start();
    let auth = bearer(&token(&["graphql:use"], None));
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let query =
        json!({"query": "query Payments { payments { id card } }", "operationName": "Payments"});
    let r = envoy.send("POST", "/graphql", &h, query.to_string().as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["payments"][0]["card"], "************1111");

    let mutation = json!({"query": "mutation { ok: refundPayment(id: \"p_1\") { id } }"});
    let r = envoy.send("POST", "/graphql", &h, mutation.to_string().as_bytes());
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(v["errors"][0]["extensions"]["reason"], "rule_denied", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["rule"], "no-graphql-mutations");
    assert!(v.get("data").is_none());

    let ran = request(server.port, "GET", "/_executed", &[], b"")
        .unwrap()
        .json();
    assert_eq!(
        ran,
        json!([{"type": "query", "name": "Payments"}]),
        "the mutation never ran"
    );
    let e = events(&envoy, 2);
    assert_eq!(e[1]["request"]["operation"]["calls"][0]["type"], "mutation");
    assert_eq!(
        e[1]["request"]["operation"]["calls"][0]["fields"],
        json!(["refundPayment"])
    );
}

// Operations are read from request bodies, and event streams masked, by either build.
with_runtimes!(
    mcp_tools_are_allowed_denied_or_held_for_approval_by_name,
    an_sse_tool_result_is_masked_and_each_event_arrives_before_the_next_is_sent,
    a_graphql_mutation_is_blocked_while_a_query_passes,
);
