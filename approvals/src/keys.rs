//! The service's signing keys (ES256, P-256): created on first start, kept in the database (so
//! replicas share them and a restart keeps them), rotated without downtime.
//!
//! Each key has a signing window `[signs_from, signs_until)`. Rotation:
//! 1. while a key signs, once fewer than `publish_ahead` seconds of its window remain, the
//!    next key is created with `signs_from` = the current key's `signs_until`: it is in the
//!    JWKS at once, `publish_ahead` before it signs anything, so filters have fetched it by
//!    the time its first grant arrives;
//! 2. a key leaves the JWKS only `keep_after` (the longest grant plus five minutes) after
//!    it stopped signing, so every grant it signed verifies until its `exp`.
//!
//! A key's id is derived from its window's start: replicas racing to create the same key
//! insert the same `kid`, and the database keeps one (`ON CONFLICT DO NOTHING`).
//!
//! The private scalar is stored base64url in the database: whoever can read the database can
//! sign grants, so protect it as the service itself (docs/jit-access.md).

use crate::error::Error;
use crate::store::{KeyRow, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use std::sync::RwLock;

/// The one algorithm grants are signed with.
pub const ALG: &str = "ES256";
/// The JWT `typ` of a grant (RFC 8725 §3.11: explicit typing, so a grant is never taken for
/// an access token).
pub const GRANT_TYP: &str = "pci-guard-grant+jwt";

struct Loaded {
    kid: String,
    key: SigningKey,
    signs_from: u64,
    signs_until: u64,
    jwk: Value,
}

pub struct Keys {
    lifetime: u64,
    publish_ahead: u64,
    keep_after: u64,
    loaded: RwLock<Vec<Loaded>>,
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn load(row: &KeyRow) -> Option<Loaded> {
    if row.alg != ALG {
        return None;
    }
    let secret = URL_SAFE_NO_PAD.decode(&row.secret).ok()?;
    let key = SigningKey::from_slice(&secret).ok()?;
    let point = key.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x()?, point.y()?);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y),
                     "kid": row.kid, "alg": ALG, "use": "sig"});
    Some(Loaded {
        kid: row.kid.clone(),
        key,
        signs_from: row.signs_from,
        signs_until: row.signs_until,
        jwk,
    })
}

/// A new random P-256 key, as stored.
fn generate(signs_from: u64, signs_until: u64, now: u64) -> Result<KeyRow, Error> {
    for _ in 0..8 {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|_| Error::Internal("no randomness"))?;
        // A scalar of zero or above the group order is refused; that is 1 in 2^32.
        if SigningKey::from_slice(&secret).is_ok() {
            return Ok(KeyRow {
                kid: format!("es256-{signs_from}"),
                alg: ALG.to_string(),
                secret: b64(&secret),
                created_at: now,
                signs_from,
                signs_until,
            });
        }
    }
    Err(Error::Internal("could not make a signing key"))
}

impl Keys {
    /// `keep_after`: seconds a key stays published after it stopped signing.
    pub fn new(lifetime: u64, publish_ahead: u64, keep_after: u64) -> Self {
        Self {
            lifetime,
            publish_ahead,
            keep_after,
            loaded: RwLock::new(Vec::new()),
        }
    }

    /// Creates the current and next keys when due, then reloads every key from the database.
    /// Called at start and then periodically by every replica.
    pub async fn maintain(&self, store: &Store, now: u64) -> Result<(), Error> {
        let rows = store.keys().await?;
        let current = rows
            .iter()
            .filter(|k| k.signs_from <= now && now < k.signs_until)
            .max_by_key(|k| k.signs_from);
        let created = match current {
            None => Some(generate(now, now + self.lifetime, now)?),
            Some(c) => {
                let has_next = rows.iter().any(|k| k.signs_from >= c.signs_until);
                let due = c.signs_until.saturating_sub(now) <= self.publish_ahead;
                (due && !has_next)
                    .then(|| generate(c.signs_until, c.signs_until + self.lifetime, now))
                    .transpose()?
            }
        };
        let rows = match created {
            Some(k) => {
                store.insert_key(&k).await?;
                store.keys().await?
            }
            None => rows,
        };
        let loaded: Vec<Loaded> = rows.iter().filter_map(load).collect();
        if loaded.len() != rows.len() {
            eprintln!("pci-guard-approvals: some stored signing keys could not be read");
        }
        if let Ok(mut l) = self.loaded.write() {
            *l = loaded;
        }
        Ok(())
    }

    /// Signs `claims` as a grant with the key whose window holds `now`.
    pub fn sign(&self, claims: &Value, now: u64) -> Result<String, Error> {
        let l = self
            .loaded
            .read()
            .map_err(|_| Error::Internal("key state poisoned"))?;
        let k = l
            .iter()
            .filter(|k| k.signs_from <= now && now < k.signs_until)
            .max_by_key(|k| k.signs_from)
            .ok_or(Error::Internal("no signing key for now"))?;
        let header = json!({"alg": ALG, "typ": GRANT_TYP, "kid": k.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig: Signature = k.key.sign(input.as_bytes());
        Ok(format!("{input}.{}", b64(&sig.to_bytes())))
    }

    /// The published keys at `now`: every key created, until `keep_after` past its window.
    pub fn jwks(&self, now: u64) -> Value {
        let keys: Vec<Value> = self
            .loaded
            .read()
            .map(|l| {
                l.iter()
                    .filter(|k| now < k.signs_until.saturating_add(self.keep_after))
                    .map(|k| k.jwk.clone())
                    .collect()
            })
            .unwrap_or_default();
        json!({ "keys": keys })
    }

    /// The `kid` that signs at `now`, if any.
    pub fn signing_kid(&self, now: u64) -> Option<String> {
        let l = self.loaded.read().ok()?;
        l.iter()
            .filter(|k| k.signs_from <= now && now < k.signs_until)
            .max_by_key(|k| k.signs_from)
            .map(|k| k.kid.clone())
    }
}
