//! `pci-guard policy check` on every shipped policy: the examples and invalid policies in
//! `policy-schema/`, the Istio manifests in `envoy/istio/`, and a lint fixture. Each output
//! (and exit status) is compared with its golden file under `tests/golden/policy-check/`
//! (set `UPDATE_GOLDEN=1` to rewrite them, then review the diff).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(ext))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

/// Runs the command from the repository root, so file names in the output are stable.
fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pci-guard"))
        .args(["policy", "check"])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_shipped_policy_and_manifest_matches_its_golden_output() {
    let mut all = files("policy-schema/examples", ".json");
    let invalid = files("policy-schema/invalid", ".json");
    let istio = files("envoy/istio", ".yaml");
    assert!(all.len() >= 3 && invalid.len() >= 10 && istio.len() >= 3);
    all.extend(invalid.iter().cloned());
    all.extend(istio.iter().cloned());
    all.push("testdata/policies/lint-warnings.yaml".into());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for f in &all {
        let (code, out) = check(&["--strict", f]);
        let got = format!("$ pci-guard policy check --strict {f}\n{out}exit {code}\n");
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/policy-check")
            .join(format!("{f}.out"));
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            mismatches.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                golden.display()
            ));
        }
        // Exit status by kind of file, whatever the goldens say.
        let expected = if invalid.contains(f) {
            1
        } else if f.ends_with("lint-warnings.yaml") || out.contains(": warning: ") {
            2
        } else {
            0
        };
        assert_eq!(code, expected, "{f}:\n{out}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_invalid_policy_names_its_recorded_error() {
    // The same errors policy-schema/invalid/*.error records for the parser, now from the CLI.
    for f in files("policy-schema/invalid", ".json") {
        let (code, out) = check(&[&f]);
        assert_eq!(code, 1, "{f}: {out}");
        let recorded = std::fs::read_to_string(root().join(f.replace(".json", ".error"))).unwrap();
        for line in recorded.lines().filter(|l| !l.is_empty()) {
            assert!(
                out.contains(&format!("{f}: error: {line}")),
                "{f}: expected error {line:?} in:\n{out}"
            );
        }
    }
}

#[test]
fn exit_status_is_0_clean_1_errors_2_warnings_only_with_strict() {
    let clean = "policy-schema/examples/minimal.json";
    let warns = "policy-schema/examples/dry-run.json";
    let bad = "policy-schema/invalid/bad-mode.json";
    assert_eq!(check(&[clean]).0, 0);
    assert_eq!(check(&["--strict", clean]).0, 0);
    assert_eq!(check(&[warns]).0, 0, "warnings alone pass without --strict");
    assert_eq!(check(&["--strict", warns]).0, 2);
    assert_eq!(check(&["--strict", warns, bad]).0, 1, "errors win");
    let (code, out) = check(&["does-not-exist.json"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("does-not-exist.json: error: cannot read"),
        "{out}"
    );
}

#[test]
fn yaml_and_json_give_the_same_policy_and_digest() {
    // The sidecar manifest's pluginConfig, as JSON: same digest as through the manifest, which
    // is what the filter computes from the JSON Istio hands it.
    let text = std::fs::read_to_string(root().join("envoy/istio/wasmplugin-sidecar.yaml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let dir = std::env::temp_dir().join(format!("pci-guard-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("policy.json");
    std::fs::write(&json, doc["spec"]["pluginConfig"].to_string()).unwrap();
    let (code, from_json) = check(&[json.to_str().unwrap()]);
    let (_, from_yaml) = check(&["envoy/istio/wasmplugin-sidecar.yaml"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0, "{from_json}");
    let digest = |s: &str| s.split("sha256:").nth(1).unwrap()[..64].to_string();
    assert_eq!(digest(&from_json), digest(&from_yaml));
    let policy = pci_guard_core::policy::Policy::from_value(&doc["spec"]["pluginConfig"]).unwrap();
    assert!(from_yaml.contains(&policy.digest));
}

#[test]
fn a_wasmplugin_with_a_bad_policy_is_reported_at_its_plugin_config_pointer() {
    let dir = std::env::temp_dir().join(format!("pci-guard-check-wp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("wp.yaml");
    std::fs::write(
        &f,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: wp}\nspec:\n  url: oci://x/y:1\n  pluginConfig:\n    version: v\n    mode: audit\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: empty}\nspec: {url: oci://x/y:1}\n",
    )
    .unwrap();
    let (code, out) = check(&[f.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1);
    assert!(
        out.contains("(WasmPlugin wp): error: /spec/pluginConfig/mode: unknown variant `audit`"),
        "{out}"
    );
    assert!(
        out.contains("(WasmPlugin empty): error: /spec: no pluginConfig"),
        "{out}"
    );
}

#[test]
fn a_wasmplugin_that_fails_open_or_is_unpinned_gets_warnings() {
    let dir = std::env::temp_dir().join(format!("pci-guard-check-wpw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("wp.yaml");
    std::fs::write(
        &f,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: loose}\nspec:\n  url: oci://r/pci-guard:latest\n  failStrategy: FAIL_OPEN\n  phase: STATS\n  pluginConfig: {version: v}\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: tight}\nspec:\n  url: oci://r/pci-guard@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n  failStrategy: FAIL_RELOAD\n  phase: AUTHN\n  pluginConfig: {version: v}\n",
    )
    .unwrap();
    let f = f.to_str().unwrap().to_string();
    let (code, out) = check(&[&f]);
    let (strict, _) = check(&["--strict", &f]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((code, strict), (0, 2), "{out}");
    for w in [
        "(WasmPlugin loose): warning: /spec/failStrategy: FAIL_OPEN",
        "(WasmPlugin loose): warning: /spec/sha256: the module is not pinned",
        "(WasmPlugin loose): warning: /spec/phase: STATS",
    ] {
        assert!(out.contains(w), "expected {w:?} in:\n{out}");
    }
    assert!(!out.contains("(WasmPlugin tight): warning"), "{out}");
}
