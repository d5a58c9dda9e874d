//! Checking audit logs after the fact, from the lines alone. Streaming: one line at a time,
//! memory per chain, not per line, so multi-GB logs verify in constant space.
//!
//! ```text
//! each line ─► JSON? pci-guard event? schema? ─► its chain (by chain.id):
//!                seal covers the line? ─► seq follows? prev links? duplicate? after end?
//!                ─► feeds the chain's checkpoint digest; a checkpoint is checked against it
//! at the end ─► per chain: start seen? end seen, or silent no longer than its heartbeat
//!               allows before the reference time? checkpoints cover it? named siblings seen?
//! ```
//!
//! What each check catches, and from what: a deleted line breaks `seq`; an edited line its
//! own `seal` (and the next line's `prev`); a deleted head leaves a chain without its `start`;
//! a cut tail leaves a chain silent past its heartbeat with no `end`; a chain deleted whole is
//! still named by its siblings' heartbeats; a chain rewritten end to end with recomputed hashes
//! fails the Ed25519 checkpoints (`--public-key`). Only keyed chains resist someone who can
//! edit the file and recompute hashes; only checkpoints resist someone who also has the key.

mod finding;
mod state;

pub use finding::{Finding, FindingKind};

use super::chain::{link, unseal};
use super::checkpoint::Verifier as KeyVerifier;
use super::time::{parse_rfc3339_millis, rfc3339_millis};
use state::ChainState;
use std::collections::{BTreeMap, HashMap};

/// Checks an event against the published JSON Schema: the error messages, empty when valid.
pub type SchemaCheck = Box<dyn Fn(&serde_json::Value) -> Vec<String>>;

/// How to verify.
#[derive(Default)]
pub struct Options {
    /// The chain key (`audit.chain_secret_env`), for keyed chains.
    pub key: Option<Vec<u8>>,
    /// The checkpoint public key: every chain must then be covered by valid checkpoints.
    pub public_key: Option<KeyVerifier>,
    /// The time the log was collected (Unix ms): a chain silent for longer than its
    /// heartbeat before it, with no end, was cut. Default: the newest event in the files.
    pub until_ms: Option<u64>,
    /// The files continue a log: chains may begin before them (a missing head is a note).
    pub continued: bool,
    /// Check numbering, heads, tails and siblings only, not hashes: for a review of keyed
    /// chains without their key.
    pub structure_only: bool,
    pub schema: Option<SchemaCheck>,
}

/// Feeds lines in log order; collects findings.
pub struct Verifier {
    opts: Options,
    chains: HashMap<String, ChainState>,
    /// Chains named as siblings: name → the chain that named it first.
    named: BTreeMap<String, String>,
    newest_ms: u64,
    line: u64,
    pub events: u64,
    pub findings: Vec<Finding>,
}

impl Verifier {
    pub fn new(key: Option<Vec<u8>>) -> Self {
        Self::with(Options {
            key,
            ..Options::default()
        })
    }

    pub fn with(opts: Options) -> Self {
        Self {
            opts,
            chains: HashMap::new(),
            named: BTreeMap::new(),
            newest_ms: 0,
            line: 0,
            events: 0,
            findings: Vec::new(),
        }
    }

    pub fn chains(&self) -> usize {
        self.chains.len()
    }

