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

/// Coverage between matchers, for `pci-guard policy check`'s shadowed-route warning.
/// Conservative: `true` only when every request `other` matches is certainly matched by
/// `self` too; anything it cannot prove (overlaps, partial covers) is `false`.
impl Matcher {
    pub fn covers(&self, other: &Matcher) -> bool {
        let methods = self.methods.is_empty()
            || (!other.methods.is_empty()
                && other.methods.iter().all(|m| self.methods.contains(m)));
        let path = match (&self.path, &other.path) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.covers(b),
        };
        let grpc = match (&self.grpc, &other.grpc) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => {
                a.service == b.service && (a.method.is_none() || a.method == b.method)
            }
        };
        let route_name = self.route_name.is_none() || self.route_name == other.route_name;
        methods && path && grpc && route_name
    }
}

impl PathMatch {
    /// Every path `other` matches, `self` matches too (see [`Matcher::covers`]).
    pub fn covers(&self, other: &PathMatch) -> bool {
        use PathMatch::*;
        match (self, other) {
            (Exact(a), Exact(b)) => a == b,
            (Prefix(p), Exact(b)) => b.starts_with(p.as_str()),
            (Prefix(p), Prefix(q)) => q.starts_with(p.as_str()),
            (Prefix(p), Template(segs)) => literal_head(segs).starts_with(p.as_str()),
            (Template(_), Exact(b)) => self.matches(b),
            (Template(a), Template(b)) => segments_cover(a, b),
            (Template(a), Prefix(q)) => match a.split_last() {
                // `/lit/…/**` matches everything under `/lit/…/`.
                Some((Segment::Rest, lits)) => lits
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(l) => Some(l.as_str()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .is_some_and(|lits| {
                        let head = if lits.is_empty() {
                            "/".to_string()
                        } else {
                            format!("/{}/", lits.join("/"))
                        };
                        q.starts_with(&head)
                    }),
                _ => false,
            },
            (Exact(_), _) => false,
        }
    }
}

/// What every path a template matches starts with: its leading literal segments, and the
/// slash after them when more segments follow.
fn literal_head(segs: &[Segment]) -> String {
    let mut head = String::from("/");
    for (i, s) in segs.iter().enumerate() {
        match s {
            Segment::Literal(l) => {
                head.push_str(l);
                if i + 1 < segs.len() {
                    head.push('/');
                }
            }
            Segment::Rest if i > 0 => {
                // `/a/**` also matches `/a` itself: the slash is not certain.
                head.pop();
                break;
            }
            _ => break,
        }
    }
    head
}

fn segments_cover(a: &[Segment], b: &[Segment]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((Segment::Rest, _)), _) => true,
        (Some((Segment::One, ra)), Some((Segment::Literal(_) | Segment::One, rb))) => {
            segments_cover(ra, rb)
        }
        (Some((Segment::Literal(x), ra)), Some((Segment::Literal(y), rb))) if x == y => {
            segments_cover(ra, rb)
        }
        _ => false,
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

#[cfg(test)]
mod covers_tests {
    use super::*;

    fn t(s: &str) -> PathMatch {
        PathMatch::template(s).unwrap()
    }

    fn m(methods: &[&str], path: Option<PathMatch>) -> Matcher {
        Matcher {
            methods: methods.iter().map(|s| s.to_string()).collect(),
            path,
            ..Matcher::default()
        }
    }

    #[test]
    fn covers_is_sure_or_says_no() {
        let any = Matcher::default();
        let prefix = |p: &str| Some(PathMatch::Prefix(p.to_string()));
        assert!(any.covers(&m(&["GET"], Some(t("/v1/cards/{id}")))));
        assert!(m(&[], prefix("/v1/")).covers(&m(&["GET"], Some(t("/v1/cards/{id}")))));
        assert!(m(&[], prefix("/v1/")).covers(&m(&[], prefix("/v1/cards"))));
        assert!(!m(&[], prefix("/v1/cards")).covers(&m(&[], prefix("/v1/"))));
        assert!(m(&["GET", "POST"], Some(t("/a/{x}"))).covers(&m(&["GET"], Some(t("/a/b")))));
        assert!(!m(&["GET"], Some(t("/a/{x}"))).covers(&m(&[], Some(t("/a/b")))));
        assert!(m(&[], Some(t("/a/**"))).covers(&m(&[], Some(t("/a/{x}/c")))));
        assert!(m(&[], Some(t("/a/**"))).covers(&m(&[], prefix("/a/b"))));
        assert!(!m(&[], Some(t("/a/**"))).covers(&m(&[], prefix("/ab"))));
        assert!(!m(&[], Some(t("/a/{x}"))).covers(&m(&[], Some(t("/a/**")))));
        assert!(!m(&[], prefix("/a/")).covers(&m(&[], Some(t("/a/**")))));
        assert!(m(&[], prefix("/a")).covers(&m(&[], Some(t("/a/**")))));
        let grpc = |g: &str| Matcher {
            grpc: GrpcMatch::parse(g),
            ..Matcher::default()
        };
        assert!(grpc("p.S/*").covers(&grpc("p.S/M")));
        assert!(!grpc("p.S/M").covers(&grpc("p.S/*")));
        assert!(!grpc("p.S/M").covers(&any));
    }
}
