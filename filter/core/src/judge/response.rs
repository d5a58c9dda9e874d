//! The response entry: from the response headers to what happens to the body.

use super::edits::{self, HeaderEdit};
use super::REALM;
use crate::answer::{self, Answer};
use crate::headers::Headers;
use crate::reason::Reason;
use crate::redact::{self, BodyKind, Decoder, Encoding, RedactOptions};
use std::sync::Arc;

/// How a request's response is treated: decided with the request, used when its headers come.
#[derive(Debug, Clone)]
pub struct ResponsePlan {
    pub options: Arc<RedactOptions>,
    pub skip_content_types: Vec<String>,
    /// The request was gRPC (answers and framing follow gRPC's).
    pub grpc: bool,
}

/// What to do with the body.
#[derive(Debug)]
pub enum BodyPlan {
    /// Pass it as it is (no body, or a content type that is not scanned).
    Pass,
    /// Scan it as it streams; `grpc` follows gRPC's message framing; `decoder` decodes a
    /// compressed body first (it then goes out decoded).
    Scan {
        grpc: bool,
        decoder: Option<Decoder>,
        /// `text/event-stream`: each event is scanned on its own and goes out with the
        /// chunk that completes it (nothing is held across an event's end).
        events: bool,
    },
    /// It cannot be scanned (unknown encoding, a type that must be scanned but cannot):
    /// answer `reply` instead and never pass the body on.
    Refuse { reason: Reason, reply: Answer },
}

/// The outcome of [`response`].
#[derive(Debug)]
pub struct ResponseStart {
    /// Response header edits: card data masked in header values, and the coding headers
    /// dropped when the body goes out decoded.
    pub edits: Vec<HeaderEdit>,
    pub body: BodyPlan,
}

/// Judges the response headers of a request that went upstream with `plan`.
/// `end_of_stream`: the response has no body. `request_id` goes into a refusal's body.
pub fn response<H: Headers + ?Sized>(
    plan: &ResponsePlan,
    headers: &H,
    end_of_stream: bool,
    request_id: Option<&str>,
) -> ResponseStart {
    // Every header value, not only `location`: debug headers, cookies, links and the
    // trailers-only answers of gRPC all carry what the upstream put there.
    let mut edits = edits::masked(&plan.options, headers);
    if end_of_stream {
        return ResponseStart {
            edits,
            body: BodyPlan::Pass,
        };
    }
    let refuse = |reason: Reason| {
        let cx = answer::Context {
            realm: REALM,
            request_id,
            ..Default::default()
        };
        BodyPlan::Refuse {
            reason,
            reply: answer::answer(reason, answer_form(plan.grpc), &cx),
        }
    };
    if is_partial(headers) {
        return ResponseStart {
            edits,
            body: refuse(Reason::BodyPartial),
        };
    }
    let kind = body_kind(headers, &plan.skip_content_types);
    let decoder = match kind {
        BodyKind::Pass | BodyKind::Grpc => Ok(None),
        BodyKind::Refuse => Err(()),
        BodyKind::Scan => match Encoding::from_header(headers.get("content-encoding")) {
            Ok(Encoding::Identity) => Ok(None),
            Ok(enc) => Ok(Some(Decoder::new(enc))),
            Err(_) => Err(()),
        },
    };
    let body = match (kind, decoder) {
        (BodyKind::Pass, _) => BodyPlan::Pass,
        (_, Err(())) => refuse(Reason::BodyUndecodable),
        (kind, Ok(decoder)) => {
            if decoder.is_some() {
                // Passed on decoded: the length changes and the coding is gone.
                for name in ["content-encoding", "content-length"] {
                    edits.push(HeaderEdit::Remove {
                        name: name.to_string(),
                    });
                }
            }
            BodyPlan::Scan {
                grpc: kind == BodyKind::Grpc,
                decoder,
                events: is_event_stream(headers),
            }
        }
    };
    ResponseStart { edits, body }
}

fn answer_form(grpc: bool) -> answer::Form<'static> {
    if grpc {
        answer::Form::Grpc
    } else {
        answer::Form::Http
    }
}

/// The edits that mask card data in a response's trailers (HTTP/2 trailers, gRPC's
/// `grpc-status`/`grpc-message`).
pub fn trailers<H: Headers + ?Sized>(plan: &ResponsePlan, trailers: &H) -> Vec<HeaderEdit> {
    edits::masked(&plan.options, trailers)
}

/// `content-type: text/event-stream` (Server-Sent Events), given once.
fn is_event_stream<H: Headers + ?Sized>(headers: &H) -> bool {
    let mut all = headers.get_all("content-type");
    let first = all.next();
    all.next().is_none()
        && first.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

/// A 206, or a body of ranges: part of a resource, which cannot be inspected whole.
fn is_partial<H: Headers + ?Sized>(headers: &H) -> bool {
    headers.get(":status") == Some("206")
        || headers.get_all("content-type").any(|ct| {
            ct.trim_start()
                .get(..20)
                .is_some_and(|t| t.eq_ignore_ascii_case("multipart/byteranges"))
        })
}

/// How to treat the body when the content type is given once, several times, or as a list:
/// the client may believe any of them, so the body passes unscanned only if every one says so,
/// and the strictest reading wins (refuse, then scan, then gRPC framing).
fn body_kind<H: Headers + ?Sized>(headers: &H, skip: &[String]) -> BodyKind {
    let mut kinds = headers
        .get_all("content-type")
        .flat_map(|v| v.split(','))
        .map(|ct| redact::classify(Some(ct.trim()), skip))
        .peekable();
    if kinds.peek().is_none() {
        return redact::classify(None, skip);
    }
    let all: Vec<BodyKind> = kinds.collect();
    if all.len() == 1 {
        return all[0];
    }
    if all.contains(&BodyKind::Refuse) {
        BodyKind::Refuse
    } else if all.iter().any(|k| *k != BodyKind::Pass) {
        BodyKind::Scan
    } else {
        BodyKind::Pass
    }
}
