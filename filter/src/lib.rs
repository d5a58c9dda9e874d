//! The pci-guard proxy-wasm plugin (`pci_guard.wasm`) and the `pci-guard` command.
//!
//! All decisions live in the core crate (`pci_guard_core`), which knows nothing of Envoy; the
//! plugin's logic over its host (`pci_guard_plugin`) reads headers, bodies and properties,
//! hands them to the core, and carries the core's answers back. This crate adds only the
//! proxy-wasm runtime: [`wasm`] implements the plugin's host trait with proxy-wasm hostcalls
//! and forwards Envoy's callbacks (wasm32 only). Natively it builds the `pci-guard` command
//! (`src/main.rs`); the dynamic-module build of the same plugin is `filter/dynamic/`.

#[cfg(any(target_arch = "wasm32", test))]
mod wasm;
