use super::*;
use crate::audit::checkpoint::{Signer, Verifier as KeyVerifier};
use crate::audit::record::{VmEvent, VmRecord, VmRef};
use crate::audit::{rfc3339_millis, Chain, Event, PolicyRef, EVENT_VERSION};

const T0: u64 = 1_795_790_000_000;

fn keys() -> (Signer, KeyVerifier) {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
    (
        Signer::from_pem(&pair.sk.to_pem()).unwrap(),
        KeyVerifier::from_pem(&pair.pk.to_pem()).unwrap(),
    )
}

/// One VM's chain as the plugin writes it: a start record, then what the test adds; time
/// advances 100 ms a line, heartbeats every second.
struct Log {
    chain: Chain,
    t: u64,
    lines: Vec<Vec<u8>>,
    signer: Option<Signer>,
    siblings: Vec<String>,
}

impl Log {
    fn new(id: &str, key: Option<&[u8]>) -> Self {
        Self::with(id, key, false)
    }

    /// With a checkpoint signing key (checkpoints due every 2 s).
    fn signed(id: &str) -> Self {
        Self::with(id, None, true)
    }

    fn with(id: &str, key: Option<&[u8]>, signed: bool) -> Self {
        let mut l = Self {
            chain: Chain::new(id.into(), key.map(<[u8]>::to_vec)),
            t: T0,
            lines: Vec::new(),
            signer: signed.then(|| keys().0),
            siblings: Vec::new(),
        };
        l.record(VmEvent::Start);
        l
    }

    fn tick(&mut self) -> String {
        self.t += 100;
        rfc3339_millis(self.t)
    }

    fn record(&mut self, event: VmEvent) {
        let vm = VmRef {
            id: self.chain.id().to_string(),
            started_at: rfc3339_millis(T0),
            heartbeat_s: 1,
            checkpoint_s: if self.signer.is_some() { 2 } else { 0 },
            siblings: self.siblings.clone(),
        };
        let mut r = VmRecord::new(event, self.tick(), vm, PolicyRef::default());
        if event == VmEvent::Checkpoint {
            let head = self.chain.take_head().unwrap();
            r.checkpoint = Some(self.signer.as_ref().unwrap().sign(&head, 2));
        }
        let line = self.chain.seal(&mut r);
        self.lines.push(line);
    }

    fn requests(&mut self, n: usize) {
        for _ in 0..n {
            let mut e = Event {
                version: EVENT_VERSION,
                time: self.tick(),
                request_id: Some(format!("r{}", self.lines.len())),
                ..Default::default()
            };
            let line = self.chain.seal(&mut e);
            self.lines.push(line);
        }
    }
}

fn run(lines: &[Vec<u8>], opts: Options) -> Vec<String> {
    let mut v = Verifier::with(opts);
    for l in lines {
        v.push(l);
    }
    v.finish();
    v.findings.iter().map(ToString::to_string).collect()
}

/// Errors only (notes left out), with the chain key `key`.
fn verify(lines: &[Vec<u8>], key: Option<&[u8]>) -> Vec<String> {
    let mut v = Verifier::new(key.map(<[u8]>::to_vec));
    for l in lines {
        v.push(l);
    }
    v.finish();
    v.errors().map(ToString::to_string).collect()
}

fn edit(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(line.to_vec()).unwrap();
    assert!(s.contains(from), "{s}");
    s.replacen(from, to, 1).into_bytes()
}

#[test]
fn intact_log_verifies() {
    for key in [None, Some(&b"k"[..])] {
        let mut l = Log::new("c1", key);
        l.requests(4);
        assert_eq!(
            run(
                &l.lines,
                Options {
                    key: key.map(<[u8]>::to_vec),
                    ..Options::default()
                }
            ),
            Vec::<String>::new()
        );
    }
}

#[test]
fn deleted_line_is_a_gap() {
    let mut l = Log::new("c1", None);
    l.requests(4);
    l.lines.remove(3);
    assert_eq!(
        verify(&l.lines, None),
        vec!["line 4: chain c1: seq 4 where 3 was expected: 1 event(s) missing (deleted lines?)"]
    );
}

#[test]
fn edited_line_breaks_its_seal_and_the_next_link() {
    let mut l = Log::new("c1", None);
    l.requests(4);
    l.lines[2] = edit(&l.lines[2], "\"r2\"", "\"rX\"");
    assert_eq!(
        verify(&l.lines, None),
        vec![
            "line 3: chain c1: seq 2 does not match its own seal (the line was edited, or the chain key is wrong)",
            "line 4: chain c1: seq 3 does not link to line 3 (one of the two lines was edited)"
        ]
    );
}

