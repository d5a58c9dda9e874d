//! OCSF 1.7 records of pci-guard's lines:
//!
//! | line | OCSF class |
//! |---|---|
//! | a request event | HTTP Activity (4002), with the `security_control` profile (`action_id`, `disposition_id`, `policy`) and, for an identified caller, the `host` profile (the caller as `actor.user`, the decision as `actor.authorizations`) |
//! | a request that used a just-in-time grant | also Authorize Session (3003): the grant as the session, its route as the privilege |
//! | a VM's start, end and heartbeat records | Application Lifecycle (6002): Start, Stop, Other (`Heartbeat`) |
//! | a failed control (PCI DSS 10.7.2) | Application Error (6008), severity High |
//!
//! Checkpoints stay out: their signatures cover the raw lines, which the exported records
//! point back to (`unmapped.pci_guard.chain`).

use super::{chain, host_port, s, PRODUCT};
use crate::audit::parse_rfc3339_millis;
use serde_json::{json, Map, Value};

pub const OCSF_VERSION: &str = "1.7.0";

fn metadata(e: &Value, uid: Option<&str>, profiles: &[&str]) -> Value {
    let mut m = json!({
        "version": OCSF_VERSION,
        "product": {"name": PRODUCT, "vendor_name": PRODUCT, "version": env!("CARGO_PKG_VERSION")},
        "log_name": "pci_guard_audit",
    });
    if let Some(seq) = e["chain"]["seq"].as_u64() {
        m["sequence"] = json!(seq);
    }
    if let Some(uid) = uid {
        m["uid"] = json!(uid);
    }
    if let Some(t) = s(&e["trace_id"]) {
        m["correlation_uid"] = json!(t);
    }
    if !profiles.is_empty() {
        m["profiles"] = json!(profiles);
    }
    m
}

/// The classification every OCSF record starts with.
fn class(
    class_uid: u64,
    class_name: &str,
    category: (u64, &str),
    activity: (u64, &str),
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("class_uid".into(), json!(class_uid));
    m.insert("class_name".into(), json!(class_name));
    m.insert("category_uid".into(), json!(category.0));
    m.insert("category_name".into(), json!(category.1));
    m.insert("activity_id".into(), json!(activity.0));
    m.insert("activity_name".into(), json!(activity.1));
    m.insert("type_uid".into(), json!(class_uid * 100 + activity.0));
    m.insert(
        "type_name".into(),
        json!(format!("{class_name}: {}", activity.1)),
    );
    m
}

fn method_activity(method: &str) -> (u64, &'static str) {
    match method.to_ascii_uppercase().as_str() {
        "CONNECT" => (1, "Connect"),
        "DELETE" => (2, "Delete"),
        "GET" => (3, "Get"),
        "HEAD" => (4, "Head"),
        "OPTIONS" => (5, "Options"),
        "POST" => (6, "Post"),
        "PUT" => (7, "Put"),
        "TRACE" => (8, "Trace"),
        "PATCH" => (9, "Patch"),
        _ => (99, "Other"),
    }
}

/// The OCSF records for one audit line (none for a line that is not a pci-guard event).
pub fn records(e: &Value) -> Vec<Value> {
    let Some(time) = s(&e["time"]).and_then(parse_rfc3339_millis) else {
        return Vec::new();
    };
    match (e["kind"].as_str(), e["event"].as_str()) {
        (None, _) if e["request"].is_object() => {
            let mut out = vec![http_activity(e, time)];
            out.extend(authorize_session(e, time));
            out
        }
        (Some("vm"), Some("control_failure")) => vec![application_error(e, time)],
        (Some("vm"), Some(event @ ("start" | "end" | "heartbeat"))) => {
            vec![application_lifecycle(e, time, event)]
        }
        _ => Vec::new(),
    }
}

