//! The audit event through Envoy's own sinks: file, stdout, a real OTLP receiver and a real
//! gRPC access-log service (ALS) each get exactly one complete event per request, allowed or
//! denied, and the same event everywhere; with either build of pci-guard (wasm or the dynamic
//! module, which writes the same filter-state key).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::als::AlsReceiver;
use pci_guard_e2e::otlp::OtlpReceiver;
use pci_guard_e2e::*;

/// Envoy with the `audit-sinks.yaml` template: every sink on, the OTLP and ALS receivers
/// started.
fn start_with_sinks(
    runtime: Runtime,
    policy: String,
    up: &Upstream,
    workers: u32,
) -> (Envoy, OtlpReceiver, AlsReceiver) {
    let otlp = OtlpReceiver::start();
    let als = AlsReceiver::start();
    let envoy = Harness::new("audit-sinks.yaml", policy, up.port)
        .runtime(runtime)
        .var("OTLP_PORT", otlp.port)
        .var("ALS_PORT", als.port)
        .workers(workers)
        .start();
    (envoy, otlp, als)
}

fn file_stdout_otlp_and_als_sinks_each_get_one_identical_event_per_request(
    runtime: Runtime,
    workers: u32,
) {
    let up = Upstream::ok();
    let policy = std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap();
    let (envoy, otlp, als) = start_with_sinks(runtime, policy, &up, workers);
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
    // Request events only: the VM's own records (start, heartbeats) travel the same sinks,
    // shown by the_vms_own_records_reach_every_sink_with_the_request_events. The dynamic
    // module writes its records in the log entry of the request that carries them: an entry
    // of two lines, the record's and the request's.
    let file = envoy.audit_lines(requests.len());
    let otlp_bodies = otlp.request_bodies(requests.len());
    let als_events = als.request_events(requests.len());
    let stdout = request_lines([std::fs::read_to_string(&envoy.stdout_log).unwrap().as_str()]);
    for (name, lines) in [
        ("file", &file),
        ("otlp", &otlp_bodies),
        ("als", &als_events),
        ("stdout", &stdout),
    ] {
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
    a.sort();
    for (name, events) in [("OTLP", &otlp_bodies), ("ALS", &als_events)] {
        let mut b = events.clone();
        b.sort();
        assert_eq!(
            a, b,
            "the {name} sink must carry the very same events as the file"
        );
    }
    assert!(
        als.log_names().iter().all(|n| n == "pci_guard_audit"),
        "{:?}",
        als.log_names()
    );
}

/// Canaries pushed through every field that takes input: the token, card numbers in the path,
/// in the request id, in token claims and in the response body, a CVV in the body. None may
/// appear in any sink (file, stdout, OTLP, ALS) nor in Envoy's own log.
fn canaries_never_reach_any_sink(runtime: Runtime, workers: u32) {
    use pci_guard_e2e::tokens::*;
    const PAN: &str = "4000056655665556";
    const PAN_GROUPED: &str = "4000 0566 5566 5556";
    let up = Upstream::start(std::sync::Arc::new(|_: &Received| {
        Reply::json(
            r#"{"card":{"number":"4000 0566 5566 5556","cvv":"9173"},"note":"pan 4000056655665556"}"#,
        )
    }));
    let policy = std::fs::read_to_string(root().join("testdata/policies/payments.json")).unwrap();
    let policy = policy.replace(
        r#""name": "health""#,
        r#""name": "canary", "match": {"path": "/v1/accounts/{id}"}, "auth": ["corp-idp"]}, {"name": "health""#,
    );
    let (envoy, otlp, als) = start_with_sinks(runtime, policy, &up, workers);
    let mut c = claims(&format!("agent-{PAN}"), &["cards:read"]);
    c["jti"] = serde_json::json!(format!("jti {PAN_GROUPED}"));
    let token = sign("rsa1", &c);
    let signature = token.rsplit('.').next().unwrap().to_string();
    let auth = bearer(&token);
    let requests: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            format!("/v1/accounts/{PAN}?cvv=9173&token={token}"),
            vec![
                ("authorization", auth.clone()),
                ("x-request-id", format!("rid-{PAN}")),
            ],
        ),
        (
            format!("/v1/cards/{PAN}"),
            vec![("authorization", auth.clone())],
        ),
        (
            "/v1/cards/c_1".to_string(),
            vec![("authorization", format!("Bearer {token}x"))],
        ),
        (format!("/nowhere/{PAN_GROUPED}"), vec![]),
    ];
    for (path, headers) in &requests {
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = envoy.send("GET", &path.replace(' ', "%20"), &h, b"");
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(PAN) && !body.contains(PAN_GROUPED) && !body.contains("9173"),
            "client got clear card data: {body}"
        );
    }
    let file = envoy.audit_lines(requests.len()).join("\n");
    // Every request's event has arrived at each sink; then all they hold (the VM's own
    // records too) is hunted for the canaries.
    assert_eq!(otlp.request_bodies(requests.len()).len(), requests.len());
    let als_events = als.request_events(requests.len());
    assert_eq!(
        als_events.len(),
        requests.len(),
        "ALS sink: {als_events:#?}"
    );
    let otlp_bodies = otlp.bodies(0).join("\n");
    let als_events = als.events(0).join("\n");
    let stdout = std::fs::read_to_string(&envoy.stdout_log).unwrap();
    let stderr = envoy.stderr();
    assert_eq!(envoy.audit_lines(requests.len()).len(), requests.len());
    for (sink, text) in [
        ("file", &file),
        ("otlp", &otlp_bodies),
        ("als", &als_events),
        ("stdout", &stdout),
        ("envoy log", &stderr),
    ] {
        for canary in [
            PAN,
            PAN_GROUPED,
            "4000%200566",
            signature.as_str(),
            token.as_str(),
        ] {
            assert!(!text.contains(canary), "{sink} holds the canary {canary:?}");
        }
        // Four digits turn up by chance inside hashes, chain and request ids (a 64-digit hex
        // seal holds "9173" about one time in a thousand): those runs are not where a CVV leaks.
        assert!(
            !without_hex_runs(text).contains("9173"),
            "{sink} holds the CVV canary"
        );
    }
    // The events are still useful: the masked path and the caller are there.
    assert!(file.contains("/v1/accounts/************5556"), "{file}");
    assert!(file.contains("agent-************5556"));
}

