//! Which build of pci-guard an Envoy runs: the proxy-wasm plugin (`pci_guard.wasm`, what every
//! config template names) or the dynamic module (`libpci_guard_dynamic.so`). The e2e tests
//! run their main cases on both ([`with_runtimes!`](crate::with_runtimes)); the harness turns
//! a template's wasm filter into the dynamic-module filter ([`to_dynamic`]), so one template
//! serves both and the two cannot drift apart.

use std::path::PathBuf;

use crate::files::root;

/// The runtime pci-guard runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// proxy-wasm in Envoy's V8 (`envoy.filters.http.wasm`), the template as written.
    Wasm,
    /// The native dynamic module (`envoy.filters.http.dynamic_modules`).
    Dynamic,
}

impl Runtime {
    pub const ALL: [Runtime; 2] = [Runtime::Wasm, Runtime::Dynamic];

    /// The name Envoy gives a counter pci-guard defines: custom stats of wasm filters and of
    /// dynamic modules live under their own namespaces.
    pub fn stat(self, name: &str) -> String {
        match self {
            Runtime::Wasm => format!("wasmcustom.{name}"),
            Runtime::Dynamic => format!("dynamicmodulescustom.{name}"),
        }
    }
}

/// The dynamic module's name: Envoy loads `lib<name>.so` from `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`.
pub const MODULE_NAME: &str = "pci_guard_dynamic";

/// The directory holding the module under test: `$PCI_GUARD_DYNAMIC_DIR`, else the
/// `make dynamic` build (`target/dynamic`).
pub fn dynamic_module_dir() -> PathBuf {
    if let Ok(p) = std::env::var("PCI_GUARD_DYNAMIC_DIR") {
        return PathBuf::from(p);
    }
    let dir = root().join("target/dynamic");
    assert!(
        dir.join(format!("lib{MODULE_NAME}.so")).exists(),
        "no dynamic module in {}: build it with `make dynamic`",
        dir.display()
    );
    dir
}

/// How the configs' `stats_tags` regexes begin, for each runtime's namespace.
const WASM_STATS: &str = "^wasmcustom\\\\.pci_guard";
const DYNAMIC_STATS: &str = "^dynamicmodulescustom\\\\.pci_guard";

const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const DYNAMIC_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";

/// Rewrites every pci-guard wasm filter config in `config` (an Envoy config or an ECDS
/// resource) into the dynamic-module filter with the same policy, and the wasm filter type in
/// ECDS `type_urls` into the dynamic-module one. Access-log configs stay as they are: the
/// module writes the audit event under the wasm build's filter-state key.
pub fn to_dynamic(config: &str) -> String {
    let lines: Vec<&str> = config.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed == format!("\"@type\": {WASM_TYPE}") {
            let indent = &line[..line.len() - trimmed.len()];
            let mut end = i + 1;
            while end < lines.len()
                && (lines[end].trim().is_empty()
                    || lines[end].len() - lines[end].trim_start().len() >= indent.len())
            {
                end += 1;
            }
            let policy = lines[i + 1..end]
                .iter()
                .find_map(|l| l.trim_start().strip_prefix("value: "))
                .unwrap_or_else(|| panic!("the wasm filter at line {} has no `value:`", i + 1));
            out.push(format!("{indent}\"@type\": {DYNAMIC_TYPE}"));
            out.push(format!(
                "{indent}dynamic_module_config: {{ name: {MODULE_NAME}, do_not_close: true }}"
            ));
            out.push(format!("{indent}filter_name: pci_guard"));
            out.push(format!("{indent}filter_config:"));
            out.push(format!(
                "{indent}  \"@type\": type.googleapis.com/google.protobuf.StringValue"
            ));
            out.push(format!("{indent}  value: {policy}"));
            i = end;
            continue;
        }
        if trimmed == format!("- {WASM_TYPE}") {
            out.push(line.replace(WASM_TYPE, DYNAMIC_TYPE));
        } else if line.contains(WASM_STATS) {
            // The stats tags: the module's counters live in the dynamic modules' namespace.
            out.push(line.replace(WASM_STATS, DYNAMIC_STATS));
        } else {
            out.push(line.to_string());
        }
        i += 1;
    }
    let mut text = out.join("\n");
    if config.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Turns each `fn case(runtime: Runtime)` named here into two tests, `case::wasm` and
/// `case::dynamic_module`, so every case runs against both builds of pci-guard.
///
/// ```ignore
/// fn a_request_without_a_token_gets_401(runtime: Runtime) {
///     let envoy = Harness::new("pci-guard.yaml", POLICY, up.port).runtime(runtime).start();
///     // …
/// }
/// with_runtimes!(a_request_without_a_token_gets_401);
/// ```
#[macro_export]
macro_rules! with_runtimes {
    ($($case:ident),+ $(,)?) => {
        $(
            mod $case {
                #[test]
                fn wasm() {
                    super::$case($crate::Runtime::Wasm)
                }
                #[test]
                fn dynamic_module() {
                    super::$case($crate::Runtime::Dynamic)
                }
            }
        )+
    };
}

/// Turns each `fn case(runtime: Runtime, workers: u32)` named here into three tests: the wasm
/// build with one worker and with two (Istio's default, a VM each), and the dynamic module
/// with two (one process's roots sharing keys across threads, the case one worker cannot
/// show). Three, not four, to keep `make test` within its budget.
#[macro_export]
macro_rules! with_runtimes_and_workers {
    ($($case:ident),+ $(,)?) => {
        $(
            mod $case {
                #[test]
                fn wasm_one_worker() {
                    super::$case($crate::Runtime::Wasm, 1)
                }
                #[test]
                fn wasm_two_workers() {
                    super::$case($crate::Runtime::Wasm, 2)
                }
                #[test]
                fn dynamic_module_two_workers() {
                    super::$case($crate::Runtime::Dynamic, 2)
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wasm_filter_of_the_templates_becomes_the_dynamic_module() {
        for t in [
            "tests/templates/pci-guard.yaml",
            "tests/templates/audit-sinks.yaml",
            "ecds/filter.yaml",
            "ecds/bootstrap.yaml",
        ] {
            let text = std::fs::read_to_string(root().join("envoy").join(t)).unwrap();
            let d = to_dynamic(&text);
            assert!(!d.contains(WASM_TYPE), "{t}: {d}");
            if text.contains(&format!("\"@type\": {WASM_TYPE}")) {
                assert!(d.contains(DYNAMIC_TYPE), "{t}");
                assert!(d.contains("value: {{POLICY}}"), "{t}: the policy is kept");
                assert!(!d.contains("WASM_PATH"), "{t}");
            }
            // Everything but the filter is untouched, access logs included.
            assert_eq!(
                d.matches("wasm.pci_guard_audit").count(),
                text.matches("wasm.pci_guard_audit").count()
            );
        }
    }
}
