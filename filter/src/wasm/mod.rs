//! The proxy-wasm runtime: a thin layer over the plugin (`pci_guard_plugin`). [`entry`] hands
//! each of Envoy's callbacks to the plugin's `Root` or `Stream`; [`host`] implements the
//! plugin's `Host` trait with the proxy-wasm ABI ([`abi`], whose wire formats are [`wire`]).
//! Only [`wire`] compiles natively too, for its unit tests.

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod host;
mod wire;
