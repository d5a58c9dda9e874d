//! Coverage between matchers, for `pci-guard policy check`'s shadowed-route warning.
//!
//! Conservative: `covers` is `true` only when every request the other matcher matches is
//! certainly matched too; anything it cannot prove (overlaps, partial covers) is `false`.
//! Only the linter calls it; the request path never does.

use super::{GrpcMatch, Matcher, PathMatch, Segment};

impl Matcher {
    /// Every request `other` matches, `self` matches too.
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
            (Some(a), Some(b)) => a.covers(b),
        };
        let route_name = self.route_name.is_none() || self.route_name == other.route_name;
        // Operation conditions are not compared: one only covers when it has none.
        let operation = self.operation.is_none();
        methods && path && grpc && route_name && operation
    }
}

impl GrpcMatch {
    /// Every method `other` matches, `self` matches too.
    pub fn covers(&self, other: &GrpcMatch) -> bool {
        self.service == other.service && (self.method.is_none() || self.method == other.method)
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
