//! Why a request was allowed, denied or refused: one flat enum, its stable strings, and its
//! mapping to HTTP and gRPC answers.
//!
//! Like Envoy's jwt_authn `Status`, every outcome anywhere in the core is one of these values.
//! Only [`Reason::http_status`] and [`Reason::grpc_status`] turn them into answers, and the
//! same stable string ([`Reason::as_str`]) is what audit events, metrics and response bodies
//! carry. Each reason is declared once, in one row of the table below (its variant, stable
//! string, kind of answer and description); the enum, [`Reason::ALL`] and every mapping are
//! generated from that row, so none can miss a reason.

use serde::{Serialize, Serializer};

/// Generates [`Reason`], [`Reason::ALL`], [`Reason::as_str`], [`Reason::kind`] and
/// [`Reason::description`] from one row per reason:
/// `Variant => "stable_string", AnswerKind, "description";`.
macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident => $str:literal, $kind:ident, $description:literal;)*) => {
        /// Every outcome of judging a request or its response.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
        }

        impl Reason {
            /// Every reason, in declaration order (metrics define one counter each, in this
            /// order).
            pub const ALL: [Reason; [$(Reason::$variant),*].len()] = [$(Reason::$variant),*];

            /// The stable string used in audit events, metrics, response bodies and
            /// `x-pci-guard-reason`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $str,)*
                }
            }

            /// What kind of answer the reason calls for.
            pub const fn kind(self) -> AnswerKind {
                match self {
                    $(Reason::$variant => AnswerKind::$kind,)*
                }
            }

            /// A short human sentence for `error_description` / `grpc-message`. Never holds
            /// request data.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Reason::$variant => $description,)*
                }
            }
        }
    };
}

