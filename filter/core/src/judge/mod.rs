//! The core's entries, one per phase of a request. Every host (the wasm plugin, the
//! `pci-guard` command, the benches) calls these and carries out what they return; no host
//! builds a decision, a header edit or an audit field itself.
//!
//! ```text
//! request headers ─► request()  ─► Verdict { decision, caller, reply | header edits,
//!                                            audit event begun, response plan }
//!                    (or Wait: the route's provider has no keys yet; ask again later)
//!                    (or ReadBody: the decision depends on the body's operations)
//! request body ────► request_body() ─► Verdict (or Wait), judged with the body read
//! response headers ► response() ─► header edits, body plan (pass, scan, decode, refuse)
//! response trailers ► trailers() ─► header edits (card data masked)
//! stream end ──────► log()      ─► the audit event completed and sealed: one line
//! ```
//!
//! Time, headers and key state come in as arguments; nothing here calls a host.

mod edits;
mod log;
mod operations;
mod reply;
mod request;
mod resource;
mod response;

pub use edits::HeaderEdit;
pub use log::{log, refused_before_filter, ResponseFacts, Unseen};
pub use request::{request, request_body, Body, Judged, Request, State, Verdict};
pub use response::{response, trailers, BodyPlan, ResponsePlan, ResponseStart};

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "pci-guard";

#[cfg(test)]
mod tests;
