//! What the fuzz targets check.
//!
//! Each function takes the fuzzer's bytes and panics when an invariant breaks. The same
//! functions run in two places: the `cargo fuzz` targets under `fuzz/` (`make fuzz`, nightly,
//! libFuzzer) and this crate's `tests/fuzz_corpus.rs`, which feeds every seed and regression
//! file in `testdata/fuzz/<target>/` through them on stable as part of `make test`. A crash
//! the fuzzer finds is saved there and so becomes a regression test.

use pci_guard_core::audit::{self, Chain, Event};
use pci_guard_core::identity::signature::PureVerifier;
use pci_guard_core::identity::KeySet;
use pci_guard_core::policy::{KeySource, Policy, MAX_PROVIDERS, MAX_ROUTES, MAX_RULES};
use pci_guard_core::redact::brands::brand_of;
use pci_guard_core::redact::engine::{fast_and_general_scans, Mode};
use pci_guard_core::redact::luhn::luhn_valid;
use pci_guard_core::redact::{BrandSet, GrpcRedactor, RedactOptions, Redactor, MAX_HELD};
use std::sync::{Arc, OnceLock};

/// A check: panics when an invariant breaks.
pub type Check = fn(&[u8]);

/// Every target: (name, check). The name is the folder under `testdata/fuzz/` and the
/// `cargo fuzz` target.
pub const TARGETS: [(&str, Check); 5] = [
    ("policy", policy),
    ("token", token),
    ("redact", redact),
    ("grpc", grpc),
    ("audit", audit_event),
];

/// The policy parser: never panics; an accepted policy is within its bounds and has a digest.
pub fn policy(data: &[u8]) {
    if let Ok(p) = Policy::parse(data) {
        assert!(p.routes.len() <= MAX_ROUTES);
        assert!(p.rules.len() <= MAX_RULES);
        assert!(p.providers.len() <= MAX_PROVIDERS);
        assert!(p.digest.starts_with("sha256:") && p.digest.len() == 71);
        assert!(!p.version.trim().is_empty());
    }
}

/// The e2e policy (`testdata/policies/payments.json`): its first provider has inline keys.
fn payments() -> &'static (Policy, Arc<KeySet>) {
    static P: OnceLock<(Policy, Arc<KeySet>)> = OnceLock::new();
    P.get_or_init(|| {
        let p = Policy::parse(include_bytes!("../../../testdata/policies/payments.json")).unwrap();
        let keys = match &p.providers[0].keys {
            KeySource::Inline(k) => k.clone(),
            KeySource::Remote(_) => panic!("payments.json: corp-idp has inline keys"),
        };
        (p, keys)
    })
}

/// Token parsing and verification: never panics, and nothing the fuzzer writes verifies (it
/// has no private key), whatever the header claims (`alg: none`, HS256 with a public key, …).
/// The input is a token; bytes that are not UTF-8 are taken lossily.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (policy, keys) = payments();
    let provider = &policy.providers[0].config;
    let _ = pci_guard_core::identity::token::parse(&text);
    // A fixed clock inside any lifetime the seeds use.
    let verdict = pci_guard_core::identity::checks::verify(
        provider,
        keys,
        &text,
        1_795_790_000,
        &PureVerifier,
    );
    assert!(
        verdict.is_err(),
        "a token made without a private key verified: {text:?}"
    );
}

/// Chunk sizes from the first 4 bytes (1..=64 each, cycled), the body from the rest.
fn split_plan(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let n = data.len().min(4);
    let sizes = data[..n].iter().map(|b| usize::from(b % 64) + 1).collect();
    (sizes, &data[n..])
}

fn chunked<F: FnMut(&[u8])>(body: &[u8], sizes: &[usize], mut feed: F) {
    let mut rest = body;
    let mut plan = sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let n = plan.next().unwrap_or(rest.len()).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        feed(piece);
        rest = tail;
    }
}

fn redact_whole(opts: &Arc<RedactOptions>, body: &[u8]) -> Vec<u8> {
    let mut r = Redactor::new(opts.clone());
    let mut out = Vec::with_capacity(body.len());
    r.feed(body, &mut out);
    r.finish(&mut out);
    out
}

