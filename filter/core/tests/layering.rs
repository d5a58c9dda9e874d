//! The core's shape, checked: it never mentions proxy-wasm, and its modules import each other
//! in layers, without a cycle, both between the top-level modules (`identity`, `policy`,
//! `authz`, …) and between the files of each folder.
//!
//! References are read from the source text (`crate::a::b`, `super::b`; both `a/b.rs` and
//! `a/b/mod.rs` have `a` as `super`). Test code (`tests.rs` files, `tests/` folders and
//! anything after `#[cfg(test)]`) may reach anywhere and is left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` with its module path (`identity/authn.rs` → `identity::authn`).
fn files(dir: &Path, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() && name == "tests" {
            continue; // test modules, like `tests.rs` files
        }
        if p.is_dir() {
            let mut next = prefix.to_vec();
            next.push(name);
            files(&p, &next, out);
        } else if p.extension().is_some_and(|e| e == "rs") && name != "tests" {
            let mut path = prefix.to_vec();
            if name != "mod" && name != "lib" {
                path.push(name);
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            out.push((path, code));
        }
    }
}

/// Module paths a file refers to, resolved to absolute paths (at most two levels deep).
fn references(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .take_while(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            })
            .map(str::to_string)
            .collect()
    };
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            let path = ident(&line[i + 7..]);
            if !path.is_empty() {
                out.insert(path);
            }
        }
        for (i, _) in line.match_indices("super::") {
            if i >= 7 && &line[i - 7..i] == "crate::" {
                continue;
            }
            // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` (module `a::b`) also `a`.
            let parent_len = module.len().saturating_sub(1);
            let mut path: Vec<String> = module[..parent_len].to_vec();
            path.extend(ident(&line[i + 7..]));
            if path.len() > parent_len {
                out.insert(path);
            }
        }
    }
    out
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut c = stack[at..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn graphs() -> (Graph, BTreeMap<String, Graph>) {
    let mut all = Vec::new();
    files(&src(), &[], &mut all);
    let mut top = Graph::new();
    let mut inner: BTreeMap<String, Graph> = BTreeMap::new();
    for (module, code) in &all {
        let Some(own_top) = module.first() else {
            continue; // lib.rs
        };
        for r in references(module, code) {
            let Some(r_top) = r.first() else { continue };
            if r_top != own_top {
                top.entry(own_top.clone())
                    .or_default()
                    .insert(r_top.clone());
            } else if module.len() >= 2 && r.len() >= 2 && module[1] != r[1] {
                inner
                    .entry(own_top.clone())
                    .or_default()
                    .entry(module[1].clone())
                    .or_default()
                    .insert(r[1].clone());
            }
        }
    }
    (top, inner)
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let (top, _) = graphs();
    assert!(
        top.contains_key("judge"),
        "the scan found no modules: {top:?}"
    );
    eprintln!("core modules and what each imports: {top:#?}");
    assert_eq!(
        cycle(&top),
        None,
        "import cycle between core modules; graph: {top:#?}"
    );
}

#[test]
fn the_files_of_each_folder_import_each_other_without_a_cycle() {
    let (_, inner) = graphs();
    assert!(inner.contains_key("identity"), "{inner:?}");
    for (folder, graph) in &inner {
        assert_eq!(
            cycle(graph),
            None,
            "import cycle inside {folder}/: {graph:#?}"
        );
    }
}

#[test]
fn the_core_knows_nothing_of_proxy_wasm() {
    let manifest = std::fs::read_to_string(src().join("../Cargo.toml")).unwrap();
    assert!(
        !manifest
            .lines()
            .any(|l| l.trim_start().starts_with("proxy-wasm")),
        "the core depends on proxy-wasm"
    );
    let mut all = Vec::new();
    files(&src(), &[], &mut all);
    for (module, code) in all {
        assert!(
            !code.contains("proxy_wasm"),
            "{} mentions proxy_wasm",
            module.join("::")
        );
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert!(cycle(&g).is_some());
}