/// `text` with every run of 16 or more hex digits and hyphens (hashes, seals, chain ids,
/// UUIDs) cut out.
fn without_hex_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() || c == '-' {
            run.push(c);
            continue;
        }
        if run.len() < 16 {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    if run.len() < 16 {
        out.push_str(&run);
    }
    out
}

#[test]
fn hex_runs_are_cut_and_short_digit_runs_kept() {
    let seal = "hmac-sha256:00ab9173ffee00ab9173ffee00ab9173ffee";
    assert_eq!(without_hex_runs(seal), "hmac-sha256:");
    assert_eq!(without_hex_runs("cvv=9173&x=1"), "cvv=9173&x=1");
    assert!(without_hex_runs(r#""cvv":"9173""#).contains("9173"));
}

with_runtimes_and_workers!(
    file_stdout_otlp_and_als_sinks_each_get_one_identical_event_per_request,
    canaries_never_reach_any_sink,
);

/// The VM's own records go through every sink the request events go through (that is how a
/// sink that drops lines shows): the start record and the first heartbeats of the VM, the
/// same in the file, on stdout, over OTLP and over ALS. The OTLP records carry OpenTelemetry
/// semantic-convention attributes.
#[test]
fn the_vms_own_records_reach_every_sink_with_the_request_events() {
    let up = Upstream::ok();
    let mut policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap(),
    )
    .unwrap();
    policy["audit"] = serde_json::json!({"heartbeat": "1s"});
    let (envoy, otlp, als) = start_with_sinks(Runtime::Wasm, policy.to_string(), &up, 1);
    let r = envoy.send("GET", "/healthz", &[("x-request-id", "semconv-1")], b"");
    assert_eq!(r.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let records = |lines: Vec<String>| -> Vec<String> {
        let mut r: Vec<String> = lines
            .into_iter()
            .filter(|l| {
                let e = parse_audit_line(l);
                e["kind"] == "vm" && e["chain"]["seq"].as_u64().is_some_and(|s| s <= 2)
            })
            .collect();
        r.sort();
        r
    };
    let file = records(envoy.audit_log(4));
    assert!(file.len() >= 2, "start and a heartbeat: {file:#?}");
    assert!(file.iter().any(|l| l.contains("\"event\":\"start\"")));
    let stdout = records(
        std::fs::read_to_string(&envoy.stdout_log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    );
    let otlp_records = otlp.records(4);
    let otlp_bodies = records(otlp_records.iter().map(|(b, _)| b.clone()).collect());
    let als_events = records(als.events(4));
    for (name, got) in [
        ("stdout", &stdout),
        ("otlp", &otlp_bodies),
        ("als", &als_events),
    ] {
        assert_eq!(
            got, &file,
            "the {name} sink must carry the VM's records too"
        );
    }
    let (_, attrs) = otlp_records
        .iter()
        .find(|(b, _)| b.contains("\"semconv-1\""))
        .expect("the request's OTLP record");
    for (k, v) in [
        ("event.name", "pci_guard.audit"),
        ("http.request.method", "GET"),
        ("http.response.status_code", "200"),
        ("client.address", "127.0.0.1"),
    ] {
        assert_eq!(attrs.get(k).map(String::as_str), Some(v), "{k}: {attrs:?}");
    }
    assert!(attrs
        .get("client.port")
        .is_some_and(|p| p.parse::<u16>().is_ok()));
}
