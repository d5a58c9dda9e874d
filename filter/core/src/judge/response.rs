//! The response entry: from the response headers to what happens to the body.

use super::edits::HeaderEdit;
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
    let mut edits = Vec::new();
    if let Some(loc) = headers.get("location") {
        if let Some(masked) = redact::redact_header_value(&plan.options, loc) {
            edits.push(HeaderEdit {
                name: "location".to_string(),
                value: Some(masked),
            });
        }
    }
    if end_of_stream {
        return ResponseStart {
            edits,
            body: BodyPlan::Pass,
        };
    }
    let kind = redact::classify(headers.get("content-type"), &plan.skip_content_types);
    let decoder = match kind {
        BodyKind::Pass => Ok(None),
        BodyKind::Refuse => Err(()),
        BodyKind::Grpc => Ok(None),
        BodyKind::Scan => match Encoding::from_header(headers.get("content-encoding")) {
            Ok(Encoding::Identity) => Ok(None),
            Ok(enc) => Ok(Some(Decoder::new(enc))),
            Err(_) => Err(()),
        },
    };
    let body = match (kind, decoder) {
        (BodyKind::Pass, _) => BodyPlan::Pass,
        (_, Err(())) => {
            let reason = Reason::BodyUndecodable;
            let cx = answer::Context {
                realm: REALM,
                request_id,
                ..Default::default()
            };
            BodyPlan::Refuse {
                reason,
                reply: answer::answer(reason, plan.grpc, &cx),
            }
        }
        (kind, Ok(decoder)) => {
            if decoder.is_some() {
                // Passed on decoded: the length changes and the coding is gone.
                for name in ["content-encoding", "content-length"] {
                    edits.push(HeaderEdit {
                        name: name.to_string(),
                        value: None,
                    });
                }
            }
            BodyPlan::Scan {
                grpc: kind == BodyKind::Grpc,
                decoder,
            }
        }
    };
    ResponseStart { edits, body }
}
