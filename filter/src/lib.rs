//! The pci-guard proxy-wasm plugin.
//!
//! All decisions live in the core crate (`pci_guard_core`), which knows nothing of Envoy.
//! This crate is the thin glue: [`plugin`] reads headers, bodies and properties from the host,
//! hands them to the core, and carries the core's answers back (local replies, rewritten
//! bodies, the audit record in filter state). It is compiled only for wasm32; natively this
//! crate builds the `pci-guard` command (`src/main.rs`).

#[cfg(target_arch = "wasm32")]
mod host_crypto;
#[cfg(target_arch = "wasm32")]
mod plugin;
