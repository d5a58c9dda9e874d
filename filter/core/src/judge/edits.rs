//! Request headers an allowed request goes upstream with: identity headers only from the
//! verified token, the token itself stripped unless its provider forwards it, and bodies
//! asked for in a form the filter can read.

use crate::headers::Headers;
use crate::identity::Verified;
use crate::policy::Policy;

/// Set a header (`Some`) or remove it (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEdit {
    pub name: String,
    pub value: Option<String>,
}

impl HeaderEdit {
    fn set(name: &str, value: String) -> Self {
        Self {
            name: name.to_string(),
            value: Some(value),
        }
    }

    fn remove(name: &str) -> Self {
        Self {
            name: name.to_string(),
            value: None,
        }
    }
}

/// The edits for a request that goes upstream. `sent` is the request's headers as read: only
/// headers in it need removing. `scanned` says whether its responses will be scanned.
pub(super) fn upstream<H: Headers + ?Sized>(
    policy: &Policy,
    who: Option<&Verified>,
    sent: &H,
    scanned: bool,
    grpc: bool,
) -> Vec<HeaderEdit> {
    let mut edits = Vec::new();
    // Identity headers a client sent are never believed, whoever the caller is.
    for p in &policy.providers {
        for (_, name) in &p.claim_to_headers {
            if sent.get(name).is_some() {
                edits.push(HeaderEdit::remove(name));
            }
        }
    }
    if let Some(p) = who.and_then(|w| policy.providers.get(w.provider).map(|p| (w, p))) {
        let (who, p) = p;
        for (claim, header) in &p.claim_to_headers {
            if let Some(v) = who.identity.claims.get(claim).and_then(claim_header_value) {
                edits.push(HeaderEdit::set(header, v));
            }
        }
        if !p.forward_token {
            for source in &p.sources {
                if sent.get(&source.header).is_some() {
                    edits.push(HeaderEdit::remove(&source.header));
                }
            }
        }
    }
    if scanned {
        // Ask for bodies the filter can read; a compressed one is still decoded or refused.
        let name = if grpc {
            "grpc-accept-encoding"
        } else {
            "accept-encoding"
        };
        if sent.get(name) != Some("identity") {
            edits.push(HeaderEdit::set(name, "identity".to_string()));
        }
    }
    edits
}

/// A claim as a header value: strings as they are, numbers and booleans printed, arrays of
/// those joined with commas; objects are not forwarded.
fn claim_header_value(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let out = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join(","),
        other => scalar(other)?,
    };
    // A header value must not carry line breaks or other control characters.
    (!out.bytes().any(|b| b < 0x20 || b == 0x7f)).then_some(out)
}
