//! Header edits: what an allowed request goes upstream with (identity headers only from the
//! verified token, tokens stripped unless their provider forwards them, bodies asked for whole
//! and in a form the filter can read), and the rewrites that mask card data in response
//! headers and trailers.

use crate::headers::Headers;
use crate::identity::Verified;
use crate::policy::{Policy, DEFAULT_GRANT_HEADER};
use crate::redact::{redact_header_value, RedactOptions};

/// One change to a header map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// `name` gets exactly this one value.
    Set { name: String, value: String },
    /// Every value of `name` goes.
    Remove { name: String },
    /// One more value of `name`, after the others (to rewrite a header sent several times:
    /// remove it, then add each value back).
    Add { name: String, value: String },
}

impl HeaderEdit {
    fn set(name: &str, value: String) -> Self {
        Self::Set {
            name: name.to_string(),
            value,
        }
    }

    fn remove(name: &str) -> Self {
        Self::Remove {
            name: name.to_string(),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Set { name, .. } | Self::Remove { name } | Self::Add { name, .. } => name,
        }
    }

    /// The value set or added; `None` for a removal.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Set { value, .. } | Self::Add { value, .. } => Some(value),
            Self::Remove { .. } => None,
        }
    }
}

/// Request headers that ask for part of a body. A card split across two ranges would reach
/// the client in two clean halves, so on scanned routes the upstream is asked for whole bodies.
const RANGE_HEADERS: [&str; 2] = ["range", "if-range"];

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
    let remove = |name: &str, edits: &mut Vec<HeaderEdit>| {
        if sent.get(name).is_some() && !edits.iter().any(|e| e.name() == name) {
            edits.push(HeaderEdit::remove(name));
        }
    };
    // Identity headers a client sent are never believed, whoever the caller is.
    for p in &policy.providers {
        for (_, name) in &p.claim_to_headers {
            remove(name, &mut edits);
        }
    }
    let caller = who.and_then(|w| policy.providers.get(w.provider).map(|p| (w, p)));
    if let Some((who, p)) = caller {
        for (claim, header) in &p.claim_to_headers {
            if let Some(v) = who.identity.claims.get(claim).and_then(claim_header_value) {
                edits.push(HeaderEdit::set(header, v));
            }
        }
    }
    // A grant is a bearer credential meant for the filter alone, and always goes.
    let grant_header = policy
        .approvals
        .as_ref()
        .and_then(|a| a.grants.as_ref())
        .map_or(DEFAULT_GRANT_HEADER, |g| g.header.as_str());
    remove(grant_header, &mut edits);
    // Tokens go only where their provider forwards them, public routes included: a token the
    // route did not need is still a credential the upstream must not collect.
    let forwarded = |header: &str| {
        caller.is_some_and(|(_, p)| p.forward_token && p.sources.iter().any(|s| s.header == header))
    };
    for p in policy.providers.iter().filter(|p| !p.forward_token) {
        for source in &p.sources {
            if !forwarded(&source.header) {
                remove(&source.header, &mut edits);
            }
        }
    }
    if scanned {
        for name in RANGE_HEADERS {
            remove(name, &mut edits);
        }
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

/// The edits that mask card data in a header map (response headers or trailers). Pseudo
/// headers are left alone. A header sent several times is rewritten whole, each value masked,
/// so no value is lost.
pub(super) fn masked<H: Headers + ?Sized>(options: &RedactOptions, headers: &H) -> Vec<HeaderEdit> {
    let mut edits = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for (name, value) in headers.pairs() {
        if name.starts_with(':') || done.contains(&name) {
            continue;
        }
        if redact_header_value(options, value).is_none() {
            continue;
        }
        done.push(name);
        let values: Vec<String> = headers
            .get_all(name)
            .map(|v| redact_header_value(options, v).unwrap_or_else(|| v.to_string()))
            .collect();
        match values.as_slice() {
            [one] => edits.push(HeaderEdit::set(name, one.clone())),
            _ => {
                edits.push(HeaderEdit::remove(name));
                edits.extend(values.into_iter().map(|value| HeaderEdit::Add {
                    name: name.to_string(),
                    value,
                }));
            }
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
