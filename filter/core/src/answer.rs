//! The local reply for a denied request: built here, sent by the glue.
//!
//! HTTP callers get jwt_authn's conventions (401 + `WWW-Authenticate: Bearer`, RFC 6750
//! `error="invalid_token"` for bad tokens, `error="insufficient_scope", scope="…"` when a
//! scope or grant is missing) and a small JSON body; gRPC callers get a trailers-only answer
//! with the status Envoy itself would map the HTTP code to. Callers of operations are
//! answered in their own protocol, at the same HTTP status: a JSON-RPC error object per call
//! (keeping each request's `id`), or a GraphQL `errors` array. When the policy publishes
//! protected-resource metadata, every challenge names it (`resource_metadata="…"`, RFC 9728
//! §5.1), as MCP's authorization specification asks. Bodies hold the stable reason, the rule
//! id, the request id and what grant would help, never anything the caller sent.

use crate::operation::RpcId;
use crate::reason::{AnswerKind, Reason};
use serde::Serialize;

/// Header carrying the reason on every local reply, like Envoy's response code details.
pub const REASON_HEADER: &str = "x-pci-guard-reason";
/// Header carrying the id of the rule that decided, when one did.
pub const RULE_HEADER: &str = "x-pci-guard-rule";
/// gRPC trailer carrying the access-request hint (the HTTP body's `access_request`) as JSON.
pub const ACCESS_REQUEST_TRAILER: &str = "x-pci-guard-access-request";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Http {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    Grpc {
        status: u32,
        message: String,
        metadata: Vec<(&'static str, String)>,
    },
}

/// The protocol the caller speaks, which the answer's body takes.
#[derive(Debug, Default, Clone, Copy)]
pub enum Form<'a> {
    #[default]
    Http,
    /// `application/grpc*`: a trailers-only answer.
    Grpc,
    /// JSON-RPC error objects, one per call that has an id (an array for a batch).
    JsonRpc {
        calls: &'a [RpcDenial<'a>],
        batch: bool,
    },
    /// A GraphQL response with an `errors` array.
    GraphQl,
}

/// Why one JSON-RPC call of a denied request did not run.
#[derive(Debug, Clone, Copy)]
pub struct RpcDenial<'a> {
    /// `None` for a notification (it gets no answer of its own).
    pub id: Option<&'a RpcId>,
    pub reason: Reason,
    pub rule: Option<&'a str>,
    /// The operator's message for the rule.
    pub message: Option<&'a str>,
}

/// What would let a call through: the grant to ask the access-request system for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AccessRequest<'a> {
    pub scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a str>,
    pub max_ttl_seconds: u64,
    pub min_approvals: u32,
    /// The approvals service's `POST` endpoint for access requests, when the policy names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    /// A body for `url`, filled in for this request but the justification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a serde_json::Value>,
}

/// What the caller is told beyond the reason.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    pub realm: &'a str,
    pub request_id: Option<&'a str>,
    pub rule: Option<&'a str>,
    /// The operator's message for a rule (policy text, never request data).
    pub message: Option<&'a str>,
    /// The scopes a token or grant must carry (a scope or grant was missing), so a client can
    /// ask for them.
    pub needs_scopes: &'a [String],
    /// The protected-resource metadata URL challenges name (RFC 9728 §5.1).
    pub resource_metadata: Option<&'a str>,
    /// For approval and grant reasons: the grant that would do.
    pub access_request: Option<AccessRequest<'a>>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    required_scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    access_request: Option<AccessRequest<'a>>,
}

/// JSON-RPC's `error.data` and GraphQL's `extensions`: the same facts under another name.
#[derive(Serialize)]
struct Details<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    required_scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    access_request: Option<AccessRequest<'a>>,
}

/// The `WWW-Authenticate` challenge for `reason`, if it calls for one.
fn challenge(reason: Reason, cx: &Context<'_>) -> Option<String> {
    let mut c = match reason.kind() {
        AnswerKind::Unauthenticated => format!("Bearer realm=\"{}\"", cx.realm),
        AnswerKind::InvalidToken => format!(
            "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
            cx.realm,
            reason.description()
        ),
        AnswerKind::Forbidden if !cx.needs_scopes.is_empty() => format!(
            "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
            cx.realm,
            cx.needs_scopes.join(" ")
        ),
        _ => return None,
    };
    if let Some(url) = cx.resource_metadata {
        c.push_str(&format!(", resource_metadata=\"{url}\""));
    }
    Some(c)
}

