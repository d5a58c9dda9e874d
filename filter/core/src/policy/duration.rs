//! Durations as operators write them: `500ms`, `30s`, `15m`, `24h`, `7d`.

/// Parses a duration into milliseconds. `None` names no unit a user can fix, so callers turn
/// it into an error that quotes the accepted forms.
pub fn parse_millis(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

pub const FORMS: &str = "a whole number with a unit: ms, s, m, h or d (e.g. \"30s\", \"15m\")";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_millis("500ms"), Some(500));
        assert_eq!(parse_millis("30s"), Some(30_000));
        assert_eq!(parse_millis("15m"), Some(900_000));
        assert_eq!(parse_millis("24h"), Some(86_400_000));
        assert_eq!(parse_millis("7d"), Some(604_800_000));
    }

    #[test]
    fn rejects_missing_number_unknown_unit_and_overflow() {
        for bad in [
            "",
            "m",
            "15",
            "15 m",
            "1.5h",
            "-1s",
            "10y",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad:?}");
        }
    }
}
