//! Event times: RFC 3339, UTC, milliseconds, from the host's clock.

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-11-27T10:00:00.123Z`.
pub fn rfc3339_millis(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let ms = unix_ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Unix milliseconds of an RFC 3339 UTC time as the filter writes it
/// (`2026-11-27T10:00:00.123Z`; the fraction and the `Z` may be left out, and a bare date
/// means its midnight). `None` for anything else, and for times before 1970.
pub fn parse_rfc3339_millis(t: &str) -> Option<u64> {
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if t.get(4..5) != Some("-") || t.get(7..8) != Some("-") || !(1..=12).contains(&mo) {
        return None;
    }
    let (h, mi, se, ms) = if t.len() == 10 {
        (0, 0, 0, 0)
    } else {
        if !matches!(t.get(10..11), Some("T" | "t" | " ")) {
            return None;
        }
        let ms = match t.get(19..20) {
            Some(".") => {
                let frac: String = t[20..].chars().take_while(char::is_ascii_digit).collect();
                let digits = format!("{frac:0<3}");
                digits.get(..3)?.parse::<i64>().ok()?
            }
            _ => 0,
        };
        (num(11..13)?, num(14..16)?, num(17..19)?, ms)
    };
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs * 1000 + ms).ok()
}
