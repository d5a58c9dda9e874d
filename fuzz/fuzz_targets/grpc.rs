#![no_main]
//! `cargo fuzz run grpc`: see `pci_guard_testkit::fuzz_checks::grpc` for what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pci_guard_testkit::fuzz_checks::grpc(data));
