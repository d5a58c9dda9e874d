//! pci-guard as an Envoy dynamic module (`envoy.filters.http.dynamic_modules`): the same core
//! (`pci_guard_core`) and plugin (`pci_guard_plugin`) as the wasm build, loaded natively by
//! Envoy 1.40+ from `libpci_guard_dynamic.so`.
//!
//! A thin layer, like the wasm one: [`abi`] declares the part of Envoy's dynamic-module ABI
//! that pci-guard uses (our own bindings, resolved and checked at load time), `hooks/`
//! exports the event hooks and hands each to the plugin's `Root` or `Stream`, [`host`]
//! implements the plugin's `Host` trait on Envoy's callbacks, [`shared`] holds what a filter
//! config shares across Envoy's threads (the key sets its one fetcher publishes, the
//! schedulers that wake waiting streams).

pub mod abi;
mod hooks;
pub mod host;
pub mod shared;
