//! `pci-guard token`: signs a token with a local private key, for demos and tests (`make run`
//! prints one signed with the test key the demo policy trusts). Not for production identities:
//! those come from your IdP.

use clap::Args;
use pci_guard_core::identity::Alg;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TokenArgs {
    /// PEM private key (PKCS#8).
    #[arg(long)]
    key: PathBuf,
    /// RS256, ES256, ES384 or EdDSA.
    #[arg(long, default_value = "RS256")]
    alg: String,
    #[arg(long)]
    kid: String,
    #[arg(long, default_value = "https://idp.example.com")]
    iss: String,
    #[arg(long, default_value = "payments-api")]
    aud: String,
    #[arg(long)]
    sub: String,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 600)]
    ttl: u64,
    /// A just-in-time grant claim, as JSON.
    #[arg(long)]
    jit: Option<String>,
}

pub fn run(a: TokenArgs) -> ExitCode {
    let Some(alg) = Alg::from_name(&a.alg).filter(|a| !a.is_hmac()) else {
        eprintln!("error: --alg {}: use RS256, ES256, ES384 or EdDSA", a.alg);
        return ExitCode::from(2);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = json!({"iss": a.iss, "aud": a.aud, "sub": a.sub, "iat": now, "nbf": now, "exp": now + a.ttl,
                            "jti": format!("{}-{now}", a.sub), "scope": a.scope});
    if let Some(j) = &a.jit {
        match serde_json::from_str::<serde_json::Value>(j) {
            Ok(v) => claims["jit"] = v,
            Err(e) => {
                eprintln!("error: --jit is not JSON: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let pem = match std::fs::read(&a.key) {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("error: --key {}: {e}", a.key.display());
            return ExitCode::from(2);
        }
    };
    // The test-support crate's signer: this command mints demo and test tokens, the same way
    // the tests do.
    let header = pci_guard_testkit::header(alg.name(), &a.kid);
    println!(
        "{}",
        pci_guard_testkit::mint(alg.name(), &pem, &header, &claims)
    );
    ExitCode::SUCCESS
}
