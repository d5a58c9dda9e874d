//! `pci-guard explain`: the filter's decision for one request, from the same core code
//! (policy, authn, authz) the plugin runs. For policy authors checking a rule before rollout.

use clap::Args;
use pci_guard_core::authn::{self, InlineKeys};
use pci_guard_core::authz::{self, RequestFlags};
use pci_guard_core::crypto::PureVerifier;
use pci_guard_core::jwks::KeySet;
use pci_guard_core::jwt_cache::JwtCache;
use pci_guard_core::policy::Policy;
use pci_guard_core::reason::Reason;
use pci_guard_core::routes::RequestLine;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct ExplainArgs {
    /// The policy file (JSON).
    #[arg(long)]
    policy: PathBuf,
    #[arg(long)]
    method: String,
    /// Path as sent, query string included (it is ignored, as in the filter).
    #[arg(long)]
    path: String,
    /// The request is gRPC (`content-type: application/grpc`).
    #[arg(long)]
    grpc: bool,
    /// The caller's token, as it would arrive in each provider's header.
    #[arg(long)]
    token: Option<String>,
    /// A JWKS file standing in for the key sets of `remote_jwks` providers.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// The time to judge at, Unix seconds (default: now).
    #[arg(long)]
    now: Option<u64>,
}

#[derive(Serialize)]
struct Explanation<'a> {
    allow: bool,
    status: u16,
    reason: Reason,
    rule: Option<&'a str>,
    route: Option<&'a str>,
    /// `allow`, `deny` or `would_deny` (dry-run).
    result: pci_guard_core::audit::Outcome,
}

fn fail(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

pub fn run(a: ExplainArgs) -> ExitCode {
    let text = match std::fs::read(&a.policy) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", a.policy.display())),
    };
    let mut policy = match Policy::parse(&text) {
        Ok(p) => p,
        Err(e) => return fail(format!("{}: {e}", a.policy.display())),
    };
    if let Err(e) = policy.resolve_secrets(|v| std::env::var(v).ok()) {
        return fail(format!("{}: {e}", a.policy.display()));
    }
    let stand_in = match &a.jwks {
        None => None,
        Some(f) => match std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| KeySet::parse(&b).map_err(|e| e.to_string()))
        {
            Ok(k) => Some(Arc::new(k)),
            Err(e) => return fail(format!("{}: {e}", f.display())),
        },
    };
    let now = a.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    // The token goes where each provider looks for it.
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(t) = &a.token {
        for p in &policy.providers {
            if let Some(src) = p.sources.first() {
                if !headers.iter().any(|(h, _)| *h == src.header) {
                    headers.push((src.header.clone(), format!("{}{t}", src.prefix)));
                }
            }
        }
    }
    let method = a.method.to_ascii_uppercase();
    let req = RequestLine::new(&method, &a.path, a.grpc);
    let mut keys = InlineKeys::new(&policy, stand_in);
    let mut cache = JwtCache::new(1);
    let (d, _) = authz::decide(&policy, &req, RequestFlags::default(), now, |providers| {
        authn::authenticate(
            &policy,
            providers,
            &headers,
            now,
            &mut keys,
            &mut cache,
            &PureVerifier,
        )
    });
    let out = Explanation {
        allow: !d.blocks(),
        status: if d.blocks() {
            d.reason.http_status()
        } else {
            200
        },
        reason: d.reason,
        rule: d
            .rule
            .and_then(|i| policy.rules.get(i))
            .map(|r| r.id.as_str()),
        route: d
            .route
            .and_then(|i| policy.routes.get(i))
            .map(|r| r.name.as_str()),
        result: d.outcome(),
    };
    match serde_json::to_string(&out) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.to_string()),
    }
}
