//! Every way a call can fail, as one flat enum with a stable code; [`Error::status`] is the
//! one place codes become HTTP statuses. Messages say what to fix and never carry a token,
//! a key or a database error's text (those go to the service's stderr).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pci_guard_core::reason::Reason;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// 400: the input is wrong; nothing was changed.
    BadRequest { code: &'static str, message: String },
    /// 401: no token, or a token that does not verify.
    Unauthenticated(Reason),
    /// 403: a verified caller that may not do this.
    Forbidden { code: &'static str, message: String },
    /// 404: no such request or grant (or not one this caller may see).
    NotFound,
    /// 409: the request or grant is not in a state that allows this.
    Conflict { code: &'static str, message: String },
    /// 413: the body is larger than any valid call.
    TooLarge,
    /// 503: the database cannot be reached; nothing was changed, retry.
    Unavailable,
    /// 500: a bug or an environment failure (no randomness, no signing key).
    Internal(&'static str),
}

impl Error {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code, for clients and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. } => code,
            Error::Unauthenticated(r) => r.as_str(),
            Error::NotFound => "not_found",
            Error::TooLarge => "body_too_large",
            Error::Unavailable => "database_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::BadRequest { message, .. }
            | Error::Forbidden { message, .. }
            | Error::Conflict { message, .. } => message.clone(),
            Error::Unauthenticated(Reason::TokenMissing) => {
                "send your access token: Authorization: Bearer <token>".into()
            }
            Error::Unauthenticated(r) => format!("the access token was refused: {}", r.as_str()),
            Error::NotFound => "no such request or grant visible to you".into(),
            Error::TooLarge => "the body is larger than any valid call".into(),
            Error::Unavailable => {
                "the database is unavailable; nothing was changed, try again shortly".into()
            }
            Error::Internal(what) => format!("internal error: {what}"),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        // The text can name hosts and users: stderr only, never the client.
        eprintln!("pci-guard-approvals: database error: {e}");
        Error::Unavailable
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = axum::Json(json!({"error": self.code(), "message": self.message()}));
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        if let Error::Unauthenticated(r) = &self {
            let v = if *r == Reason::TokenMissing {
                "Bearer realm=\"pci-guard-approvals\"".to_string()
            } else {
                format!(
                    "Bearer realm=\"pci-guard-approvals\", error=\"invalid_token\", error_description=\"{}\"",
                    r.as_str()
                )
            };
            if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
                h.insert(axum::http::header::WWW_AUTHENTICATE, v);
            }
        }
        if self == Error::Unavailable {
            h.insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}
