//! Redaction throughput: `cargo bench -p pci-guard-core --bench redact -- --warm-up-time 1 --measurement-time 3`.
//!
//! Three ~1 MiB bodies (clean JSON, card-dense JSON, a form body), each through the streaming
//! [`Redactor`] in 64 KiB chunks (output copied, as the filter does) and through a baseline built
//! on the `regex` crate implementing the same PAN rule (candidate regex, then Luhn and brand).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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

fn engine(opts: &Arc<RedactOptions>, input: &[u8], out: &mut Vec<u8>) -> u64 {
    out.clear();
    let mut r = Redactor::new(opts.clone());
    for c in input.chunks(64 * 1024) {
        r.feed(c, out);
    }
    r.finish(out);
    r.counts().pan
}

/// The same PAN rule with the `regex` crate: candidates, then Luhn and brand.
fn regex_baseline(re: &regex::bytes::Regex, input: &[u8], out: &mut Vec<u8>) -> u64 {
    out.clear();
    out.extend_from_slice(input);
    let mut n = 0;
    for m in re.find_iter(input) {
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
    n
}

fn bench(c: &mut Criterion) {
    let opts = Arc::new(RedactOptions::default());
    let re = regex::bytes::Regex::new(r"(?-u:\b)[0-9](?:[ -]?[0-9]){11,18}(?-u:\b)").unwrap();
    let mut out = Vec::with_capacity(SIZE + 1024);
    let mut g = c.benchmark_group("redact");
    for (name, body) in [
        ("clean_json", clean_json()),
        ("clean_text_json", clean_text_json()),
        ("card_json", card_json()),
        ("form", form_body()),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("engine/{name}"), |b| {
            b.iter(|| black_box(engine(&opts, black_box(&body), &mut out)))
        });
        g.bench_function(format!("regex/{name}"), |b| {
            b.iter(|| black_box(regex_baseline(&re, black_box(&body), &mut out)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
