//! The audit event: one per request, completed when the stream ends, written by Envoy's own
//! access loggers from filter state (`wasm.pci_guard_audit`).
//!
//! Only values the filter produced or checked go in: never a token, a card number, a CVV or a
//! key. Fields that hold request input (path, authority) are passed through the redaction
//! engine before they are set.

use crate::reason::Reason;
use crate::redact::{redact_header_value, RedactOptions};
use serde::Serialize;

pub mod review;
pub mod verify;

pub const EVENT_VERSION: u32 = 1;

/// Longest value an audit field that comes from outside (request line, headers, token claims)
/// keeps, in bytes. A longer value is cut at a character boundary and ends with a marker that
/// says how much was cut (`…[+N bytes]`): never silently. Envoy bounds headers (60 KiB by
/// default) and tokens are at most 8 KiB, but a 60 KiB path would otherwise go into every
/// sink; with the caps an event stays below [`MAX_EVENT_BYTES`].
pub const MAX_FIELD_BYTES: usize = 1024;
/// Most approvers listed from a grant; more are summarised by a marker entry.
pub const MAX_APPROVERS: usize = 16;
/// What an event can reach once capped (fields, approvers, fixed parts), with room to spare.
pub const MAX_EVENT_BYTES: usize = 40 * 1024;

/// Cuts `s` to [`MAX_FIELD_BYTES`] (at a character boundary) and appends `…[+N bytes]`.
pub fn cap(s: &mut String) {
    if s.len() <= MAX_FIELD_BYTES {
        return;
    }
    let mut cut = MAX_FIELD_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = s.len() - cut;
    s.truncate(cut);
    s.push_str(&format!("…[+{dropped} bytes]"));
}

fn cap_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        cap(s);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Deny,
    /// Dry-run: the request passed, but enforcement would have denied it.
    WouldDeny,
}

#[derive(Debug, Default, Serialize)]
pub struct Event {
    pub version: u32,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub policy: PolicyRef,
    pub source: Source,
    pub identity: Option<IdentityRef>,
    pub request: Request,
    pub decision: Option<DecisionRef>,
    pub jit: Option<JitRef>,
    pub response: Response,
    pub redaction: Option<RedactionRef>,
    pub duration_ms: Option<f64>,
    /// Set by [`Chain::seal`]: where this event stands in its VM's hash chain.
    pub chain: Option<ChainRef>,
}

