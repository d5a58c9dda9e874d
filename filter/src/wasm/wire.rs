//! The proxy-wasm ABI's wire formats for header maps and property paths, written and read
//! here so that nothing the host sends can make the plugin panic: a header map is bytes the
//! client chose, and HTTP allows header values that are not UTF-8.
//!
//! A map is `count: u32`, then `count` pairs of `(name length: u32, value length: u32)`, then
//! each name and value followed by a NUL (all integers little-endian).

/// A map as the host reads it. Values that are not UTF-8 (obs-text, Latin-1) are taken with
/// U+FFFD in place of the bad bytes: no decision can be won with them, and none is lost.
/// `None` when the buffer does not hold a well-formed map.
pub fn read_map(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = u32_at(bytes, 0)? as usize;
    // Each pair needs 8 bytes of lengths and 2 NULs: a count the buffer cannot hold is bad.
    if count > bytes.len() / 10 {
        return None;
    }
    let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
    let mut map = Vec::with_capacity(count);
    for i in 0..count {
        let name_len = u32_at(bytes, 4 + i * 8)? as usize;
        let value_len = u32_at(bytes, 8 + i * 8)? as usize;
        let name = bytes.get(data..data.checked_add(name_len)?)?;
        data = data.checked_add(name_len + 1)?;
        let value = bytes.get(data..data.checked_add(value_len)?)?;
        data = data.checked_add(value_len + 1)?;
        map.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    Some(map)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Writes a map in the ABI's form.
pub fn write_map<V: AsRef<[u8]>>(map: &[(&str, V)]) -> Vec<u8> {
    let size = 4 + map
        .iter()
        .map(|(n, v)| n.len() + v.as_ref().len() + 10)
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(map.len() as u32).to_le_bytes());
    for (n, v) in map {
        out.extend_from_slice(&(n.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (n, v) in map {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

/// A property path (`["xds", "route_name"]`) in the ABI's form: the parts joined by NULs.
pub fn write_path(path: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.iter().map(|p| p.len() + 1).sum());
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_round_trips() {
        let map = [("a", "1"), (":path", "/x"), ("empty", "")];
        let read = read_map(&write_map(&map)).unwrap();
        let expect: Vec<(String, String)> = map
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(read, expect);
        assert_eq!(read_map(&[]), Some(Vec::new()));
    }

    #[test]
    fn header_bytes_that_are_not_utf8_are_read_not_panicked_on() {
        let map = [("x-note", &b"caf\xe9"[..]), ("ok", &b"v"[..])];
        let read = read_map(&write_map(&map)).unwrap();
        assert_eq!(read[0], ("x-note".to_string(), "caf\u{fffd}".to_string()));
        assert_eq!(read[1].1, "v");
    }

    #[test]
    fn a_malformed_map_is_none() {
        let good = write_map(&[("name", "value")]);
        for cut in 1..good.len() - 1 {
            assert_eq!(read_map(&good[..cut]), None, "cut at {cut}");
        }
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_map(&huge), None);
        let mut long = good;
        long[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(read_map(&long), None);
    }

    #[test]
    fn property_paths_are_joined_by_nul() {
        assert_eq!(write_path(&["xds", "route_name"]), b"xds\0route_name");
        assert_eq!(write_path(&[]), b"");
    }
}
