//! `pci-guard audit verify FILE...`: schema shape and hash chains of recorded audit logs,
//! streamed line by line (multi-GB logs run in constant memory), with progress on a terminal.

use clap::Subcommand;
use pci_guard_core::audit::review::Review;
use pci_guard_core::audit::verify::Verifier;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check that every line is an audit event and every VM's hash chain is unbroken: reports
    /// deleted, edited and reordered lines with their line numbers. Exit 0 intact, 1 otherwise.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Environment variable holding the chain key (the policy's `audit.chain_secret_env`).
        #[arg(long)]
        key_env: Option<String>,
    },
    /// Summarise per identity and route: allowed, denied, would-deny, JIT grants and their
    /// approvers, card data masked; and flag what to look at first.
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
}

pub fn run(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify { files, key_env } => verify(&files, key_env.as_deref()),
        AuditCommand::Review {
            files,
            since,
            until,
            json,
        } => review(&files, since, until, json),
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

fn verify(files: &[PathBuf], key_env: Option<&str>) -> ExitCode {
    let key = match key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.is_empty() => Some(k.into_bytes()),
            _ => {
                eprintln!("error: --key-env {var}: that environment variable is not set");
                return ExitCode::from(2);
            }
        },
    };
    let mut v = Verifier::new(key);
    if let Err(e) = for_each_line(files, |line| v.push(line)) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    for f in &v.findings {
        println!("{f}");
    }
    let verdict = if v.findings.is_empty() {
        "intact"
    } else {
        "NOT intact"
    };
    println!(
        "{} events in {} chain(s), {} finding(s): {verdict}",
        v.events,
        v.chains(),
        v.findings.len()
    );
    if v.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn review(files: &[PathBuf], since: Option<String>, until: Option<String>, json: bool) -> ExitCode {
    let mut r = Review::new(since, until);
    let mut unreadable = 0u64;
    let read = for_each_line(files, |line| match serde_json::from_slice(line) {
        Ok(v) => r.push(&v),
        Err(_) if line.iter().all(u8::is_ascii_whitespace) => {}
        Err(_) => unreadable += 1,
    });
    if let Err(e) = read {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if unreadable > 0 {
        eprintln!("warning: {unreadable} line(s) are not JSON; run `pci-guard audit verify` on these files");
    }
    let report = r.finish();
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
