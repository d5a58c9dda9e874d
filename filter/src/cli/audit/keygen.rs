//! `pci-guard audit keygen --private FILE --public FILE`: an Ed25519 key pair for signed
//! checkpoints, PEM (PKCS#8 and SPKI, as OpenSSL writes them).

use clap::Args;
use pci_guard_core::audit::checkpoint::Signer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the private key (created, never overwritten; mode 0600). It goes to
    /// the VM's environment, e.g. a Kubernetes Secret the proxy reads.
    #[arg(long)]
    private: PathBuf,
    /// Where to write the public key (for `pci-guard audit verify --public-key`).
    #[arg(long)]
    public: PathBuf,
}

fn create(path: &Path, text: &str, private: bool) -> Result<(), String> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = o.open(path).map_err(|e| {
        format!(
            "{}: {e} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(args: KeygenArgs) -> ExitCode {
    let pair = ed25519_compact::KeyPair::generate();
    let result = Signer::from_pem(&pair.sk.to_pem())
        .map_err(|e| e.to_string())
        .and_then(|signer| {
            create(&args.private, &pair.sk.to_pem(), true)?;
            create(&args.public, &signer.public_pem(), false)?;
            Ok(signer.key_id().to_string())
        });
    match result {
        Ok(id) => {
            println!("key id {id}");
            println!(
                "private key: {} (into the VM's environment; the policy names the variable in audit.checkpoint.signing_key_env)",
                args.private.display()
            );
            println!(
                "public key: {} (pci-guard audit verify --public-key {})",
                args.public.display(),
                args.public.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
