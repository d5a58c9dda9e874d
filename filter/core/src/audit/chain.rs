//! Tamper evidence: each VM numbers its events and links each to the hash of the line before.

use super::event::{ChainRef, Event};

/// An event a [`Chain`] can seal: the filter's request events and the approvals service's
/// events share one chain format, so `pci-guard audit verify` checks both.
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

/// One VM's hash chain. [`Chain::seal`] numbers an event, links it to the previous one and
/// returns the exact bytes to log; the hash of those bytes becomes the next event's `prev`.
pub struct Chain {
    id: String,
    seq: u64,
    prev: Option<String>,
    key: Option<Vec<u8>>,
}

impl Chain {
    /// `key`: the secret from `audit.chain_secret_env`; with it the links are HMAC-SHA256, so
    /// nobody without the key can rebuild a chain after editing it.
    pub fn new(id: String, key: Option<Vec<u8>>) -> Self {
        Self {
            id,
            seq: 0,
            prev: None,
            key,
        }
    }

    pub fn seal<E: Chained>(&mut self, event: &mut E) -> Vec<u8> {
        event.cap_fields();
        event.set_chain(ChainRef {
            id: self.id.clone(),
            seq: self.seq,
            prev: self.prev.take(),
        });
        let bytes = event.to_json();
        self.prev = Some(link(self.key.as_deref(), &bytes));
        self.seq += 1;
        bytes
    }
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
