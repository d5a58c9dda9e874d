//! Who is calling: from a request's headers to a verified [`Verified`] caller, or the
//! [`Reason`](crate::reason::Reason) there is none.
//!
//! ```text
//! headers ─► extract (which header, which token) ─► authn (which provider; its cache)
//!         ─► token::parse (untrusted parts) ─► checks (alg, signature via signature::*, claims)
//! keys:   provider (compiled settings) ─► keyring ─► key_store (fetch state, token cache)
//!         ─► keyset / jwk (parsed public keys)
//! ```
//!
//! Modules, lowest first (none imports one above it): [`alg`], [`error`], [`token`],
//! [`extract`], [`jwk`], [`keyset`], [`signature`] (pure Rust and Envoy's
//! `verify_signature`), [`provider`], [`checks`], [`token_cache`], [`key_store`],
//! [`keyring`], [`authn`]. Nothing here does I/O or reads a clock: time, headers and fetched
//! key sets come in as arguments.

pub mod alg;
pub mod authn;
pub mod checks;
pub mod error;
pub mod extract;
pub mod jwk;
pub mod key_store;
pub mod keyring;
pub mod keyset;
pub mod provider;
pub mod signature;
pub mod token;
pub mod token_cache;

pub use alg::Alg;
pub use authn::{authenticate, Verified};
pub use checks::Identity;
pub use keyring::Keyring;
pub use keyset::KeySet;
pub use provider::{KeySource, Provider, ProviderConfig, RemoteJwks};
