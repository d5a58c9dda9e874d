//! The response body: scanned as it streams, card data masked in place, nothing held but the
//! few bytes that could still be part of a match.
//!
//! Envoy hands the filter each chunk in its body buffer. The engine's output for a chunk is
//! everything that is now final; the ambiguous tail (at most `MAX_HELD` bytes) is kept:
//! - on HTTP/2+ streams (which may end in trailers, where body writes need a buffered body)
//!   by returning `Pause`, which leaves the final bytes in Envoy's buffer (not sent); the next
//!   callback sees the buffer grown by the new chunk, and the filter rewrites it from where
//!   the final bytes end; the trailers callback appends the flushed tail. A plain body also
//!   leaves its raw tail paused at the end of the buffer (only while the buffer holds exactly
//!   the final bytes and that tail: not after a chunk whose tail the engine held itself); a
//!   decoded body's tail stays in the engine, since the buffer holds encoded input;
//! - otherwise inside the filter, flushed by the next callback or the final `end_of_stream`
//!   one: on HTTP/1.x (no trailers reach the filter), or past `MAX_PAUSED` bytes paused (a
//!   bound on what one stream keeps in Envoy's buffer). If trailers come while the filter
//!   holds bytes, the stream is reset: they are never lost or sent in clear.
//!
//! Any error (undecodable body, broken gRPC framing, a write the host refuses) stops the body:
//! the current chunk is emptied and the stream reset. Clear card data never passes.
//!
//! Server-Sent Events (`text/event-stream`, MCP's streamed answers) are scanned event by
//! event: where a chunk completes an event (its blank line), the engine finishes there, so the
//! event goes out whole with that chunk and no context crosses into the next event; only the
//! unfinished event after it may keep a tail.

use super::host::{Action, Host, Level};
use pci_guard_core::reason::Reason;
use pci_guard_core::redact::{
    Decoder, GrpcRedactor, RedactError, RedactOptions, RedactionCounts, Redactor,
};
use std::sync::Arc;

/// Most bytes left paused in Envoy's buffer before the tail is held in the filter instead.
const MAX_PAUSED: usize = 64 * 1024;

/// Scratch capacity a stream keeps between callbacks. Callbacks of one VM run one at a time,
/// so a large chunk's buffers are reused by the next callback of any stream; kept per stream,
/// they added up to a chunk per open stream (the VM's memory never shrinks).
const SCRATCH_KEEP: usize = 16 * 1024;

enum Scanner {
    Text(Redactor),
    Grpc(GrpcRedactor),
}

impl Scanner {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        match self {
            Scanner::Text(r) => {
                r.feed(input, out);
                Ok(())
            }
            Scanner::Grpc(g) => g.feed(input, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        match self {
            Scanner::Text(r) => {
                r.finish(out);
                Ok(())
            }
            Scanner::Grpc(g) => g.finish(out),
        }
    }

    fn held(&self) -> usize {
        match self {
            Scanner::Text(r) => r.held(),
            Scanner::Grpc(g) => g.held(),
        }
    }

    fn counts(&self) -> RedactionCounts {
        match self {
            Scanner::Text(r) => r.counts(),
            Scanner::Grpc(g) => g.counts(),
        }
    }
}

pub struct BodyScan<H: Host> {
    host: H,
    scanner: Scanner,
    decoder: Option<Decoder>,
    /// Bytes at the front of Envoy's buffer the filter has already written and left paused.
    paused: usize,
    /// Of those, how many are final (masked); the rest are the raw ambiguous tail.
    paused_final: usize,
    /// Bytes fed to the scanner and bytes it gave back, since the start of the body: their
    /// difference is what it holds, whatever the engine's own bookkeeping says.
    fed: u64,
    emitted: u64,
    /// Whether the stream can end with trailers (HTTP/2 and later): only then is the tail kept
    /// paused in Envoy's buffer; otherwise the final empty callback flushes it from the filter.
    /// `None` until first needed (asking the host costs a call most responses never need).
    may_pause: Option<bool>,
    /// Reused between callbacks: what the host's buffer holds, read; the output; the
    /// decoded input.
    input: Vec<u8>,
    out: Vec<u8>,
    decoded: Vec<u8>,
    /// Line endings at the end of what was scanned, for `text/event-stream` bodies.
    events: Option<EventEnds>,
    pub failure: Option<Reason>,
}

/// Where Server-Sent Events end: at an empty line, i.e. two line terminators in a row (CRLF,
/// LF or CR each count once), possibly split across chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct EventEnds {
    /// Terminators in a row just seen (0, 1, or 2 and more).
    terminators: u8,
    /// The last byte was a CR (a LF next completes the same terminator).
    after_cr: bool,
}

