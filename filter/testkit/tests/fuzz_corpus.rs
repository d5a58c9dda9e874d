#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The fuzz corpora as a smoke test on stable: every seed and every saved crash in
//! `testdata/fuzz/<target>/` goes through the same check the `cargo fuzz` target runs
//! (`pci_guard_testkit::fuzz_checks`). A crash the fuzzer finds is copied there, and stays a
//! regression test from then on.

use pci_guard_testkit::fuzz_checks::TARGETS;
use std::path::PathBuf;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fuzz")
        .join(target)
}

#[test]
fn every_fuzz_target_passes_its_corpus() {
    for (name, check) in TARGETS {
        let dir = corpus(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: no seeds in {}", dir.display());
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{name}: {} fails its check", f.display());
        }
        eprintln!("{name}: {} inputs", files.len());
    }
}
