//! `pci-guard access request|list|show|approve|deny|revoke|grant`: the approvals service's API
//! on the command line, for agents and approvers. `--url` (or `PCI_GUARD_APPROVALS_URL`)
//! names the service; the caller's access token comes from `PCI_GUARD_TOKEN` (or `--token`,
//! which other users of the machine can see in the process list).
//!
//! Output is the service's JSON (a table for `list` on a terminal); errors print the
//! service's code and message and exit 1. `grant` prints only the grant, ready for the
//! `x-pci-guard-grant` header.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct AccessArgs {
    /// The approvals service's base URL.
    #[arg(long, env = "PCI_GUARD_APPROVALS_URL", global = true)]
    url: Option<String>,
    /// Your access token (prefer the PCI_GUARD_TOKEN environment variable).
    #[arg(long, env = "PCI_GUARD_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: AccessCommand,
}

#[derive(Subcommand)]
enum AccessCommand {
    /// Ask for a just-in-time grant: for a rule, a route or scopes.
    Request {
        #[arg(long, conflicts_with_all = ["route", "scope"])]
        rule: Option<String>,
        #[arg(long, conflicts_with = "scope")]
        route: Option<String>,
        /// A scope (repeat for several).
        #[arg(long)]
        scope: Vec<String>,
        /// Limit the grant to these HTTP methods (repeat) …
        #[arg(long)]
        method: Vec<String>,
        /// … on this path template (e.g. /v1/payments/pay_123/refunds).
        #[arg(long)]
        path: Option<String>,
        /// Or limit it to one gRPC method (package.Service/Method).
        #[arg(long, conflicts_with_all = ["method", "path"])]
        grpc: Option<String>,
        /// How long the grant lasts once approved (default: the policy's maximum).
        #[arg(long)]
        duration: Option<String>,
        /// Why you need it: approvers and auditors read this.
        #[arg(long)]
        justification: String,
        /// Wait until it is decided (or expires) and print the result; exit 1 unless approved.
        #[arg(long)]
        wait: bool,
    },
    /// Requests you filed or may decide.
    List {
        /// pending, approved, denied, expired or all.
        #[arg(long, default_value = "pending")]
        state: String,
        /// Print JSON even on a terminal.
        #[arg(long)]
        json: bool,
    },
    /// One request, with its decisions (and your grant, if it is yours and approved).
    Show { id: String },
    /// Approve a request (never your own).
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request.
    Deny {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Revoke a grant before it expires.
    Revoke {
        grant_id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Print your grant (RFC 8693 token exchange): for a request, or the newest covering scopes.
    Grant {
        request_id: Option<String>,
        #[arg(long)]
        scope: Vec<String>,
    },
}

/// What a call gave back: the HTTP status and the JSON body.
struct Answer {
    status: u16,
    body: Value,
}

struct Api {
    agent: ureq::Agent,
    url: String,
    token: String,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Answer, String> {
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {}", self.token);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("authorization", &auth).call(),
            (_, b) => self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .content_type("application/json")
                .send(b.unwrap_or(json!({})).to_string()),
        };
        Self::answer(resp, &self.url)
    }

    fn answer(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        url: &str,
    ) -> Result<Answer, String> {
        let mut resp = resp.map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{url}: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    fn exchange(&self, request_id: Option<&str>, scopes: &[String]) -> Result<Answer, String> {
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange".to_string(),
            ),
            ("subject_token", self.token.clone()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token".to_string(),
            ),
        ];
        if let Some(id) = request_id {
            form.push(("request_id", id.to_string()));
        }
        if !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        let url = format!("{}/oauth2/token", self.url);
        Self::answer(self.agent.post(&url).send_form(form), &self.url)
    }
}

fn fail(a: &Answer) -> ExitCode {
    match (a.body["error"].as_str(), a.body["message"].as_str()) {
        (Some(code), Some(msg)) => eprintln!("error: {code} ({}): {msg}", a.status),
        (Some(code), None) => eprintln!(
            "error: {code} ({}): {}",
            a.status,
            a.body["error_description"].as_str().unwrap_or("")
        ),
        _ => eprintln!("error: HTTP {}: {}", a.status, a.body),
    }
    ExitCode::FAILURE
}

