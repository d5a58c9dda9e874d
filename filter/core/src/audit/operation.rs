//! The operation part of an audit event: what a JSON-RPC or GraphQL request asked for (the
//! method and tool of each call, the GraphQL operation's type, name and root fields), and in
//! a batch each call's own outcome. Names come from the caller: they are masked for card
//! data and capped like every other field of the request.

use crate::authz::Decision;
use crate::operation::{Call, OpKind, Operations, Protocol};
use crate::reason::Reason;
use serde::Serialize;

/// Most calls of a batch, and most root fields of an operation, an event lists; more are
/// counted in `more_calls` / a final `…[+N more]` field.
pub const MAX_CALLS: usize = 32;
pub const MAX_FIELDS: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct OperationRef {
    pub protocol: Protocol,
    pub batch: bool,
    pub calls: Vec<CallRef>,
    /// Calls of a batch beyond [`MAX_CALLS`], not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_calls: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CallRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// GraphQL: `query`, `mutation`, `subscription` (absent for a persisted query).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<OpKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// In a batch: this call's own outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl OperationRef {
    /// `ops`, each call with its own decision from `each` (same order; empty if none).
    pub fn of(ops: &Operations, each: &[Decision]) -> Self {
        let calls = ops
            .calls
            .iter()
            .take(MAX_CALLS)
            .enumerate()
            .map(|(i, c)| {
                let mut r = match c {
                    Call::JsonRpc(c) => CallRef {
                        method: c.method.clone(),
                        tool: c.tool.clone(),
                        ..CallRef::default()
                    },
                    Call::GraphQl(g) => CallRef {
                        kind: g.kind,
                        name: g.name.clone(),
                        fields: g.fields.as_ref().map(|f| {
                            let mut v: Vec<String> = f.iter().take(MAX_FIELDS).cloned().collect();
                            if f.len() > MAX_FIELDS {
                                v.pop();
                                v.push(format!("…[+{} more]", f.len() - MAX_FIELDS + 1));
                            }
                            v
                        }),
                        hash: g.hash.clone(),
                        ..CallRef::default()
                    },
                };
                if ops.batch {
                    r.reason = each.get(i).map(|d| d.reason);
                }
                r
            })
            .collect();
        Self {
            protocol: ops.protocol,
            batch: ops.batch,
            calls,
            more_calls: ops.calls.len().saturating_sub(MAX_CALLS),
        }
    }

    /// Every caller-supplied string, for masking and capping.
    pub(super) fn strings_mut(&mut self) -> impl Iterator<Item = &mut String> {
        self.calls.iter_mut().flat_map(|c| {
            c.method
                .iter_mut()
                .chain(c.tool.iter_mut())
                .chain(c.name.iter_mut())
                .chain(c.fields.iter_mut().flatten())
        })
    }
}
