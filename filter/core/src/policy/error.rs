//! What is wrong with a policy, and where: every error carries the JSON pointer (RFC 6901) of
//! the field to fix, which still means something for a policy that came through Istio's
//! `pluginConfig`, where line numbers do not.

use std::fmt;

/// One thing wrong with a policy, at a place in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// JSON pointer (RFC 6901) of the offending field; empty for the whole document.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Every error found in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl PolicyErrors {
    /// One error about the whole document (too large, not JSON).
    pub(super) fn document(message: String) -> Self {
        PolicyErrors(vec![PolicyError {
            pointer: String::new(),
            message,
        }])
    }
}

/// A map key as one JSON pointer token: provider names may hold `/` or `~`.
pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointer of the field serde stopped at.
pub(super) fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => p.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                p.push('/');
                p.push_str(&escape(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    p
}

/// serde_json appends " at line L column C", which means nothing for a policy that came
/// through Istio's `pluginConfig`: the pointer says where.
pub(super) fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
