#![no_main]
//! `cargo fuzz run policy`: see `pci_guard_testkit::fuzz_checks::policy` for what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pci_guard_testkit::fuzz_checks::policy(data));
