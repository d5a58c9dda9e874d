//! The log entry: the audit event completed from what the response did, then sealed.

use crate::audit::{Chain, Event, RedactionRef};
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
