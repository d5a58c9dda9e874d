//! Canonical paths: the check behind `noncanonical_paths: reject`, run before any route is
//! matched.

/// Whether a path (without query) is canonical: what Envoy routes on and what the upstream
/// will read are then the same string, so no encoding or dot trick can slip past a rule.
///
/// Rejected: no leading `/`, empty segments (`//`, `;x`), segments of dots only (`.`, `..`,
/// `...`, also before `;parameters`: `..;x`), backslashes,
/// control bytes, `#`, and percent-encodings of `/`, `\`, `.`, NUL and `%` itself (double
/// encoding). Envoy's `normalize_path`/`merge_slashes` fix most of these before the filter
/// runs; this check holds even where those settings are off.
pub fn is_canonical(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let b = path.as_bytes();
    if b.iter()
        .any(|&c| c < 0x20 || c == 0x7f || c == b'\\' || c == b'#')
    {
        return false;
    }
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'%') {
        let at = i + off;
        let code = b
            .get(at + 1..at + 3)
            .map(|h| [h[0].to_ascii_lowercase(), h[1].to_ascii_lowercase()]);
        match code {
            Some(h) if matches!(&h, b"2f" | b"5c" | b"2e" | b"00" | b"25") => return false,
            Some(h) if h.iter().all(u8::is_ascii_hexdigit) => {}
            _ => return false, // a stray '%' is not a valid encoding
        }
        i = at + 1;
    }
    // A trailing slash is an ordinary resource name; an empty segment anywhere else is `//`.
    // Segments are judged without their `;parameters`, as servlet containers read them:
    // `..;x` is `..` there, and `;x` alone is an empty segment.
    let segs: Vec<&str> = rest.split('/').collect();
    let last = segs.len() - 1;
    segs.iter().enumerate().all(|(i, seg)| {
        let name = seg.split(';').next().unwrap_or("");
        let all_dots = !name.is_empty() && name.bytes().all(|c| c == b'.');
        (i == last || !name.is_empty()) && !all_dots
    })
}
