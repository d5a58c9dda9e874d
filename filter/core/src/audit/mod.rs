//! The audit trail: one event per request, completed when the stream ends, and the records
//! each VM writes about itself, all written by Envoy's own access loggers from filter state
//! (`wasm.pci_guard_audit`).
//!
//! Only values the filter produced or checked go in: never a token, a card number, a CVV or a
//! key. Fields that hold request input (path, authority) are passed through the redaction
//! engine before they are set.
//!
//! [`event`] holds the request event's shape and its masking and caps, [`record`] the VM's
//! own records (start, heartbeat, checkpoint, control failure, end), [`control`] the failed
//! controls they report, [`chain`] the hash chain that numbers, links and seals each line,
//! [`checkpoint`] the Ed25519 signatures over it, [`schedule`] when a VM writes its records;
//! [`verify`], [`review`] and [`export`] are what `pci-guard audit` does with the lines.
//! [`approvals`] holds the approvals service's events (filed, approved, denied, expired,
//! revoked, grant issued), sealed by the same chain; `operation` the JSON-RPC and GraphQL calls
//! a request event records.

pub mod approvals;
mod chain;
pub mod checkpoint;
pub mod control;
mod event;
pub mod export;
mod operation;
pub mod record;
pub mod review;
pub mod schedule;
mod time;
pub mod verify;

pub use chain::{link, unseal, Chain, Chained, Head};
pub use event::{
    cap, ChainRef, DecisionRef, Event, IdentityRef, JitRef, PolicyRef, RedactionRef, Request,
    Response, Source, EVENT_VERSION, MAX_APPROVERS, MAX_EVENT_BYTES, MAX_FIELD_BYTES,
};
pub use operation::{CallRef, OperationRef, MAX_CALLS, MAX_FIELDS};
pub use time::{parse_rfc3339_millis, rfc3339_millis};

#[cfg(test)]
mod tests;
