//! The pci-guard proxy-wasm plugin (glue).

#[cfg(target_arch = "wasm32")]
pub mod host_crypto;
