//! `pci-guard audit verify FILE… [--until T] [--public-key K] [--key-env VAR] [--continued]`.

use super::for_each_line;
use clap::Args;
use pci_guard_core::audit::checkpoint::Verifier as KeyVerifier;
use pci_guard_core::audit::parse_rfc3339_millis;
use pci_guard_core::audit::verify::{Options, SchemaCheck, Verifier};
use std::path::PathBuf;
use std::process::ExitCode;

const SCHEMA: &str = include_str!("../../../../policy-schema/audit.schema.json");

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Environment variable holding the chain key (the policy's `audit.chain_secret_env`).
    #[arg(long)]
    key_env: Option<String>,
    /// The checkpoint public key (PEM, from `pci-guard audit keygen`): every chain must be
    /// covered by checkpoints it signed, so a chain rewritten with recomputed hashes is caught.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// When the log was collected (RFC 3339, e.g. 2026-11-27T10:00:00Z): a chain silent for
    /// longer than its heartbeat before it, without an end, was cut. Default: the newest
    /// event in the files, which cannot show a cut common to every chain.
    #[arg(long)]
    until: Option<String>,
    /// The files continue a log verified before: a chain may begin in an earlier file.
    #[arg(long)]
    continued: bool,
}

/// The published schema as a check: request events and the VM's records. Other services'
/// lines in the same family (`kind: "approvals"`) have their own schema and are left out.
fn schema() -> Result<SchemaCheck, String> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).map_err(|e| e.to_string())?;
    let v = jsonschema::draft202012::new(&schema).map_err(|e| e.to_string())?;
    Ok(Box::new(move |event: &serde_json::Value| {
        if event.get("kind").is_some_and(|k| k != "vm") {
            return Vec::new();
        }
        v.iter_errors(event)
            .take(3)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }))
}

pub fn run(args: VerifyArgs) -> ExitCode {
    match options(&args) {
        Ok(opts) => verify(&args.files, opts),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn options(args: &VerifyArgs) -> Result<Options, String> {
    let key = match &args.key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.is_empty() => Some(k.into_bytes()),
            _ => {
                return Err(format!(
                    "--key-env {var}: that environment variable is not set"
                ))
            }
        },
    };
    let public_key = match &args.public_key {
        None => None,
        Some(p) => {
            let pem = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(KeyVerifier::from_pem(&pem).map_err(|e| format!("{}: {e}", p.display()))?)
        }
    };
    let until_ms = match &args.until {
        None => None,
        Some(t) => Some(parse_rfc3339_millis(t).ok_or_else(|| {
            format!("--until {t:?}: not an RFC 3339 UTC time (2026-11-27T10:00:00Z) or date")
        })?),
    };
    Ok(Options {
        key,
        public_key,
        until_ms,
        continued: args.continued,
        schema: Some(schema().map_err(|e| format!("the built-in audit schema: {e}"))?),
        ..Options::default()
    })
}

fn verify(files: &[PathBuf], opts: Options) -> ExitCode {
    let mut v = Verifier::with(opts);
    if let Err(e) = for_each_line(files, |line| v.push(line)) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    v.finish();
    for f in &v.findings {
        println!("{f}");
    }
    let errors = v.errors().count();
    let notes = v.findings.len() - errors;
    let verdict = if errors == 0 { "intact" } else { "NOT intact" };
    let notes = if notes > 0 {
        format!(", {notes} note(s)")
    } else {
        String::new()
    };
    println!(
        "{} events in {} chain(s), {errors} finding(s){notes}: {verdict}",
        v.events,
        v.chains(),
    );
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