impl EventEnds {
    /// One past the last byte of `chunk` that completes an event, if any.
    pub fn last_end(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut end = None;
        for (i, &b) in chunk.iter().enumerate() {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' => self.terminators = self.terminators.saturating_add(1).min(2),
                b'\r' => {
                    self.after_cr = true;
                    self.terminators = self.terminators.saturating_add(1).min(2);
                }
                _ => {
                    self.terminators = 0;
                    self.after_cr = false;
                    continue;
                }
            }
            if self.terminators >= 2 {
                end = Some(i + 1);
            }
        }
        end
    }
}

impl<H: Host> BodyScan<H> {
    pub fn new(
        host: H,
        opts: Arc<RedactOptions>,
        grpc: bool,
        decoder: Option<Decoder>,
        may_pause: Option<bool>,
        events: bool,
    ) -> Self {
        let scanner = if grpc {
            Scanner::Grpc(GrpcRedactor::new(opts))
        } else {
            Scanner::Text(Redactor::new(opts))
        };
        Self {
            host,
            scanner,
            decoder,
            paused: 0,
            paused_final: 0,
            fed: 0,
            emitted: 0,
            may_pause,
            input: Vec::new(),
            out: Vec::new(),
            decoded: Vec::new(),
            events: (events && !grpc).then(EventEnds::default),
            failure: None,
        }
    }

    pub fn counts(&self) -> RedactionCounts {
        self.scanner.counts()
    }

    /// HTTP/1.x responses end with the final empty body callback (Envoy does not pass HTTP/1
    /// trailers on by default); only HTTP/2+ streams may end in trailers.
    fn may_pause(&mut self) -> bool {
        *self.may_pause.get_or_insert_with(|| {
            self.host
                .property_str(&["request", "protocol"])
                .is_none_or(|p| !p.starts_with("HTTP/1"))
        })
    }

