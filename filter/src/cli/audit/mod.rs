//! `pci-guard audit`: verify, review and export recorded audit logs, streamed line by line
//! (multi-GB logs run in constant memory) with progress on a terminal; make checkpoint keys.

mod export;
mod keygen;
mod verify;

use clap::Subcommand;
use pci_guard_core::audit::review::Review;
use pci_guard_core::audit::verify::{Options, Verifier};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the log from its lines alone: every line a pci-guard event matching the schema,
    /// every VM's chain whole (start, sequence, links, seals, no duplicates, not cut before
    /// --until), with --public-key its signed checkpoints. Reports each finding with its line
    /// number; exit 0 intact (notes allowed), 1 not intact, 2 unreadable.
    Verify(verify::VerifyArgs),
    /// Summarise per identity and route, and per operation read from request bodies (MCP
    /// tools, JSON-RPC methods, GraphQL operations): allowed, denied, would-deny, card data
    /// masked. List each JIT grant, joining the approvals service's log when given with the
    /// proxy logs: requester, justification, approvers and times, window, revocation, every
    /// request made under it and every refusal. Flag what a daily review must see (PCI DSS
    /// 10.4.1.1): gaps and truncations, failed controls, policy changes, grants used after
    /// revocation or presented after their end.
    Review {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only events at or after this RFC 3339 time or date (e.g. 2026-11-01).
        #[arg(long)]
        since: Option<String>,
        /// Only events up to this RFC 3339 time or date, compared as written.
        #[arg(long)]
        until: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Write the events as a SIEM ingests them, one JSON document a line on stdout: OCSF 1.7
    /// (HTTP Activity, Authorize Session for just-in-time grants, Application Lifecycle and
    /// Application Error for the VM's records) or Elastic Common Schema.
    Export(export::ExportArgs),
    /// Make an Ed25519 key pair for signed checkpoints: the private key goes to the VM's
    /// environment (the policy's audit.checkpoint.signing_key_env), the public key to whoever
    /// verifies (`verify --public-key`).
    Keygen(keygen::KeygenArgs),
}

pub fn run(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify(args) => verify::run(args),
        AuditCommand::Review {
            files,
            since,
            until,
            json,
        } => review(&files, since, until, json),
        AuditCommand::Export(args) => export::run(args),
        AuditCommand::Keygen(args) => keygen::run(args),
    }
}

/// Calls `each` with every line of `files`, in order, showing progress on a terminal.
pub fn for_each_line(files: &[PathBuf], mut each: impl FnMut(&[u8])) -> Result<(), String> {
    let tty = std::io::stderr().is_terminal();
    let mut buf = Vec::with_capacity(4096);
    for f in files {
        let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut r = BufReader::with_capacity(1 << 20, file);
        let (mut read, mut shown) = (0u64, 0u64);
        loop {
            buf.clear();
            let n = r
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            each(&buf);
            if tty && read - shown > 64 << 20 {
                shown = read;
                let pct = (read * 100).checked_div(total).unwrap_or(0);
                eprint!("\r{}: {pct}% ({} MiB)", f.display(), read >> 20);
                let _ = std::io::stderr().flush();
            }
        }
        if tty && shown > 0 {
            eprintln!("\r{}: 100%            ", f.display());
        }
    }
    Ok(())
}

fn review(files: &[PathBuf], since: Option<String>, until: Option<String>, json: bool) -> ExitCode {
    let mut r = Review::new(since, until.clone());
    // The trail's own integrity, for the flags: numbering, heads, tails and siblings (the
    // hashes need the chain key: `verify` checks them).
    let mut v = Verifier::with(Options {
        structure_only: true,
        until_ms: until
            .as_deref()
            .and_then(pci_guard_core::audit::parse_rfc3339_millis),
        ..Options::default()
    });
    let mut unreadable = 0u64;
    let read = for_each_line(files, |line| {
        v.push(line);
        match serde_json::from_slice(line) {
            Ok(e) => r.push(&e),
            Err(_) if line.iter().all(u8::is_ascii_whitespace) => {}
            Err(_) => unreadable += 1,
        }
    });
    if let Err(e) = read {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if unreadable > 0 {
        eprintln!("warning: {unreadable} line(s) are not JSON; run `pci-guard audit verify` on these files");
    }
    v.finish();
    let mut report = r.finish();
    report.integrity(&v.findings);
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::SUCCESS
}
