//! The local reply for a denied request: built here, sent by the glue.
//!
//! HTTP callers get jwt_authn's conventions (401 + `WWW-Authenticate: Bearer`, RFC 6750
//! `error="invalid_token"` for bad tokens) and a small JSON body; gRPC callers get a
//! trailers-only answer with the status Envoy itself would map the HTTP code to. Bodies hold
//! the stable reason, the rule id and the request id, never anything the caller sent.

use crate::reason::{AnswerKind, Reason};
use serde::Serialize;

/// Header carrying the reason on every local reply, like Envoy's response code details.
pub const REASON_HEADER: &str = "x-pci-guard-reason";
/// Header carrying the id of the rule that decided, when one did.
pub const RULE_HEADER: &str = "x-pci-guard-rule";

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

/// What the caller is told beyond the reason.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    pub realm: &'a str,
    pub request_id: Option<&'a str>,
    pub rule: Option<&'a str>,
    /// The operator's message for a rule (policy text, never request data).
    pub message: Option<&'a str>,
    /// For `approval_required`: the scopes a grant must cover, so a client can ask for one.
    pub needs_scopes: &'a [String],
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
}

/// Builds the reply for a reason that denies. `grpc` is true for `application/grpc*` requests.
pub fn answer(reason: Reason, grpc: bool, cx: &Context<'_>) -> Answer {
    let message = cx.message.unwrap_or(reason.description());
    let mut meta: Vec<(&'static str, String)> = vec![(REASON_HEADER, reason.as_str().to_string())];
    if let Some(rule) = cx.rule {
        meta.push((RULE_HEADER, rule.to_string()));
    }
    let challenge = match reason.kind() {
        AnswerKind::Unauthenticated => Some(format!("Bearer realm=\"{}\"", cx.realm)),
        AnswerKind::InvalidToken => Some(format!(
            "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
            cx.realm,
            reason.description()
        )),
        _ => None,
    };
    if let Some(c) = challenge {
        meta.push(("www-authenticate", c));
    }
    if grpc {
        return Answer::Grpc {
            status: reason.grpc_status(),
            message: message.to_string(),
            metadata: meta,
        };
    }
    let body = Body {
        error: reason.as_str(),
        message,
        rule: cx.rule,
        request_id: cx.request_id,
        required_scopes: cx.needs_scopes,
    };
    let mut body = serde_json::to_vec(&body).unwrap_or_default();
    body.push(b'\n');
    meta.push(("content-type", "application/json".to_string()));
    Answer::Http {
        status: reason.http_status(),
        headers: meta,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
        let h = match a {
            Answer::Http { headers, .. } => headers,
            Answer::Grpc { metadata, .. } => metadata,
        };
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn missing_token_gets_a_bare_bearer_challenge() {
        let a = answer(
            Reason::TokenMissing,
            false,
            &Context {
                realm: "payments",
                ..Default::default()
            },
        );
        assert!(matches!(a, Answer::Http { status: 401, .. }));
        assert_eq!(
            header(&a, "www-authenticate"),
            Some("Bearer realm=\"payments\"")
        );
    }

    #[test]
    fn invalid_token_says_invalid_token_per_rfc6750() {
        let a = answer(
            Reason::TokenExpired,
            false,
            &Context {
                realm: "p",
                ..Default::default()
            },
        );
        assert_eq!(
            header(&a, "www-authenticate"),
            Some("Bearer realm=\"p\", error=\"invalid_token\", error_description=\"the token has expired\"")
        );
    }

    #[test]
    fn forbidden_body_names_reason_rule_and_request_id() {
        let cx = Context {
            realm: "p",
            request_id: Some("r-1"),
            rule: Some("no-card-delete"),
            message: Some("Deleting cards is not allowed"),
            ..Default::default()
        };
        let Answer::Http { status, body, .. } = answer(Reason::RuleDenied, false, &cx) else {
            panic!()
        };
        assert_eq!(status, 403);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "rule_denied");
        assert_eq!(v["rule"], "no-card-delete");
        assert_eq!(v["request_id"], "r-1");
        assert_eq!(v["message"], "Deleting cards is not allowed");
    }

    #[test]
    fn grpc_callers_get_envoy_mapped_status_codes() {
        let cx = Context::default();
        assert!(matches!(
            answer(Reason::TokenMissing, true, &cx),
            Answer::Grpc { status: 16, .. }
        ));
        assert!(matches!(
            answer(Reason::ScopeMissing, true, &cx),
            Answer::Grpc { status: 7, .. }
        ));
        assert!(matches!(
            answer(Reason::TokenBadAudience, true, &cx),
            Answer::Grpc { status: 7, .. }
        ));
    }
}