reasons! {
    /// Allowed: every check passed.
    Ok => "ok", Allow, "allowed";
    /// Allowed without a token: the route is explicitly `public`.
    Public => "public", Allow, "public route";
    /// Answered by the filter itself: the RFC 9728 protected-resource metadata.
    ResourceMetadata => "resource_metadata", Allow, "protected-resource metadata";

    // Identity.
    TokenMissing => "token_missing", Unauthenticated, "a bearer token is required";
    TokenMalformed => "token_malformed", InvalidToken, "the token is malformed";
    TokenBadSignature => "token_bad_signature", InvalidToken, "the token signature is invalid";
    TokenExpired => "token_expired", InvalidToken, "the token has expired";
    TokenNotYetValid => "token_not_yet_valid", InvalidToken, "the token is not yet valid";
    TokenUnknownKid => "token_unknown_kid", InvalidToken,
        "the token was signed by an unknown key";
    TokenBadIssuer => "token_bad_issuer", InvalidToken, "the token issuer is not accepted";
    TokenAlgNotAllowed => "token_alg_not_allowed", InvalidToken,
        "the token algorithm is not allowed";
    TokenTooOld => "token_too_old", InvalidToken, "the token is too old";
    TokenMissingExp => "token_missing_exp", InvalidToken, "the token has no expiration";
    TokenLifetimeTooLong => "token_lifetime_too_long", InvalidToken,
        "the token lifetime exceeds the allowed maximum";
    TokenIssuedInFuture => "token_issued_in_future", InvalidToken,
        "the token was issued in the future";
    TokenTooLarge => "token_too_large", InvalidToken, "the token is too large";
    TokenUnsupportedHeader => "token_unsupported_header", InvalidToken,
        "the token header uses an unsupported feature";
    TokenBadSubject => "token_bad_subject", InvalidToken, "the token subject is not accepted";
    /// The token's audience matches none of the provider's: 403, like jwt_authn.
    TokenBadAudience => "token_bad_audience", Forbidden, "the token audience is not allowed";
    /// No usable keys for the provider (never fetched, or stale past `max_stale`). Like
    /// jwt_authn, an invalid token: without keys no token can be proven valid.
    JwksUnavailable => "jwks_unavailable", InvalidToken, "signing keys are unavailable";

    // Authorization.
    ScopeMissing => "scope_missing", Forbidden, "a required scope is missing";
    JitMissing => "jit_missing", Forbidden, "a just-in-time grant is required";
    JitExpired => "jit_expired", Forbidden, "the just-in-time grant has expired";
    JitNotYetValid => "jit_not_yet_valid", Forbidden, "the just-in-time grant is not yet valid";
    JitTtlExceeded => "jit_ttl_exceeded", Forbidden,
        "the just-in-time grant lasts longer than allowed";
    JitSelfApproved => "jit_self_approved", Forbidden,
        "the just-in-time grant was approved by its own holder";
    JitTooFewApprovals => "jit_too_few_approvals", Forbidden,
        "the just-in-time grant has too few approvals";
    JitApproverNotAllowed => "jit_approver_not_allowed", Forbidden,
        "the just-in-time grant was approved by someone not allowed to";
    /// The caller's token has no subject that approvals can be compared with.
    JitNoSubject => "jit_no_subject", Forbidden,
        "a just-in-time grant needs a caller with a subject";
    JitScopeNotGranted => "jit_scope_not_granted", Forbidden,
        "the just-in-time grant does not cover the required scope";
    /// The grant header holds no grant the approvals service signed for this filter
    /// (malformed, bad signature, unknown key, wrong `typ`, `iss` or `aud`).
    GrantInvalid => "grant_invalid", Forbidden, "the grant is not valid";
    /// The grant's `sub_id` is not the verified caller's issuer and subject.
    GrantWrongSubject => "grant_wrong_subject", Forbidden, "the grant was issued to another caller";
    /// The grant's `authorization_details` do not cover this rule or route and operation.
    GrantNotForOperation => "grant_not_for_operation", Forbidden,
        "the grant does not cover this operation";
    GrantRevoked => "grant_revoked", Forbidden, "the grant was revoked";
    /// The approvals service's signing keys were never fetched, or are past `max_stale`.
    GrantKeysUnavailable => "grant_keys_unavailable", Unavailable,
        "the approvals service's signing keys are unavailable";
    /// The revocation list is older than its `max_stale`: no grant from the header counts,
    /// since a revoked one could not be told apart.
    GrantRevocationsStale => "grant_revocations_stale", Unavailable,
        "the grant revocation list is out of date";
    RuleDenied => "rule_denied", Forbidden, "the operation is blocked by policy";
    ApprovalRequired => "approval_required", Forbidden,
        "the operation requires an approved just-in-time grant";
    NoRoute => "no_route", Forbidden, "no policy route matches the request";
    /// A JSON-RPC batch (or batched GraphQL) with a call that is denied: no call of it runs.
    OperationBatchDenied => "operation_batch_denied", Forbidden,
        "a call in the batch is denied, so none of it runs";

    // Request shape.
    PathRejected => "path_rejected", BadRequest, "the request path is not in canonical form";
    /// `X-HTTP-Method-Override` and kin: the method a rule sees must be the one served.
    MethodOverride => "method_override", BadRequest, "method-override headers are not accepted";
    /// A body read for its operation that is not valid JSON-RPC or GraphQL, or that servers
    /// could read two ways (a repeated key, a key spelt with other letter cases).
    OperationMalformed => "operation_malformed", BadRequest,
        "the request body is not an operation the filter can read unambiguously";
    /// A GraphQL document with several operations and no `operationName`.
    OperationAmbiguous => "operation_ambiguous", BadRequest,
        "the GraphQL document has several operations and no operationName";
    OperationContentType => "operation_content_type", UnsupportedMediaType,
        "the request body's content type is not one operations are read from";
    /// A body the decision depends on is larger than `operations.max_body_bytes`.
    BodyTooLarge => "body_too_large", PayloadTooLarge,
        "the request body is larger than the filter reads";

    // Response body.
    BodyUndecodable => "body_undecodable", BadGateway,
        "the upstream response could not be decoded for inspection";
    BodyScanFailed => "body_scan_failed", BadGateway,
        "the upstream response could not be inspected";
    /// A 206 or `multipart/byteranges` answer on a scanned route: a card split across two
    /// ranges would pass each half in clear, so only whole bodies are served there.
    BodyPartial => "body_partial", BadGateway,
        "a partial response cannot be inspected whole";

    /// Envoy refused the request before the filter saw it (a malformed request, an encoded
    /// slash, headers too large): recorded so that every request has an event.
    RefusedBeforeFilter => "refused_before_filter", BadRequest,
        "the request was refused before the filter saw it";

    /// The filter could not judge the request (no valid policy loaded, internal error):
    /// fail closed with 503, as Istio's FAIL_CLOSE does.
    FilterUnavailable => "filter_unavailable", Unavailable, "the access policy is unavailable";
}