fn print(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

fn ok_or_fail(r: Result<Answer, String>) -> Result<Value, ExitCode> {
    match r {
        Ok(a) if (200..300).contains(&a.status) => Ok(a.body),
        Ok(a) => Err(fail(&a)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn table(list: &Value) {
    let rows = list["requests"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no requests");
        return;
    }
    println!(
        "{:<26} {:<9} {:<16} {:<22} {:<8} JUSTIFICATION",
        "ID", "STATE", "REQUESTER", "FOR", "MINUTES"
    );
    for r in rows {
        let target = match (r["rule"].as_str(), r["route"].as_str()) {
            (Some(x), _) => format!("rule {x}"),
            (_, Some(x)) => format!("route {x}"),
            _ => r["scopes"].to_string(),
        };
        let mut just = r["justification"].as_str().unwrap_or("").replace('\n', " ");
        if just.chars().count() > 50 {
            just = just.chars().take(49).collect::<String>() + "…";
        }
        println!(
            "{:<26} {:<9} {:<16} {:<22} {:<8} {just}",
            r["id"].as_str().unwrap_or("?"),
            r["state"].as_str().unwrap_or("?"),
            r["requester"]["sub"].as_str().unwrap_or("?"),
            target,
            r["duration_seconds"].as_u64().unwrap_or(0).div_ceil(60),
        );
    }
}

pub fn run(a: AccessArgs) -> ExitCode {
    let (Some(url), Some(token)) = (a.url, a.token) else {
        eprintln!(
            "error: give the service's URL (--url or PCI_GUARD_APPROVALS_URL) and your access token (PCI_GUARD_TOKEN)"
        );
        return ExitCode::from(2);
    };
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build();
    let api = Api {
        agent: config.into(),
        url: url.trim_end_matches('/').to_string(),
        token,
    };
    match execute(&api, a.command) {
        Ok(code) | Err(code) => code,
    }
}

/// Ids go into URL paths: only the characters the service's ids use.
fn checked_id(id: &str) -> Result<&str, ExitCode> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        eprintln!("error: {id:?} is not a request or grant id");
        Err(ExitCode::from(2))
    }
}

fn execute(api: &Api, cmd: AccessCommand) -> Result<ExitCode, ExitCode> {
    if let AccessCommand::Show { id }
    | AccessCommand::Approve { id, .. }
    | AccessCommand::Deny { id, .. }
    | AccessCommand::Revoke { grant_id: id, .. }
    | AccessCommand::Grant {
        request_id: Some(id),
        ..
    } = &cmd
    {
        checked_id(id)?;
    }
    match cmd {
        AccessCommand::Request {
            rule,
            route,
            scope,
            method,
            path,
            grpc,
            duration,
            justification,
            wait,
        } => {
            let mut body = json!({"justification": justification});
            match (rule, route) {
                (Some(r), _) => body["rule"] = json!(r),
                (_, Some(r)) => body["route"] = json!(r),
                _ => body["scopes"] = json!(scope),
            }
            if path.is_some() || grpc.is_some() || !method.is_empty() {
                let methods: Vec<String> = method.iter().map(|m| m.to_ascii_uppercase()).collect();
                body["operation"] = json!({"methods": methods, "path": path, "grpc": grpc});
                if let Some(o) = body["operation"].as_object_mut() {
                    o.retain(|_, v| !v.is_null() && v != &json!([]));
                }
            }
            if let Some(d) = duration {
                body["duration"] = json!(d);
            }
            let filed = ok_or_fail(api.call("POST", "/v1/requests", Some(body)))?;
            if !wait {
                print(&filed);
                return Ok(ExitCode::SUCCESS);
            }
            let id = filed["id"].as_str().unwrap_or_default().to_string();
            eprintln!("filed {id}; waiting for approvals (Ctrl-C stops waiting, not the request)");
            loop {
                let r = ok_or_fail(api.call("GET", &format!("/v1/requests/{id}"), None))?;
                if r["state"] != "pending" {
                    print(&r);
                    return Ok(if r["state"] == "approved" {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    });
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        }
        AccessCommand::List { state, json } => {
            let v = ok_or_fail(api.call("GET", &format!("/v1/requests?state={state}"), None))?;
            if json || !std::io::stdout().is_terminal() {
                print(&v);
            } else {
                table(&v);
            }
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Show { id } => {
            print(&ok_or_fail(api.call(
                "GET",
                &format!("/v1/requests/{id}"),
                None,
            ))?);
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Approve { id, comment } => {
            let v = ok_or_fail(api.call(
                "POST",
                &format!("/v1/requests/{id}/approve"),
                Some(json!({ "comment": comment })),
            ))?;
            print(&v);
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Deny { id, comment } => {
            let v = ok_or_fail(api.call(
                "POST",
                &format!("/v1/requests/{id}/deny"),
                Some(json!({ "comment": comment })),
            ))?;
            print(&v);
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Revoke { grant_id, comment } => {
            let v = ok_or_fail(api.call(
                "POST",
                &format!("/v1/grants/{grant_id}/revoke"),
                Some(json!({ "comment": comment })),
            ))?;
            print(&v);
            Ok(ExitCode::SUCCESS)
        }
        AccessCommand::Grant { request_id, scope } => {
            let v = ok_or_fail(api.exchange(request_id.as_deref(), &scope))?;
            println!("{}", v["access_token"].as_str().unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
    }
}
