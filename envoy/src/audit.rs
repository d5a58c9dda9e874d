//! Reading audit events back: from Envoy's access-log file, or from what a sink receiver
//! collected, each event checked against the published schema.

use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::envoy::Envoy;
use crate::files::root;

impl Envoy {
    /// Audit events written so far, waiting until at least `n` are there (access logs flush
    /// asynchronously).
    pub fn audit_events(&self, n: usize) -> Vec<serde_json::Value> {
        self.audit_lines(n)
            .iter()
            .map(|l| parse_audit_line(l))
            .collect()
    }

    /// The raw access-log lines of request events, waiting until at least `n` are there. The
    /// VM's own records (`kind: "vm"`: start, heartbeats, …) are left out: [`Self::audit_log`]
    /// has every line.
    pub fn audit_lines(&self, n: usize) -> Vec<String> {
        self.lines_until(n, |l| !is_vm_record(l))
    }

    /// Every access-log line, the VM's own records included, waiting until at least `n` are
    /// there; each is checked against the published schema.
    pub fn audit_log(&self, n: usize) -> Vec<String> {
        let lines = self.lines_until(n, |_| true);
        for l in &lines {
            parse_audit_line(l);
        }
        lines
    }

    fn lines_until(&self, n: usize, keep: impl Fn(&str) -> bool) -> Vec<String> {
        waiting_for_at_least(n, || {
            std::fs::read_to_string(&self.access_log)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty() && keep(l))
                .map(str::to_string)
                .collect()
        })
    }
}

/// Whether an audit line is one of the VM's own records rather than a request event.
pub fn is_vm_record(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["kind"] == "vm")
}

/// Gives the plugin's VM an environment variable (`vm_config.environment_variables`), as
/// the policy's `audit.chain_secret_env` and `audit.checkpoint.signing_key_env` read them.
pub fn with_vm_env(h: crate::envoy::Harness, name: &str, value: &str) -> crate::envoy::Harness {
    h.replace(
        "runtime: envoy.wasm.runtime.v8",
        &format!(
            "runtime: envoy.wasm.runtime.v8\n                  environment_variables:\n                    key_values: {{ {name}: {} }}",
            serde_json::to_string(value).unwrap()
        ),
    )
}

/// Runs `pci-guard audit ARGS`: its exit code and what it printed (stdout then stderr).
pub fn pci_guard_audit(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(crate::cli::pci_guard_bin())
        .arg("audit")
        .args(args)
        .output()
        .expect("run pci-guard audit");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The request events among the entries a sink receiver collected (an entry may carry a VM
/// record and a request event, a line each), waiting (up to 10 s) until at least `n` are
/// there: the VM's own records travel the same sinks, so a count of entries alone may be
/// reached before the request events arrive.
pub fn request_events_at_least(entries: &Mutex<Vec<String>>, n: usize) -> Vec<String> {
    waiting_for_at_least(n, || {
        request_lines(entries.lock().unwrap().iter().map(String::as_str))
    })
}

/// The request events among log entries or lines: each entry split in lines, the empty ones
/// and the VM's own records left out.
pub fn request_lines<'a>(entries: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    entries
        .into_iter()
        .flat_map(str::lines)
        .filter(|l| !l.is_empty() && !is_vm_record(l))
        .map(str::to_string)
        .collect()
}

/// What a receiver has collected so far, waiting (up to 10 s) until there are at least `n`:
/// sinks deliver asynchronously (batches on a timer).
pub fn collected_at_least<T: Clone>(items: &Mutex<Vec<T>>, n: usize) -> Vec<T> {
    waiting_for_at_least(n, || items.lock().unwrap().clone())
}

/// `read()` again every 50 ms until it returns at least `n` items, or 10 s have passed.
fn waiting_for_at_least<T>(n: usize, mut read: impl FnMut() -> Vec<T>) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Parses one access-log line and checks it against `policy-schema/audit.schema.json`, so
/// every e2e test that reads audit events also proves they match the published schema.
pub fn parse_audit_line(line: &str) -> serde_json::Value {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let v = SCHEMA.get_or_init(|| {
        let text = std::fs::read(root().join("policy-schema/audit.schema.json")).unwrap();
        jsonschema::draft202012::new(&serde_json::from_slice(&text).unwrap()).unwrap()
    });
    let event: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"));
    let errors: Vec<String> = v
        .iter_errors(&event)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "audit event does not match audit.schema.json: {errors:#?}\n{line}"
    );
    event
}
