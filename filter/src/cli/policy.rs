//! `pci-guard policy check [--strict] FILE...`: for CI before a rollout. Every file goes through
//! the JSON Schema (`policy-schema/policy.schema.json`) and the parser the plugin runs at load
//! time; errors carry JSON pointers. A policy that loads is then linted
//! ([`pci_guard_core::policy::lint`]).
//!
//! Input: a policy in JSON (`*.json`) or YAML (anything else), or Kubernetes YAML with one or
//! more documents: in a `WasmPlugin` the policy is `spec.pluginConfig` (pointers then start
//! with `/spec/pluginConfig`); other kinds (ServiceEntry, DestinationRule, …) are skipped.
//! The WasmPlugin itself gets warnings too: `fail-open` (failStrategy other than FAIL_RELOAD or
//! FAIL_CLOSE), `unpinned-module` (no sha256 and no digest in the URL), `late-phase` (phase not
//! AUTHN).
//!
//! Exit status: 0 clean, 1 any error, 2 warnings only and `--strict`.

use clap::Subcommand;
use pci_guard_core::policy::lint::lint;
use pci_guard_core::policy::Policy;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const SCHEMA: &str = include_str!("../../../policy-schema/policy.schema.json");

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check policies (JSON, YAML, or Istio WasmPlugin manifests): schema and parser errors
    /// with JSON pointers, then lint warnings. Exit 0 clean, 1 errors, 2 warnings with --strict.
    Check {
        /// Exit 2 when there are warnings but no errors.
        #[arg(long)]
        strict: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Check { strict, files } => check(&files, strict),
    }
}

#[derive(Default)]
struct Tally {
    errors: usize,
    warnings: usize,
}

fn check(files: &[PathBuf], strict: bool) -> ExitCode {
    let validator = match serde_json::from_str::<Value>(SCHEMA)
        .map_err(|e| e.to_string())
        .and_then(|s| jsonschema::draft202012::new(&s).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("pci-guard: the built-in policy schema does not load: {e}");
            return ExitCode::from(1);
        }
    };
    let mut tally = Tally::default();
    for f in files {
        check_file(f, &validator, &mut tally);
    }
    if tally.errors > 0 {
        ExitCode::from(1)
    } else if strict && tally.warnings > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The documents in a file: one for JSON, one or more for YAML (`---` separated).
fn documents(path: &Path, text: &str) -> Result<Vec<Value>, String> {
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(text)
            .map(|v| vec![v])
            .map_err(|e| format!("not valid JSON: {e}"));
    }
    let mut docs = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(d).map_err(|e| format!("not valid YAML: {e}"))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

fn check_file(path: &Path, validator: &jsonschema::Validator, tally: &mut Tally) {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            println!("{name}: error: cannot read: {e}");
            tally.errors += 1;
            return;
        }
    };
    let docs = match documents(path, &text) {
        Ok(d) => d,
        Err(e) => {
            println!("{name}: error: (document): {e}");
            tally.errors += 1;
            return;
        }
    };
    if docs.is_empty() {
        println!("{name}: error: (document): empty file");
        tally.errors += 1;
        return;
    }
    for doc in &docs {
        let kind = doc.get("kind").and_then(Value::as_str);
        let is_k8s = doc.get("apiVersion").is_some() && kind.is_some();
        if !is_k8s {
            check_policy(&name, "", doc, validator, tally);
            continue;
        }
        let label = match doc.pointer("/metadata/name").and_then(Value::as_str) {
            Some(meta) => format!("{name} ({} {meta})", kind.unwrap_or("?")),
            None => format!("{name} ({})", kind.unwrap_or("?")),
        };
        if kind != Some("WasmPlugin") {
            println!("{label}: skipped: not a WasmPlugin");
            continue;
        }
        match doc.pointer("/spec/pluginConfig") {
            Some(policy) => check_policy(&label, "/spec/pluginConfig", policy, validator, tally),
            None => {
                println!(
                    "{label}: error: /spec: no pluginConfig: the WasmPlugin carries no policy"
                );
                tally.errors += 1;
            }
        }
        for (pointer, message, code) in wasm_plugin_warnings(doc) {
            println!("{label}: warning: {pointer}: {message} [{code}]");
            tally.warnings += 1;
        }
    }
}