fn unmapped(e: &Value, keys: &[&str]) -> Value {
    let mut p = Map::new();
    for k in keys {
        if !e[*k].is_null() {
            p.insert((*k).to_string(), e[*k].clone());
        }
    }
    p.insert("chain".into(), chain(e));
    json!({ "pci_guard": p })
}

fn http_activity(e: &Value, time: u64) -> Value {
    let method = s(&e["request"]["method"]).unwrap_or("");
    let mut r = class(
        4002,
        "HTTP Activity",
        (4, "Network Activity"),
        method_activity(method),
    );
    let result = s(&e["decision"]["result"]).unwrap_or("");
    let reason = s(&e["decision"]["reason"]).unwrap_or("");
    let (status_id, status, action_id, action, disposition_id, disposition, severity_id, severity) =
        match result {
            "allow" => (1, "Success", 1, "Allowed", 1, "Allowed", 1, "Informational"),
            "would_deny" => (1, "Success", 1, "Allowed", 15, "Detected", 2, "Low"),
            _ => (2, "Failure", 2, "Denied", 2, "Blocked", 2, "Low"),
        };
    let refused = !e["redaction"]["refused"].is_null();
    let path = s(&e["request"]["path"]).unwrap_or("");
    let policy = json!({
        "name": s(&e["decision"]["rule"]).or(s(&e["request"]["route"])).unwrap_or("default"),
        "uid": s(&e["policy"]["digest"]).unwrap_or(""),
        "version": s(&e["policy"]["version"]).unwrap_or(""),
    });
    let extra = json!({
        "time": time,
        "start_time": time,
        "severity_id": if refused { 3 } else { severity_id },
        "severity": if refused { "Medium" } else { severity },
        "status_id": status_id,
        "status": status,
        "status_detail": reason,
        "action_id": action_id,
        "action": action,
        "disposition_id": disposition_id,
        "disposition": disposition,
        "policy": policy.clone(),
        "message": format!("{method} {path}: {result} ({reason})"),
        "metadata": metadata(e, s(&e["request_id"]), &["security_control"]),
        "http_request": {
            "http_method": method,
            "url": {"path": path},
        },
        "unmapped": unmapped(e, &["decision", "identity", "jit", "redaction", "response", "source"]),
    });
    let Value::Object(extra) = extra else {
        return Value::Object(r);
    };
    r.extend(extra);
    if let Some(rid) = s(&e["request_id"]) {
        r["http_request"]["uid"] = json!(rid);
    }
    if let Some(a) = s(&e["request"]["authority"]) {
        r["http_request"]["url"]["hostname"] = json!(host_port(a).0);
    }
    if let Some(code) = e["response"]["status"].as_u64() {
        r.insert("http_response".into(), json!({"code": code}));
        r.insert("status_code".into(), json!(code.to_string()));
    }
    if let Some(d) = e["duration_ms"].as_f64() {
        let d = d.max(0.0) as u64;
        r.insert("duration".into(), json!(d));
        r.insert("end_time".into(), json!(time + d));
    }
    let mut src = Map::new();
    if let Some(addr) = s(&e["source"]["address"]) {
        let (ip, port) = host_port(addr);
        src.insert("ip".into(), json!(ip));
        if let Some(p) = port {
            src.insert("port".into(), json!(p));
        }
    }
    if let Some(p) = s(&e["source"]["principal"]) {
        src.insert("uid".into(), json!(p));
    }
    if !src.is_empty() {
        r.insert("src_endpoint".into(), Value::Object(src));
    }
    let id = &e["identity"];
    if let Some(sub) = s(&id["sub"]) {
        let mut actor = json!({
            "user": {"uid": sub, "name": sub},
            "authorizations": [{"decision": result, "policy": policy}],
        });
        if let Some(azp) = s(&id["azp"]) {
            actor["app_name"] = json!(azp);
        }
        if let Some(iss) = s(&id["iss"]) {
            actor["idp"] = json!({"name": s(&id["provider"]).unwrap_or(iss), "uid": iss});
        }
        r.insert("actor".into(), actor);
        // HTTP Activity has no actor of its own: OCSF's host profile brings it.
        r["metadata"]["profiles"] = json!(["security_control", "host"]);
    }
    Value::Object(r)
}

