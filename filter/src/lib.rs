//! The pci-guard proxy-wasm plugin (glue).
