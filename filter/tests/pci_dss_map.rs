//! `docs/pci-dss.md` stays true: every test it names (`path::test_name`) exists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[test]
fn every_test_named_in_the_pci_dss_map_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let map = std::fs::read_to_string(root.join("docs/pci-dss.md")).unwrap();
    let mut named = 0;
    for cell in map.split('`').skip(1).step_by(2) {
        let Some((file, test)) = cell.split_once("::") else {
            continue;
        };
        if !file.ends_with(".rs") {
            continue;
        }
        named += 1;
        let src = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|_| panic!("docs/pci-dss.md names {file}, which does not exist"));
        assert!(
            src.contains(&format!("fn {test}(")),
            "docs/pci-dss.md names {file}::{test}, which does not exist"
        );
    }
    assert!(named >= 15, "only {named} tests named");
}
