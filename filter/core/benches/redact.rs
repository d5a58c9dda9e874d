//! Redaction throughput: `cargo bench -p pci-guard-core --bench redact -- --warm-up-time 1 --measurement-time 3`.
//!
//! Four ~1 MiB bodies (digit-dense and text-heavy clean JSON, card-dense JSON, a form body), each
//! through the streaming [`Redactor`] in 64 KiB chunks, masked in each chunk's own buffer as the
//! filter does (`engine`) and written to a second buffer as `pci-guard redact` does
//! (`engine_copying`), and through a baseline built
//! on the `regex` crate implementing the same rules the straightforward way: PAN candidates then
//! Luhn and brand, CVV as a key/value regex with the key checked against the same key list, and
//! track 1 / track 2 patterns, one pass per rule over the whole body (no streaming, no
//! percent or JSON escapes: less than the engine does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pci_guard_core::redact::{
    brands::brand_of, luhn::luhn_valid, BrandSet, RedactOptions, Redactor,
};

const SIZE: usize = 1 << 20;

fn fill(mut f: impl FnMut(usize) -> String) -> Vec<u8> {
    let mut v = Vec::with_capacity(SIZE + 512);
    let mut i = 0;
    while v.len() < SIZE {
        v.extend_from_slice(f(i).as_bytes());
        i += 1;
    }
    v
}

fn clean_json() -> Vec<u8> {
    fill(|i| {
        format!(
            "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"customer\":{{\"name\":\"Jane Doe\",\"email\":\"jane{}@example.com\"}},\"status\":\"captured\",\"description\":\"Monthly subscription renewal for the premium plan\"}},\n",
            1_748_503_543_012u64 + i as u64,
            1000 + i % 9000,
            i % 10000,
            i % 7,
            i
        )
    })
}

/// Text-heavy clean JSON: one short number per ~200 bytes.
fn clean_text_json() -> Vec<u8> {
    fill(|i| {
        format!(
            "{{\"customer\":\"Jane Doe\",\"email\":\"jane.doe@example.com\",\"address\":{{\"street\":\"Main Street\",\"city\":\"Springfield\",\"country\":\"US\"}},\"status\":\"captured\",\"note\":\"Thank you for your order, it ships today\",\"qty\":{}}},\n",
            i % 10
        )
    })
}

fn card_json() -> Vec<u8> {
    const PANS: [&str; 4] = [
        "4111111111111111",
        "5555 5555 5555 4444",
        "378282246310005",
        "6011111111111117",
    ];
    fill(|i| {
        format!(
            "{{\"number\":\"{}\",\"cvv\":\"{:03}\",\"exp\":\"12/29\"}},\n",
            PANS[i % 4],
            i % 1000
        )
    })
}

fn form_body() -> Vec<u8> {
    fill(|i| {
        format!(
            "cardnumber=4111111111111111&cvv={:03}&name=John+Smith&amount={}.00&order=ord_{i}&ref=number%3D5555555555554444%26&",
            i % 1000,
            i % 500
        )
    })
}

/// The filter's path: each chunk arrives in its own exact-size buffer (Envoy copies it into
/// the VM) and is masked in that buffer; bytes held from the previous chunk go in front.
fn engine_in_place(opts: &Arc<RedactOptions>, chunks: &mut [Vec<u8>]) -> u64 {
    let mut r = Redactor::new(opts.clone());
    for c in chunks.iter_mut() {
        r.feed_in_place(c);
    }
    let mut tail = Vec::new();
    r.finish(&mut tail);
    r.counts().pan
}

/// The `pci-guard redact` path: the output written to a second buffer.
fn engine(opts: &Arc<RedactOptions>, input: &[u8], out: &mut Vec<u8>) -> u64 {
    out.clear();
    let mut r = Redactor::new(opts.clone());
    for c in input.chunks(64 * 1024) {
        r.feed(c, out);
    }
    r.finish(out);
    r.counts().pan
}

/// The regexes of the baseline.
struct Baseline {
    pan: regex::bytes::Regex,
    cvv: regex::bytes::Regex,
    track: regex::bytes::Regex,
    cvv_keys: std::collections::HashSet<Vec<u8>>,
}

