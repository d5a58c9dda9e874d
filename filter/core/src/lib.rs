//! pci-guard's core: everything the filter decides, as plain functions over plain values.
//!
//! The data path, in module order:
//! headers → [`extractor`] (where the token is) → [`jwks`] + [`verify`] (who is calling)
//! → [`policy`] (what the operator wrote, compiled once) → decision
//! → [`redact`] (response body, streamed) → [`audit`] (one event per request).
//!
//! Nothing here calls the host: time, headers and bodies come in as arguments, decisions
//! and bytes go out as values. The proxy-wasm glue in the `pci-guard` crate is the only
//! code that talks to Envoy, so all of this is unit-tested natively and on wasm32.

pub mod answer;
pub mod audit;
pub mod authz;
pub mod digest;
pub mod headers;
pub mod identity;
pub mod judge;
pub mod operation;
pub mod policy;
pub mod reason;
pub mod redact;
pub mod routes;
