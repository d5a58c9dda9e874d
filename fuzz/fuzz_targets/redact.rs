#![no_main]
//! `cargo fuzz run redact`: see `pci_guard_testkit::fuzz_checks::redact` for what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pci_guard_testkit::fuzz_checks::redact(data));
