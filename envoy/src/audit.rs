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

    /// The raw access-log lines, waiting until at least `n` are there.
    pub fn audit_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.access_log).unwrap_or_default();
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What a receiver has collected so far, waiting (up to 10 s) until there are at least `n`:
/// sinks deliver asynchronously (batches on a timer).
pub fn collected_at_least<T: Clone>(items: &Mutex<Vec<T>>, n: usize) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = items.lock().unwrap().clone();
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
