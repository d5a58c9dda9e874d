//! Answers `GET /<body>?chunk=<bytes>&reps=<n>` with the time the engine takes to redact that
//! generated body (~1 MiB) in chunks of `chunk` bytes, each masked in its own buffer and the
//! held tail put in front of the next, as the filter's body callbacks do: one line
//! `bytes=<bytes redacted per run> best_ns=<t> median_ns=<t>` over `reps` runs. The chunks
//! are copied outside the timing (that copy is Envoy's). The bodies are those of the core's
//! Criterion bench and loadbench's digit-dense body, plus Japanese text (every 64-byte block
//! non-ASCII).
//! Times come from the host clock (`proxy_get_current_time_nanoseconds`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pci_guard_core::redact::{RedactOptions, Redactor};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Probe) });
}}

struct Probe;
impl Context for Probe {}
impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let (name, query) = path.split_once('?').unwrap_or((&path, ""));
        let param = |key: &str, default: usize| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let (status, text) = match body(name.trim_start_matches('/')) {
            Some(b) => (
                200,
                run(
                    &b,
                    param("chunk", 64 << 10).max(1),
                    param("reps", 20).max(1),
                ),
            ),
            None => (404, format!("no body {name:?}\n")),
        };
        self.send_http_response(
            status,
            vec![("content-type", "text/plain")],
            Some(text.as_bytes()),
        );
        Action::Pause
    }
}

/// Times `reps` runs over `b` in `chunk`-byte pieces; each run redacts the body as many
/// times as fill about 2 ms (one pass of a fast body takes a few tens of microseconds, and the
/// host clock counts whole microseconds).
fn run(b: &[u8], chunk: usize, reps: usize) -> String {
    let opts = Arc::new(RedactOptions::default());
    let now = || proxy_wasm::hostcalls::get_current_time().unwrap_or(SystemTime::UNIX_EPOCH);
    let pass = |passes: usize| {
        let mut bodies = vec![b.chunks(chunk).map(<[u8]>::to_vec).collect::<Vec<_>>(); passes];
        let mut tail = Vec::with_capacity(passes * 1024);
        let t = now();
        for pieces in &mut bodies {
            let mut r = Redactor::new(opts.clone());
            for piece in pieces.iter_mut() {
                r.feed_in_place(piece);
            }
            r.finish(&mut tail);
        }
        let d = now().duration_since(t).unwrap_or(Duration::ZERO);
        std::hint::black_box((&bodies, &tail));
        d.as_nanos()
    };
    let passes = (2_000_000 / pass(1).max(1)).clamp(1, 64) as usize;
    let mut times: Vec<u128> = (0..reps).map(|_| pass(passes)).collect();
    times.sort_unstable();
    format!(
        "bytes={} best_ns={} median_ns={}\n",
        b.len() * passes,
        times[0],
        times[times.len() / 2]
    )
}

/// The body named `name`, ~1 MiB of records.
fn body(name: &str) -> Option<Vec<u8>> {
    let record: fn(usize) -> String = match name {
        // The core's Criterion bodies (`filter/core/benches/redact.rs`).
        "clean" => |i| {
            format!(
            "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"customer\":{{\"name\":\"Jane Doe\",\"email\":\"jane{}@example.com\"}},\"status\":\"captured\",\"description\":\"Monthly subscription renewal for the premium plan\"}},\n",
            1_748_503_543_012u64 + i as u64, 1000 + i % 9000, i % 10000, i % 7, i)
        },
        "text" => |i| {
            format!(
            "{{\"customer\":\"Jane Doe\",\"email\":\"jane.doe@example.com\",\"address\":{{\"street\":\"Main Street\",\"city\":\"Springfield\",\"country\":\"US\"}},\"status\":\"captured\",\"note\":\"Thank you for your order, it ships today\",\"qty\":{}}},\n",
            i % 10)
        },
        "cards" => |i| {
            format!(
                "{{\"number\":\"{}\",\"cvv\":\"{:03}\",\"exp\":\"12/29\"}},\n",
                [
                    "4111111111111111",
                    "5555 5555 5555 4444",
                    "378282246310005",
                    "6011111111111117"
                ][i % 4],
                i % 1000
            )
        },
        "form" => |i| {
            format!(
            "cardnumber=4111111111111111&cvv={:03}&name=John+Smith&amount={}.00&order=ord_{i}&ref=number%3D5555555555554444%26&",
            i % 1000, i % 500)
        },
        // loadbench's digit-dense body (the 256 MiB row's records).
        "digits" => |i| {
            format!(
            "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"status\":\"captured\"}},\n",
            1_748_503_543_012u64 + i as u64, 1000 + i % 9000, i % 10000, i % 7)
        },
        "japanese" => |i| {
            format!(
            "{{\"customer\":\"山田太郎\",\"address\":\"東京都千代田区丸の内一丁目\",\"status\":\"決済完了\",\"note\":\"ご注文ありがとうございます。本日発送いたします。\",\"qty\":{}}},\n",
            i % 10)
        },
        _ => return None,
    };
    let mut v = Vec::with_capacity((1 << 20) + 512);
    let mut i = 0;
    while v.len() < 1 << 20 {
        v.extend_from_slice(record(i).as_bytes());
        i += 1;
    }
    Some(v)
}
