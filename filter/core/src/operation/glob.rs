//! Name patterns for operations: `*` stands for any run of characters (`/` included, so
//! `tools/*` covers every tool method); everything else matches itself, case-sensitively, as
//! JSON-RPC methods, MCP tool names and GraphQL names are.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The literal pieces between the `*`s.
    parts: Vec<String>,
    /// Whether the pattern starts / ends with `*`.
    open_start: bool,
    open_end: bool,
}

impl Glob {
    /// `None` for an empty pattern: it could only match an empty name, which is never meant.
    pub fn new(pattern: &str) -> Option<Glob> {
        if pattern.is_empty() {
            return None;
        }
        Some(Glob {
            parts: pattern
                .split('*')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            open_start: pattern.starts_with('*'),
            open_end: pattern.ends_with('*'),
        })
    }

    /// Whether `name` is matched: each literal piece in order, anchored at the ends unless the
    /// pattern opens there. Linear in the name's length per piece; no backtracking blow-up.
    pub fn matches(&self, name: &str) -> bool {
        let n = self.parts.len();
        if n == 0 {
            return true; // "*", "**"
        }
        let mut rest = name;
        for (i, part) in self.parts.iter().enumerate() {
            let first = i == 0;
            let last = i == n - 1;
            if first && !self.open_start {
                match rest.strip_prefix(part.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                }
                if last && !self.open_end {
                    return rest.is_empty();
                }
                continue;
            }
            if last && !self.open_end {
                return rest.ends_with(part.as_str());
            }
            match rest.find(part.as_str()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Whether any of `globs` matches `name`.
pub fn any(globs: &[Glob], name: &str) -> bool {
    globs.iter().any(|g| g.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        Glob::new(p).unwrap().matches(n)
    }

    #[test]
    fn stars_stand_for_any_run_and_the_rest_matches_itself() {
        assert!(m("tools/call", "tools/call"));
        assert!(!m("tools/call", "tools/calls"));
        assert!(!m("tools/call", "Tools/call"), "case-sensitive");
        assert!(m("tools/*", "tools/call") && m("tools/*", "tools/"));
        assert!(!m("tools/*", "prompts/get"));
        assert!(m("*", "") && m("*", "anything"));
        assert!(m("refund_*", "refund_payment") && !m("refund_*", "get_refund"));
        assert!(m("*_payment", "refund_payment") && !m("*_payment", "payment_x"));
        assert!(m("a*b*c", "abc") && m("a*b*c", "axxbyyc") && !m("a*b*c", "axxc"));
        assert!(!m("ab*ba", "aba"), "the pieces may not overlap");
        assert!(m("*delete*", "bulk_delete_cards"));
        assert!(Glob::new("").is_none());
    }
}
