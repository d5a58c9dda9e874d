//! Why a request was allowed, denied or refused: one flat enum, its stable strings, and its
//! mapping to HTTP and gRPC answers.
//!
//! Like Envoy's jwt_authn `Status`, every outcome anywhere in the core is one of these values.
//! Only [`Reason::http_status`] and [`Reason::grpc_status`] turn them into answers, and the
//! same stable string ([`Reason::as_str`]) is what audit events, metrics and response bodies
//! carry. Adding a variant means adding it to every `match` below: the compiler keeps the
//! mapping complete.

use serde::{Serialize, Serializer};

/// Every outcome of judging a request or its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Allowed: every check passed.
    Ok,
    /// Allowed without a token: the route is explicitly `public`.
    Public,

    // Identity (401 unless noted).
    TokenMissing,
    TokenMalformed,
    TokenBadSignature,
    TokenExpired,
    TokenNotYetValid,
    TokenUnknownKid,
    TokenBadIssuer,
    TokenAlgNotAllowed,
    TokenTooOld,
    TokenMissingExp,
    TokenLifetimeTooLong,
    TokenIssuedInFuture,
    TokenTooLarge,
    TokenUnsupportedHeader,
    TokenBadSubject,
    /// The token's audience matches none of the provider's: 403, like jwt_authn.
    TokenBadAudience,
    /// No usable keys for the provider (never fetched, or stale past `max_stale`).
    JwksUnavailable,

    // Authorization (403).
    ScopeMissing,
    JitMissing,
    JitExpired,
    JitNotYetValid,
    JitTtlExceeded,
    JitSelfApproved,
    JitTooFewApprovals,
    JitApproverNotAllowed,
    JitScopeNotGranted,
    RuleDenied,
    ApprovalRequired,
    NoRoute,

    // Request shape (400).
    PathRejected,
    /// `X-HTTP-Method-Override` and kin: the method a rule sees must be the one served.
    MethodOverride,

    // Response body (502).
    BodyUndecodable,
    BodyScanFailed,

    /// The filter could not judge the request (no valid policy loaded, internal error):
    /// fail closed with 503, as Istio's FAIL_CLOSE does.
    FilterUnavailable,
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
    BadGateway,
    Unavailable,
}