/// A request allowed by a just-in-time grant: privileges assigned to the caller for the
/// grant's window, as OCSF's IAM category records them.
fn authorize_session(e: &Value, time: u64) -> Option<Value> {
    let jit = &e["jit"];
    let grant = s(&jit["id"])?;
    let sub = s(&e["identity"]["sub"])?;
    if s(&e["decision"]["result"]) != Some("allow") {
        return None;
    }
    let mut r = class(
        3003,
        "Authorize Session",
        (3, "Identity & Access Management"),
        (1, "Assign Privileges"),
    );
    let what = s(&e["decision"]["rule"])
        .or(s(&e["request"]["route"]))
        .unwrap_or("default");
    let approvers: Vec<&str> = jit["approved_by"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut session = json!({"uid": grant});
    if let Some(t) = s(&jit["approved_at"]).and_then(parse_rfc3339_millis) {
        session["created_time"] = json!(t);
    }
    if let Some(t) = s(&jit["expires_at"]).and_then(parse_rfc3339_millis) {
        session["expiration_time"] = json!(t);
    }
    let extra = json!({
        "time": time,
        "severity_id": 1,
        "severity": "Informational",
        "status_id": 1,
        "status": "Success",
        "user": {"uid": sub, "name": sub},
        "privileges": [format!("jit:{what}")],
        "session": session,
        "message": format!("grant {grant} used by {sub} for {what}, approved by {}", if approvers.is_empty() { "-".to_string() } else { approvers.join(", ") }),
        "metadata": metadata(e, s(&e["request_id"]), &[]),
        "unmapped": unmapped(e, &["jit", "decision"]),
    });
    if let Value::Object(extra) = extra {
        r.extend(extra);
    }
    Some(Value::Object(r))
}

fn app(e: &Value) -> Value {
    json!({
        "name": PRODUCT,
        "vendor_name": PRODUCT,
        "version": env!("CARGO_PKG_VERSION"),
        "uid": s(&e["vm"]["id"]).unwrap_or(""),
    })
}

fn application_lifecycle(e: &Value, time: u64, event: &str) -> Value {
    let activity = match event {
        "start" => (3, "Start"),
        "end" => (4, "Stop"),
        _ => (99, "Heartbeat"),
    };
    let mut r = class(
        6002,
        "Application Lifecycle",
        (6, "Application Activity"),
        activity,
    );
    let extra = json!({
        "time": time,
        "severity_id": 1,
        "severity": "Informational",
        "status_id": 1,
        "status": "Success",
        "app": app(e),
        "message": format!("pci-guard VM {} {event}", s(&e["vm"]["id"]).unwrap_or("")),
        "metadata": metadata(e, None, &[]),
        "unmapped": unmapped(e, &["vm", "policy"]),
    });
    if let Value::Object(extra) = extra {
        r.extend(extra);
    }
    Value::Object(r)
}

fn application_error(e: &Value, time: u64) -> Value {
    let c = &e["control"];
    let reason = s(&c["reason"]).unwrap_or("");
    let mut r = class(
        6008,
        "Application Error",
        (6, "Application Activity"),
        (1, "General Error"),
    );
    let extra = json!({
        "time": time,
        "severity_id": 4,
        "severity": "High",
        "status_id": 2,
        "status": "Failure",
        "status_detail": reason,
        "count": c["count"].as_u64().unwrap_or(1),
        "message": format!("security control failed: {reason}: {}", s(&c["detail"]).unwrap_or("")),
        "metadata": metadata(e, None, &[]),
        "unmapped": unmapped(e, &["control", "vm", "policy"]),
    });
    if let Value::Object(extra) = extra {
        r.extend(extra);
    }
    Value::Object(r)
}
