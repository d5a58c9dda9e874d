//! Audit lines as SIEMs ingest them: [`ocsf`] (Open Cybersecurity Schema Framework 1.7) and
//! [`ecs`] (Elastic Common Schema). Both read the lines as JSON, the way `pci-guard audit`
//! reads a log, so a line from any pci-guard version maps as far as its fields go.
//!
//! Every mapped document keeps what has no place in the target schema under a `pci_guard`
//! key (OCSF: `unmapped.pci_guard`; ECS: the custom `pci_guard.*` namespace), the chain
//! reference included, so an exported event can be traced back to its line and verified.

pub mod ecs;
pub mod ocsf;

use serde_json::Value;

/// The product as both schemas name it.
pub const PRODUCT: &str = "pci-guard";

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

/// `ip:port` (or `[ip6]:port`) split; the address alone when there is no port.
fn host_port(address: &str) -> (String, Option<u16>) {
    if let Some(rest) = address.strip_prefix('[') {
        if let Some((ip, port)) = rest.split_once("]:") {
            return (ip.to_string(), port.parse().ok());
        }
    }
    match address.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') => (ip.to_string(), port.parse().ok()),
        _ => (address.to_string(), None),
    }
}

/// The line's chain reference (id, seq, prev, seal), as the exports carry it.
fn chain(e: &Value) -> Value {
    e["chain"].clone()
}
