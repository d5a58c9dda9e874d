//! `pci-guard explain`: the filter's decision for one request, from the same core code
//! (policy, authn, authz) the plugin runs. For policy authors checking a rule before rollout.

use clap::Args;
use pci_guard_core::authz::grant::GrantState;
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::{KeySource, Keyring};
use pci_guard_core::judge::{self, Judged, Request, State};
use pci_guard_core::policy::Policy;
use pci_guard_core::reason::Reason;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// The request body (a file, or `-` for stdin): read where a route or rule needs it
    /// (JSON-RPC and GraphQL operations, a form's `_method`), as the filter reads it.
    #[arg(long)]
    body: Option<PathBuf>,
    /// The body's content type (default with --body: application/json).
    #[arg(long)]
    content_type: Option<String>,
    /// A grant from the approvals service, as it would arrive in the policy's grant header
    /// (`approvals.grants.header`).
    #[arg(long)]
    grant: Option<String>,
    /// A JWKS file standing in for the approvals service's keys when the policy fetches them.
    #[arg(long)]
    approvals_jwks: Option<PathBuf>,
    /// The revocation list as the service serves it (`{"version", "revoked": [{"id"}]}`);
    /// without it, no grant is taken as revoked.
    #[arg(long)]
    revocations: Option<PathBuf>,
}

#[derive(Serialize)]
struct Explanation<'a> {
    allow: bool,
    status: u16,
    reason: Reason,
    rule: Option<&'a str>,
    route: Option<&'a str>,
    /// `allow`, `deny` or `would_deny` (dry-run).
    result: pci_guard_core::authz::Outcome,
    /// The operations the body was read as (JSON-RPC calls, the GraphQL operation).
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a pci_guard_core::audit::OperationRef>,
    /// The answer's body, when the request is refused (JSON-RPC error, GraphQL errors, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<serde_json::Value>,
}

fn fail(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// The grant state the filter would hold: the approvals keys (inline, or the stand-in file)
/// and the revocation list (the file, or none revoked). `None` when the policy takes no
/// grants from a header; an error when `--grant` is given to such a policy.
fn grant_state(policy: &Policy, a: &ExplainArgs, now: u64) -> Result<Option<GrantState>, String> {
    let Some(mut g) = GrantState::for_policy(policy.approvals.as_ref()) else {
        return match a.grant {
            Some(_) => Err("--grant: the policy takes no grants (no approvals.grants)".into()),
            None => Ok(None),
        };
    };
    if let Some(f) = &a.approvals_jwks {
        if matches!(g.settings.keys, KeySource::Inline(_)) {
            return Err("--approvals-jwks: the policy's approvals keys are inline".into());
        }
        std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| g.keys.adopt(&b, now).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let list = match &a.revocations {
        Some(f) => std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?,
        None => br#"{"version": 0, "revoked": []}"#.to_vec(),
    };
    g.revocations
        .adopt(&list, now)
        .map_err(|e| match &a.revocations {
            Some(f) => format!("{}: {e}", f.display()),
            None => e.to_string(),
        })?;
    Ok(Some(g))
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
    let now = a.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut keyring = Keyring::new(&policy.providers, now.saturating_mul(1000));
    if let Some(f) = &a.jwks {
        if let Err(e) = std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| keyring.stand_in(&b, now).map_err(|e| e.to_string()))
        {
            return fail(format!("{}: {e}", f.display()));
        }
    }
    let mut grants = match grant_state(&policy, &a, now) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let method = a.method.to_ascii_uppercase();
    let mut headers: Vec<(String, String)> =
        vec![(":method".into(), method), (":path".into(), a.path.clone())];
    if a.grpc {
        headers.push(("content-type".into(), "application/grpc".into()));
    } else if let Some(ct) = a
        .content_type
        .clone()
        .or_else(|| a.body.as_ref().map(|_| "application/json".to_string()))
    {
        headers.push(("content-type".into(), ct));
    }
    let body = match &a.body {
        None => None,
        Some(p) if p.as_os_str() == "-" => {
            let mut b = Vec::new();
            if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut b) {
                return fail(format!("stdin: {e}"));
            }
            Some(b)
        }
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
    };
    // The token goes where each provider looks for it.
    if let Some(t) = &a.token {
        for p in &policy.providers {
            if let Some(src) = p.sources.first() {
                if !headers.iter().any(|(h, _)| *h == src.header) {
                    headers.push((src.header.clone(), format!("{}{t}", src.prefix)));
                }
            }
        }
    }
    if let (Some(g), Some(grant)) = (&grants, &a.grant) {
        headers.push((g.header().to_string(), grant.clone()));
    }
    let state = State {
        policy: &policy,
        keyring: &mut keyring,
        crypto: &PureVerifier,
        grants: grants.as_mut(),
    };
    let req = Request {
        headers: &headers,
        route_name: None,
        route_metadata: None,
        source_address: None,
        source_principal: None,
        started_ms: now.saturating_mul(1000),
    };
    let now_ms = now.saturating_mul(1000);
    let judged = match judge::request(Some(state), &req, now_ms, false) {
        // The filter reads the body here; an absent one is an empty body, as Envoy's
        // end of stream on the headers would say.
        Judged::ReadBody { limit, .. } => {
            let bytes = body.as_deref().unwrap_or_default();
            let state = State {
                policy: &policy,
                keyring: &mut keyring,
                crypto: &PureVerifier,
                grants: grants.as_mut(),
            };
            let b = judge::Body {
                bytes: &bytes[..bytes.len().min(limit)],
                over_limit: bytes.len() > limit,
            };
            judge::request_body(Some(state), &req, b, now_ms, false)
        }
        other => other,
    };
    let Judged::Done(v) = judged else {
        return fail("the request was told to wait, which never happens without may_wait".into());
    };
    let d = &v.decision;
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
        operation: v.event.request.operation.as_ref(),
        answer: match &v.reply {
            Some(pci_guard_core::answer::Answer::Http { body, .. }) if d.blocks() => {
                serde_json::from_slice(body).ok()
            }
            _ => None,
        },
    };
    match serde_json::to_string(&out) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.to_string()),
    }
}
