//! Signed checkpoints: an Ed25519 signature over a chain's head (its lines since the previous
//! checkpoint, hashed in order), so a chain rewritten end to end — every link and seal
//! recomputed, which anyone can do to an unkeyed chain and anyone with the HMAC key to a keyed
//! one — is caught by whoever holds only the public key.
//!
//! ```text
//! signed = "pci-guard checkpoint v1\n" chain "\n" from "\n" to "\n" lines "\n" interval_s "\n"
//! ```
//!
//! Keys are PEM as `pci-guard audit keygen` writes them (and `openssl genpkey -algorithm
//! ed25519` too): PKCS#8 `PRIVATE KEY` for the VM, SPKI `PUBLIC KEY` for verifiers. A key is
//! named by its id, the first 8 bytes of the SHA-256 of the raw public key, in hex.

use super::chain::Head;
use base64::Engine as _;
use ed25519_compact::{KeyPair, PublicKey, Signature};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// What a checkpoint record carries (`checkpoint` in the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRef {
    /// First and last `seq` of the lines covered (the previous checkpoint's line included).
    pub from: u64,
    pub to: u64,
    /// `sha256:<hex>` of those lines, each followed by `\n`.
    pub lines: String,
    /// The most seconds between two checkpoints of this chain while it writes.
    pub interval_s: u64,
    pub key_id: String,
    /// `ed25519:<base64 of the 64-byte signature>`.
    pub signature: String,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn key_id(pk: &PublicKey) -> String {
    crate::digest::hex(&Sha256::digest(pk.as_ref())[..8])
}

/// The bytes a checkpoint's signature covers.
pub fn message(chain: &str, from: u64, to: u64, lines: &str, interval_s: u64) -> Vec<u8> {
    format!("pci-guard checkpoint v1\n{chain}\n{from}\n{to}\n{lines}\n{interval_s}\n").into_bytes()
}

/// The VM's signing key (never logged: only its id and public half leave it).
pub struct Signer {
    pair: KeyPair,
    id: String,
}

impl Signer {
    /// A PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pem(pem.trim()).map_err(|_| {
            KeyError(
                "not an Ed25519 private key in PKCS#8 PEM (`pci-guard audit keygen` writes one)"
                    .into(),
            )
        })?;
        let id = key_id(&pair.pk);
        Ok(Self { pair, id })
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    pub fn public_pem(&self) -> String {
        self.pair.pk.to_pem()
    }

    /// Signs `head`; `interval_s` is signed with it, so a verifier trusts the interval.
    pub fn sign(&self, head: &Head, interval_s: u64) -> CheckpointRef {
        let msg = message(&head.chain, head.from, head.to, &head.lines, interval_s);
        let sig = self.pair.sk.sign(msg, None);
        CheckpointRef {
            from: head.from,
            to: head.to,
            lines: head.lines.clone(),
            interval_s,
            key_id: self.id.clone(),
            signature: format!(
                "ed25519:{}",
                base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
            ),
        }
    }
}

/// A verifier's public key.
pub struct Verifier {
    pk: PublicKey,
    id: String,
}

impl Verifier {
    /// An SPKI PEM Ed25519 public key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pk = PublicKey::from_pem(pem.trim()).map_err(|_| {
            KeyError(
                "not an Ed25519 public key in SPKI PEM (`pci-guard audit keygen` writes one)"
                    .into(),
            )
        })?;
        Ok(Self {
            id: key_id(&pk),
            pk,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// Whether `signature` (`ed25519:<base64>`) signs this checkpoint of `chain`.
    pub fn verify(
        &self,
        chain: &str,
        from: u64,
        to: u64,
        lines: &str,
        interval_s: u64,
        signature: &str,
    ) -> bool {
        let Some(b64) = signature.strip_prefix("ed25519:") else {
            return false;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.pk
            .verify(message(chain, from, to, lines, interval_s), &sig)
            .is_ok()
    }
}
