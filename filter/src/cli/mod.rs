//! Argument parsing and dispatch; each subcommand lives in its own module.

mod access;
mod audit;
mod explain;
mod oci;
mod policy;
mod redact;
mod token;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pci-guard",
    version,
    about = "pci-guard's policy, decision and redaction engine on the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// The filter's decision for one request, as JSON: {"allow", "status", "reason", "rule", …}.
    Explain(explain::ExplainArgs),
    /// Redact card data from a body on stdin to stdout (same engine and settings as the filter).
    Redact(redact::RedactArgs),
    /// Package pci_guard.wasm as an OCI image layout (directory and .tar) Istio can pull;
    /// prints the image digest (WasmPlugin `sha256`) and the module's sha256.
    Oci(oci::OciArgs),
    /// Sign a token with a local key, for demos and tests (production tokens come from your IdP).
    Token(token::TokenArgs),
    /// Just-in-time access through the approvals service: request, list, show, approve, deny,
    /// revoke, and fetch your grant.
    Access(access::AccessArgs),
    /// Work with recorded audit logs.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
}

pub fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Policy { command } => policy::run(command),
        Command::Audit { command } => audit::run(command),
        Command::Explain(args) => explain::run(args),
        Command::Redact(args) => redact::run(args),
        Command::Oci(args) => oci::run(args),
        Command::Token(args) => token::run(args),
        Command::Access(args) => access::run(args),
    }
}
