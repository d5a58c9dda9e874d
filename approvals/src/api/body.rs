//! Request bodies: JSON parsed by hand from the raw bytes, so malformed, oversized and
//! unknown-field bodies all get the service's own 4xx JSON rather than the framework's text.

use crate::error::Error;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// The body as `T`; an empty body is `T::default()` when `empty_ok`.
pub fn json<T: DeserializeOwned + Default>(
    body: Result<Bytes, BytesRejection>,
    empty_ok: bool,
) -> Result<T, Error> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge
        } else {
            Error::bad("unreadable_body", "the body could not be read")
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(T::default())
        } else {
            Err(Error::bad(
                "malformed_json",
                "the body must be a JSON object",
            ))
        };
    }
    serde_json::from_slice(&body).map_err(|e| {
        Error::bad(
            "malformed_json",
            format!("the body is not the expected JSON: {e}"),
        )
    })
}

/// Free text from a person (justification, comment): trimmed, no control characters other
/// than newline and tab, at most `max` bytes. `None`: absent or blank.
pub fn text(
    s: Option<String>,
    max: usize,
    field: &'static str,
    too_long: &'static str,
) -> Result<Option<String>, Error> {
    let Some(s) = s else {
        return Ok(None);
    };
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > max {
        return Err(Error::bad(
            too_long,
            format!("{field} is {} bytes; at most {max}", s.len()),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::bad(
            "bad_text",
            format!("{field} holds control characters"),
        ));
    }
    Ok(Some(s.to_owned()))
}
