//! Elastic Common Schema documents of pci-guard's lines.
//!
//! A request event is an `api` event (`event.type` `access` plus `allowed` or `denied`) with
//! `http.*`, `url.*`, `source.*`, `user.*` and `rule.*`; the VM's records are `process`
//! events (`start`, `end`; a heartbeat is a `state`; a failed control an `info` event with
//! outcome `failure`, `event.reason` and `error.*`). What ECS has no field for goes under the
//! custom `pci_guard.*` namespace, as ECS asks of custom fields.

use super::{chain, host_port, s, PRODUCT};
use crate::audit::parse_rfc3339_millis;
use serde_json::{json, Map, Value};

/// The ECS version of the field definitions the documents are checked against.
pub const ECS_VERSION: &str = "9.4.0";

/// The ECS document for one audit line (`None` for a line that is not a pci-guard event).
pub fn document(e: &Value) -> Option<Value> {
    let time = s(&e["time"])?;
    parse_rfc3339_millis(time)?;
    let mut d = json!({
        "@timestamp": time,
        "ecs": {"version": ECS_VERSION},
        "observer": {"product": PRODUCT, "vendor": PRODUCT, "type": "proxy"},
        "event": {"module": "pci_guard", "dataset": "pci_guard.audit", "provider": PRODUCT},
    });
    if let Some(seq) = e["chain"]["seq"].as_u64() {
        d["event"]["sequence"] = json!(seq);
    }
    let mut custom = Map::new();
    custom.insert("chain".into(), chain(e));
    if !e["policy"].is_null() {
        custom.insert("policy".into(), e["policy"].clone());
    }
    match e["kind"].as_str() {
        None if e["request"].is_object() => request(e, &mut d, &mut custom),
        Some("vm") => record(e, &mut d, &mut custom),
        _ => return None,
    }
    d["pci_guard"] = Value::Object(custom);
    Some(d)
}

fn request(e: &Value, d: &mut Value, custom: &mut Map<String, Value>) {
    let result = s(&e["decision"]["result"]).unwrap_or("");
    let allowed = result != "deny";
    d["event"]["kind"] = json!("event");
    d["event"]["category"] = json!(["api"]);
    d["event"]["type"] = json!(["access", if allowed { "allowed" } else { "denied" }]);
    d["event"]["outcome"] = json!(if allowed { "success" } else { "failure" });
    d["event"]["action"] = json!("request");
    if let Some(r) = s(&e["decision"]["reason"]) {
        d["event"]["reason"] = json!(r);
    }
    if let Some(id) = s(&e["request_id"]) {
        d["event"]["id"] = json!(id);
        d["http"]["request"]["id"] = json!(id);
    }
    if let Some(ms) = e["duration_ms"].as_f64() {
        d["event"]["duration"] = json!((ms.max(0.0) * 1_000_000.0) as u64);
    }
    if let Some(m) = s(&e["request"]["method"]) {
        d["http"]["request"]["method"] = json!(m);
    }
    if let Some(code) = e["response"]["status"].as_u64() {
        d["http"]["response"]["status_code"] = json!(code);
    }
    if let Some(b) = e["response"]["bytes"].as_u64() {
        d["http"]["response"]["bytes"] = json!(b);
    }
    if let Some(p) = s(&e["request"]["path"]) {
        d["url"]["path"] = json!(p);
    }
    if let Some(a) = s(&e["request"]["authority"]) {
        d["url"]["domain"] = json!(host_port(a).0);
    }
    if let Some(addr) = s(&e["source"]["address"]) {
        let (ip, port) = host_port(addr);
        d["source"]["address"] = json!(addr);
        if ip.parse::<std::net::IpAddr>().is_ok() {
            d["source"]["ip"] = json!(ip);
        }
        if let Some(p) = port {
            d["source"]["port"] = json!(p);
        }
    }
    if let Some(sub) = s(&e["identity"]["sub"]) {
        d["user"]["id"] = json!(sub);
        d["user"]["name"] = json!(sub);
    }
    if let Some(t) = s(&e["trace_id"]) {
        d["trace"]["id"] = json!(t);
    }
    let rule = s(&e["decision"]["rule"]).or(s(&e["request"]["route"]));
    if let Some(r) = rule {
        d["rule"]["name"] = json!(r);
    }
    if let Some(id) = s(&e["decision"]["rule"]) {
        d["rule"]["id"] = json!(id);
    }
    if let Some(v) = s(&e["policy"]["version"]) {
        d["rule"]["ruleset"] = json!(v);
    }
    for k in [
        "decision",
        "identity",
        "jit",
        "redaction",
        "response",
        "source",
        "request",
    ] {
        if !e[k].is_null() {
            custom.insert(k.into(), e[k].clone());
        }
    }
}

fn record(e: &Value, d: &mut Value, custom: &mut Map<String, Value>) {
    let event = s(&e["event"]).unwrap_or("");
    let (kind, types, outcome) = match event {
        "start" => ("event", ["start"], "success"),
        "end" => ("event", ["end"], "success"),
        "heartbeat" => ("state", ["info"], "success"),
        "control_failure" => ("event", ["info"], "failure"),
        _ => ("event", ["info"], "success"),
    };
    d["event"]["kind"] = json!(kind);
    d["event"]["category"] = json!(["process"]);
    d["event"]["type"] = json!(types);
    d["event"]["outcome"] = json!(outcome);
    d["event"]["action"] = json!(event);
    if let Some(id) = s(&e["vm"]["id"]) {
        d["service"]["id"] = json!(id);
    }
    d["service"]["name"] = json!(PRODUCT);
    let c = &e["control"];
    if let Some(reason) = s(&c["reason"]) {
        d["event"]["reason"] = json!(reason);
        d["error"]["type"] = json!(reason);
        d["error"]["message"] = json!(s(&c["detail"]).unwrap_or(""));
    }
    for k in ["vm", "control", "checkpoint"] {
        if !e[k].is_null() {
            custom.insert(k.into(), e[k].clone());
        }
    }
}