impl Baseline {
    fn new() -> Self {
        Baseline {
            pan: regex::bytes::Regex::new(r"(?-u:\b)[0-9](?:[ -]?[0-9]){11,18}(?-u:\b)").unwrap(),
            // `key": "123"`, `key=123`, `key: 123`, `<key>123</key>`: the key is captured and
            // looked up (case and `_`/`-` ignored), the value is group 2.
            cvv: regex::bytes::Regex::new(
                r#"(?i-u)([a-z0-9_-]{2,48})(?:"\s*:\s*"?|\s*[:=]\s*"?|>)([0-9]{3,4})(?-u:\b)"#,
            )
            .unwrap(),
            track: regex::bytes::Regex::new(
                r"%B[0-9]{12,19}\^[^^\n]{2,26}\^[0-9]{4}[^?\n]{0,60}\?|;[0-9]{12,19}=[0-9]{4}[^?\n]{0,40}\?",
            )
            .unwrap(),
            cvv_keys: pci_guard_core::redact::cvv::DEFAULT_CVV_KEYS
                .iter()
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        }
    }

    /// Masks `input` into `out` by the three rules; returns what it masked.
    fn run(&self, input: &[u8], out: &mut Vec<u8>) -> u64 {
        out.clear();
        out.extend_from_slice(input);
        let mut n = 0;
        for m in self.track.find_iter(input) {
            out[m.start()..m.end()].fill(b'*');
            n += 1;
        }
        for m in self.pan.find_iter(input) {
            let mut digits = [0u8; 19];
            let mut k = 0;
            for &b in m.as_bytes() {
                if b.is_ascii_digit() {
                    digits[k] = b;
                    k += 1;
                }
            }
            if luhn_valid(&digits[..k]) && brand_of(&digits[..k], BrandSet::ALL).is_some() {
                n += 1;
                let mut seen = 0;
                for b in &mut out[m.start()..m.end()] {
                    if b.is_ascii_digit() {
                        if seen + 4 < k {
                            *b = b'*';
                        }
                        seen += 1;
                    }
                }
            }
        }
        for c in self.cvv.captures_iter(input) {
            let (Some(key), Some(value)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let key: Vec<u8> = key
                .as_bytes()
                .iter()
                .filter(|b| !matches!(b, b'_' | b'-'))
                .map(u8::to_ascii_lowercase)
                .collect();
            if self.cvv_keys.contains(&key) {
                out[value.start()..value.end()].fill(b'*');
                n += 1;
            }
        }
        n
    }
}

fn bench(c: &mut Criterion) {
    let opts = Arc::new(RedactOptions::default());
    let baseline = Baseline::new();
    let mut out = Vec::with_capacity(SIZE + 1024);
    let mut g = c.benchmark_group("redact");
    for (name, body) in [
        ("clean_json", clean_json()),
        ("clean_text_json", clean_text_json()),
        ("card_json", card_json()),
        ("form", form_body()),
    ] {
        if name == "card_json" {
            // The baseline is a real implementation of the rules: on cards it masks what the
            // engine masks.
            let mut r = Redactor::new(opts.clone());
            out.clear();
            r.feed(&body, &mut out);
            r.finish(&mut out);
            let engine_out = std::mem::take(&mut out);
            let found = baseline.run(&body, &mut out);
            assert_eq!(found, r.counts().pan + r.counts().cvv, "{:?}", r.counts());
            assert_eq!(out, engine_out, "baseline and engine mask the same bytes");
        }
        g.throughput(Throughput::Bytes(body.len() as u64));
        let chunks: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
        g.bench_function(format!("engine/{name}"), |b| {
            // The copy of the chunks (Envoy's, in the filter) is set up outside the timing.
            b.iter_batched_ref(
                || chunks.clone(),
                |c| black_box(engine_in_place(&opts, c)),
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("engine_copying/{name}"), |b| {
            b.iter(|| black_box(engine(&opts, black_box(&body), &mut out)))
        });
        g.bench_function(format!("regex/{name}"), |b| {
            b.iter(|| black_box(baseline.run(black_box(&body), &mut out)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