/// Builds the reply for a reason that denies, in the caller's `form`.
pub fn answer(reason: Reason, form: Form<'_>, cx: &Context<'_>) -> Answer {
    let message = cx.message.unwrap_or(reason.description());
    let mut meta: Vec<(&'static str, String)> = vec![(REASON_HEADER, reason.as_str().to_string())];
    if let Some(rule) = cx.rule {
        meta.push((RULE_HEADER, rule.to_string()));
    }
    if let Some(c) = challenge(reason, cx) {
        meta.push(("www-authenticate", c));
    }
    let details = |reason: Reason, code: Option<&'static str>| Details {
        code,
        reason: reason.as_str(),
        rule: cx.rule,
        request_id: cx.request_id,
        required_scopes: cx.needs_scopes,
        access_request: cx.access_request,
    };
    let body = match form {
        Form::Grpc => {
            // Metadata values are printable ASCII; a hint that is not stays out.
            if let Some(hint) = cx
                .access_request
                .and_then(|h| serde_json::to_string(&h).ok())
                .filter(|j| j.bytes().all(|b| (0x20..0x7f).contains(&b)))
            {
                meta.push((ACCESS_REQUEST_TRAILER, hint));
            }
            return Answer::Grpc {
                status: reason.grpc_status(),
                message: message.to_string(),
                metadata: meta,
            };
        }
        Form::Http => serde_json::to_vec(&Body {
            error: reason.as_str(),
            message,
            rule: cx.rule,
            request_id: cx.request_id,
            required_scopes: cx.needs_scopes,
            access_request: cx.access_request,
        }),
        Form::GraphQl => serde_json::to_vec(&serde_json::json!({
            "errors": [{
                "message": message,
                "extensions": details(reason, Some(graphql_code(reason))),
            }]
        })),
        Form::JsonRpc { calls, batch } => {
            let one = |c: &RpcDenial<'_>| {
                let mut d = details(c.reason, None);
                d.rule = c.rule;
                serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": c.id.map_or(serde_json::Value::Null, RpcId::to_json),
                    "error": {
                        "code": rpc_code(c.reason),
                        "message": c.message.unwrap_or(c.reason.description()),
                        "data": d,
                    }
                })
            };
            let answered: Vec<serde_json::Value> =
                calls.iter().filter(|c| c.id.is_some()).map(one).collect();
            let top = match (batch, answered.len()) {
                (true, n) if n > 0 => serde_json::Value::Array(answered),
                (false, 1) => answered.into_iter().next().unwrap_or_default(),
                // Only notifications: one error with a null id still says why.
                _ => one(&RpcDenial {
                    id: None,
                    reason,
                    rule: cx.rule,
                    message: cx.message,
                }),
            };
            serde_json::to_vec(&top)
        }
    };
    let mut body = body.unwrap_or_default();
    body.push(b'\n');
    meta.push(("content-type", "application/json".to_string()));
    Answer::Http {
        status: reason.http_status(),
        headers: meta,
        body,
    }
}

/// The JSON-RPC error code: the implementation-defined server range (-32000 to -32099) for
/// authentication and authorization, the spec's own codes for what is wrong with a request.
fn rpc_code(reason: Reason) -> i32 {
    match reason.kind() {
        AnswerKind::Unauthenticated | AnswerKind::InvalidToken => -32001,
        AnswerKind::Forbidden => -32003,
        AnswerKind::BadRequest | AnswerKind::PayloadTooLarge | AnswerKind::UnsupportedMediaType => {
            -32600
        }
        AnswerKind::Allow | AnswerKind::BadGateway | AnswerKind::Unavailable => -32603,
    }
}

/// The `extensions.code` GraphQL servers conventionally use.
fn graphql_code(reason: Reason) -> &'static str {
    match reason.kind() {
        AnswerKind::Unauthenticated | AnswerKind::InvalidToken => "UNAUTHENTICATED",
        AnswerKind::Forbidden => "FORBIDDEN",
        AnswerKind::BadRequest | AnswerKind::PayloadTooLarge | AnswerKind::UnsupportedMediaType => {
            "BAD_REQUEST"
        }
        AnswerKind::Allow | AnswerKind::BadGateway | AnswerKind::Unavailable => {
            "INTERNAL_SERVER_ERROR"
        }
    }
}

#[cfg(test)]
mod tests;
