//! A provider's key set: the usable keys of a JWKS, what was skipped and why, and key
//! selection for a token by `kid` and `alg`.

use std::fmt;

use serde_json::Value;

use super::alg::Alg;
use super::jwk::{Jwk, SkipReason, MAX_JWKS_BYTES, MAX_KEYS};
use crate::reason::Reason;

/// A key left out of a set, for logs. `kid` is the issuer's, not the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    pub index: usize,
    pub kid: Option<String>,
    pub reason: SkipReason,
}

/// Why a whole key set was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    TooLarge {
        len: usize,
        max: usize,
    },
    NotJson,
    /// Not an object with a `keys` array.
    NoKeysArray,
    TooManyKeys {
        count: usize,
        max: usize,
    },
    /// Every key was skipped (or there were none).
    NoUsableKeys {
        skipped: Vec<SkippedKey>,
    },
}

impl JwksError {
    pub fn reason(&self) -> Reason {
        Reason::JwksUnavailable
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::TooLarge { len, max } => write!(f, "JWKS is {len} bytes, limit {max}"),
            JwksError::NotJson => f.write_str("JWKS is not JSON"),
            JwksError::NoKeysArray => f.write_str("JWKS has no keys array"),
            JwksError::TooManyKeys { count, max } => {
                write!(f, "JWKS has {count} keys, limit {max}")
            }
            JwksError::NoUsableKeys { skipped } => {
                write!(f, "JWKS has no usable key ({} skipped", skipped.len())?;
                for s in skipped.iter().take(4) {
                    write!(f, "; #{}: {}", s.index, s.reason)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl std::error::Error for JwksError {}

/// The usable keys of one provider, plus what was skipped and why.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    pub fn parse(bytes: &[u8]) -> Result<KeySet, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                len: bytes.len(),
                max: MAX_JWKS_BYTES,
            });
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|_| JwksError::NotJson)?;
        KeySet::from_json(&v)
    }

    /// A JWKS already parsed as JSON.
    pub fn from_json(v: &Value) -> Result<KeySet, JwksError> {
        let Some(items) = v.get("keys").and_then(Value::as_array) else {
            return Err(JwksError::NoKeysArray);
        };
        if items.len() > MAX_KEYS {
            return Err(JwksError::TooManyKeys {
                count: items.len(),
                max: MAX_KEYS,
            });
        }
        let mut set = KeySet::default();
        for (index, item) in items.iter().enumerate() {
            match Jwk::from_json(item) {
                Ok(k) => set.keys.push(k),
                Err(reason) => set.skipped.push(SkippedKey {
                    index,
                    kid: item.get("kid").and_then(Value::as_str).map(str::to_owned),
                    reason,
                }),
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKeys {
                skipped: set.skipped,
            });
        }
        Ok(set)
    }

    /// A set made of keys loaded another way (PEM, tests).
    pub fn from_keys(keys: Vec<Jwk>) -> KeySet {
        KeySet {
            keys,
            skipped: Vec::new(),
        }
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether any key carries this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The keys that may verify a token with this `alg` and `kid`, in set order.
    ///
    /// As jwt_verify_lib: a key is a candidate when its type (and pinned `alg`, if any)
    /// fits, and `kid`s are equal or either side has none.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Alg,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys.iter().filter(move |k| {
            let kid_ok = match (kid, k.kid()) {
                (Some(t), Some(kk)) => t == kk,
                _ => true,
            };
            kid_ok && k.fits(alg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oct_keys_are_skipped_and_alone_are_an_error() {
        let e = KeySet::parse(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap_err();
        match e {
            JwksError::NoUsableKeys { skipped } => {
                assert_eq!(skipped[0].reason, SkipReason::SymmetricInKeySet)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_and_bounds() {
        assert_eq!(KeySet::parse(b"nope").unwrap_err(), JwksError::NotJson);
        assert_eq!(KeySet::parse(b"{}").unwrap_err(), JwksError::NoKeysArray);
        let many = format!(
            r#"{{"keys":[{}]}}"#,
            vec![r#"{"kty":"oct"}"#; MAX_KEYS + 1].join(",")
        );
        assert!(matches!(
            KeySet::parse(many.as_bytes()),
            Err(JwksError::TooManyKeys { .. })
        ));
        let big = vec![b' '; MAX_JWKS_BYTES + 1];
        assert!(matches!(
            KeySet::parse(&big),
            Err(JwksError::TooLarge { .. })
        ));
    }

    #[test]
    fn ec_point_not_on_curve_is_skipped() {
        let x = "A".repeat(43);
        let j = format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}"}}]}}"#);
        let e = KeySet::parse(j.as_bytes()).unwrap_err();
        assert!(matches!(e, JwksError::NoUsableKeys { .. }));
    }
}
