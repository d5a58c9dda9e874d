//! Tamper evidence: each VM numbers its events and links each to the hash of the line before.

use super::event::{ChainRef, Event};

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

    pub fn seal(&mut self, event: &mut Event) -> Vec<u8> {
        event.cap_fields();
        event.chain = Some(ChainRef {
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
