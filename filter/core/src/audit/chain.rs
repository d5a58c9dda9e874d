//! Tamper evidence: each VM numbers the lines it writes, links each to the one before, seals
//! each one itself, and keeps the digest its next signed checkpoint covers.
//!
//! ```text
//! line n:  {…, "chain": {"id": C, "seq": n, "prev": L(line n-1), "seal": L(line n without seal)}}
//! L(x)  =  hmac-sha256(key, x)   with a chain key (audit.chain_secret_env)
//!          sha256(x)             without one
//! ```
//!
//! 1. `prev` makes a deleted, reordered or edited line break the link of the line after it.
//! 2. `seal` covers the line itself, so an edit of the *last* line shows too: nothing comes
//!    after it to break. It is the last member of the last object, so a verifier rebuilds the
//!    sealed bytes by cutting `,"seal":"…"` out of the line: no canonical JSON needed.
//! 3. Without a key anyone who edits a line can recompute every link and seal after it: the
//!    unkeyed chain detects accidents (truncated copies, a sink that lost lines, a bad
//!    merge), not adversaries. With a key it detects anyone without the key; signed
//!    checkpoints ([`super::checkpoint`]) extend that to anyone without the signing key,
//!    checkable by whoever holds only the public key.
//! 4. Every sealed line also feeds a running SHA-256 over the lines since the last
//!    checkpoint: what the next checkpoint signs.

use super::event::{ChainRef, Event};
use sha2::{Digest as _, Sha256};

/// An event a [`Chain`] can seal: the filter's request events, the VM's own records and the
/// approvals service's events share one chain format, so `pci-guard audit verify` checks all.
/// The chain reference must serialize last (it ends the line).
pub trait Chained {
    /// Applies the size caps to every field that holds outside input.
    fn cap_fields(&mut self);
    fn set_chain(&mut self, chain: ChainRef);
    fn to_json(&self) -> Vec<u8>;
}

impl Chained for Event {
    fn cap_fields(&mut self) {
        Event::cap_fields(self);
    }
    fn set_chain(&mut self, chain: ChainRef) {
        self.chain = Some(chain);
    }
    fn to_json(&self) -> Vec<u8> {
        Event::to_json(self)
    }
}

/// The member a sealed line ends with, before the seal's value.
pub const SEAL_MEMBER: &[u8] = b",\"seal\":\"";

/// One VM's hash chain. [`Chain::seal`] numbers an event, links it to the previous one, seals
/// it and returns the exact bytes to log; the link of those bytes becomes the next `prev`.
pub struct Chain {
    id: String,
    seq: u64,
    prev: Option<String>,
    key: Option<Vec<u8>>,
    /// SHA-256 over the lines sealed since `digest_from` (each followed by `\n`).
    digest: Sha256,
    digest_from: u64,
}

/// What a checkpoint signs: the chain's lines `from..=to` hashed in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub chain: String,
    pub from: u64,
    pub to: u64,
    /// `sha256:<hex>` of the lines, each followed by `\n`.
    pub lines: String,
}

impl Chain {
    /// `key`: the secret from `audit.chain_secret_env`; with it the links and seals are
    /// HMAC-SHA256, so nobody without the key can rebuild a chain after editing it.
    pub fn new(id: String, key: Option<Vec<u8>>) -> Self {
        Self {
            id,
            seq: 0,
            prev: None,
            key,
            digest: Sha256::new(),
            digest_from: 0,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The sequence number the next sealed line gets (= lines sealed so far).
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    pub fn seal<E: Chained>(&mut self, event: &mut E) -> Vec<u8> {
        event.cap_fields();
        event.set_chain(ChainRef {
            id: self.id.clone(),
            seq: self.seq,
            prev: self.prev.take(),
            seal: None,
        });
        let line = seal_line(self.key.as_deref(), event.to_json());
        self.prev = Some(link(self.key.as_deref(), &line));
        self.digest.update(&line);
        self.digest.update(b"\n");
        self.seq += 1;
        line
    }

    /// The head a checkpoint sealed next would sign: every line since the previous
    /// checkpoint (that checkpoint's own line included), or `None` when nothing was sealed
    /// since. The digest restarts with the checkpoint's line, so checkpoints chain.
    pub fn take_head(&mut self) -> Option<Head> {
        if self.seq == self.digest_from {
            return None;
        }
        let head = Head {
            chain: self.id.clone(),
            from: self.digest_from,
            to: self.seq - 1,
            lines: format!(
                "sha256:{}",
                crate::digest::hex(&std::mem::take(&mut self.digest).finalize())
            ),
        };
        self.digest_from = self.seq;
        Some(head)
    }
}

/// Adds the seal to `json` (an event whose chain reference ends it, without a seal yet):
/// `…}}` becomes `…,"seal":"<link of json>"}}`.
fn seal_line(key: Option<&[u8]>, json: Vec<u8>) -> Vec<u8> {
    let seal = link(key, &json);
    let Some(body) = json.strip_suffix(b"}}") else {
        // Not an object ending in its chain reference: logged unsealed, and verify says so.
        return json;
    };
    let mut line = Vec::with_capacity(json.len() + SEAL_MEMBER.len() + seal.len() + 3);
    line.extend_from_slice(body);
    line.extend_from_slice(SEAL_MEMBER);
    line.extend_from_slice(seal.as_bytes());
    line.extend_from_slice(b"\"}}");
    line
}

/// Splits a sealed line into the bytes its seal covers and the seal: the inverse of
/// `seal_line`. `None` when the line does not end in a seal.
pub fn unseal(line: &[u8]) -> Option<(Vec<u8>, &str)> {
    let body = line.strip_suffix(b"\"}}")?;
    let at = body
        .windows(SEAL_MEMBER.len())
        .rposition(|w| w == SEAL_MEMBER)?;
    let seal = std::str::from_utf8(&body[at + SEAL_MEMBER.len()..]).ok()?;
    if seal.contains('"') {
        return None;
    }
    let mut sealed = Vec::with_capacity(at + 2);
    sealed.extend_from_slice(&body[..at]);
    sealed.extend_from_slice(b"}}");
    Some((sealed, seal))
}

/// The link to a logged line: what the next event's `chain.prev` must hold.
pub fn link(key: Option<&[u8]>, line: &[u8]) -> String {
    use hmac::Mac;
    match key.and_then(|k| hmac::Hmac::<sha2::Sha256>::new_from_slice(k).ok()) {
        Some(mut mac) => {
            mac.update(line);
            format!(
                "hmac-sha256:{}",
                crate::digest::hex(&mac.finalize().into_bytes())
            )
        }
        None => crate::digest::sha256(line),
    }
}
