//! Checking audit logs after the fact: every line parses, matches the event schema's shape,
//! and sits in its VM's hash chain. Streaming: one line at a time, memory per chain, not per
//! line, so multi-GB logs verify in constant space.

use super::link;
use std::collections::HashMap;
use std::fmt;

/// Something wrong at a line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based, counted across all files given, in order.
    pub line: u64,
    pub kind: FindingKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingKind {
    NotJson(String),
    NotAnEvent(String),
    /// `missing` events of this chain are absent before this line (deleted lines).
    Gap {
        chain: String,
        expected: u64,
        found: u64,
    },
    /// The sequence went backwards or repeated (reordered or duplicated lines).
    OutOfOrder {
        chain: String,
        previous: u64,
        found: u64,
    },
    /// `prev` does not hash the chain's previous line (that line or this one was edited).
    BrokenLink {
        chain: String,
        seq: u64,
        previous_line: u64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.line;
        match &self.kind {
            FindingKind::NotJson(e) => write!(f, "line {l}: not JSON ({e})"),
            FindingKind::NotAnEvent(e) => write!(f, "line {l}: not a pci-guard audit event ({e})"),
            FindingKind::Gap { chain, expected, found } => write!(
                f,
                "line {l}: chain {chain}: seq {found} where {expected} was expected: {} event(s) missing (deleted lines?)",
                found - expected
            ),
            FindingKind::OutOfOrder { chain, previous, found } => write!(
                f,
                "line {l}: chain {chain}: seq {found} after seq {previous} (lines reordered or duplicated)"
            ),
            FindingKind::BrokenLink { chain, seq, previous_line } => write!(
                f,
                "line {l}: chain {chain}: seq {seq} does not link to line {previous_line} (one of the two lines was edited)"
            ),
        }
    }
}

struct ChainState {
    seq: u64,
    line: u64,
    link: String,
}

/// Feeds lines in log order; collects findings.
pub struct Verifier {
    key: Option<Vec<u8>>,
    chains: HashMap<String, ChainState>,
    line: u64,
    pub events: u64,
    pub findings: Vec<Finding>,
}

impl Verifier {
    pub fn new(key: Option<Vec<u8>>) -> Self {
        Self {
            key,
            chains: HashMap::new(),
            line: 0,
            events: 0,
            findings: Vec::new(),
        }
    }

    pub fn chains(&self) -> usize {
        self.chains.len()
    }

    pub fn push(&mut self, raw: &[u8]) {
        self.line += 1;
        let line = self.line;
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return;
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
        let prev = chain
            .and_then(|c| c.get("prev"))
            .and_then(|x| x.as_str())
            .map(str::to_string);
        self.events += 1;
        let my_link = link(self.key.as_deref(), raw);
        match self.chains.get(&id) {
            None => {} // first sight: an earlier file may hold the start of the chain
            Some(st) if seq <= st.seq => {
                let previous = st.seq;
                self.find(
                    line,
                    FindingKind::OutOfOrder {
                        chain: id.clone(),
                        previous,
                        found: seq,
                    },
                );
            }
            Some(st) => {
                if seq != st.seq + 1 {
                    let expected = st.seq + 1;
                    self.find(
                        line,
                        FindingKind::Gap {
                            chain: id.clone(),
                            expected,
                            found: seq,
                        },
                    );
                } else if prev.as_deref() != Some(st.link.as_str()) {
                    let previous_line = st.line;
                    self.find(
                        line,
                        FindingKind::BrokenLink {
                            chain: id.clone(),
                            seq,
                            previous_line,
                        },
                    );
                }
            }
        }
        let advance = self.chains.get(&id).is_none_or(|st| seq > st.seq);
        if advance {
            self.chains.insert(
                id,
                ChainState {
                    seq,
                    line,
                    link: my_link,
                },
            );
        }
    }

    fn find(&mut self, line: u64, kind: FindingKind) {
        self.findings.push(Finding { line, kind });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Chain, Event, EVENT_VERSION};
    use super::*;

    fn log(n: usize, key: Option<&[u8]>) -> Vec<Vec<u8>> {
        let mut chain = Chain::new("c1".into(), key.map(<[u8]>::to_vec));
        (0..n)
            .map(|i| {
                let mut e = Event {
                    version: EVENT_VERSION,
                    request_id: Some(format!("r{i}")),
                    ..Default::default()
                };
                chain.seal(&mut e)
            })
            .collect()
    }

    fn verify(lines: &[Vec<u8>], key: Option<&[u8]>) -> Vec<String> {
        let mut v = Verifier::new(key.map(<[u8]>::to_vec));
        for l in lines {
            v.push(l);
        }
        v.findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn intact_log_verifies() {
        assert!(verify(&log(5, None), None).is_empty());
        assert!(verify(&log(5, Some(b"k")), Some(b"k")).is_empty());
    }

    #[test]
    fn deleted_line_is_a_gap() {
        let mut l = log(5, None);
        l.remove(2);
        assert_eq!(
            verify(&l, None),
            vec![
                "line 3: chain c1: seq 3 where 2 was expected: 1 event(s) missing (deleted lines?)"
            ]
        );
    }

    #[test]
    fn edited_line_breaks_the_next_link() {
        let mut l = log(5, None);
        l[1] = String::from_utf8(l[1].clone())
            .unwrap()
            .replace("\"r1\"", "\"rX\"")
            .into_bytes();
        assert_eq!(
            verify(&l, None),
            vec![
                "line 3: chain c1: seq 2 does not link to line 2 (one of the two lines was edited)"
            ]
        );
    }

    #[test]
    fn reordered_lines_are_out_of_order() {
        let mut l = log(5, None);
        l.swap(1, 2);
        let f = verify(&l, None);
        assert!(f.iter().any(|x| x.contains("seq 1 after seq 2")), "{f:#?}");
    }

    #[test]
    fn wrong_key_breaks_every_link() {
        let l = log(3, Some(b"right"));
        assert_eq!(verify(&l, Some(b"wrong")).len(), 2);
    }

    #[test]
    fn garbage_lines_are_reported_not_fatal() {
        let mut l = log(2, None);
        l.insert(1, b"not json".to_vec());
        l.insert(1, b"{\"hello\":1}".to_vec());
        let f = verify(&l, None);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].starts_with("line 2: not a pci-guard audit event"));
        assert!(f[1].starts_with("line 3: not JSON"));
    }
}
