#![no_main]
//! `cargo fuzz run audit`: see `pci_guard_testkit::fuzz_checks::audit_event` for what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pci_guard_testkit::fuzz_checks::audit_event(data));