    /// Findings that mean lost, edited or forged lines.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.kind.is_error())
    }

    fn find(&mut self, line: u64, kind: FindingKind) {
        self.findings.push(Finding { line, kind });
    }

    pub fn push(&mut self, raw: &[u8]) {
        self.line += 1;
        let line = self.line;
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if raw == b"-" {
            return self.find(
                line,
                FindingKind::NotAnEvent(
                    "`-`: Envoy logged a request that carried no pci-guard event: it did not pass the filter".into(),
                ),
            );
        }
        let v: serde_json::Value = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(e) => return self.find(line, FindingKind::NotJson(e.to_string())),
        };
        let chain = v.get("chain");
        let (id, seq) = match (
            v.get("version").and_then(|x| x.as_u64()),
            chain.and_then(|c| c.get("id")).and_then(|x| x.as_str()),
            chain.and_then(|c| c.get("seq")).and_then(|x| x.as_u64()),
        ) {
            (Some(1), Some(id), Some(seq)) => (id.to_string(), seq),
            _ => {
                return self.find(
                    line,
                    FindingKind::NotAnEvent("no version 1 and chain id/seq".into()),
                )
            }
        };
        self.events += 1;
        if let Some(schema) = &self.opts.schema {
            let errors = schema(&v);
            if !errors.is_empty() {
                self.find(line, FindingKind::Schema(errors.join("; ")));
            }
        }
        let time_ms = v
            .get("time")
            .and_then(|t| t.as_str())
            .and_then(parse_rfc3339_millis);
        if let Some(t) = time_ms {
            self.newest_ms = self.newest_ms.max(t);
        }
        if !self.opts.structure_only {
            self.check_seal(line, raw, &id, seq);
        }
        let prev = chain
            .and_then(|c| c.get("prev"))
            .and_then(|x| x.as_str())
            .map(str::to_string);
        let my_link = link(self.opts.key.as_deref(), raw);
        let record = v.get("kind").and_then(|k| k.as_str()) == Some("vm");
        let event = v.get("event").and_then(|k| k.as_str()).unwrap_or("");
        if !self.follow(line, &id, seq, prev.as_deref(), &my_link) {
            return;
        }
        let Some(st) = self.chains.get_mut(&id) else {
            return;
        };
        if let Some(t) = time_ms {
            st.last_ms = st.last_ms.max(t);
            st.first_ms.get_or_insert(t);
        }
        if seq == 0 && v.get("kind").is_none() {
            self.find(line, FindingKind::NoStartRecord { chain: id.clone() });
        }
        if record {
            self.record(line, &id, seq, event, &v, raw, time_ms);
        } else if let Some(st) = self.chains.get_mut(&id) {
            st.feed(raw);
        }
    }

    /// The line's own seal: an edit of any line, the last included, shows here.
    fn check_seal(&mut self, line: u64, raw: &[u8], id: &str, seq: u64) {
        match unseal(raw) {
            Some((sealed, seal)) => {
                if link(self.opts.key.as_deref(), &sealed) != seal {
                    self.find(
                        line,
                        FindingKind::SealBroken {
                            chain: id.to_string(),
                            seq,
                        },
                    );
                }
            }
            None => {
                let first = self.chains.get(id).is_none_or(|st| !st.unsealed_reported);
                if first {
                    if let Some(st) = self.chains.get_mut(id) {
                        st.unsealed_reported = true;
                    }
                    self.find(
                        line,
                        FindingKind::Unsealed {
                            chain: id.to_string(),
                        },
                    );
                }
            }
        }
    }

    /// Places the line in its chain; false when it does not advance the chain (a duplicate
    /// or a line out of order), so nothing else is learnt from it.
    fn follow(&mut self, line: u64, id: &str, seq: u64, prev: Option<&str>, my_link: &str) -> bool {
        let chain = id.to_string();
        let Some(st) = self.chains.get_mut(id) else {
            let continued = self.opts.continued;
            let mut st = ChainState::new(seq, line, my_link.to_string());
            st.unsealed_reported = self
                .findings
                .iter()
                .any(|f| matches!(&f.kind, FindingKind::Unsealed { chain: c } if c == id));
            self.chains.insert(chain.clone(), st);
            if seq > 0 {
                self.find(
                    line,
                    FindingKind::MissingStart {
                        chain,
                        first_seq: seq,
                        continued,
                    },
                );
            }
            return true;
        };
        if seq <= st.seq {
            let previous = st.seq;
            let kind = match st.recent_line(seq, my_link) {
                Some(of_line) => FindingKind::Duplicate {
                    chain,
                    seq,
                    of_line,
                },
                None => FindingKind::OutOfOrder {
                    chain,
                    previous,
                    found: seq,
                },
            };
            self.find(line, kind);
            return false;
        }
        let mut found = Vec::new();
        if let Some(end_line) = st.ended {
            found.push(FindingKind::AfterEnd {
                chain: chain.clone(),
                seq,
                end_line,
            });
        }
        if seq != st.seq + 1 {
            found.push(FindingKind::Gap {
                chain,
                expected: st.seq + 1,
                found: seq,
            });
            st.lost_lines();
        } else if !self.opts.structure_only && prev != Some(st.link.as_str()) {
            found.push(FindingKind::BrokenLink {
                chain,
                seq,
                previous_line: st.line,
            });
        }
        st.advance(seq, line, my_link.to_string());
        for k in found {
            self.find(line, k);
        }
        true
    }

    /// A VM record: what it tells of its chain.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        line: u64,
        id: &str,
        seq: u64,
        event: &str,
        v: &serde_json::Value,
        raw: &[u8],
        time_ms: Option<u64>,
    ) {
        let vm = &v["vm"];
        if let Some(siblings) = vm["siblings"].as_array() {
            for s in siblings.iter().filter_map(|s| s.as_str()) {
                if s != id {
                    self.named
                        .entry(s.to_string())
                        .or_insert_with(|| id.to_string());
                }
            }
        }
        let Some(st) = self.chains.get_mut(id) else {
            return;
        };
        if let Some(h) = vm["heartbeat_s"].as_u64().filter(|h| *h > 0) {
            st.heartbeat_ms = h.saturating_mul(1000);
        }
        if let Some(c) = vm["checkpoint_s"].as_u64().filter(|c| *c > 0) {
            st.checkpoint_ms = c.saturating_mul(1000);
        }
        match event {
            "start" => st.start_ms = time_ms.or(Some(st.last_ms)),
            "end" => st.ended = Some(line),
            "checkpoint" => {
                let found = self.checkpoint(id, seq, &v["checkpoint"], time_ms);
                for k in found {
                    self.find(line, k);
                }
            }
            _ => {}
        }
        if let Some(st) = self.chains.get_mut(id) {
            st.feed(raw);
        }
    }

    /// Checks a checkpoint record against the public key and the lines it covers, then
    /// restarts the chain's digest at it.
    fn checkpoint(
        &mut self,
        id: &str,
        seq: u64,
        cp: &serde_json::Value,
        time_ms: Option<u64>,
    ) -> Vec<FindingKind> {
        let Some(st) = self.chains.get_mut(id) else {
            return Vec::new();
        };
        let (from, to, lines, interval_s) = (
            cp["from"].as_u64().unwrap_or(u64::MAX),
            cp["to"].as_u64().unwrap_or(u64::MAX),
            cp["lines"].as_str().unwrap_or(""),
            cp["interval_s"].as_u64().unwrap_or(0),
        );
        let computed = st.restart_digest(seq);
        let Some(key) = &self.opts.public_key else {
            return Vec::new();
        };
        let chain = id.to_string();
        let key_id = cp["key_id"].as_str().unwrap_or("");
        if key_id != key.key_id() {
            return vec![FindingKind::CheckpointOtherKey {
                chain,
                key_id: key_id.to_string(),
            }];
        }
        let signature = cp["signature"].as_str().unwrap_or("");
        if !key.verify(id, from, to, lines, interval_s, signature) {
            return vec![FindingKind::CheckpointForged { chain, seq }];
        }
        match computed {
            Some((f, digest)) if f == from && to + 1 == seq => {
                if digest != lines {
                    return vec![FindingKind::CheckpointMismatch { chain, from, to }];
                }
                st.covered(time_ms, interval_s);
                Vec::new()
            }
            _ if from < st.first_seq => {
                st.covered(time_ms, interval_s);
                vec![FindingKind::CheckpointUnchecked { chain, from }]
            }
            // Lines inside the range are missing: the gap is already reported.
            _ => Vec::new(),
        }
    }

    /// The findings about whole chains, once every line is in.
    pub fn finish(&mut self) {
        let reference = self.opts.until_ms.unwrap_or(self.newest_ms);
        let reference_text = rfc3339_millis(reference);
        let mut ids: Vec<&String> = self.chains.keys().collect();
        ids.sort();
        let mut found = Vec::new();
        for id in ids {
            let st = &self.chains[id];
            let last = rfc3339_millis(st.last_ms);
            if st.ended.is_none() && st.last_ms > 0 {
                let silent = reference.saturating_sub(st.last_ms);
                if silent > 2 * st.heartbeat_ms + 1000 {
                    let restarted = self
                        .chains
                        .iter()
                        .filter(|(other, o)| {
                            *other != id && o.start_ms.is_some_and(|s| s >= st.last_ms)
                        })
                        .map(|(other, _)| other.clone())
                        .min();
                    found.push((
                        st.line,
                        match restarted {
                            Some(restarted_as) => FindingKind::NoEnd {
                                chain: id.clone(),
                                last,
                                restarted_as,
                            },
                            None => FindingKind::TailCut {
                                chain: id.clone(),
                                last,
                                silent_s: silent / 1000,
                                heartbeat_s: st.heartbeat_ms / 1000,
                                reference: reference_text.clone(),
                            },
                        },
                    ));
                }
            }
            if self.opts.public_key.is_some() {
                if let Some((from, to, interval_s)) = st.uncovered() {
                    found.push((
                        st.line,
                        FindingKind::Uncovered {
                            chain: id.clone(),
                            from: rfc3339_millis(from),
                            to: rfc3339_millis(to),
                            interval_s,
                        },
                    ));
                }
            }
        }
        for (chain, named_by) in &self.named {
            if !self.chains.contains_key(chain) {
                found.push((
                    0,
                    FindingKind::ChainMissing {
                        chain: chain.clone(),
                        named_by: named_by.clone(),
                    },
                ));
            }
        }
        for (line, kind) in found {
            self.find(line, kind);
        }
    }
}

#[cfg(test)]
mod tests;
