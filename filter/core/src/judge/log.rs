//! The log entry: the audit event completed from what the response did, then sealed.

use crate::audit::{self, Chain, DecisionRef, Event, RedactionRef};
use crate::authz::Outcome;
use crate::policy::Policy;
use crate::reason::Reason;
use crate::redact::RedactOptions;

/// What the host saw of the response.
#[derive(Debug, Default, Clone)]
pub struct ResponseFacts {
    pub status: Option<u16>,
    pub grpc_status: Option<u32>,
    /// Body bytes that went to the client (after decoding, when the filter decoded).
    pub bytes: u64,
    /// Envoy's `response.code_details`.
    pub details: Option<String>,
    /// What redaction did, when the body was scanned or refused.
    pub redaction: Option<RedactionRef>,
    /// Host time (Unix ms) the stream ended.
    pub ended_ms: u64,
}

/// Completes `event` (begun by [`super::request`], started at `started_ms`) and returns the
/// line to log. Caller-supplied fields are masked with `options` (the policy's, or the
/// defaults when no policy is loaded) and capped; with a `chain`, the line joins it.
pub fn log(
    event: &mut Event,
    facts: ResponseFacts,
    started_ms: u64,
    options: &RedactOptions,
    chain: Option<&mut Chain>,
) -> Vec<u8> {
    let e = event;
    e.response.status = facts.status;
    if e.request.grpc.is_some() {
        e.response.grpc_status = facts.grpc_status;
    }
    e.response.bytes = facts.bytes;
    e.response.details = facts.details;
    e.redaction = facts.redaction;
    e.duration_ms = Some(facts.ended_ms.saturating_sub(started_ms) as f64);
    e.sanitize(options);
    match chain {
        Some(chain) => chain.seal(e),
        None => {
            e.cap_fields();
            e.to_json()
        }
    }
}

/// What the host can still tell of a request Envoy refused before the filter saw its
/// headers (a malformed request, an encoded slash, headers over the limit, a lower-case
/// method on HTTP/1.1): Envoy answered it itself, but it is a request all the same.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unseen<'a> {
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub source_address: Option<&'a str>,
    pub source_principal: Option<&'a str>,
    /// The policy in force, if one is loaded.
    pub policy: Option<&'a Policy>,
    /// Host time (Unix ms) the stream ended.
    pub now_ms: u64,
}

/// The event of a request the filter never saw, to be completed by [`log`] like any other:
/// denied with [`Reason::RefusedBeforeFilter`], so a log has an event for every request and
/// no hole in its chain.
pub fn refused_before_filter(u: Unseen<'_>) -> Event {
    let mut e = Event {
        version: audit::EVENT_VERSION,
        time: audit::rfc3339_millis(u.now_ms),
        ..Event::default()
    };
    if let Some(p) = u.policy {
        e.policy.version = p.version.clone();
        e.policy.digest = p.digest.clone();
    }
    e.source.address = u.source_address.map(str::to_string);
    e.source.principal = u.source_principal.map(str::to_string);
    e.request.method = u.method.unwrap_or_default().to_string();
    e.request.path = u
        .path
        .map(|p| p.split_once('?').map_or(p, |(p, _)| p))
        .unwrap_or_default()
        .to_string();
    e.decision = Some(DecisionRef {
        result: Outcome::Deny,
        reason: Reason::RefusedBeforeFilter,
        rule: None,
        dry_run: false,
        grant_refused: None,
    });
    e
}
