//! `pci-guard audit verify` and `review` on an audit log a real Envoy recorded
//! (`testdata/audit/recorded.log`, see `envoy/tests/record.rs`): tampering is found with line
//! numbers, and the review prints the expected summary (golden files; `UPDATE_GOLDEN=1`
//! rewrites them, then review the diff).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/audit")
        .join(name)
}

fn lines() -> Vec<String> {
    std::fs::read_to_string(data("recorded.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Runs `pci-guard audit ARGS` on `log` lines written to a temp file: (exit code, stdout).
fn audit(args: &[&str], log: &[String]) -> (i32, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let f = std::env::temp_dir().join(format!(
        "pci-guard-cli-audit-{}-{n}.log",
        std::process::id()
    ));
    std::fs::write(&f, log.join("\n") + "\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .arg("audit")
        .args(args)
        .arg(&f)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&f);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn recorded_log_verifies_intact() {
    let (code, out) = audit(&["verify"], &lines());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("12 events in 1 chain(s), 0 finding(s): intact\n"),
        "{out}"
    );
}

#[test]
fn verify_finds_a_deleted_line() {
    let mut l = lines();
    l.remove(4);
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 1);
    assert!(
        out.contains("line 5: chain ")
            && out.contains("seq 5 where 4 was expected: 1 event(s) missing"),
        "{out}"
    );
}

#[test]
fn verify_finds_an_edited_line() {
    let mut l = lines();
    assert!(l[2].contains("would_deny"));
    l[2] = l[2].replace("would_deny", "allow");
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 1);
    assert!(
        out.contains("line 4: chain ")
            && out.contains("does not link to line 3 (one of the two lines was edited)"),
        "{out}"
    );
}

#[test]
fn verify_finds_reordered_lines() {
    let mut l = lines();
    l.swap(6, 7);
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 1);
    assert!(
        out.contains("line 8: chain ")
            && out.contains("seq 6 after seq 7 (lines reordered or duplicated)"),
        "{out}"
    );
}

fn golden(name: &str, actual: &str) {
    let p = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&p, actual).unwrap();
    }
    let want = std::fs::read_to_string(&p)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", p.display()));
    assert_eq!(actual, want, "{name}");
}

#[test]
fn review_prints_the_expected_summary() {
    let (code, out) = audit(&["review"], &lines());
    assert_eq!(code, 0);
    golden("review.txt", &out);
    assert!(out.contains("[denial_burst] corp-idp/agent-9"));
    assert!(out.contains("AR-1042 by corp-idp/agent-7: approved by alice"));
}

#[test]
fn review_as_json_for_tools() {
    let (code, out) = audit(&["review", "--json"], &lines());
    assert_eq!(code, 0);
    golden("review.json", &out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["events"], 12);
    assert_eq!(
        v["by_identity"]["corp-idp/agent-9"]["cards-read"]["denied"],
        6
    );
}
