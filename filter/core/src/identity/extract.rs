//! Where tokens come from: request headers only, never query parameters or cookies (URLs
//! end up in access logs, browser history and referrers).
//!
//! The default source is `Authorization: Bearer <token>` with the scheme matched without
//! regard to case (RFC 7235 §2.1). Other sources are a header name plus a value prefix.
//!
//! Ambiguity is refused: if the sources yield two *different* tokens (two `Authorization`
//! headers, or `Authorization` and a custom header disagreeing), which one would the
//! upstream believe? [`extract`] answers [`ExtractError::Ambiguous`] →
//! [`Reason::TokenMalformed`]. The same token twice is fine.

use crate::headers::Headers;
use crate::reason::Reason;

/// One place a token may be: a lowercase header name and a value prefix (matched without
/// regard to ASCII case; empty = the whole value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    pub header: String,
    pub prefix: String,
}

impl TokenSource {
    /// A source; the header name is lowercased, as Envoy presents names.
    pub fn new(header: impl Into<String>, prefix: impl Into<String>) -> Self {
        TokenSource {
            header: header.into().to_ascii_lowercase(),
            prefix: prefix.into(),
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer() -> Self {
        TokenSource::new("authorization", "Bearer ")
    }

    /// The token in one header value, if this source's prefix is there.
    fn token_in<'a>(&self, value: &'a str) -> Option<&'a str> {
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        let p = self.prefix.trim_end_matches(' ');
        let rest = if p.is_empty() {
            value
        } else {
            let head = value.get(..p.len())?;
            if !head.eq_ignore_ascii_case(p) {
                return None;
            }
            let rest = &value[p.len()..];
            // A prefix that ended in a space needs at least one space (or tab) after it.
            if p.len() != self.prefix.len() && !rest.starts_with([' ', '\t']) {
                return None;
            }
            rest.trim_start_matches([' ', '\t'])
        };
        if rest.is_empty() {
            None
        } else {
            Some(rest)
        }
    }
}

/// The default sources: `Authorization: Bearer`.
pub fn default_sources() -> Vec<TokenSource> {
    vec![TokenSource::bearer()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractError {
    /// Two different tokens were presented.
    Ambiguous,
}

impl ExtractError {
    pub fn reason(self) -> Reason {
        Reason::TokenMalformed
    }
}

/// Finds the token. `headers` are `(lowercase name, value)` pairs as Envoy gives them.
/// `Ok(None)`: no token (→ [`Reason::TokenMissing`]).
pub fn extract<'a, H: Headers + ?Sized>(
    sources: &[TokenSource],
    headers: &'a H,
) -> Result<Option<&'a str>, ExtractError> {
    let mut found: Option<&'a str> = None;
    for source in sources {
        for value in headers.get_all(&source.header) {
            if let Some(t) = source.token_in(value) {
                match found {
                    Some(f) if f != t => return Err(ExtractError::Ambiguous),
                    _ => found = Some(t),
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let s = default_sources();
        for v in ["Bearer abc", "bearer abc", "BEARER   abc", " Bearer\tabc "] {
            assert_eq!(
                extract(&s, &h(&[("authorization", v)])),
                Ok(Some("abc")),
                "{v}"
            );
        }
    }

    #[test]
    fn other_schemes_and_empty_are_missing() {
        let s = default_sources();
        for v in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", ""] {
            assert_eq!(extract(&s, &h(&[("authorization", v)])), Ok(None), "{v}");
        }
        assert_eq!(extract(&s, &h(&[])), Ok(None));
    }

    #[test]
    fn named_header_with_prefix_and_without() {
        let s = vec![
            TokenSource::new("X-Agent-Token", "Token "),
            TokenSource::new("x-jwt", ""),
        ];
        assert_eq!(
            extract(&s, &h(&[("x-agent-token", "token t1")])),
            Ok(Some("t1"))
        );
        assert_eq!(extract(&s, &h(&[("x-jwt", "t2")])), Ok(Some("t2")));
    }

    #[test]
    fn two_different_tokens_are_ambiguous() {
        let s = default_sources();
        let hs = h(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(extract(&s, &hs), Err(ExtractError::Ambiguous));
        let same = h(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]);
        assert_eq!(extract(&s, &same), Ok(Some("a")));
    }

    #[test]
    fn query_params_are_never_sources() {
        let s = default_sources();
        let hs = h(&[(":path", "/x?access_token=abc")]);
        assert_eq!(extract(&s, &hs), Ok(None));
    }
}
