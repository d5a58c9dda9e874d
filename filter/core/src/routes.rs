//! Which route a request is on: matchers compiled once from the policy, tried in order, first
//! match wins.
//!
//! A request is matched on what Envoy routes on: the method, the path without its query
//! string, whether it is gRPC, and Envoy's route name. Path templates are split into segments
//! at load time so matching a request allocates nothing.

use std::fmt;

/// The parts of a request that matching looks at.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    /// The path without the query string.
    pub path: &'a str,
    /// `content-type: application/grpc*`.
    pub grpc: bool,
    /// Envoy's `xds.route_name`, when the route has one.
    pub route_name: Option<&'a str>,
    /// The policy route the Envoy route names in its metadata (`filter_metadata.pci_guard.route`);
    /// when set, it is the route, whatever the path.
    pub metadata_route: Option<&'a str>,
}

impl<'a> RequestLine<'a> {
    /// Splits `path_and_query` at `?` so the query never takes part in a decision.
    pub fn new(method: &'a str, path_and_query: &'a str, grpc: bool) -> Self {
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(p, _)| p);
        Self {
            method,
            path,
            grpc,
            route_name: None,
            metadata_route: None,
        }
    }

    /// `package.Service/Method` for gRPC requests (`/package.Service/Method`).
    pub fn grpc_method(&self) -> Option<&'a str> {
        if !self.grpc {
            return None;
        }
        let m = self.path.strip_prefix('/')?;
        (m.matches('/').count() == 1).then_some(m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `{name}` or `*`: exactly one non-empty segment.
    One,
    /// A final `**`: zero or more segments.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    Template(Vec<Segment>),
}

/// Errors in a path template, reported at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    NotAbsolute,
    RestNotLast,
    BadVariable(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAbsolute => f.write_str("must start with '/'"),
            Self::RestNotLast => f.write_str("'**' may only be the last segment"),
            Self::BadVariable(s) => write!(
                f,
                "segment {s:?} is not a literal, '*', '**' or a whole-segment variable like '{{id}}'"
            ),
        }
    }
}

impl PathMatch {
    pub fn template(t: &str) -> Result<Self, TemplateError> {
        if !t.starts_with('/') {
            return Err(TemplateError::NotAbsolute);
        }
        let raw: Vec<&str> = t[1..].split('/').collect();
        let mut segs = Vec::with_capacity(raw.len());
        let mut dynamic = false;
        for (i, s) in raw.iter().enumerate() {
            let seg = match *s {
                "**" if i + 1 == raw.len() => Segment::Rest,
                "**" => return Err(TemplateError::RestNotLast),
                "*" => Segment::One,
                s if s.starts_with('{') && s.ends_with('}') && s.len() > 2 => {
                    let name = &s[1..s.len() - 1];
                    if !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    {
                        return Err(TemplateError::BadVariable(s.to_string()));
                    }
                    Segment::One
                }
                s if s.contains(['{', '}', '*']) => {
                    return Err(TemplateError::BadVariable(s.to_string()))
                }
                s => Segment::Literal(s.to_string()),
            };
            dynamic |= !matches!(seg, Segment::Literal(_));
            segs.push(seg);
        }
        Ok(if dynamic {
            PathMatch::Template(segs)
        } else {
            PathMatch::Exact(t.to_string())
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            PathMatch::Template(segs) => {
                let Some(rest) = path.strip_prefix('/') else {
                    return false;
                };
                let mut parts = rest.split('/');
                for seg in segs {
                    match seg {
                        Segment::Rest => return true,
                        Segment::One => match parts.next() {
                            Some(p) if !p.is_empty() => {}
                            _ => return false,
                        },
                        Segment::Literal(l) => match parts.next() {
                            Some(p) if p == l => {}
                            _ => return false,
                        },
                    }
                }
                parts.next().is_none()
            }
        }
    }
}

/// `package.Service/Method` or `package.Service/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMatch {
    service: String,
    /// `None` for every method of the service.
    method: Option<String>,
}

impl GrpcMatch {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix('/').unwrap_or(s);
        let (service, method) = s.split_once('/')?;
        let ident = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !ident(service) {
            return None;
        }
        match method {
            "*" => Some(Self {
                service: service.to_string(),
                method: None,
            }),
            m if ident(m) && !m.contains('.') => Some(Self {
                service: service.to_string(),
                method: Some(m.to_string()),
            }),
            _ => None,
        }
    }

    fn matches(&self, full: &str) -> bool {
        let Some((service, method)) = full.split_once('/') else {
            return false;
        };
        service == self.service && self.method.as_deref().is_none_or(|m| m == method)
    }
}

/// A compiled `match` block: every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    pub path: Option<PathMatch>,
    pub grpc: Option<GrpcMatch>,
    pub route_name: Option<String>,
}