impl Reason {
    /// The stable string used in audit events, metrics, response bodies and `x-pci-guard-reason`.
    pub const fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            Ok => "ok",
            Public => "public",
            TokenMissing => "token_missing",
            TokenMalformed => "token_malformed",
            TokenBadSignature => "token_bad_signature",
            TokenExpired => "token_expired",
            TokenNotYetValid => "token_not_yet_valid",
            TokenUnknownKid => "token_unknown_kid",
            TokenBadIssuer => "token_bad_issuer",
            TokenAlgNotAllowed => "token_alg_not_allowed",
            TokenTooOld => "token_too_old",
            TokenMissingExp => "token_missing_exp",
            TokenLifetimeTooLong => "token_lifetime_too_long",
            TokenIssuedInFuture => "token_issued_in_future",
            TokenTooLarge => "token_too_large",
            TokenUnsupportedHeader => "token_unsupported_header",
            TokenBadSubject => "token_bad_subject",
            TokenBadAudience => "token_bad_audience",
            JwksUnavailable => "jwks_unavailable",
            ScopeMissing => "scope_missing",
            JitMissing => "jit_missing",
            JitExpired => "jit_expired",
            JitNotYetValid => "jit_not_yet_valid",
            JitTtlExceeded => "jit_ttl_exceeded",
            JitSelfApproved => "jit_self_approved",
            JitTooFewApprovals => "jit_too_few_approvals",
            JitApproverNotAllowed => "jit_approver_not_allowed",
            JitScopeNotGranted => "jit_scope_not_granted",
            RuleDenied => "rule_denied",
            ApprovalRequired => "approval_required",
            NoRoute => "no_route",
            PathRejected => "path_rejected",
            MethodOverride => "method_override",
            BodyUndecodable => "body_undecodable",
            BodyScanFailed => "body_scan_failed",
            FilterUnavailable => "filter_unavailable",
        }
    }

    /// Every reason, for tests and docs.
    pub const ALL: [Reason; 36] = {
        use Reason::*;
        [
            Ok,
            Public,
            TokenMissing,
            TokenMalformed,
            TokenBadSignature,
            TokenExpired,
            TokenNotYetValid,
            TokenUnknownKid,
            TokenBadIssuer,
            TokenAlgNotAllowed,
            TokenTooOld,
            TokenMissingExp,
            TokenLifetimeTooLong,
            TokenIssuedInFuture,
            TokenTooLarge,
            TokenUnsupportedHeader,
            TokenBadSubject,
            TokenBadAudience,
            JwksUnavailable,
            ScopeMissing,
            JitMissing,
            JitExpired,
            JitNotYetValid,
            JitTtlExceeded,
            JitSelfApproved,
            JitTooFewApprovals,
            JitApproverNotAllowed,
            JitScopeNotGranted,
            RuleDenied,
            ApprovalRequired,
            NoRoute,
            PathRejected,
            MethodOverride,
            BodyUndecodable,
            BodyScanFailed,
            FilterUnavailable,
        ]
    };

    pub const fn kind(self) -> AnswerKind {
        use Reason::*;
        match self {
            Ok | Public => AnswerKind::Allow,
            TokenMissing => AnswerKind::Unauthenticated,
            TokenMalformed | TokenBadSignature | TokenExpired | TokenNotYetValid
            | TokenUnknownKid | TokenBadIssuer | TokenAlgNotAllowed | TokenTooOld
            | TokenMissingExp | TokenLifetimeTooLong | TokenIssuedInFuture | TokenTooLarge
            | TokenUnsupportedHeader | TokenBadSubject
            // Like jwt_authn: without keys no token can be proven valid.
            | JwksUnavailable => AnswerKind::InvalidToken,
            TokenBadAudience | ScopeMissing | JitMissing | JitExpired | JitNotYetValid
            | JitTtlExceeded | JitSelfApproved | JitTooFewApprovals | JitApproverNotAllowed
            | JitScopeNotGranted | RuleDenied | ApprovalRequired | NoRoute => AnswerKind::Forbidden,
            PathRejected | MethodOverride => AnswerKind::BadRequest,
            BodyUndecodable | BodyScanFailed => AnswerKind::BadGateway,
            FilterUnavailable => AnswerKind::Unavailable,
        }
    }

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
            AnswerKind::BadRequest => 3,                                  // INVALID_ARGUMENT
            AnswerKind::BadGateway => 13,                                 // INTERNAL
            AnswerKind::Unavailable => 14,                                // UNAVAILABLE
        }
    }

    /// A short human sentence for `error_description` / `grpc-message`. Never holds request data.
    pub const fn description(self) -> &'static str {
        use Reason::*;
        match self {
            Ok => "allowed",
            Public => "public route",
            TokenMissing => "a bearer token is required",
            TokenMalformed => "the token is malformed",
            TokenBadSignature => "the token signature is invalid",
            TokenExpired => "the token has expired",
            TokenNotYetValid => "the token is not yet valid",
            TokenUnknownKid => "the token was signed by an unknown key",
            TokenBadIssuer => "the token issuer is not accepted",
            TokenAlgNotAllowed => "the token algorithm is not allowed",
            TokenTooOld => "the token is too old",
            TokenMissingExp => "the token has no expiration",
            TokenLifetimeTooLong => "the token lifetime exceeds the allowed maximum",
            TokenIssuedInFuture => "the token was issued in the future",
            TokenTooLarge => "the token is too large",
            TokenUnsupportedHeader => "the token header uses an unsupported feature",
            TokenBadSubject => "the token subject is not accepted",
            TokenBadAudience => "the token audience is not allowed",
            JwksUnavailable => "signing keys are unavailable",
            ScopeMissing => "a required scope is missing",
            JitMissing => "a just-in-time grant is required",
            JitExpired => "the just-in-time grant has expired",
            JitNotYetValid => "the just-in-time grant is not yet valid",
            JitTtlExceeded => "the just-in-time grant lasts longer than allowed",
            JitSelfApproved => "the just-in-time grant was approved by its own holder",
            JitTooFewApprovals => "the just-in-time grant has too few approvals",
            JitApproverNotAllowed => {
                "the just-in-time grant was approved by someone not allowed to"
            }
            JitScopeNotGranted => "the just-in-time grant does not cover the required scope",
            RuleDenied => "the operation is blocked by policy",
            ApprovalRequired => "the operation requires an approved just-in-time grant",
            NoRoute => "no policy route matches the request",
            PathRejected => "the request path is not in canonical form",
            MethodOverride => "method-override headers are not accepted",
            BodyUndecodable => "the upstream response could not be decoded for inspection",
            BodyScanFailed => "the upstream response could not be inspected",
            FilterUnavailable => "the access policy is unavailable",
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
