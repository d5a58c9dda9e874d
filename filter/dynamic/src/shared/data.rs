//! The process's shared data, as proxy-wasm's `get_shared_data`/`set_shared_data` give it to
//! the VMs of one VM id: a map every thread reads and writes, each value with a version that
//! a write may require (compare-and-swap). The plugin's VM audit uses it for what the roots
//! of a process tell each other (which write records, the process's failed controls).

use super::lock;
use std::collections::HashMap;
use std::sync::Mutex;

/// Key → (value, version). Versions start at 1 and grow with every write of the key.
type Map = HashMap<String, (Vec<u8>, u32)>;

static DATA: Mutex<Option<Map>> = Mutex::new(None);

/// The value of `key` (none yet: `None`) and its version for a later [`set`].
pub fn get(key: &str) -> (Option<Vec<u8>>, Option<u32>) {
    let data = lock(&DATA);
    match data.as_ref().and_then(|m| m.get(key)) {
        Some((v, version)) => (Some(v.clone()), Some(*version)),
        None => (None, None),
    }
}

/// Writes `value` under `key`; with `cas`, only if the key's version is still `cas` (a key
/// never written has none, and any `cas` then fails, as in proxy-wasm: a first write passes
/// `None`). False if another write came between.
pub fn set(key: &str, value: &[u8], cas: Option<u32>) -> bool {
    let mut data = lock(&DATA);
    let map = data.get_or_insert_with(HashMap::new);
    let current = map.get(key).map(|(_, v)| *v);
    if cas.is_some_and(|c| current != Some(c)) {
        return false;
    }
    let version = current.map_or(1, |v| v.wrapping_add(1).max(1));
    map.insert(key.to_string(), (value.to_vec(), version));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_with_a_stale_version_is_refused_and_the_value_stays() {
        let key = "test/cas";
        assert_eq!(get(key), (None, None));
        assert!(set(key, b"a", None));
        let (value, version) = get(key);
        assert_eq!(value.as_deref(), Some(&b"a"[..]));
        assert!(set(key, b"b", version));
        // A second writer that read before the first wrote loses.
        assert!(!set(key, b"c", version));
        assert_eq!(get(key).0.as_deref(), Some(&b"b"[..]));
    }
}
