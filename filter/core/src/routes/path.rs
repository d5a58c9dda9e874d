//! Path templates and prefixes, compiled once from the policy's `path` / `path_prefix`.
//!
//! A template is split into segments at load time so matching a request allocates nothing.

use std::fmt;

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
    /// A path template, folded as request paths are (see [`super::fold_path`]).
    pub fn template(t: &str) -> Result<Self, TemplateError> {
        if !t.starts_with('/') {
            return Err(TemplateError::NotAbsolute);
        }
        let folded = super::fold_path(t);
        let t = folded.as_ref();
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

    /// A path prefix, in lower case as folded paths are.
    pub fn prefix(p: &str) -> Self {
        PathMatch::Prefix(p.to_ascii_lowercase())
    }

    /// Whether a folded path (see [`super::fold_path`]) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            // A folded path has no trailing slash: `/v1/` also covers `/v1` itself.
            PathMatch::Prefix(p) => {
                path.starts_with(p.as_str()) || p.strip_suffix('/').is_some_and(|bare| bare == path)
            }
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