#[test]
fn edited_last_line_is_caught_by_its_seal() {
    let mut l = Log::new("c1", Some(b"k"));
    l.requests(3);
    let last = l.lines.len() - 1;
    l.lines[last] = edit(&l.lines[last], "\"r3\"", "\"rX\"");
    assert_eq!(
        verify(&l.lines, Some(b"k")),
        vec!["line 4: chain c1: seq 3 does not match its own seal (the line was edited, or the chain key is wrong)"]
    );
}

#[test]
fn reordered_lines_are_out_of_order() {
    let mut l = Log::new("c1", None);
    l.requests(4);
    l.lines.swap(2, 3);
    let f = verify(&l.lines, None);
    assert!(f.iter().any(|x| x.contains("seq 2 after seq 3")), "{f:#?}");
}

#[test]
fn duplicated_line_is_named_a_duplicate() {
    let mut l = Log::new("c1", None);
    l.requests(4);
    let dup = l.lines[2].clone();
    l.lines.insert(3, dup);
    assert_eq!(
        verify(&l.lines, None),
        vec!["line 4: chain c1: seq 2 is a duplicate of line 3"]
    );
}

#[test]
fn wrong_key_breaks_every_link_and_seal() {
    let mut l = Log::new("c1", Some(b"right"));
    l.requests(2);
    assert_eq!(verify(&l.lines, Some(b"wrong")).len(), 3 + 2);
}

#[test]
fn deleted_first_line_leaves_a_chain_without_its_start() {
    let mut l = Log::new("c1", None);
    l.requests(3);
    l.lines.remove(0);
    assert_eq!(
        verify(&l.lines, None),
        vec!["line 1: chain c1: begins at seq 1: its first 1 event(s), the start record included, are missing (lines deleted from its beginning? give every file since the chain started, or --continued)"]
    );
    let f = run(
        &l.lines,
        Options {
            continued: true,
            ..Options::default()
        },
    );
    assert!(
        f[0].starts_with("note: line 1: chain c1: begins at seq 1"),
        "{f:?}"
    );
}

#[test]
fn cut_tail_is_found_against_the_reference_time() {
    let mut l = Log::new("c1", None);
    l.requests(3);
    let until = l.t + 500;
    let opts = || Options {
        until_ms: Some(until),
        ..Options::default()
    };
    assert!(
        run(&l.lines, opts()).is_empty(),
        "live chain, last line 0.5 s old"
    );
    // Heartbeat every 1 s: nothing in the last 3.5 s is a cut.
    let opts = Options {
        until_ms: Some(until + 3000),
        ..Options::default()
    };
    let f = run(&l.lines, opts);
    assert_eq!(f.len(), 1, "{f:?}");
    let want = format!(
        "line 4: chain c1: nothing after {}, 3 s before {}",
        rfc3339_millis(T0 + 400),
        rfc3339_millis(until + 3000)
    );
    assert!(f[0].starts_with(&want), "{}", f[0]);
}

#[test]
fn a_chain_that_stops_without_an_end_before_another_starts_is_a_restart_note() {
    let mut a = Log::new("a", None);
    a.requests(2);
    let mut b = Log::new("b", None);
    b.t = a.t + 5000;
    b.lines.clear();
    b.chain = Chain::new("b".into(), None);
    b.record(VmEvent::Start);
    b.requests(1);
    let lines: Vec<Vec<u8>> = a.lines.iter().chain(&b.lines).cloned().collect();
    let f = run(&lines, Options::default());
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].starts_with("note: line 3: chain a: stops at")
            && f[0].ends_with("chain b started after it (a VM restart)"),
        "{}",
        f[0]
    );
    // An end record: nothing to report.
    a.record(VmEvent::End);
    let lines: Vec<Vec<u8>> = a.lines.iter().chain(&b.lines).cloned().collect();
    assert!(run(&lines, Options::default()).is_empty());
}

#[test]
fn a_line_after_the_end_record_is_reported() {
    let mut l = Log::new("c1", None);
    l.record(VmEvent::End);
    l.requests(1);
    assert_eq!(
        verify(&l.lines, None),
        vec!["line 3: chain c1: seq 2 comes after the chain's end record (line 2): appended?"]
    );
}

#[test]
fn a_chain_deleted_whole_is_missed_by_its_sibling() {
    let mut a = Log::new("a", None);
    a.siblings = vec!["a".into(), "b".into()];
    a.record(VmEvent::Heartbeat);
    assert_eq!(
        verify(&a.lines, None),
        vec!["line 0: chain b: named as a sibling by chain a, but none of its lines are in the files (a whole chain deleted, or lost by a sink)"]
    );
}