/// What kind of answer a reason calls for; the glue picks headers and bodies from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Allow,
    /// 401 with `WWW-Authenticate: Bearer realm=…` and no `error` (RFC 6750 §3.1).
    Unauthenticated,
    /// 401 with `WWW-Authenticate: Bearer realm=…, error="invalid_token"`.
    InvalidToken,
    Forbidden,
    BadRequest,
    /// 413: a body too large to judge.
    PayloadTooLarge,
    /// 415: a body in a content type the decision cannot read.
    UnsupportedMediaType,
    BadGateway,
    Unavailable,
}

impl Reason {
    pub const fn is_allow(self) -> bool {
        matches!(self.kind(), AnswerKind::Allow)
    }

    /// HTTP status of the local reply (0 for allow: no reply).
    pub const fn http_status(self) -> u16 {
        match self.kind() {
            AnswerKind::Allow => 0,
            AnswerKind::Unauthenticated | AnswerKind::InvalidToken => 401,
            AnswerKind::Forbidden => 403,
            AnswerKind::BadRequest => 400,
            AnswerKind::PayloadTooLarge => 413,
            AnswerKind::UnsupportedMediaType => 415,
            AnswerKind::BadGateway => 502,
            AnswerKind::Unavailable => 503,
        }
    }

    /// gRPC status of the trailers-only reply, matching Envoy's HTTP→gRPC mapping.
    pub const fn grpc_status(self) -> u32 {
        match self.kind() {
            AnswerKind::Allow => 0,
            AnswerKind::Unauthenticated | AnswerKind::InvalidToken => 16, // UNAUTHENTICATED
            AnswerKind::Forbidden => 7,                                   // PERMISSION_DENIED
            AnswerKind::BadRequest | AnswerKind::UnsupportedMediaType => 3, // INVALID_ARGUMENT
            AnswerKind::PayloadTooLarge => 8,                             // RESOURCE_EXHAUSTED
            AnswerKind::BadGateway => 13,                                 // INTERNAL
            AnswerKind::Unavailable => 14,                                // UNAVAILABLE
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_reason_has_a_unique_snake_case_string() {
        let mut seen = HashSet::new();
        for r in Reason::ALL {
            let s = r.as_str();
            assert!(seen.insert(s), "duplicate reason string {s}");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn answers_follow_jwt_authn_and_envoy_grpc_mapping() {
        assert_eq!(Reason::TokenMissing.http_status(), 401);
        assert_eq!(Reason::TokenExpired.kind(), AnswerKind::InvalidToken);
        assert_eq!(Reason::TokenBadAudience.http_status(), 403);
        assert_eq!(Reason::TokenBadAudience.grpc_status(), 7);
        assert_eq!(Reason::TokenBadSignature.grpc_status(), 16);
        assert_eq!(Reason::PathRejected.http_status(), 400);
        assert_eq!(Reason::BodyUndecodable.http_status(), 502);
        assert_eq!(Reason::FilterUnavailable.grpc_status(), 14);
        assert!(Reason::Ok.is_allow() && Reason::Public.is_allow());
        assert!(!Reason::NoRoute.is_allow());
    }
}