/// What in a WasmPlugin itself (not its policy) undoes pci-guard's guarantees.
fn wasm_plugin_warnings(doc: &Value) -> Vec<(&'static str, String, &'static str)> {
    let mut w = Vec::new();
    let spec = &doc["spec"];
    match spec["failStrategy"].as_str() {
        // Both refuse traffic while the VM is down; FAIL_RELOAD also replaces a crashed VM.
        None | Some("FAIL_CLOSE" | "FAIL_RELOAD") => {}
        Some(other) => w.push((
            "/spec/failStrategy",
            format!("{other}: when the module cannot load or its VM fails, traffic passes unchecked; use FAIL_RELOAD"),
            "fail-open",
        )),
    }
    let url = spec["url"].as_str().unwrap_or_default();
    let pinned = url.contains("@sha256:")
        || spec["sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !pinned && !spec["sha256"].as_str().is_some_and(|h| h.contains("{{")) {
        w.push((
            "/spec/sha256",
            "the module is not pinned: without a 64-hex sha256 (from `make oci`) or an @sha256: URL, whatever the tag points to is loaded".to_string(),
            "unpinned-module",
        ));
    }
    match spec["phase"].as_str() {
        Some("AUTHN") => {}
        other => w.push((
            "/spec/phase",
            format!(
                "{}: pci-guard should run in AUTHN, before Istio's authorization and anything that acts on the request",
                other.unwrap_or("unset")
            ),
            "late-phase",
        )),
    }
    w
}

fn check_policy(
    label: &str,
    prefix: &str,
    doc: &Value,
    validator: &jsonschema::Validator,
    tally: &mut Tally,
) {
    let at = |pointer: &str| {
        let p = format!("{prefix}{pointer}");
        if p.is_empty() {
            "(document)".to_string()
        } else {
            p
        }
    };
    let parsed = Policy::from_value(doc);
    let parser_pointers: Vec<String> = match &parsed {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(|e| e.pointer.clone()).collect(),
    };
    if let Err(errors) = &parsed {
        for e in &errors.0 {
            println!("{label}: error: {}: {}", at(&e.pointer), e.message);
            tally.errors += 1;
        }
    }
    // The schema is what editors check as you type; the parser is what the proxy runs. Show
    // what the schema finds beyond the parser's errors, leaving out its wording of the same
    // problem (same field, or one containing or inside it). Any schema error for a policy the
    // parser accepts means the two disagree: a bug to report.
    let mut schema_errors: Vec<(String, String)> = validator
        .iter_errors(doc)
        .map(|e| (e.instance_path().to_string(), e.to_string()))
        .filter(|(p, _)| !parser_pointers.iter().any(|q| related(p, q)))
        .collect();
    schema_errors.sort();
    schema_errors.dedup();
    let schema_failed = !schema_errors.is_empty();
    for (p, m) in schema_errors {
        println!("{label}: error: {}: {m} (schema)", at(&p));
        tally.errors += 1;
    }
    let Ok(policy) = parsed else {
        return;
    };
    if schema_failed {
        return;
    }
    println!(
        "{label}: ok: version {:?}, {}",
        policy.version, policy.digest
    );
    for w in lint(&policy) {
        let msg = w.to_string();
        let msg = msg
            .strip_prefix(&format!("{}: ", w.pointer))
            .unwrap_or(&msg);
        println!("{label}: warning: {}: {msg}", at(&w.pointer));
        tally.warnings += 1;
    }
}

/// One JSON pointer is the other, or an ancestor of it.
fn related(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    under(a, b) || under(b, a) || a.is_empty() || b.is_empty()
}