#[test]
fn envoy_dash_lines_and_garbage_are_findings_not_a_refusal() {
    let mut l = Log::new("c1", None);
    l.requests(2);
    l.lines.insert(1, b"-".to_vec());
    l.lines.insert(1, b"not json".to_vec());
    l.lines.insert(1, b"{\"hello\":1}".to_vec());
    let mut v = Verifier::new(None);
    for x in &l.lines {
        v.push(x);
    }
    v.finish();
    let f: Vec<String> = v.findings.iter().map(ToString::to_string).collect();
    assert_eq!(f.len(), 3, "{f:#?}");
    assert!(f[0].starts_with("line 2: not a pci-guard audit event (no version 1"));
    assert!(f[1].starts_with("line 3: not JSON"));
    assert!(f[2].starts_with("line 4: not a pci-guard audit event (`-`"));
    assert_eq!(v.events, 3, "the events around them are still checked");
}

#[test]
fn schema_violations_are_reported_per_line() {
    let mut l = Log::new("c1", None);
    l.requests(1);
    let opts = Options {
        schema: Some(Box::new(|v: &serde_json::Value| {
            if v.get("kind").is_none() {
                vec!["/request_id: too short".into()]
            } else {
                vec![]
            }
        })),
        ..Options::default()
    };
    assert_eq!(
        run(&l.lines, opts),
        vec!["line 2: does not match the audit event schema: /request_id: too short"]
    );
}

fn signed_log() -> Log {
    let mut l = Log::signed("c1");
    l.requests(3);
    l.record(VmEvent::Checkpoint);
    l.requests(3);
    l.record(VmEvent::Checkpoint);
    l
}

fn with_key() -> Options {
    Options {
        public_key: Some(keys().1),
        ..Options::default()
    }
}

#[test]
fn checkpoints_verify_with_the_public_key() {
    let l = signed_log();
    assert!(
        run(&l.lines, with_key()).is_empty(),
        "{:?}",
        run(&l.lines, with_key())
    );
}

/// Recomputes every link and seal of an unkeyed chain from its (edited) lines, as someone
/// covering their tracks would.
fn recompute(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut prev: Option<String> = None;
    lines
        .iter()
        .map(|l| {
            let sealed = String::from_utf8(unseal(l).unwrap().0).unwrap();
            let at = sealed.rfind("\"prev\":").unwrap();
            let prev_json = prev
                .as_ref()
                .map_or("null".to_string(), |p| format!("\"{p}\""));
            let body = format!("{}\"prev\":{prev_json}}}}}", &sealed[..at]);
            let seal = link(None, body.as_bytes());
            let line = format!("{},\"seal\":\"{seal}\"}}}}", &body[..body.len() - 2]).into_bytes();
            prev = Some(link(None, &line));
            line
        })
        .collect()
}

#[test]
fn a_chain_recomputed_end_to_end_passes_the_hashes_but_not_the_checkpoints() {
    let l = signed_log();
    let mut lines = l.lines.clone();
    lines[2] = edit(&lines[2], "\"r2\"", "\"rX\"");
    let forged = recompute(&lines);
    assert!(
        verify(&forged, None).is_empty(),
        "the unkeyed chain proves accidents only"
    );
    let f = run(&forged, with_key());
    assert_eq!(f[0], "line 5: chain c1: checkpoint signs seq 0..3, but those lines are not the ones signed (rewritten after signing)");
    assert!(
        f.iter().all(|x| x.contains("not the ones signed")),
        "{f:#?}"
    );
    // Editing the checkpoint's digest to match breaks its signature instead.
    let mut lines = forged.clone();
    let v: serde_json::Value = serde_json::from_slice(&lines[4]).unwrap();
    let digest = v["checkpoint"]["lines"].as_str().unwrap().to_string();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    for x in &forged[..4] {
        sha2::Digest::update(&mut h, x);
        sha2::Digest::update(&mut h, b"\n");
    }
    let fake = format!("sha256:{}", crate::digest::hex(&sha2::Digest::finalize(h)));
    lines[4] = edit(&lines[4], &digest, &fake);
    let f = run(&recompute(&lines), with_key());
    assert_eq!(
        f[0],
        "line 5: chain c1: checkpoint seq 4 has an invalid signature (forged or edited)"
    );
}

#[test]
fn checkpoints_removed_leave_events_uncovered() {
    let mut l = Log::signed("c1");
    l.requests(60); // 6 s of events, checkpoints due every 2 s
    let f = run(&l.lines, with_key());
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].contains("carry no valid checkpoint, though one is due every 2 s"),
        "{}",
        f[0]
    );
}

#[test]
fn a_checkpoint_by_another_key_is_reported() {
    let l = signed_log();
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([9; 32]));
    let opts = Options {
        public_key: Some(KeyVerifier::from_pem(&pair.pk.to_pem()).unwrap()),
        ..Options::default()
    };
    let f = run(&l.lines, opts);
    assert!(f[0].contains("checkpoint signed by key"), "{f:?}");
}