    /// One body callback: `size` bytes are in Envoy's buffer now.
    pub fn on_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        let action = self.body_callback(size, end_of_stream);
        self.release_scratch();
        action
    }

    fn release_scratch(&mut self) {
        // The plain-text scan moves the input into `out`: hand it back for the next read.
        if self.input.capacity() == 0 && self.out.capacity() <= SCRATCH_KEEP {
            self.input = std::mem::take(&mut self.out);
        }
        if self.out.capacity() > SCRATCH_KEEP {
            self.out = Vec::new();
        }
        if self.input.capacity() > SCRATCH_KEEP {
            self.input = Vec::new();
        }
        if self.decoded.capacity() > SCRATCH_KEEP {
            self.decoded = Vec::new();
        }
    }

    fn body_callback(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.failure.is_some() {
            return self.refuse(size, self.failure.unwrap_or(Reason::BodyScanFailed));
        }
        // The final empty callback brings no new bytes: nothing to read.
        let want = size.saturating_sub(self.paused);
        let mut new = std::mem::take(&mut self.input);
        new.clear();
        if want > 0 && !self.host.read_response_body(self.paused, want, &mut new) {
            return self.refuse(size, Reason::BodyScanFailed);
        }
        let held_before = self.held();
        let masked_before = masked(self.scanner.counts());
        if let Err(reason) = self.scan(new, end_of_stream) {
            return self.refuse(size, reason);
        }
        let held = self.held();
        // The common case on clean bodies: nothing held on either side, nothing masked, no
        // decoding: the output is the input byte for byte, so Envoy's buffer stays as it is.
        if self.decoder.is_none()
            && self.paused == 0
            && held_before == 0
            && held == 0
            && masked(self.scanner.counts()) == masked_before
        {
            return Action::Continue;
        }
        // Pausing keeps the tail in Envoy's buffer, so the output must be exactly the buffer's
        // bytes before it. Bytes the engine held from an earlier callback that was not paused
        // are no longer in Envoy's buffer: the output is longer by them, and the tail stays in
        // the engine this time too. (Pausing then made the lengths disagree and reset large
        // HTTP/2 responses of HTTP/1.1 upstreams, whose chunks vary in size.)
        // A decoded body puts only final bytes in Envoy's buffer (its tail stays in the
        // engine), so it can pause whatever the engine held before.
        let fits = match self.decoder {
            Some(_) => self.paused_final + self.out.len() <= MAX_PAUSED,
            None => (self.paused > 0 || held_before == 0) && size <= MAX_PAUSED,
        };
        let pause = held > 0 && !end_of_stream && fits && self.may_pause();
        if pause {
            let final_len = self.paused_final + self.out.len();
            // Plain: the raw tail (the last `held` bytes) stays in Envoy's buffer, unsent.
            // Decoded: the whole buffer (final bytes and the encoded input) becomes final bytes.
            let (replace, paused) = match self.decoder {
                Some(_) => (size, final_len),
                None => (final_len, size),
            };
            if (self.decoder.is_none() && final_len != size - held) || !self.write_final(replace) {
                return self.refuse(size, Reason::BodyScanFailed);
            }
            self.paused = paused;
            self.paused_final = final_len;
            return Action::Pause;
        }
        // Everything final goes now; a tail, if any, stays in the engine.
        if !self.write_final(size) {
            return self.refuse(size, Reason::BodyScanFailed);
        }
        self.paused = 0;
        self.paused_final = 0;
        Action::Continue
    }

    /// The stream ends with trailers: flush what is still held.
    pub fn on_trailers(&mut self) -> Action {
        if self.failure.is_some() {
            return Action::Continue;
        }
        let action = self.trailers_callback();
        self.release_scratch();
        action
    }

    fn trailers_callback(&mut self) -> Action {
        if let Err(reason) = self.scan(Vec::new(), true) {
            return self.refuse(self.paused, reason);
        }
        if self.out.is_empty() {
            return Action::Continue;
        }
        if self.paused == 0 {
            // The tail was held in the filter and the body can no longer be written: fail
            // closed rather than lose or leak it.
            self.failure = Some(Reason::BodyScanFailed);
            self.host.log(
                Level::Warn,
                "pci-guard: response ended with trailers while bytes were held; resetting the stream",
            );
            self.host.reset_response();
            return Action::Continue;
        }
        if !self.write_final(self.paused) {
            return self.refuse(self.paused, Reason::BodyScanFailed);
        }
        self.paused = 0;
        self.paused_final = 0;
        Action::Continue
    }

    /// Bytes the scanner holds back: counted by the glue when it feeds bytes as they came
    /// (length-preserving); with a decoder, the engine's count.
    fn held(&self) -> usize {
        match self.decoder {
            None => usize::try_from(self.fed.saturating_sub(self.emitted)).unwrap_or(usize::MAX),
            Some(_) => self.scanner.held(),
        }
    }

    /// Scans a chunk; `self.out` becomes the bytes now final.
    fn scan(&mut self, new: Vec<u8>, end_of_stream: bool) -> Result<(), Reason> {
        if let (None, Scanner::Text(r)) = (&self.decoder, &mut self.scanner) {
            // Plain text: masked in the chunk's own buffer, which becomes the output.
            self.fed += new.len() as u64;
            let mut buf = new;
            match self.events.as_mut().and_then(|e| e.last_end(&buf)) {
                // Every event this chunk completes goes out whole; the rest is scanned on.
                Some(end) => {
                    let mut rest = buf.split_off(end);
                    r.feed_in_place(&mut buf);
                    r.finish(&mut buf);
                    r.feed_in_place(&mut rest);
                    buf.append(&mut rest);
                }
                None => r.feed_in_place(&mut buf),
            }
            if end_of_stream {
                r.finish(&mut buf);
            }
            self.emitted += buf.len() as u64;
            self.out = buf;
            return Ok(());
        }
        self.out.clear();
        let input: &[u8] = match &mut self.decoder {
            None => &new,
            Some(d) => {
                self.decoded.clear();
                d.feed(&new, &mut self.decoded)
                    .map_err(|_| Reason::BodyUndecodable)?;
                if end_of_stream {
                    d.finish(&mut self.decoded)
                        .map_err(|_| Reason::BodyUndecodable)?;
                }
                &self.decoded
            }
        };
        self.fed += input.len() as u64;
        let end = self.events.as_mut().and_then(|e| e.last_end(input));
        if let (Some(end), Scanner::Text(r)) = (end, &mut self.scanner) {
            r.feed(&input[..end], &mut self.out);
            r.finish(&mut self.out);
            r.feed(&input[end..], &mut self.out);
        } else {
            self.scanner
                .feed(input, &mut self.out)
                .map_err(|_| Reason::BodyScanFailed)?;
        }
        if end_of_stream {
            self.scanner
                .finish(&mut self.out)
                .map_err(|_| Reason::BodyScanFailed)?;
        }
        self.emitted += self.out.len() as u64;
        Ok(())
    }

    /// Replaces the first `len` bytes of Envoy's buffer with the final bytes: those already
    /// paused there (Envoy only replaces a buffer from its start, so they are written again)
    /// followed by this callback's output. Without a paused prefix, the output goes as it is.
    fn write_final(&self, len: usize) -> bool {
        if self.paused_final == 0 {
            return self.host.set_response_body(0, len, &self.out);
        }
        let mut p = Vec::with_capacity(self.paused_final + self.out.len());
        if !self.host.read_response_body(0, self.paused_final, &mut p) {
            return false;
        }
        p.extend_from_slice(&self.out);
        self.host.set_response_body(0, len, &p)
    }

    /// Empties what is buffered and resets the stream: nothing unscanned goes out.
    fn refuse(&mut self, size: usize, reason: Reason) -> Action {
        if self.failure.is_none() {
            self.host.log(
                Level::Warn,
                &format!("pci-guard: response body refused ({reason}); resetting the stream"),
            );
        }
        self.failure = Some(reason);
        self.host.set_response_body(0, size, &[]);
        self.host.reset_response();
        Action::Pause
    }
}

/// What was masked so far, as one number that changes whenever anything is masked.
fn masked(c: RedactionCounts) -> u64 {
    c.pan + c.cvv + c.track
}
