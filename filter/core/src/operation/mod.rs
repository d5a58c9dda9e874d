//! The operations a request body asks for, read as the server will read them: JSON-RPC 2.0
//! calls (MCP's `tools/call` with its tool name) and GraphQL operations (type, name, root
//! fields). Routes and rules match on them where `POST /mcp` or `POST /graphql` says nothing.
//!
//! ```text
//! content-type + body ─► body::parse ─► Operations { protocol, calls: [Call, …], batch }
//!                         ├─ jsonrpc: one Call per message (a batch is an array of them)
//!                         └─ graphql: the operation that runs, its root fields resolved
//!                            through aliases, fragment spreads and inline fragments
//! form body ─────────────► form::names_a_method (`_method=DELETE` in a POSTed form)
//! ```
//!
//! Everything is read fail-closed: a body the filter cannot read exactly as a server would
//! (bad JSON, a duplicated key, a key that differs from a known one only by case, a GraphQL
//! document with several operations and no `operationName`, a persisted-query hash that is
//! not the query's) is an [`OpError`], never a guess.

pub mod body;
pub mod form;
pub mod glob;
pub mod graphql;
mod json;

pub use body::{parse, parse_graphql_query};
pub use glob::Glob;

/// The largest body read to find the operation when the policy does not say
/// (`operations.max_body_bytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// How the operation is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// JSON-RPC 2.0 (MCP's Streamable HTTP).
    JsonRpc,
    /// GraphQL over HTTP.
    GraphQl,
}

/// GraphQL operation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Query,
    Mutation,
    Subscription,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Query => "query",
            OpKind::Mutation => "mutation",
            OpKind::Subscription => "subscription",
        }
    }
}

/// A JSON-RPC request id as sent: kept to answer in kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcId {
    Null,
    /// A number, as its JSON text (so `1.0` stays `1.0`).
    Number(String),
    Str(String),
}

impl RpcId {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            RpcId::Null => serde_json::Value::Null,
            RpcId::Number(n) => serde_json::from_str(n).unwrap_or(serde_json::Value::Null),
            RpcId::Str(s) => serde_json::Value::String(s.clone()),
        }
    }
}

/// One JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpcCall {
    /// `None` for a response the client sends back (to a server's request).
    pub method: Option<String>,
    /// The tool a `tools/call` names (`params.name`).
    pub tool: Option<String>,
    /// `None` for a notification (and for a response, whose id answers the server's).
    pub id: Option<RpcId>,
}

/// One GraphQL operation, as far as it can be known before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GqlOperation {
    /// `None` when only a persisted-query hash was sent: the document is on the server.
    pub kind: Option<OpKind>,
    pub name: Option<String>,
    /// Root fields by name (aliases resolved), in order, once each; `None` when unknown.
    pub fields: Option<Vec<String>>,
    /// The persisted-query hash (`extensions.persistedQuery.sha256Hash`), lower case.
    pub hash: Option<String>,
}

/// One operation a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    JsonRpc(RpcCall),
    GraphQl(GqlOperation),
}

impl Call {
    pub fn protocol(&self) -> Protocol {
        match self {
            Call::JsonRpc(_) => Protocol::JsonRpc,
            Call::GraphQl(_) => Protocol::GraphQl,
        }
    }
}

/// Every operation of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operations {
    pub protocol: Protocol,
    /// At least one.
    pub calls: Vec<Call>,
    /// Sent as a JSON array (answers go back as an array too).
    pub batch: bool,
}

/// Why a body could not be read as operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    /// Not valid JSON-RPC / GraphQL, or read ambiguously (duplicate keys, case variants).
    Malformed,
    /// A content type the operation is not read from (JSON-RPC wants `application/json`).
    ContentType,
    /// A GraphQL document with several operations and no `operationName`.
    Ambiguous,
}

#[cfg(test)]
mod tests;
