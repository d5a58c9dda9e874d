//! Operation matchers: which JSON-RPC calls and GraphQL operations a `match` block names.
//!
//! Routes grant and rules refuse, so an operation the filter cannot fully know (a persisted
//! query sent only by its hash: its type and fields are on the server) is read the safe way
//! for each: a route's condition holds only if it is known to hold, a rule's holds unless it
//! is known not to. For the same reason a route's `fields` must cover every root field of
//! the operation (a query mixing a granted field with another is not granted), while a rule's
//! `fields` catch an operation that selects any of them.

use crate::operation::{glob, Call, Glob, GqlOperation, OpKind, RpcCall};

/// What a matcher is for, which decides how unknowns and field lists are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Route,
    Rule,
}

/// `match.jsonrpc`.
#[derive(Debug, Clone, Default)]
pub struct JsonRpcMatch {
    /// Method globs; empty means any message (responses included).
    pub methods: Vec<Glob>,
    /// Tool globs: the call must be a `tools/call` naming one of them.
    pub tools: Vec<Glob>,
}

impl JsonRpcMatch {
    fn matches(&self, c: &RpcCall) -> bool {
        if !self.methods.is_empty()
            && !c
                .method
                .as_deref()
                .is_some_and(|m| glob::any(&self.methods, m))
        {
            return false;
        }
        if !self.tools.is_empty() {
            let tool = match (c.method.as_deref(), c.tool.as_deref()) {
                (Some("tools/call"), Some(t)) => t,
                _ => return false,
            };
            if !glob::any(&self.tools, tool) {
                return false;
            }
        }
        true
    }
}

/// `match.graphql`.
#[derive(Debug, Clone, Default)]
pub struct GraphQlMatch {
    pub types: Vec<OpKind>,
    pub names: Vec<Glob>,
    pub fields: Vec<Glob>,
    /// Persisted-query hashes (lower-case hex).
    pub hashes: Vec<String>,
    pub role: Role,
}

impl GraphQlMatch {
    fn matches(&self, op: &GqlOperation) -> bool {
        let unknown = self.role == Role::Rule;
        if !self.types.is_empty() {
            let ok = match op.kind {
                Some(k) => self.types.contains(&k),
                None => unknown,
            };
            if !ok {
                return false;
            }
        }
        if !self.names.is_empty() {
            let ok = match (&op.name, op.kind) {
                (Some(n), _) => glob::any(&self.names, n),
                // Only a hash was sent: which of the stored document's operations runs is
                // the server's to say.
                (None, None) => unknown,
                (None, Some(_)) => false,
            };
            if !ok {
                return false;
            }
        }
        if !self.fields.is_empty() {
            let ok = match &op.fields {
                None => unknown,
                Some(fields) => match self.role {
                    Role::Rule => fields.iter().any(|f| glob::any(&self.fields, f)),
                    Role::Route => {
                        !fields.is_empty() && fields.iter().all(|f| glob::any(&self.fields, f))
                    }
                },
            };
            if !ok {
                return false;
            }
        }
        if !self.hashes.is_empty() && !op.hash.as_ref().is_some_and(|h| self.hashes.contains(h)) {
            return false;
        }
        true
    }
}

/// An operation condition.
#[derive(Debug, Clone)]
pub enum OpMatch {
    JsonRpc(JsonRpcMatch),
    GraphQl(GraphQlMatch),
}

impl OpMatch {
    pub fn matches(&self, call: &Call) -> bool {
        match (self, call) {
            (OpMatch::JsonRpc(m), Call::JsonRpc(c)) => m.matches(c),
            (OpMatch::GraphQl(m), Call::GraphQl(op)) => m.matches(op),
            _ => false,
        }
    }

    pub fn protocol(&self) -> crate::operation::Protocol {
        match self {
            OpMatch::JsonRpc(_) => crate::operation::Protocol::JsonRpc,
            OpMatch::GraphQl(_) => crate::operation::Protocol::GraphQl,
        }
    }
}
