//! `pci-guard-approvals`: the service that turns "an agent needs to refund this payment" into a
//! short-lived, signed, revocable grant that two people other than the agent approved.
//!
//! ```text
//! agent ── POST /v1/requests ──► targets (rule/route/scopes → requirement) ──► store (pending)
//! approver ── POST …/approve ──► authn (same providers as the filter) ──► store::decide
//!        (one transaction: row lock, distinct approvers, exactly one grant) ──► audit + outbox
//! agent ── POST /oauth2/token (RFC 8693) or GET /v1/requests/{id} ──► grant::sign (keys)
//! filter ── GET /.well-known/jwks.json, GET /v1/revocations (poll)
//! notify: the outbox ──► webhooks (Slack-compatible JSON, retried with backoff)
//! ```
//!
//! Modules, lowest first: [`time`], [`ids`], [`error`], [`model`], [`config`], [`targets`]
//! (which requirement a request falls under), [`authn`] (bearer tokens through the core's
//! `identity::authenticate`), [`keys`] (ES256 signing keys: creation, rotation, JWKS),
//! [`grant`] (the grant's claims and JWT), [`store`] (SQLite or PostgreSQL through one
//! `sqlx::AnyPool`), [`audit_log`] (the hash-chained event log), [`notify`] (webhooks),
//! [`api`] (the HTTP handlers), [`server`] (wiring and background tasks), [`embedded`] (the
//! service in-process, for programs and tests that embed it).

pub mod api;
pub mod audit_log;
pub mod authn;
pub mod config;
pub mod embedded;
pub mod error;
pub mod grant;
pub mod ids;
pub mod keys;
pub mod model;
pub mod notify;
pub mod server;
pub mod store;
pub mod targets;
pub mod time;

pub use config::Args;
pub use server::{serve, App};
