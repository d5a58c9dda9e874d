//! `pci-guard audit export --format ocsf|ecs FILE…`: one JSON document a line on stdout.

use super::for_each_line;
use clap::{Args, ValueEnum};
use pci_guard_core::audit::export::{ecs, ocsf};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// OCSF 1.7.0 (HTTP Activity, Authorize Session, Application Lifecycle, Application Error).
    Ocsf,
    /// Elastic Common Schema.
    Ecs,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    format: Format,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: ExportArgs) -> ExitCode {
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let (mut skipped, mut failed) = (0u64, None);
    let read = for_each_line(&args.files, |line| {
        if failed.is_some() || line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Ok(e) = serde_json::from_slice::<serde_json::Value>(line) else {
            skipped += 1;
            return;
        };
        let docs = match args.format {
            Format::Ocsf => ocsf::records(&e),
            Format::Ecs => ecs::document(&e).into_iter().collect(),
        };
        if docs.is_empty() && e.get("kind").is_none_or(|k| k != "vm") {
            skipped += 1;
        }
        for d in docs {
            let written = serde_json::to_writer(&mut out, &d)
                .map_err(|e| e.to_string())
                .and_then(|()| out.write_all(b"\n").map_err(|e| e.to_string()));
            if let Err(e) = written {
                failed = Some(e);
            }
        }
    });
    if let Err(e) = read.and_then(|()| out.flush().map_err(|e| e.to_string())) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some(e) = failed {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if skipped > 0 {
        eprintln!("note: {skipped} line(s) are not pci-guard events and were left out (pci-guard audit verify names them)");
    }
    ExitCode::SUCCESS
}
