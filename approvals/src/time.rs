//! The service's clock: Unix seconds. One function, so every module agrees on it.

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds as RFC 3339 UTC, as the audit events write times.
pub fn rfc3339(secs: u64) -> String {
    pci_guard_core::audit::rfc3339_millis(secs.saturating_mul(1000))
}
