//! The audit event: one per request, completed when the stream ends, written by Envoy's own
//! access loggers from filter state (`wasm.pci_guard_audit`).
//!
//! Only values the filter produced or checked go in: never a token, a card number, a CVV or a
//! key. Fields that hold request input (path, authority) are passed through the redaction
//! engine before they are set.
//!
//! [`event`] holds the event's shape and its masking and caps, [`chain`] the hash chain that
//! seals each line, [`verify`] and [`review`] what `pci-guard audit` checks and reports.
//! [`approvals`] holds the approvals service's events (filed, approved, denied, expired,
//! revoked, grant issued), sealed by the same chain.

pub mod approvals;
mod chain;
mod event;
mod operation;
pub mod review;
mod time;
pub mod verify;

pub use chain::{link, Chain, Chained};
pub use event::{
    cap, ChainRef, DecisionRef, Event, IdentityRef, JitRef, PolicyRef, RedactionRef, Request,
    Response, Source, EVENT_VERSION, MAX_APPROVERS, MAX_EVENT_BYTES, MAX_FIELD_BYTES,
};
pub use operation::{CallRef, OperationRef, MAX_CALLS, MAX_FIELDS};
pub use time::rfc3339_millis;

#[cfg(test)]
mod tests;
