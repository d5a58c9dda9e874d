//! The pci-guard proxy-wasm plugin.
//!
//! All decisions live in the core crate (`pci_guard_core`), which knows nothing of Envoy.
//! This crate is the thin glue: [`plugin`] reads headers, bodies and properties from the host,
//! hands them to the core, and carries the core's answers back (local replies, rewritten
//! bodies, the audit record in filter state). The proxy-wasm entry is compiled only for
//! wasm32; the rest also natively, for its unit tests. Natively this crate builds the
//! `pci-guard` command (`src/main.rs`).

#[cfg(any(target_arch = "wasm32", test))]
mod plugin;
