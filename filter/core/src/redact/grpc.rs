//! gRPC framing: scanning inside length-prefixed messages.
//!
//! A gRPC body is a sequence of messages, each `flag (1 byte) | length (4 bytes, big-endian)
//! | message`. [`GrpcRedactor`] follows the prefixes and feeds each message's bytes to a
//! [`Redactor`] in protobuf mode (see `pan`: glued length/tag bytes), finishing it at the
//! message's last byte. Lengths never change (masking is length-preserving), so the framing
//! stays valid.
//!
//! **No ambiguity at a boundary**: prefix bytes are emitted as soon as they arrive, and the
//! inner redactor is finished at each message end, so `held() == 0` whenever the input so far
//! ends on a message boundary. The glue relies on this: with HTTP/2 the stream may end with
//! trailers, where body writes are refused; the last DATA frame always ends a message.
//!
//! Fail closed: a compressed message (flag bit 0) cannot be scanned → [`RedactError::GrpcCompressed`];
//! undefined flag bits → [`RedactError::GrpcBadFlags`]; a body ending inside a prefix or a
//! message → [`RedactError::GrpcTruncated`]. After an error every call fails. Flag `0x80`
//! (a gRPC-Web trailer frame) is scanned like a message.

use std::sync::Arc;

use crate::redact::{RedactError, RedactOptions, RedactionCounts, Redactor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a prefix: `have` bytes of it so far.
    Prefix {
        have: usize,
        bytes: [u8; 5],
    },
    /// Inside a message, `remaining` bytes to go.
    Message {
        remaining: u32,
    },
    Failed,
}

/// Redacts a gRPC response body, message by message.
#[derive(Debug)]
pub struct GrpcRedactor {
    inner: Redactor,
    state: State,
    messages: u64,
}

impl GrpcRedactor {
    /// A redactor for one gRPC response stream.
    #[must_use]
    pub fn new(opts: Arc<RedactOptions>) -> Self {
        GrpcRedactor {
            inner: Redactor::new_proto(opts),
            state: State::Prefix {
                have: 0,
                bytes: [0; 5],
            },
            messages: 0,
        }
    }

    /// Scans `input`; appends every final byte to `out`.
    ///
    /// # Errors
    /// Compressed messages, undefined flags, or a call after an earlier error. On error
    /// nothing of the offending message is emitted; the caller must reset the stream.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        while !input.is_empty() {
            match &mut self.state {
                State::Failed => return Err(RedactError::GrpcFailed),
                State::Prefix { have, bytes } => {
                    let take = (5 - *have).min(input.len());
                    bytes[*have..*have + take].copy_from_slice(&input[..take]);
                    *have += take;
                    input = &input[take..];
                    if *have < 5 {
                        break;
                    }
                    let flags = bytes[0];
                    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
                    let prefix = *bytes;
                    if flags & 0x01 != 0 {
                        self.state = State::Failed;
                        return Err(RedactError::GrpcCompressed);
                    }
                    if flags & !0x80 != 0 {
                        self.state = State::Failed;
                        return Err(RedactError::GrpcBadFlags { flags });
                    }
                    out.extend_from_slice(&prefix);
                    self.state = if len == 0 {
                        self.messages += 1;
                        State::Prefix {
                            have: 0,
                            bytes: [0; 5],
                        }
                    } else {
                        State::Message { remaining: len }
                    };
                }
                State::Message { remaining } => {
                    let take = (*remaining as usize).min(input.len());
                    *remaining -= take as u32;
                    let done = *remaining == 0;
                    self.inner.feed(&input[..take], out);
                    input = &input[take..];
                    if done {
                        self.inner.finish(out);
                        self.messages += 1;
                        self.state = State::Prefix {
                            have: 0,
                            bytes: [0; 5],
                        };
                    }
                }
            }
        }
        debug_assert!(!self.at_boundary() || self.inner.held() == 0);
        Ok(())
    }

    /// End of the body.
    ///
    /// # Errors
    /// [`RedactError::GrpcTruncated`] if the body ended inside a prefix or a message (the held
    /// bytes are then dropped, never emitted unscanned); [`RedactError::GrpcFailed`] after an
    /// earlier error.
    pub fn finish(&mut self, _out: &mut Vec<u8>) -> Result<(), RedactError> {
        match self.state {
            State::Prefix { have: 0, .. } => Ok(()),
            State::Prefix { have, .. } => {
                self.state = State::Failed;
                Err(RedactError::GrpcTruncated {
                    missing: (5 - have) as u64,
                })
            }
            State::Message { remaining } => {
                self.state = State::Failed;
                Err(RedactError::GrpcTruncated {
                    missing: u64::from(remaining),
                })
            }
            State::Failed => Err(RedactError::GrpcFailed),
        }
    }

    /// Whether the input so far ends exactly on a message boundary.
    #[must_use]
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Prefix { have: 0, .. })
    }

    /// Bytes held back (0 at every message boundary): the inner redactor's ambiguous tail, or
    /// the part of a prefix read so far (emitted once the prefix is complete). Invariant the
    /// glue relies on: after any `feed`, bytes in == bytes out + `held()`.
    #[must_use]
    pub fn held(&self) -> usize {
        let prefix = match self.state {
            State::Prefix { have, .. } => have,
            _ => 0,
        };
        self.inner.held() + prefix
    }

    /// Complete messages seen.
    #[must_use]
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// What was masked so far (`bytes_scanned` counts message bytes, not prefixes).
    #[must_use]
    pub fn counts(&self) -> RedactionCounts {
        self.inner.counts()
    }
}
