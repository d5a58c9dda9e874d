//! `pci-guard policy check FILE...`: the same parser the plugin runs at load time.

use clap::Subcommand;
use pci_guard_core::policy::Policy;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check policy files: every error with its JSON pointer. Exit 0 if all load, 1 otherwise.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Check { files } => check(&files),
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        let name = f.display();
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        match Policy::parse(&bytes) {
            Ok(p) => println!("{name}: ok (version {:?}, {})", p.version, p.digest),
            Err(errors) => {
                failed = true;
                for e in &errors.0 {
                    println!("{name}: error: {e}");
                }
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
