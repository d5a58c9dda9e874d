//! Which route a request is on: matchers compiled once from the policy, tried in order, first
//! match wins.
//!
//! A request is matched on what Envoy routes on, normalised once (`request`): the method, the
//! folded path without its query string, the gRPC method that path names, and Envoy's route
//! name. Path templates are folded and split into segments at load time.
//!
//! - `request`: the request line and the folding that makes every spelling of an operation
//!   match the rule written for it.
//! - `path`: path templates and prefixes; `grpc`: gRPC method matchers.
//! - `canonical`: whether a path is in the one form Envoy and the upstream read alike.
//! - [`metadata`]: the policy route an Envoy route names in its metadata.
//! - `covers`: whether one matcher shadows another, for `pci-guard policy check`.
//! - `operation`: JSON-RPC and GraphQL operation conditions, matched on what the body says.

mod canonical;
mod covers;
mod grpc;
pub mod metadata;
mod operation;
mod path;
mod request;

pub use canonical::is_canonical;
pub use grpc::GrpcMatch;
pub use operation::{GraphQlMatch, JsonRpcMatch, OpMatch, Role};
pub use path::{PathMatch, Segment, TemplateError};
pub use request::{fold_path, RequestLine};

/// A compiled `match` block: every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    pub path: Option<PathMatch>,
    pub grpc: Option<GrpcMatch>,
    pub route_name: Option<String>,
    /// A JSON-RPC or GraphQL operation condition: only requests whose body (or GraphQL
    /// query string) was read as operations can match.
    pub operation: Option<OpMatch>,
}

impl Matcher {
    pub fn matches(&self, req: &RequestLine<'_>) -> bool {
        self.matches_line(req, true)
            && match &self.operation {
                None => true,
                Some(m) => req.operation.is_some_and(|c| m.matches(c)),
            }
    }

    /// Whether the request line alone (method unless `!with_method`, path, gRPC method, route
    /// name) matches, whatever the operation: the body may be worth reading.
    pub fn matches_line(&self, req: &RequestLine<'_>, with_method: bool) -> bool {
        if with_method && !self.methods.is_empty() && !self.methods.iter().any(|m| *m == req.method)
        {
            return false;
        }
        if let Some(p) = &self.path {
            if !p.matches(&req.match_path) {
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
mod tests;
