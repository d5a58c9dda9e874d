//! Reading JSON objects strictly: only the keys that matter are kept, every other value is
//! skipped without being built, and a key that a server could read differently is an error:
//! a known key twice (serde_json and most servers keep the last, some the first), or a
//! spelling that differs from a known key only by case (Go's `encoding/json` reads
//! `"Method"` as `method`).

use serde::de::{self, IgnoredAny, MapAccess};
use std::fmt;

/// Walks an object's keys: for a key in `known` (index `i`), calls `on(i, map)`, which must
/// read the value; other values are skipped. Errors on a repeated or case-variant known key.
pub(super) fn read_object<'de, A: MapAccess<'de>>(
    map: &mut A,
    known: &[&str],
    mut on: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    let mut seen = 0u32;
    while let Some(key) = map.next_key::<KeyName>()? {
        let key = key.0;
        match known.iter().position(|k| *k == key) {
            Some(i) => {
                if seen & (1 << i) != 0 {
                    return Err(de::Error::custom("a key is repeated"));
                }
                seen |= 1 << i;
                on(i, map)?;
            }
            None => {
                if known.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                    return Err(de::Error::custom("a key differs from a known one by case"));
                }
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// An object key, decoded (escapes resolved), so `"me\u0074hod"` is `method`.
struct KeyName(String);

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(KeyName)
    }
}

/// A JSON value that must be a string.
pub(super) fn string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    map.next_value::<String>()
}

/// A JSON value that must be a string or null.
pub(super) fn opt_string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<String>, A::Error> {
    map.next_value::<Option<String>>()
}

/// A visitor's `expecting` text.
pub(super) struct Expecting(pub &'static str);

impl fmt::Display for Expecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