/// Tamper evidence: each VM numbers its events and links each to the hash of the one before.
/// A deleted, edited or reordered line breaks the chain of the VM that wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct ChainRef {
    /// Which VM's chain (workers interleave their lines in one log).
    pub id: String,
    pub seq: u64,
    /// `sha256:<hex>` (or `hmac-sha256:<hex>` when keyed) of the previous line of this chain;
    /// `None` for the first event.
    pub prev: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct PolicyRef {
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Source {
    pub address: Option<String>,
    pub principal: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct IdentityRef {
    pub provider: String,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub azp: Option<String>,
    pub jti: Option<String>,
    pub kid: Option<String>,
    pub alg: Option<String>,
}

impl IdentityRef {
    /// The fields copied from the token: outside input, masked and capped like the request's.
    fn token_fields_mut(&mut self) -> [&mut Option<String>; 5] {
        [
            &mut self.iss,
            &mut self.sub,
            &mut self.azp,
            &mut self.jti,
            &mut self.kid,
        ]
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Request {
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub authority: Option<String>,
    pub route: Option<String>,
    pub grpc: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DecisionRef {
    pub result: Outcome,
    pub reason: Reason,
    pub rule: Option<String>,
    pub dry_run: bool,
}

/// The just-in-time grant a decision used or examined.
#[derive(Debug, Serialize)]
pub struct JitRef {
    pub id: String,
    pub approved_by: Vec<String>,
    pub approved_at: Option<String>,
    pub expires_at: String,
}

/// What redaction did to the response: counts only, never values.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct RedactionRef {
    pub pan: u64,
    pub cvv: u64,
    pub track: u64,
    pub bytes_scanned: u64,
    /// Set when the body could not be inspected and was refused (`body_undecodable`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Reason>,
}

#[derive(Debug, Default, Serialize)]
pub struct Response {
    pub status: Option<u16>,
    pub grpc_status: Option<u32>,
    pub bytes: u64,
    /// How the stream ended, as Envoy tells it (`response.code_details`): `via_upstream`,
    /// `upstream_reset_after_response_started{…}` when the upstream reset mid-body, … Absent
    /// when Envoy gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// Masks card data in `v` (same engine and settings as response bodies).
fn clean(v: &mut String, opts: &RedactOptions) {
    if let Some(masked) = redact_header_value(opts, v) {
        *v = masked;
    }
}

fn clean_opt(v: &mut Option<String>, opts: &RedactOptions) {
    if let Some(s) = v {
        clean(s, opts);
    }
}

impl Event {
    /// Every field whose value came from the caller (request line, headers, token claims)
    /// passes through the card-data masker before the event is written: a PAN in a path or a
    /// `sub` claim never reaches an access log in clear. Lengths are capped by
    /// [`Event::cap_fields`] when the event is sealed.
    pub fn sanitize(&mut self, opts: &RedactOptions) {
        clean_opt(&mut self.request_id, opts);
        clean_opt(&mut self.trace_id, opts);
        clean_opt(&mut self.source.principal, opts);
        clean(&mut self.request.method, opts);
        clean(&mut self.request.path, opts);
        clean_opt(&mut self.request.authority, opts);
        clean_opt(&mut self.request.grpc, opts);
        if let Some(id) = &mut self.identity {
            for f in id.token_fields_mut() {
                clean_opt(f, opts);
            }
        }
        if let Some(j) = &mut self.jit {
            clean(&mut j.id, opts);
            for a in &mut j.approved_by {
                clean(a, opts);
            }
        }
    }

    /// Applies the size caps ([`MAX_FIELD_BYTES`], [`MAX_APPROVERS`]) to every field that
    /// holds outside input. [`Chain::seal`] does it before serializing.
    pub fn cap_fields(&mut self) {
        cap_opt(&mut self.request_id);
        cap_opt(&mut self.trace_id);
        cap_opt(&mut self.source.address);
        cap_opt(&mut self.source.principal);
        let r = &mut self.request;
        cap(&mut r.method);
        cap(&mut r.path);
        cap_opt(&mut r.authority);
        cap_opt(&mut r.route);
        cap_opt(&mut r.grpc);
        if let Some(id) = &mut self.identity {
            for f in id.token_fields_mut() {
                cap_opt(f);
            }
        }
        if let Some(j) = &mut self.jit {
            cap(&mut j.id);
            if j.approved_by.len() > MAX_APPROVERS {
                let more = j.approved_by.len() - MAX_APPROVERS + 1;
                j.approved_by.truncate(MAX_APPROVERS - 1);
                j.approved_by.push(format!("…[+{more} more]"));
            }
            j.approved_by.iter_mut().for_each(cap);
        }
        cap(&mut self.policy.version);
        cap_opt(&mut self.response.details);
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail; an empty record would
        // still be logged, so the gap shows.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// One VM's hash chain. [`Chain::seal`] numbers an event, links it to the previous one and
/// returns the exact bytes to log; the hash of those bytes becomes the next event's `prev`.
pub struct Chain {
    id: String,
    seq: u64,
    prev: Option<String>,
    key: Option<Vec<u8>>,
}

impl Chain {
    /// `key`: the secret from `audit.chain_secret_env`; with it the links are HMAC-SHA256, so
    /// nobody without the key can rebuild a chain after editing it.
    pub fn new(id: String, key: Option<Vec<u8>>) -> Self {
        Self {
            id,
            seq: 0,
            prev: None,
            key,
        }
    }

    pub fn seal(&mut self, event: &mut Event) -> Vec<u8> {
        event.cap_fields();
        event.chain = Some(ChainRef {
            id: self.id.clone(),
            seq: self.seq,
            prev: self.prev.take(),
        });
        let bytes = event.to_json();
        self.prev = Some(link(self.key.as_deref(), &bytes));
        self.seq += 1;
        bytes
    }
}

/// The link to a logged line: what the next event's `chain.prev` must hold.
pub fn link(key: Option<&[u8]>, line: &[u8]) -> String {
    use hmac::Mac;
    use sha2::Digest;
    match key.and_then(|k| hmac::Hmac::<sha2::Sha256>::new_from_slice(k).ok()) {
        Some(mut mac) => {
            mac.update(line);
            format!(
                "hmac-sha256:{}",
                crate::policy::hex(&mac.finalize().into_bytes())
            )
        }
        None => format!("sha256:{}", crate::policy::hex(&sha2::Sha256::digest(line))),
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-11-27T10:00:00.123Z`.
pub fn rfc3339_millis(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let ms = unix_ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_766_400_123),
            "2026-11-27T08:00:00.123Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn sanitize_masks_cards_in_caller_supplied_fields() {
        let mut e = Event {
            request_id: Some("req-4111111111111111".into()),
            request: Request {
                method: "GET".into(),
                path: "/v1/cards/4111111111111111/x".into(),
                ..Default::default()
            },
            identity: Some(IdentityRef {
                provider: "idp".into(),
                sub: Some("5555 5555 5555 4444".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        e.sanitize(&RedactOptions::default());
        assert_eq!(e.request.path, "/v1/cards/************1111/x");
        assert_eq!(e.request_id.as_deref(), Some("req-************1111"));
        assert_eq!(
            e.identity.as_ref().unwrap().sub.as_deref(),
            Some("**** **** **** 4444")
        );
    }

    #[test]
    fn chain_links_each_event_to_the_hash_of_the_previous_line() {
        let mut chain = Chain::new("vm-1".into(), None);
        let mut a = Event {
            version: EVENT_VERSION,
            ..Default::default()
        };
        let mut b = Event {
            version: EVENT_VERSION,
            ..Default::default()
        };
        let line_a = chain.seal(&mut a);
        let line_b = chain.seal(&mut b);
        let va: serde_json::Value = serde_json::from_slice(&line_a).unwrap();
        let vb: serde_json::Value = serde_json::from_slice(&line_b).unwrap();
        assert_eq!(va["chain"]["seq"], 0);
        assert!(va["chain"]["prev"].is_null());
        assert_eq!(vb["chain"]["seq"], 1);
        assert_eq!(vb["chain"]["prev"], link(None, &line_a));
    }

    #[test]
    fn keyed_links_depend_on_the_key() {
        let line = br#"{"version":1}"#;
        let k1 = link(Some(b"k1"), line);
        assert!(k1.starts_with("hmac-sha256:"));
        assert_ne!(k1, link(Some(b"k2"), line));
        assert_ne!(link(None, line), link(None, br#"{"version":2}"#));
    }

    #[test]
    fn outside_input_is_capped_with_a_marker_and_the_event_stays_bounded() {
        let huge = "é".repeat(40_000); // 80 000 bytes, two per character
        let mut e = Event {
            version: EVENT_VERSION,
            request_id: Some(huge.clone()),
            trace_id: Some(huge.clone()),
            request: Request {
                method: huge.clone(),
                path: format!("/{huge}"),
                authority: Some(huge.clone()),
                route: Some(huge.clone()),
                grpc: Some(huge.clone()),
            },
            identity: Some(IdentityRef {
                provider: "p".into(),
                iss: Some(huge.clone()),
                sub: Some(huge.clone()),
                azp: Some(huge.clone()),
                jti: Some(huge.clone()),
                kid: Some(huge.clone()),
                alg: None,
            }),
            jit: Some(JitRef {
                id: huge.clone(),
                approved_by: vec![huge.clone(); 100],
                approved_at: None,
                expires_at: String::new(),
            }),
            ..Default::default()
        };
        let line = Chain::new("vm".into(), None).seal(&mut e);
        assert!(line.len() < MAX_EVENT_BYTES, "{} bytes", line.len());
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let path = v["request"]["path"].as_str().unwrap();
        assert!(
            path.ends_with("…[+78978 bytes]"),
            "{}",
            &path[path.len() - 20..]
        );
        assert_eq!(
            v["jit"]["approved_by"].as_array().unwrap().len(),
            MAX_APPROVERS
        );
        assert_eq!(v["jit"]["approved_by"][MAX_APPROVERS - 1], "…[+85 more]");
        // Short values are untouched.
        let mut s = "short".to_string();
        cap(&mut s);
        assert_eq!(s, "short");
    }

    #[test]
    fn event_serializes_reason_as_its_stable_string() {
        let e = Event {
            version: EVENT_VERSION,
            decision: Some(DecisionRef {
                result: Outcome::WouldDeny,
                reason: Reason::NoRoute,
                rule: None,
                dry_run: true,
            }),
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["decision"]["result"], "would_deny");
        assert_eq!(v["decision"]["reason"], "no_route");
    }
}
