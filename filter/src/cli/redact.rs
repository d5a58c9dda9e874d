//! `pci-guard redact`: the filter's redaction engine on stdin → stdout. The output has the
//! input's length; a summary of what was masked (counts only) goes to stderr.

use clap::Args;
use pci_guard_core::policy::Policy;
use pci_guard_core::redact::{self, BodyKind, GrpcRedactor, RedactOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct RedactArgs {
    /// The body's content type: decides scan, pass (e.g. image/png) or gRPC framing.
    #[arg(long, default_value = "text/plain")]
    content_type: String,
    /// Take the redaction settings from this policy (default: last four kept, all brands).
    #[arg(long)]
    policy: Option<PathBuf>,
}

pub fn run(a: RedactArgs) -> ExitCode {
    let (opts, skip) = match &a.policy {
        None => (
            Arc::new(RedactOptions::default()),
            redact::DEFAULT_SKIP_CONTENT_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        Some(f) => match std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| Policy::parse(&b).map_err(|e| e.to_string()))
        {
            Ok(p) => (
                p.redaction.options.clone(),
                p.redaction.skip_content_types.clone(),
            ),
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                return ExitCode::from(2);
            }
        },
    };
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let result = match redact::classify(Some(&a.content_type), &skip) {
        BodyKind::Pass => std::io::copy(&mut { stdin }, &mut stdout)
            .map(|_| None)
            .map_err(|e| e.to_string()),
        BodyKind::Refuse => Err(format!(
            "{}: cannot be scanned, the filter refuses such responses",
            a.content_type
        )),
        BodyKind::Scan => redact::redact_stream(opts, stdin, &mut stdout)
            .map(Some)
            .map_err(|e| e.to_string()),
        BodyKind::Grpc => grpc(opts, stdin, &mut stdout),
    };
    match result.and_then(|c| stdout.flush().map(|()| c).map_err(|e| e.to_string())) {
        Ok(Some(c)) => {
            eprintln!(
                "masked: {} PAN, {} CVV, {} track; {} bytes scanned",
                c.pan, c.cvv, c.track, c.bytes_scanned
            );
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn grpc(
    opts: Arc<RedactOptions>,
    mut r: impl Read,
    w: &mut impl Write,
) -> Result<Option<redact::RedactionCounts>, String> {
    let mut g = GrpcRedactor::new(opts);
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::with_capacity(buf.len());
    loop {
        let n = r.read(&mut buf).map_err(|e| e.to_string())?;
        out.clear();
        if n == 0 {
            g.finish(&mut out).map_err(|e| e.to_string())?;
            w.write_all(&out).map_err(|e| e.to_string())?;
            return Ok(Some(g.counts()));
        }
        g.feed(&buf[..n], &mut out).map_err(|e| e.to_string())?;
        w.write_all(&out).map_err(|e| e.to_string())?;
    }
}
