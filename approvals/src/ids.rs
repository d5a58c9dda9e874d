//! Identifiers: random, URL-safe, prefixed by what they name (`req_…`, `grt_…`), so a grant id
//! pasted where a request id belongs is refused rather than mistaken.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// 16 random bytes from the OS, base64url: 22 characters, 128 bits.
pub fn random(prefix: &str) -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b)?;
    Ok(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(b)))
}

/// Whether `id` looks like one of ours with `prefix` (cheap check before a database look-up).
pub fn well_formed(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|r| {
            r.len() == 22
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let a = random("req").unwrap();
        let b = random("req").unwrap();
        assert_ne!(a, b);
        assert!(well_formed("req", &a));
        assert!(!well_formed("grt", &a));
        assert!(!well_formed("req", "req_../../etc"));
    }
}
