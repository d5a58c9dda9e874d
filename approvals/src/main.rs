//! `pci-guard-approvals --policy FILE [--database-url URL] [--listen ADDR]`.

use clap::Parser;
use pci_guard_approvals::config::{Args, Settings};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = match Settings::from_args(&args, |v| std::env::var(v).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pci-guard-approvals: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pci-guard-approvals: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(pci_guard_approvals::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pci-guard-approvals: {e}");
            ExitCode::FAILURE
        }
    }
}
