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

/// The chain id and seq of a line.
fn chain_seq(line: &str) -> (String, u64) {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    (
        v["chain"]["id"].as_str().unwrap().to_string(),
        v["chain"]["seq"].as_u64().unwrap(),
    )
}

/// The index of the first line containing `needle`.
fn find(l: &[String], needle: &str) -> usize {
    l.iter().position(|x| x.contains(needle)).unwrap()
}

/// The index of the next line of the same chain after line `i`.
fn next_of_chain(l: &[String], i: usize) -> usize {
    let (id, _) = chain_seq(&l[i]);
    (i + 1..l.len())
        .find(|&j| chain_seq(&l[j]).0 == id)
        .unwrap()
}

#[test]
fn recorded_log_verifies_intact() {
    let l = lines();
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with(&format!(
            "{} events in 2 chain(s), 0 finding(s): intact\n",
            l.len()
        )),
        "{out}"
    );
}

#[test]
fn recorded_log_checkpoints_verify_with_the_public_key() {
    let key = data("../keys/audit-checkpoint.pub.pem");
    let (code, out) = audit(&["verify", "--public-key", key.to_str().unwrap()], &lines());
    assert_eq!(code, 0, "{out}");
    let key = data("../keys/ed25519.pub.pem");
    let (code, out) = audit(&["verify", "--public-key", key.to_str().unwrap()], &lines());
    assert_eq!(code, 1, "another key signed nothing here: {out}");
    assert!(out.contains("checkpoint signed by key"), "{out}");
}

#[test]
fn verify_finds_a_deleted_line() {
    let mut l = lines();
    let i = find(&l, "/v1/cards/c_2");
    let (id, seq) = chain_seq(&l[i]);
    let next = next_of_chain(&l, i);
    l.remove(i);
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(
            "line {next}: chain {id}: seq {} where {seq} was expected: 1 event(s) missing",
            seq + 1
        )),
        "{out}"
    );
}

#[test]
fn verify_finds_an_edited_line() {
    let mut l = lines();
    let i = find(&l, "would_deny");
    let (id, seq) = chain_seq(&l[i]);
    let next = next_of_chain(&l, i);
    l[i] = l[i].replace("would_deny", "allow");
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(
            "line {}: chain {id}: seq {seq} does not match its own seal",
            i + 1
        )) && out.contains(&format!(
            "line {}: chain {id}: seq {} does not link to line {} (one of the two lines was edited)",
            next + 1,
            seq + 1,
            i + 1
        )),
        "{out}"
    );
}

#[test]
fn verify_finds_reordered_lines() {
    let mut l = lines();
    let i = find(&l, "/v1/cards/c_1");
    let j = next_of_chain(&l, i);
    let (id, first) = chain_seq(&l[i]);
    l.swap(i, j);
    let (code, out) = audit(&["verify"], &l);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(
            "line {}: chain {id}: seq {first} after seq {} (lines reordered or duplicated)",
            j + 1,
            first + 1
        )),
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
    assert!(
        out.contains("AR-1042 for corp-idp/agent-7\n    approved by alice (named in the grant)")
    );
    assert!(
        out.contains("[control_failure] (vm "),
        "the failed key fetches"
    );
}

#[test]
fn review_as_json_for_tools() {
    let (code, out) = audit(&["review", "--json"], &lines());
    assert_eq!(code, 0);
    golden("review.json", &out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["events"], 12);
    assert!(v["records"].as_u64().unwrap() > 4, "start, heartbeats, …");
    assert_eq!(
        v["by_identity"]["corp-idp/agent-9"]["cards-read"]["denied"],
        6
    );
}