/// Card numbers left in clear: runs of 12–19 ASCII digits that pass Luhn and fall in a
/// configured brand, standing between plain delimiters (start or end, whitespace, quotes,
/// `:`, `=`, brackets, `,`/`;`/`&` after). That is the engine's contract for a single group
/// (see `redact::pan`); what it deliberately leaves (a run glued to letters or digits, a
/// decimal fraction such as `-0.5309136012499991%`) is outside this oracle. Grouped cards
/// with separators are covered by the structured oracle in
/// `filter/core/tests/redact_stream.rs`.
pub fn surviving_cards(out: &[u8], brands: BrandSet) -> Vec<String> {
    const BEFORE: &[u8] = b" \t\r\n\"':=([{>";
    const AFTER: &[u8] = b" \t\r\n\"':=)]}<,;&";
    let mut found = Vec::new();
    let mut i = 0;
    while i < out.len() {
        if !out[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && out[i].is_ascii_digit() {
            i += 1;
        }
        let run = &out[start..i];
        let left_ok = start == 0 || BEFORE.contains(&out[start - 1]);
        let right_ok = i == out.len() || AFTER.contains(&out[i]);
        if left_ok
            && right_ok
            && (12..=19).contains(&run.len())
            && luhn_valid(run)
            && brand_of(run, brands).is_some()
        {
            found.push(String::from_utf8_lossy(run).into_owned());
        }
    }
    found
}

/// The redaction stream: output length = input length; every changed byte became the mask
/// character; chunked output = whole output; redacting twice = once; no Luhn-valid card of
/// a configured brand survives ([`surviving_cards`]).
pub fn redact(data: &[u8]) {
    let (sizes, body) = split_plan(data);
    let opts = Arc::new(RedactOptions::default());
    let whole = redact_whole(&opts, body);
    assert_eq!(whole.len(), body.len(), "length changed");
    for (i, (a, b)) in body.iter().zip(&whole).enumerate() {
        assert!(
            a == b || *b == opts.mask_char,
            "byte {i} changed from {a:#x} to {b:#x}, not to the mask"
        );
    }
    let mut r = Redactor::new(opts.clone());
    let mut out = Vec::with_capacity(body.len());
    chunked(body, &sizes, |piece| {
        r.feed(piece, &mut out);
        assert!(r.held() <= MAX_HELD);
    });
    r.finish(&mut out);
    assert!(out == whole, "chunks {sizes:?} gave another output");
    // The same chunks masked in their own buffers (what the filter does with plain text).
    let mut r = Redactor::new(opts.clone());
    let mut out = Vec::with_capacity(body.len());
    chunked(body, &sizes, |piece| {
        let mut buf = piece.to_vec();
        r.feed_in_place(&mut buf);
        out.extend_from_slice(&buf);
    });
    r.finish(&mut out);
    assert!(
        out == whole,
        "chunks {sizes:?} in place gave another output"
    );
    // The fast paths decide exactly as the general path, in text and in protobuf mode.
    for mode in [Mode::Text, Mode::Proto] {
        let [fast, general] = fast_and_general_scans(&opts, body, mode);
        assert!(
            fast == general,
            "fast paths differ from the general path ({mode:?} mode):\n input {:?}\n fast    {:?}\n general {:?}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&fast.0),
            String::from_utf8_lossy(&general.0)
        );
    }
    let twice = redact_whole(&opts, &whole);
    assert!(
        twice == whole,
        "not idempotent:\n input {:?}\n once  {:?}\n twice {:?}",
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&twice)
    );
    let survivors = surviving_cards(&whole, opts.brands);
    assert!(survivors.is_empty(), "cards survived: {survivors:?}");
}

/// gRPC framing: never panics; after every chunk, bytes in = bytes out + held; a complete
/// stream keeps its length and comes out the same however it is chunked; an error is sticky.
pub fn grpc(data: &[u8]) {
    let (sizes, body) = split_plan(data);
    let opts = Arc::new(RedactOptions::default());
    let mut whole = Vec::new();
    let mut g = GrpcRedactor::new(opts.clone());
    let whole_ok = g.feed(body, &mut whole).is_ok() && g.finish(&mut whole).is_ok();

    let mut g = GrpcRedactor::new(opts);
    let mut out = Vec::new();
    let (mut fed, mut failed) = (0usize, false);
    chunked(body, &sizes, |piece| {
        if failed {
            assert!(g.feed(piece, &mut Vec::new()).is_err(), "error not sticky");
            return;
        }
        match g.feed(piece, &mut out) {
            Ok(()) => {
                fed += piece.len();
                assert_eq!(fed, out.len() + g.held(), "in != out + held");
            }
            Err(_) => failed = true,
        }
    });
    let chunked_ok = !failed && g.finish(&mut out).is_ok();
    assert_eq!(whole_ok, chunked_ok, "chunks {sizes:?} changed the verdict");
    if whole_ok {
        assert_eq!(whole.len(), body.len(), "length changed");
        assert!(out == whole, "chunks {sizes:?} gave another output");
    }
}

/// The audit serializer: fields from arbitrary text (split at `0xff`) always give one line
/// of valid JSON, bounded in size, with the values kept or capped with a marker.
pub fn audit_event(data: &[u8]) {
    let mut fields = data
        .split(|&b| b == 0xff)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut next = || fields.next().unwrap_or_default();
    let path = next();
    let mut e = Event {
        version: audit::EVENT_VERSION,
        request_id: Some(next()),
        request: audit::Request {
            method: next(),
            path: path.clone(),
            authority: Some(next()),
            route: None,
            grpc: Some(next()),
            ..Default::default()
        },
        identity: Some(audit::IdentityRef {
            provider: "p".into(),
            sub: Some(next()),
            jti: Some(next()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let line = Chain::new("fuzz".into(), None).seal(&mut e);
    assert!(line.len() < audit::MAX_EVENT_BYTES, "{} bytes", line.len());
    assert!(!line.contains(&b'\n'), "an event is one line");
    let v: serde_json::Value = serde_json::from_slice(&line).expect("audit line is JSON");
    let logged = v["request"]["path"].as_str().unwrap();
    if path.len() <= audit::MAX_FIELD_BYTES {
        assert_eq!(logged, path);
    } else {
        assert!(logged.contains("…[+") && logged.ends_with(" bytes]"));
        assert!(path.starts_with(&logged[..logged.rfind("…[+").unwrap()]));
    }
}
