//! Webhook notifications: new request, each approval, denial, expiry, revocation, grant
//! issued. The body is Slack-compatible (`text` and `blocks`, mrkdwn with the user's text
//! escaped) and carries the structured event under `pci_guard` (the audit event's fields: no
//! token is ever in an event). Deliveries come from the database outbox, so a notice survives
//! a restart; a failed one is retried with exponential backoff (first `retry_ms`, doubling,
//! at most five minutes apart) up to [`MAX_ATTEMPTS`] times.

use crate::store::{clock_ms, Notice, Pending, Store};
use serde_json::{json, Value};
use std::time::Duration;

/// Attempts before a delivery is given up (and reported on stderr).
pub const MAX_ATTEMPTS: u64 = 10;
/// Longest wait between two attempts.
pub const MAX_BACKOFF_MS: u64 = 300_000;
/// How long a claimed delivery is this replica's before another may try it.
const LEASE_MS: u64 = 30_000;

/// A notice of `event` with the event's structured fields.
pub fn notice(event: &'static str, e: &pci_guard_core::audit::approvals::ApprovalEvent) -> Notice {
    let mut data = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = data.as_object_mut() {
        o.remove("chain");
        o.remove("version");
    }
    Notice { event, data }
}

/// Slack's mrkdwn control characters, so a justification cannot mention `<!channel>` or
/// forge a link.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn who(v: &Value) -> String {
    v.get("sub")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// The JSON body a webhook receives for `event` with `data` (see [`notice`]).
pub fn payload(event: &str, data: &Value, issuer: &str) -> Value {
    let r = &data["request"];
    let id = r["id"].as_str().unwrap_or("?");
    let requester = who(&r["requester"]);
    let actor = who(&data["actor"]);
    let target = match (r["rule"].as_str(), r["route"].as_str()) {
        (Some(rule), _) => format!("rule {rule}"),
        (_, Some(route)) => format!("route {route}"),
        _ => "scopes".to_owned(),
    };
    let scopes: Vec<&str> = r["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let minutes = r["duration_seconds"].as_u64().unwrap_or(0).div_ceil(60);
    let headline = match event {
        "filed" => format!(
            "{requester} asks for {} ({target}) for {minutes} min",
            scopes.join(" ")
        ),
        "approved" => format!(
            "{actor} approved {id} ({} of {})",
            r["approvals"], r["min_approvals"]
        ),
        "denied" => format!("{actor} denied {id}"),
        "expired" => format!("{id} expired without enough approvals"),
        "revoked" => format!("{actor} revoked the grant of {id}"),
        "grant_issued" => format!(
            "{requester} is granted {} until {}",
            scopes.join(" "),
            data["grant"]["expires_at"].as_str().unwrap_or("?")
        ),
        other => format!("{other}: {id}"),
    };
    let headline = escape(&headline);
    let justification = escape(r["justification"].as_str().unwrap_or(""));
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn",
        "text": format!("*pci-guard access:* {headline}\n>{justification}")}})];
    if event == "filed" {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("`pci-guard access approve {id} --url {issuer}`  or  `pci-guard access deny {id} --url {issuer}`")}]}));
    }
    json!({
        "text": format!("pci-guard access: {headline}"),
        "blocks": blocks,
        "pci_guard": {"event": event, "data": data},
    })
}

/// The wait before attempt `attempts + 1`.
pub fn backoff_ms(first_ms: u64, attempts: u64) -> u64 {
    let shift = attempts.saturating_sub(1).min(20);
    first_ms.saturating_mul(1 << shift).min(MAX_BACKOFF_MS)
}

/// Delivers due notices for ever, every 200 ms.
pub async fn deliver(store: Store, hooks: Vec<String>, issuer: String, retry_ms: u64) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pci-guard-approvals: no HTTP client for webhooks: {e}");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let Ok(due) = store.due(clock_ms(), 32).await else {
            continue;
        };
        for p in due {
            deliver_one(&store, &client, &hooks, &issuer, retry_ms, p).await;
        }
    }
}

async fn deliver_one(
    store: &Store,
    client: &reqwest::Client,
    hooks: &[String],
    issuer: &str,
    retry_ms: u64,
    p: Pending,
) {
    let Some(url) = hooks.get(p.hook) else {
        // A webhook removed from the policy since: nothing to deliver to.
        let _ = store.retry(&p.id, None).await;
        return;
    };
    if !matches!(store.claim(&p, clock_ms() + LEASE_MS).await, Ok(true)) {
        return;
    }
    let body = payload(&p.event, &p.data, issuer);
    let ok = matches!(client.post(url).json(&body).send().await, Ok(r) if r.status().is_success());
    let attempts = p.attempts + 1;
    let result = if ok {
        store.delivered(&p.id).await
    } else if attempts >= MAX_ATTEMPTS {
        // The URL may hold a secret (Slack's do): name the webhook by its index only.
        eprintln!(
            "pci-guard-approvals: webhook #{} gave up on {} ({}) after {attempts} attempts",
            p.hook, p.id, p.event
        );
        store.retry(&p.id, None).await
    } else {
        store
            .retry(&p.id, Some(clock_ms() + backoff_ms(retry_ms, attempts)))
            .await
    };
    if result.is_err() {
        // The lease runs out and the delivery is tried again.
        eprintln!("pci-guard-approvals: could not record delivery of {}", p.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1000, 1), 1000);
        assert_eq!(backoff_ms(1000, 2), 2000);
        assert_eq!(backoff_ms(1000, 3), 4000);
        assert_eq!(backoff_ms(1000, 30), MAX_BACKOFF_MS);
    }

    #[test]
    fn slack_payload_escapes_user_text() {
        let data = json!({"request": {"id": "req_1", "requester": {"sub": "agent-7"},
            "route": "refund", "scopes": ["payments:refund"], "duration_seconds": 900,
            "justification": "<!channel> see <http://evil|here> & more"}});
        let p = payload("filed", &data, "https://approvals");
        let text = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            !text.contains("<!channel>") && text.contains("&lt;!channel&gt;"),
            "{text}"
        );
        assert!(p["text"]
            .as_str()
            .unwrap()
            .contains("agent-7 asks for payments:refund"));
        assert_eq!(p["pci_guard"]["event"], "filed");
    }
}
