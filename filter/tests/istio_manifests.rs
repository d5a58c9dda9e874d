//! The Istio manifests in `envoy/istio/`: every `WasmPlugin`'s `pluginConfig` passes the policy
//! schema and the parser the plugin runs, each resource has the fields Istio needs, and what
//! refers to something else (JWKS cluster → ServiceEntry, Telemetry → MeshConfig provider)
//! finds it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_core::policy::{KeySource, Policy};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every document of every manifest, with its file name.
fn docs() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("envoy/istio"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for d in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(d).unwrap();
            if !v.is_null() {
                out.push((f.file_name().unwrap().to_string_lossy().to_string(), v));
            }
        }
    }
    out
}

fn of_kind<'a>(docs: &'a [(String, Value)], kind: &str) -> Vec<&'a (String, Value)> {
    docs.iter().filter(|(_, d)| d["kind"] == kind).collect()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {pointer} in {v}"))
}

#[test]
fn every_resource_names_itself() {
    let docs = docs();
    assert!(docs.len() >= 6, "{} documents", docs.len());
    for (f, d) in &docs {
        for p in ["/apiVersion", "/kind"] {
            assert!(!s(d, p).is_empty(), "{f}: empty {p}");
        }
        // Namespaced resources say where they go; the IstioOperator snippet is merged into
        // the install's own (meshconfig.yaml).
        if d["kind"] != "IstioOperator" {
            for p in ["/metadata/name", "/metadata/namespace"] {
                assert!(!s(d, p).is_empty(), "{f}: empty {p}");
            }
        }
    }
}

