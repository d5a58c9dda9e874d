//! Method overrides in form bodies: Laravel, Symfony and Rails treat a `POST` whose form
//! carries `_method=DELETE` as a `DELETE`, so on routes and rules that decide on the method
//! such a form is refused, like the `_method` query parameter and the override headers.
//!
//! - `application/x-www-form-urlencoded`: any field named `_method` (decoded, any case).
//! - `multipart/form-data`: any part whose `Content-Disposition` names `_method`; every
//!   header line of the body that starts with `content-disposition` is read, whatever the
//!   boundary says, so a part a lenient parser would find is found too.

use super::body::percent_decode;

/// The form encodings frameworks read overrides from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    UrlEncoded,
    Multipart,
}

/// Which form encoding `content_type` names, if any.
pub fn kind(content_type: Option<&str>) -> Option<FormKind> {
    let media = content_type?.split(';').next()?.trim();
    if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Some(FormKind::UrlEncoded)
    } else if media.eq_ignore_ascii_case("multipart/form-data") {
        Some(FormKind::Multipart)
    } else {
        None
    }
}

/// Whether a form body of `kind` carries a `_method` field.
pub fn names_a_method(kind: FormKind, body: &[u8], param: &str) -> bool {
    match kind {
        FormKind::UrlEncoded => body.split(|b| *b == b'&' || *b == b';').any(|pair| {
            let name = pair.split(|b| *b == b'=').next().unwrap_or(&[]);
            let name = String::from_utf8_lossy(name);
            // An undecodable name is compared as written.
            let decoded = percent_decode(&name).unwrap_or_else(|| name.to_string());
            decoded.trim().eq_ignore_ascii_case(param)
        }),
        FormKind::Multipart => body
            .split(|b| *b == b'\n')
            .filter(|line| {
                line.len() > 20 && line[..19].eq_ignore_ascii_case(b"content-disposition")
            })
            .any(|line| disposition_names(line, param)),
    }
}

/// Whether a `Content-Disposition` line has `name=param` (quoted or not, any case).
fn disposition_names(line: &[u8], param: &str) -> bool {
    let line = String::from_utf8_lossy(line);
    line.split(';').skip(1).any(|p| {
        let Some((k, v)) = p.split_once('=') else {
            return false;
        };
        let v = v.trim().trim_end_matches('\r').trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        k.trim().eq_ignore_ascii_case("name") && v.trim().eq_ignore_ascii_case(param)
    })
}
