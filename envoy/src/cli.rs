//! The `pci-guard` command, for e2e tests that check what Envoy wrote with the same tool an
//! auditor runs (`pci-guard audit verify`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::files::root;

/// The `pci-guard` binary: `$PCI_GUARD_BIN`, else built once per test process with
/// `cargo build -p pci-guard --bin pci-guard` (a no-op when it is up to date), so a test never
/// runs a stale build.
pub fn pci_guard_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("PCI_GUARD_BIN") {
            return PathBuf::from(p);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "pci-guard", "--bin", "pci-guard"])
            .current_dir(root())
            .status()
            .expect("run cargo build for the pci-guard command");
        assert!(status.success(), "cargo build -p pci-guard failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map_or_else(|| root().join("target"), |t| root().join(t));
        target.join("debug/pci-guard")
    })
    .clone()
}

/// `pci-guard audit verify FILE`: its exit status and what it printed (stdout then stderr).
pub fn audit_verify(log: &Path) -> (bool, String) {
    let out: Output = Command::new(pci_guard_bin())
        .args(["audit", "verify"])
        .arg(log)
        .output()
        .expect("run pci-guard audit verify");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
