//! Which response bodies to scan, by `content-type`.
//!
//! Fail safe: anything not explicitly skipped is scanned (JSON, `text/*`, XML, forms, unknown
//! or missing types). Skipped: the policy's `skip_content_types` (`type/*` wildcards allowed),
//! [`DEFAULT_SKIP_CONTENT_TYPES`] when it gives none.
//! `application/grpc*` is framed ([`BodyKind::Grpc`]), except `application/grpc-web-text`,
//! whose base64 hides digits: it is [`BodyKind::Refuse`]d.

/// What to do with a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// Scan it with [`super::Redactor`].
    Scan,
    /// Pass it untouched (skipped content type).
    Pass,
    /// Scan it with [`super::GrpcRedactor`].
    Grpc,
    /// Cannot be scanned and must not pass: refuse (502 / reset), like an unsupported encoding.
    Refuse,
}

/// The policy default for `skip_content_types`: media and raw bytes, which hold no card
/// numbers as text and which masking digits would corrupt.
pub const DEFAULT_SKIP_CONTENT_TYPES: &[&str] =
    &["image/*", "audio/*", "video/*", "application/octet-stream"];

/// Decides how to treat a body from its `content-type` header and the skip list.
#[must_use]
pub fn classify(content_type: Option<&str>, skip: &[String]) -> BodyKind {
    let Some(ct) = content_type else {
        return BodyKind::Scan;
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.starts_with("application/grpc-web-text") {
        return BodyKind::Refuse;
    }
    if media == "application/grpc"
        || media.starts_with("application/grpc+")
        || media.starts_with("application/grpc-web")
    {
        return BodyKind::Grpc;
    }
    let (ty, _) = media.split_once('/').unwrap_or((media.as_str(), ""));
    for s in skip {
        let s = s.trim().to_ascii_lowercase();
        let hit = match s.strip_suffix("/*") {
            Some(prefix) => prefix == ty || prefix == "*",
            None => s == media,
        };
        if hit {
            return BodyKind::Pass;
        }
    }
    BodyKind::Scan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_skip() -> Vec<String> {
        DEFAULT_SKIP_CONTENT_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn kinds() {
        let s = default_skip();
        assert_eq!(
            classify(Some("application/json; charset=utf-8"), &s),
            BodyKind::Scan
        );
        assert_eq!(classify(Some("text/html"), &s), BodyKind::Scan);
        assert_eq!(classify(Some("application/xml"), &s), BodyKind::Scan);
        assert_eq!(
            classify(Some("application/x-www-form-urlencoded"), &s),
            BodyKind::Scan
        );
        assert_eq!(
            classify(Some("application/vnd.foo+json"), &s),
            BodyKind::Scan
        );
        assert_eq!(classify(None, &s), BodyKind::Scan);
        assert_eq!(classify(Some("IMAGE/PNG"), &s), BodyKind::Pass);
        assert_eq!(classify(Some("video/mp4"), &s), BodyKind::Pass);
        assert_eq!(
            classify(Some("application/octet-stream"), &s),
            BodyKind::Pass
        );
        assert_eq!(classify(Some("application/grpc"), &s), BodyKind::Grpc);
        assert_eq!(classify(Some("application/grpc+proto"), &s), BodyKind::Grpc);
        assert_eq!(
            classify(Some("application/grpc-web+proto"), &s),
            BodyKind::Grpc
        );
        assert_eq!(
            classify(Some("application/grpc-web-text"), &s),
            BodyKind::Refuse
        );
        assert_eq!(classify(Some("application/grpcfoo"), &s), BodyKind::Scan);
        assert_eq!(classify(Some("image/png"), &[]), BodyKind::Scan);
        assert_eq!(
            classify(Some("application/pdf"), &["application/pdf".into()]),
            BodyKind::Pass
        );
    }
}
