//! Which route a request is on: matchers compiled once from the policy, tried in order, first
//! match wins.
//!
//! A request is matched on what Envoy routes on: the method, the path without its query
//! string, whether it is gRPC, and Envoy's route name. Path templates are split into segments
//! at load time so matching a request allocates nothing.
//!
//! - `path`: path templates and prefixes; `grpc`: gRPC method matchers.
//! - `canonical`: whether a path is in the one form Envoy and the upstream read alike.
//! - [`metadata`]: the policy route an Envoy route names in its metadata.
//! - `covers`: whether one matcher shadows another, for `pci-guard policy check`.

mod canonical;
mod covers;
mod grpc;
pub mod metadata;
mod path;

pub use canonical::is_canonical;
pub use grpc::GrpcMatch;
pub use path::{PathMatch, Segment, TemplateError};

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
mod tests;
