//! `pci-guard`: the filter's core on the command line, for policy authors, CI and auditors.
//! Every subcommand calls the same core code the plugin runs; none re-implements a rule.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
