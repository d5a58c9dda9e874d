//! Operations inside request bodies (JSON-RPC calls and MCP tools, GraphQL operations), counted
//! per identity: on `POST /mcp` the route says nothing, the tool says what was done.

use super::Counts;
use serde_json::Value;
use std::collections::BTreeMap;

/// A call as a reviewer reads it: `jsonrpc tools/call refund_payment`,
/// `graphql mutation RefundPayment`, `graphql query {cards}`, `graphql persisted 3f2a…`.
fn label(protocol: &str, call: &Value) -> String {
    let text = |k: &str| call[k].as_str();
    match protocol {
        "jsonrpc" => {
            let method = text("method").unwrap_or("(no method)");
            match text("tool") {
                Some(tool) => format!("jsonrpc {method} {tool}"),
                None => format!("jsonrpc {method}"),
            }
        }
        _ => {
            if let Some(hash) = text("hash").filter(|_| call["type"].is_null()) {
                let short: String = hash.chars().take(12).collect();
                return format!("{protocol} persisted {short}");
            }
            let kind = text("type").unwrap_or("query");
            if let Some(name) = text("name") {
                return format!("{protocol} {kind} {name}");
            }
            let fields: Vec<&str> = call["fields"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("{protocol} {kind} {{{}}}", fields.join(", "))
        }
    }
}

/// Counts each call of the event's operation under its identity. A batch call refused on
/// its own (`reason`) counts as denied whatever the batch's result.
pub(super) fn count(
    into: &mut BTreeMap<String, BTreeMap<String, Counts>>,
    identity: &str,
    e: &Value,
    result: &str,
) {
    let op = &e["request"]["operation"];
    let Some(calls) = op["calls"].as_array() else {
        return;
    };
    let protocol = op["protocol"].as_str().unwrap_or("operation");
    for call in calls {
        let c = into
            .entry(identity.to_string())
            .or_default()
            .entry(label(protocol, call))
            .or_default();
        match (call["reason"].is_string(), result) {
            (true, _) | (false, "deny") => c.denied += 1,
            (false, "allow") => c.allowed += 1,
            (false, "would_deny") => c.would_deny += 1,
            _ => {}
        }
    }
    if let Some(more) = op["more_calls"].as_u64().filter(|n| *n > 0) {
        let c = into
            .entry(identity.to_string())
            .or_default()
            .entry(format!("{protocol} (calls beyond the recorded ones)"))
            .or_default();
        match result {
            "allow" => c.allowed += more,
            "deny" => c.denied += more,
            "would_deny" => c.would_deny += more,
            _ => {}
        }
    }
}
