//! The audit event through Envoy's own sinks: file, stdout and a real OTLP receiver each get
//! exactly one complete event per request, allowed or denied, and the same event everywhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::otlp::OtlpReceiver;
use pci_guard_e2e::*;

#[test]
fn file_stdout_and_otlp_sinks_each_get_one_identical_event_per_request() {
    let up = Upstream::ok();
    let otlp = OtlpReceiver::start();
    let policy = std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap();
    let envoy = Envoy::start(EnvoyOptions {
        config: "audit-sinks.yaml",
        policy,
        upstream_port: up.port,
        extra: vec![
            ("OTLP_PORT", otlp.port.to_string()),
            ("ALS_PORT", free_port().to_string()),
        ],
    });
    let requests = [
        ("GET", "/healthz", 200, "allow"),
        ("GET", "/v1/cards/c_1", 401, "deny"),
        ("GET", "/admin", 403, "deny"),
        ("DELETE", "/public/items/1", 403, "deny"),
    ];
    for (i, (method, path, status, _)) in requests.iter().enumerate() {
        let id = format!("sink-{i}");
        let r = envoy.send(method, path, &[("x-request-id", &id)], b"");
        assert_eq!(r.status, *status, "{method} {path}");
    }
    let file = envoy.audit_lines(requests.len());
    let otlp_bodies = otlp.bodies(requests.len());
    let stdout: Vec<String> = std::fs::read_to_string(&envoy.stdout_log)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    for (name, lines) in [("file", &file), ("otlp", &otlp_bodies), ("stdout", &stdout)] {
        assert_eq!(lines.len(), requests.len(), "{name} sink: {lines:#?}");
        for (i, (method, path, status, result)) in requests.iter().enumerate() {
            let line = lines
                .iter()
                .find(|l| l.contains(&format!("\"request_id\":\"sink-{i}\"")))
                .unwrap_or_else(|| panic!("{name} sink has no event for request {i}"));
            let e = parse_audit_line(line);
            assert_eq!(e["request"]["method"], *method, "{name}");
            assert_eq!(e["request"]["path"], *path, "{name}");
            assert_eq!(e["response"]["status"], *status, "{name}");
            assert_eq!(e["decision"]["result"], *result, "{name}");
        }
    }
    let mut a = file.clone();
    let mut b = otlp_bodies.clone();
    a.sort();
    b.sort();
    assert_eq!(
        a, b,
        "the OTLP sink must carry the very same events as the file"
    );
}
