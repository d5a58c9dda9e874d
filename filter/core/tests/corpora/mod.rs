//! Where the external corpora are (`$PCI_GUARD_SHARED/corpora/<name>`, else
//! `../shared/corpora/<name>` beside the workspace) and what their absence means: a user's
//! clone without them skips with a plain message; CI fails, since a corpus test that skips
//! there passes without having checked anything.
#![allow(dead_code, clippy::panic)]

use std::path::PathBuf;

/// What a corpus test does about its corpus.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Run,
    Skip,
    Fail,
}

/// `found`: the corpus is there; `ci`: the value of `$CI` (CI services set it, mostly to
/// `true`; `false`, `0` or empty mean not CI).
pub fn verdict(found: bool, ci: Option<&str>) -> Verdict {
    let in_ci = ci.is_some_and(|v| !matches!(v.trim(), "" | "0" | "false" | "False" | "FALSE"));
    match (found, in_ci) {
        (true, _) => Verdict::Run,
        (false, false) => Verdict::Skip,
        (false, true) => Verdict::Fail,
    }
}

/// The corpus `name`, found when `marker` (a file or folder inside it) exists; `None` to skip,
/// after saying so. Panics under CI when it is missing (natively: under WASI it always skips).
pub fn corpus_dir(name: &str, marker: &str) -> Option<PathBuf> {
    if cfg!(target_os = "wasi") {
        // Node's WASI sees only the workspace (filter/wasi-runner.mjs); `make unit` runs the
        // corpora natively.
        println!("SKIPPED: ../shared/corpora/{name} is outside what WASI sees; run natively");
        return None;
    }
    let dir = match std::env::var_os("PCI_GUARD_SHARED") {
        Some(s) => PathBuf::from(s).join("corpora").join(name),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora")
            .join(name),
    };
    let ci = std::env::var("CI").ok();
    match verdict(dir.join(marker).exists(), ci.as_deref()) {
        Verdict::Run => Some(dir),
        Verdict::Skip => {
            println!("SKIPPED: ../shared/corpora/{name} not found");
            None
        }
        Verdict::Fail => panic!(
            "CI={}: the {name} corpus is missing at {} (check out ../shared beside the \
             workspace or set PCI_GUARD_SHARED); a corpus test must not skip in CI",
            ci.unwrap_or_default(),
            dir.display()
        ),
    }
}
