#![no_main]
//! `cargo fuzz run token`: see `pci_guard_testkit::fuzz_checks::token` for what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pci_guard_testkit::fuzz_checks::token(data));