impl Matcher {
    pub fn matches(&self, req: &RequestLine<'_>) -> bool {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == req.method) {
            return false;
        }
        if let Some(p) = &self.path {
            if !p.matches(req.path) {
                return false;
            }
        }
        if let Some(g) = &self.grpc {
            match req.grpc_method() {
                Some(full) if g.matches(full) => {}
                _ => return false,
            }
        }
        if let Some(name) = &self.route_name {
            if req.route_name != Some(name.as_str()) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> PathMatch {
        PathMatch::template(s).unwrap()
    }

    #[test]
    fn template_variables_match_exactly_one_nonempty_segment() {
        let m = t("/v1/cards/{id}");
        assert!(m.matches("/v1/cards/c_1"));
        assert!(!m.matches("/v1/cards/"));
        assert!(!m.matches("/v1/cards"));
        assert!(!m.matches("/v1/cards/c_1/refunds"));
    }

    #[test]
    fn double_star_matches_the_rest_including_nothing() {
        let m = t("/v1/cards/**");
        assert!(m.matches("/v1/cards"));
        assert!(m.matches("/v1/cards/a/b/c"));
        assert!(!m.matches("/v1/cardsx"));
    }

    #[test]
    fn template_without_variables_is_exact() {
        assert_eq!(t("/healthz"), PathMatch::Exact("/healthz".into()));
        assert!(!t("/healthz").matches("/healthz/"));
    }

    #[test]
    fn bad_templates_are_rejected_with_a_reason() {
        assert_eq!(PathMatch::template("v1"), Err(TemplateError::NotAbsolute));
        assert_eq!(
            PathMatch::template("/a/**/b"),
            Err(TemplateError::RestNotLast)
        );
        assert!(matches!(
            PathMatch::template("/a/x{id}"),
            Err(TemplateError::BadVariable(_))
        ));
    }

    #[test]
    fn query_string_never_takes_part_in_matching() {
        let r = RequestLine::new("GET", "/healthz?x=/v1/cards/1", false);
        assert_eq!(r.path, "/healthz");
    }

    #[test]
    fn grpc_matcher_needs_a_grpc_request() {
        let m = Matcher {
            grpc: GrpcMatch::parse("payments.v1.Cards/GetCard"),
            ..Default::default()
        };
        assert!(m.matches(&RequestLine::new(
            "POST",
            "/payments.v1.Cards/GetCard",
            true
        )));
        assert!(!m.matches(&RequestLine::new(
            "POST",
            "/payments.v1.Cards/GetCard",
            false
        )));
        assert!(!m.matches(&RequestLine::new(
            "POST",
            "/payments.v1.Cards/ListCards",
            true
        )));
        let any = Matcher {
            grpc: GrpcMatch::parse("payments.v1.Cards/*"),
            ..Default::default()
        };
        assert!(any.matches(&RequestLine::new(
            "POST",
            "/payments.v1.Cards/ListCards",
            true
        )));
    }

    #[test]
    fn methods_and_route_name_must_all_hold() {
        let m = Matcher {
            methods: vec!["GET".into()],
            route_name: Some("cards".into()),
            ..Default::default()
        };
        let mut r = RequestLine::new("GET", "/x", false);
        assert!(!m.matches(&r));
        r.route_name = Some("cards");
        assert!(m.matches(&r));
        r.method = "POST";
        assert!(!m.matches(&r));
    }
}

/// Whether a path (without query) is canonical: what Envoy routes on and what the upstream
/// will read are then the same string, so no encoding or dot trick can slip past a rule.
///
/// Rejected: no leading `/`, empty segments (`//`), `.` and `..` segments, backslashes,
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
    let segs: Vec<&str> = rest.split('/').collect();
    let last = segs.len() - 1;
    segs.iter()
        .enumerate()
        .all(|(i, seg)| (i == last || !seg.is_empty()) && *seg != "." && *seg != "..")
}

#[cfg(test)]
mod canonical_tests {
    use super::is_canonical;

    #[test]
    fn ordinary_paths_are_canonical() {
        for p in [
            "/",
            "/healthz",
            "/v1/cards/c_1",
            "/v1/cards/a%20b",
            "/payments.v1.Cards/GetCard",
            "/v1/cards/",
            "/a/b.json",
            "/a/.well-known/x",
        ] {
            assert!(is_canonical(p), "{p}");
        }
    }

    #[test]
    fn path_tricks_are_not_canonical() {
        for p in [
            "v1/cards",
            "//v1/cards",
            "/v1//cards",
            "/v1/cards//",
            "/v1/./cards",
            "/v1/../admin",
            "/v1/cards/..",
            "/v1/cards%2F1",
            "/v1/cards%2f1",
            "/v1%5Ccards",
            "/v1\\cards",
            "/v1/%2e%2e/admin",
            "/v1/%2E/x",
            "/v1/cards%00",
            "/v1/cards\0",
            "/v1/cards%252f1",
            "/v1/cards%",
            "/v1/cards%zz",
            "/v1/c#x",
            "/v1/c\tx",
        ] {
            assert!(!is_canonical(p), "{p:?}");
        }
    }
}
