//! Operation matchers (`match.jsonrpc`, `match.graphql`), the body limit that reading them
//! takes, and the protected-resource metadata that MCP clients discover.

use super::Compiler;
use crate::operation::{Glob, DEFAULT_MAX_BODY_BYTES};
use crate::policy::model::{ProtectedResource, Route, Rule};
use crate::policy::spec::{
    GraphQlMatchSpec, JsonRpcMatchSpec, OperationsSpec, ProtectedResourceSpec,
};
use crate::routes::{GraphQlMatch, JsonRpcMatch, OpMatch, Role};

/// The largest `operations.max_body_bytes` accepted: bodies are held in the VM while read.
const MAX_BODY_LIMIT: u64 = 1024 * 1024;

impl Compiler {
    fn globs(&mut self, at: &str, list: Option<Vec<String>>) -> Vec<Glob> {
        list.unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let glob = Glob::new(&g);
                if glob.is_none() {
                    self.err(format!("{at}/{i}"), "must not be empty");
                }
                glob
            })
            .collect()
    }

    /// The operation condition of a `match` block at `at` (its pointer).
    pub(super) fn operation_matcher(
        &mut self,
        at: &str,
        jsonrpc: Option<JsonRpcMatchSpec>,
        graphql: Option<GraphQlMatchSpec>,
        role: Role,
    ) -> Option<OpMatch> {
        match (jsonrpc, graphql) {
            (Some(_), Some(_)) => {
                self.err(at, "give either \"jsonrpc\" or \"graphql\", not both");
                None
            }
            (Some(j), None) => Some(OpMatch::JsonRpc(JsonRpcMatch {
                methods: self.globs(&format!("{at}/jsonrpc/methods"), j.methods),
                tools: self.globs(&format!("{at}/jsonrpc/tools"), j.tools),
            })),
            (None, Some(g)) => {
                let hashes = g
                    .hashes
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let h = h.strip_prefix("sha256:").unwrap_or(&h).to_ascii_lowercase();
                        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                            self.err(
                                format!("{at}/graphql/hashes/{i}"),
                                "must be a SHA-256 hash: 64 hex digits",
                            );
                        }
                        h
                    })
                    .collect();
                Some(OpMatch::GraphQl(GraphQlMatch {
                    types: g.types.unwrap_or_default(),
                    names: self.globs(&format!("{at}/graphql/names"), g.names),
                    fields: self.globs(&format!("{at}/graphql/fields"), g.fields),
                    hashes,
                    role,
                }))
            }
            (None, None) => None,
        }
    }

    pub(super) fn max_body_bytes(&mut self, o: &OperationsSpec) -> usize {
        match o.max_body_bytes {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(n) if (1..=MAX_BODY_LIMIT).contains(&n) => n as usize,
            Some(n) => {
                self.err(
                    "/operations/max_body_bytes",
                    format!("{n} is out of range: from 1 to {MAX_BODY_LIMIT}"),
                );
                DEFAULT_MAX_BODY_BYTES
            }
        }
    }

    pub(super) fn protected_resource(
        &mut self,
        spec: Option<ProtectedResourceSpec>,
        issuers: &[&str],
        routes: &[Route],
        rules: &[Rule],
    ) -> Option<ProtectedResource> {
        let spec = spec?;
        if let Some(r) = &spec.resource {
            if !(r.starts_with("https://") || r.starts_with("http://")) || r.contains('#') {
                self.err(
                    "/protected_resource/resource",
                    "must be an http(s) URL without a fragment (RFC 9728 §1.2)",
                );
            }
        }
        let authorization_servers = spec.authorization_servers.unwrap_or_else(|| {
            let mut v: Vec<String> = Vec::new();
            for i in issuers {
                if !v.iter().any(|x| x == i) {
                    v.push(i.to_string());
                }
            }
            v
        });
        if authorization_servers.is_empty() {
            self.err(
                "/protected_resource/authorization_servers",
                "name at least one authorization server, or a provider with an issuer",
            );
        }
        let scopes_supported = spec.scopes_supported.unwrap_or_else(|| {
            let mut v: Vec<String> = Vec::new();
            let all = routes
                .iter()
                .flat_map(|r| &r.scopes)
                .chain(rules.iter().flat_map(|r| &r.scopes));
            for s in all {
                if !v.contains(s) {
                    v.push(s.clone());
                }
            }
            v
        });
        Some(ProtectedResource {
            resource: spec.resource,
            resource_name: spec.resource_name,
            authorization_servers,
            scopes_supported,
        })
    }
}