#[test]
fn every_plugin_config_passes_the_schema_and_the_parser() {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(root().join("policy-schema/policy.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap();
    let docs = docs();
    let plugins = of_kind(&docs, "WasmPlugin");
    assert!(plugins.len() >= 2);
    for (f, d) in plugins {
        let policy = &d["spec"]["pluginConfig"];
        assert!(policy.is_object(), "{f}: no pluginConfig");
        let errors: Vec<String> = v
            .iter_errors(policy)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{f}: schema rejects pluginConfig: {errors:#?}"
        );
        if let Err(e) = Policy::from_value(policy) {
            panic!("{f}: parser rejects pluginConfig: {e}");
        }
    }
}

#[test]
fn wasm_plugins_are_authn_fail_closed_oci_with_a_digest_and_a_target() {
    let docs = docs();
    let mut sidecar = 0;
    let mut gateway = 0;
    for (f, d) in of_kind(&docs, "WasmPlugin") {
        assert_eq!(d["apiVersion"], "extensions.istio.io/v1alpha1", "{f}");
        let spec = &d["spec"];
        assert!(
            s(spec, "/url").starts_with("oci://"),
            "{f}: url must be oci://"
        );
        // Filled by `make oci` with the image's manifest digest (filter/tests/oci.rs).
        assert_eq!(
            spec["sha256"], "{{IMAGE_SHA256}}",
            "{f}: sha256 must be the placeholder `make oci` fills"
        );
        assert_eq!(spec["phase"], "AUTHN", "{f}");
        // Recovers from a crashed VM and never opens (envoy/tests/faults.rs).
        assert_eq!(spec["failStrategy"], "FAIL_RELOAD", "{f}");
        assert_eq!(spec["pluginName"], "pci_guard", "{f}");
        match (spec.get("selector"), spec.get("targetRefs")) {
            (Some(sel), None) => {
                assert!(
                    sel["matchLabels"]
                        .as_object()
                        .is_some_and(|m| !m.is_empty()),
                    "{f}: a selector must match labels, never every workload by accident"
                );
                sidecar += 1;
            }
            (None, Some(refs)) => {
                let refs = refs.as_array().unwrap();
                assert!(!refs.is_empty());
                for r in refs {
                    assert_eq!(r["kind"], "Gateway", "{f}");
                    assert_eq!(r["group"], "gateway.networking.k8s.io", "{f}");
                    assert!(!s(r, "/name").is_empty());
                }
                gateway += 1;
            }
            _ => panic!("{f}: give exactly one of selector and targetRefs"),
        }
        // The audit chain's key variable must reach the VM.
        if let Some(var) = spec["pluginConfig"]["audit"]["chain_secret_env"].as_str() {
            let env = spec["vmConfig"]["env"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                env.iter().any(|e| e["name"] == var),
                "{f}: {var} is not passed in vmConfig.env"
            );
        }
    }
    assert!(
        sidecar >= 1 && gateway >= 1,
        "sidecar {sidecar}, gateway {gateway}"
    );
}

#[test]
fn every_remote_jwks_cluster_has_its_service_entry_and_tls() {
    let docs = docs();
    let entries = of_kind(&docs, "ServiceEntry");
    let rules = of_kind(&docs, "DestinationRule");
    let mut clusters = 0;
    for (f, d) in of_kind(&docs, "WasmPlugin") {
        let policy = Policy::from_value(&d["spec"]["pluginConfig"]).unwrap();
        for p in &policy.providers {
            let KeySource::Remote(r) = &p.keys else {
                continue;
            };
            clusters += 1;
            let parts: Vec<&str> = r.cluster.split('|').collect();
            assert!(
                parts.len() == 4 && parts[0] == "outbound" && parts[2].is_empty(),
                "{f}: cluster {:?} is not Istio's outbound|PORT||HOST",
                r.cluster
            );
            let (port, host) = (parts[1].parse::<u64>().unwrap(), parts[3]);
            assert_eq!(r.authority, host, "{f}: authority should be the IdP host");
            let se = entries
                .iter()
                .find(|(_, e)| {
                    e["spec"]["hosts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|h| h == host)
                })
                .unwrap_or_else(|| panic!("{f}: no ServiceEntry for {host}"));
            let ports = se.1["spec"]["ports"].as_array().unwrap();
            assert!(
                ports.iter().any(|p| p["number"] == port
                    && p["name"].is_string()
                    && p["protocol"].is_string()),
                "{f}: ServiceEntry for {host} has no port {port}"
            );
            assert_eq!(se.1["spec"]["location"], "MESH_EXTERNAL");
            assert!(se.1["spec"]["resolution"].is_string());
            let dr = rules
                .iter()
                .find(|(_, r)| r["spec"]["host"] == host)
                .unwrap_or_else(|| panic!("{f}: no DestinationRule for {host}"));
            assert_eq!(
                dr.1["spec"]["trafficPolicy"]["tls"]["mode"], "SIMPLE",
                "TLS to the IdP"
            );
        }
    }
    assert!(clusters >= 2);
}

#[test]
fn telemetry_enables_a_provider_that_logs_the_audit_event() {
    let docs = docs();
    let providers: Vec<&Value> = of_kind(&docs, "IstioOperator")
        .iter()
        .flat_map(|(_, d)| {
            d["spec"]["meshConfig"]["extensionProviders"]
                .as_array()
                .unwrap()
                .iter()
        })
        .collect();
    let telemetry = of_kind(&docs, "Telemetry");
    assert!(!telemetry.is_empty());
    for (f, t) in telemetry {
        for logging in t["spec"]["accessLogging"].as_array().unwrap() {
            for p in logging["providers"].as_array().unwrap() {
                let name = s(p, "/name");
                let provider = providers
                    .iter()
                    .find(|x| x["name"] == name)
                    .unwrap_or_else(|| panic!("{f}: no extension provider {name}"));
                let format = provider
                    .as_object()
                    .unwrap()
                    .values()
                    .find_map(|v| v["logFormat"]["text"].as_str())
                    .unwrap_or_else(|| panic!("{f}: provider {name} has no text logFormat"));
                assert!(
                    format.starts_with("%FILTER_STATE(wasm.pci_guard_audit:PLAIN)%"),
                    "{f}: provider {name} must log the audit event as is: {format:?}"
                );
            }
        }
    }
}

/// The Telemetry logs server-side requests only: the workload's outbound calls pass no
/// pci-guard filter and would put Envoy's `-` lines into the audit log.
#[test]
fn telemetry_logs_inbound_requests_only() {
    let docs = docs();
    for (f, t) in of_kind(&docs, "Telemetry") {
        for logging in t["spec"]["accessLogging"].as_array().unwrap() {
            assert_eq!(logging["match"]["mode"], "SERVER", "{f}");
        }
    }
}

/// The self-request path on the sidecar: the EnvoyFilter's internal listener and cluster
/// meet (and the cluster is the policy's default `audit.self_cluster`), the listener runs the
/// WasmPlugin's filter under the name Istio serves it by ECDS, and logs the audit event as is.
#[test]
fn the_audit_self_request_path_matches_the_wasm_plugin_and_the_policy() {
    let docs = docs();
    let filters = of_kind(&docs, "EnvoyFilter");
    let (f, ef) = filters
        .iter()
        .find(|(_, d)| s(d, "/metadata/name") == "pci-guard-audit-self")
        .expect("envoyfilter-audit-self.yaml");
    let patches = ef["spec"]["configPatches"].as_array().unwrap();
    let value =
        |apply: &str| &patches.iter().find(|p| p["applyTo"] == apply).unwrap()["patch"]["value"];
    let (cluster, listener) = (value("CLUSTER"), value("LISTENER"));
    assert_eq!(
        s(cluster, "/name"),
        pci_guard_core::policy::DEFAULT_SELF_CLUSTER,
        "{f}"
    );
    let target = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        ["address"]["envoy_internal_address"]["server_listener_name"]
        .as_str()
        .unwrap();
    assert_eq!(target, s(listener, "/name"), "{f}");
    assert!(listener["internal_listener"].is_object(), "{f}");
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    let ns = s(ef, "/metadata/namespace");
    let plugins = of_kind(&docs, "WasmPlugin");
    let plugin = plugins
        .iter()
        .find(|(_, p)| {
            s(p, "/metadata/namespace") == ns
                && p["spec"]["selector"]["matchLabels"] == ef["spec"]["workloadSelector"]["labels"]
        })
        .expect("a WasmPlugin on the same workloads");
    let ecds_name = format!("{ns}.{}", s(&plugin.1, "/metadata/name"));
    assert_eq!(s(hcm, "/http_filters/0/name"), ecds_name, "{f}");
    assert!(hcm["http_filters"][0]["config_discovery"]["config_source"]["ads"].is_object());
    for log in hcm["access_log"].as_array().unwrap() {
        let c = &log["typed_config"];
        let format = c["log_format"]["text_format_source"]["inline_string"]
            .as_str()
            .or(c["body"]["string_value"].as_str())
            .unwrap();
        assert!(
            format.starts_with("%FILTER_STATE(wasm.pci_guard_audit:PLAIN)%"),
            "{f}: {format}"
        );
    }
}

/// pci-guard's metrics reach Istio's Prometheus endpoint with their labels: the stats
/// matcher lets them through, and the bootstrap override carries the same tag rules as the
/// shipped Envoy config.
#[test]
fn istio_exports_the_metrics_with_the_envoy_configs_labels() {
    let docs = docs();
    let mesh = &of_kind(&docs, "IstioOperator")[0].1;
    let prefixes = mesh["spec"]["meshConfig"]["defaultConfig"]["proxyStatsMatcher"]
        ["inclusionPrefixes"]
        .as_array()
        .unwrap();
    assert!(
        prefixes.iter().any(|p| p == "wasmcustom.pci_guard"),
        "{prefixes:?}"
    );
    let maps = of_kind(&docs, "ConfigMap");
    let (_, cm) = maps
        .iter()
        .find(|(_, d)| s(d, "/metadata/name") == "pci-guard-stats-tags")
        .unwrap();
    let boot: Value = serde_json::from_str(s(cm, "/data/custom_bootstrap.json")).unwrap();
    let envoy_config: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("envoy/pci-guard.yaml"))
            .unwrap()
            .replace("{{", "")
            .replace("}}", ""),
    )
    .unwrap();
    assert_eq!(
        boot["stats_config"]["stats_tags"],
        envoy_config["stats_config"]["stats_tags"]
    );
}
