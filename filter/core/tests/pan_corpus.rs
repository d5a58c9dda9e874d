#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Runs every `clear: true` record of the shared PAN corpus (`../shared/corpora/pan/` beside
//! the workspace, or `$PCI_GUARD_SHARED/corpora/pan`) through the redactor: every expected
//! PAN and CVV must be masked, every `must_not_mask` value must come out unchanged. Counts are
//! printed per file (`cargo test --test pan_corpus -- --nocapture`). Records that contradict the
//! spec are listed in [`CONTRARY`] with the reason. Without the corpus it skips, except under
//! CI, where it fails ([`corpora`]).

mod corpora;

use pci_guard_core::redact::{redact_in_place, Keep, RedactOptions};
use serde_json::Value;

/// Records whose expectation contradicts the specification pci-guard implements, by
/// (file, must-not-mask value or expected value) and why. Kept tiny and explicit.
const CONTRARY: &[(&str, &str)] = &[
    (
        "403993715511983692",
        "must_not_mask, but 18 digits, Visa IIN 4, Luhn-valid: the spec makes 18-digit Visa numbers cards; only the key name `mihpayid` says it is an id",
    ),
    (
        "6000 0707 3616 9237 003",
        "expected PAN, but IIN 60 is in no brand range of the spec (Maestro is 50, 56-59, 63, 67; braintree's table has a catch-all 6 that the spec leaves out)",
    ),
];

/// Positions of bytes inside `%XX` or `\uXXXX` escapes.
fn escaped(b: &[u8]) -> Vec<bool> {
    let mut v = vec![false; b.len()];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            v[i..i + 3].fill(true);
            i += 3;
        } else if b[i] == b'\\'
            && i + 5 < b.len()
            && b[i + 1] == b'u'
            && b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
        {
            v[i..i + 6].fill(true);
            i += 6;
        } else {
            i += 1;
        }
    }
    v
}

#[derive(Default)]
struct Tally {
    records: usize,
    pans: usize,
    pans_found: usize,
    cvvs: usize,
    cvvs_found: usize,
    must_not: usize,
    must_not_changed: usize,
    extra: usize,
}

#[test]
fn pan_corpus() {
    let Some(dir) = corpora::corpus_dir("pan", ".") else {
        return;
    };
    let opts = RedactOptions {
        keep: Keep::NoneKept,
        ..RedactOptions::default()
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jsonl in {}", dir.display());
    let mut failures = Vec::new();
    for f in &files {
        let fname = f.file_name().unwrap().to_string_lossy().to_string();
        let mut t = Tally::default();
        for (line_no, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r: Value = serde_json::from_str(line).unwrap();
            if r["clear"] != Value::Bool(true) {
                continue;
            }
            t.records += 1;
            let text = r["text"].as_str().unwrap().as_bytes().to_vec();
            let mut out = text.clone();
            redact_in_place(&opts, &mut out);
            assert_eq!(out.len(), text.len());
            let esc = escaped(&text);
            let mut expected_mask = vec![false; text.len()];
            let spans = |key: &str| -> Vec<(usize, usize, String)> {
                r[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        (
                            s["byte_start"].as_u64().unwrap() as usize,
                            s["byte_end"].as_u64().unwrap() as usize,
                            s["value"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            };
            for (kind, key) in [("PAN", "pan_spans"), ("CVV", "cvv_spans")] {
                for (s, e, value) in spans(key) {
                    expected_mask[s..e].fill(true);
                    if kind == "PAN" {
                        t.pans += 1
                    } else {
                        t.cvvs += 1
                    }
                    let missed =
                        (s..e).any(|k| text[k].is_ascii_digit() && !esc[k] && out[k] == text[k]);
                    if missed {
                        if CONTRARY.iter().any(|(v, _)| *v == value) {
                            continue;
                        }
                        let ctx_s = s.saturating_sub(40);
                        let ctx_e = (e + 20).min(text.len());
                        failures.push(format!(
                            "{fname}:{} missed {kind} {value:?} in …{}…",
                            line_no + 1,
                            String::from_utf8_lossy(&out[ctx_s..ctx_e])
                        ));
                    } else if kind == "PAN" {
                        t.pans_found += 1;
                    } else {
                        t.cvvs_found += 1;
                    }
                }
            }
            for (s, e, value) in spans("must_not_spans") {
                t.must_not += 1;
                if out[s..e] != text[s..e] {
                    if CONTRARY.iter().any(|(v, _)| *v == value) {
                        continue;
                    }
                    t.must_not_changed += 1;
                    let ctx_s = s.saturating_sub(40);
                    let ctx_e = (e + 20).min(text.len());
                    failures.push(format!(
                        "{fname}:{} masked non-card {value:?} in …{}…",
                        line_no + 1,
                        String::from_utf8_lossy(&out[ctx_s..ctx_e])
                    ));
                }
            }
            // Masks outside every expected span: reported, not failed (the corpus lists
            // only some non-cards), except in records that expect nothing at all.
            let mut k = 0;
            while k < text.len() {
                if out[k] != text[k] && !expected_mask[k] {
                    let s = k;
                    while k < text.len() && out[k] != text[k] && !expected_mask[k] {
                        k += 1;
                    }
                    t.extra += 1;
                    let ctx_s = s.saturating_sub(40);
                    let ctx_e = (k + 20).min(text.len());
                    let msg = format!(
                        "{fname}:{} extra mask in …{}… (was {:?})",
                        line_no + 1,
                        String::from_utf8_lossy(&out[ctx_s..ctx_e]),
                        String::from_utf8_lossy(&text[s..k])
                    );
                    println!("note: {msg}");
                    let expects_nothing = r["expect_pan"].as_array().unwrap().is_empty()
                        && r["expect_cvv"].as_array().unwrap().is_empty()
                        && !CONTRARY.iter().any(|(v, _)| v.as_bytes() == &text[s..k]);
                    if expects_nothing {
                        failures.push(msg);
                    }
                }
                k += 1;
            }
        }
        println!(
            "{fname}: records={} PANs found {}/{} CVVs found {}/{} must_not_mask changed {}/{} extra masks {}",
            t.records, t.pans_found, t.pans, t.cvvs_found, t.cvvs, t.must_not_changed, t.must_not, t.extra
        );
    }
    for (v, why) in CONTRARY {
        println!("contrary to spec, excluded: {v}: {why}");
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_missing_corpus_skips_in_a_clone_and_fails_in_ci() {
    use corpora::{verdict, Verdict};
    assert_eq!(verdict(true, Some("true")), Verdict::Run);
    assert_eq!(verdict(true, None), Verdict::Run);
    assert_eq!(verdict(false, None), Verdict::Skip);
    for off in ["", "0", "false", "False"] {
        assert_eq!(verdict(false, Some(off)), Verdict::Skip, "CI={off:?}");
    }
    for on in ["true", "1", "yes", "True"] {
        assert_eq!(verdict(false, Some(on)), Verdict::Fail, "CI={on:?}");
    }
}
