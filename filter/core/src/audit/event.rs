//! The audit event's shape, and what makes it safe to write: every field that came from the
//! caller is masked for card data and capped in length.

use super::operation::OperationRef;
use super::time::rfc3339_millis;
use crate::authz::grant::GrantSource;
use crate::authz::jit::Grant;
use crate::authz::{Decision, Outcome};
use crate::identity::Verified;
use crate::policy::{Policy, Rule};
use crate::reason::Reason;
use crate::redact::{redact_header_value, RedactOptions};
use serde::Serialize;

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

#[derive(Debug, Default, Clone, Serialize)]
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
    /// The same over this line without its seal (see `audit::chain`); set by
    /// [`Chain::seal`](super::Chain::seal), always last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct PolicyRef {
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Source {
    pub address: Option<String>,
    pub principal: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
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
    /// The caller's identity as the audit event names it.
    pub fn of(policy: &Policy, who: &Verified) -> Self {
        let id = &who.identity;
        Self {
            provider: policy
                .providers
                .get(who.provider)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            iss: id.iss.clone(),
            sub: id.sub.clone(),
            azp: id.azp.clone(),
            jti: id.jti.clone(),
            kid: id.kid.clone(),
            alg: Some(id.alg.to_string()),
        }
    }

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

#[derive(Debug, Default, Clone, Serialize)]
pub struct Request {
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub authority: Option<String>,
    pub route: Option<String>,
    pub grpc: Option<String>,
    /// The JSON-RPC calls or GraphQL operation the body asked for, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionRef {
    pub result: Outcome,
    pub reason: Reason,
    pub rule: Option<String>,
    pub dry_run: bool,
    /// Why the grant header's grant did not count, when one was sent and did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_refused: Option<Reason>,
}

impl DecisionRef {
    /// `decision`, decided by `rule` when a rule decided.
    pub fn of(decision: &Decision, rule: Option<&Rule>) -> Self {
        Self {
            result: decision.outcome(),
            reason: decision.reason,
            rule: rule.map(|r| r.id.clone()),
            dry_run: !decision.enforced,
            grant_refused: decision.grant_refused,
        }
    }
}

/// The just-in-time grant a decision used or examined.
#[derive(Debug, Clone, Serialize)]
pub struct JitRef {
    pub id: String,
    pub approved_by: Vec<String>,
    pub approved_at: Option<String>,
    pub expires_at: String,
    /// The access token's claim, or the grant header (signed by the approvals service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<GrantSource>,
}

impl JitRef {
    pub fn of(g: &Grant, source: Option<GrantSource>) -> Self {
        Self {
            source,
            id: g.id.clone(),
            approved_by: g.approved_by.clone(),
            approved_at: g
                .approved_at
                .map(|t| rfc3339_millis(t.saturating_mul(1000))),
            expires_at: rfc3339_millis(g.exp.saturating_mul(1000)),
        }
    }
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

#[derive(Debug, Default, Clone, Serialize)]
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
    mask_glued_cards(v, opts);
}

/// Cards a caller glued into an identifier: a digit run touching letters
/// (`Get4000056655665556`) or inside a longer run (a trace id `40000566556655560000…`). The
/// body engine leaves both alone, since ids like these are common in bodies and a wrong mask
/// there breaks the payload; an audit field only records what a caller chose, so there any
/// run that holds a Luhn-valid card of a configured brand loses it. A random trace id holds
/// such a run rarely (well under 1 in 100) and then keeps its other digits.
fn mask_glued_cards(v: &mut String, opts: &RedactOptions) {
    use crate::redact::brands::brand_of;
    use crate::redact::luhn::luhn_valid;
    const MIN: usize = 12;
    const MAX: usize = 19;
    if v.bytes().filter(u8::is_ascii_digit).nth(MIN - 1).is_none() {
        return;
    }
    let mut b = std::mem::take(v).into_bytes();
    let card = |w: &[u8]| luhn_valid(w) && brand_of(w, opts.brands).is_some();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let end = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut s = i;
        while s + MIN <= end {
            let longest = (MIN..=MAX.min(end - s)).rev().find(|&l| card(&b[s..s + l]));
            match longest {
                Some(l) => {
                    crate::redact::mask::mask_run(&mut b, s, s + l, opts.keep, opts.mask_char);
                    s += l;
                }
                None => s += 1,
            }
        }
        i = end;
    }
    // Only ASCII digits were replaced, by an ASCII mask character: still UTF-8.
    *v = String::from_utf8(b).unwrap_or_default();
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
        if let Some(op) = &mut self.request.operation {
            op.strings_mut().for_each(|s| clean(s, opts));
        }
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
        if let Some(op) = &mut r.operation {
            op.strings_mut().for_each(cap);
        }
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

    /// One line of JSON. Serializing plain structs of strings and numbers cannot fail; an
    /// empty record would still be logged, so the gap shows.
    pub fn to_json(&self) -> Vec<u8> {
        escape_line_separators(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// JSON allows U+2028 and U+2029 raw inside strings, but line-oriented consumers (and
/// JavaScript before ES2019) split lines on them: an event must stay one line whatever a
/// claim holds. Both can only occur inside strings, where `\u2028` means the same.
fn escape_line_separators(json: Vec<u8>) -> Vec<u8> {
    let raw = |w: &[u8]| w == [0xE2, 0x80, 0xA8] || w == [0xE2, 0x80, 0xA9];
    if !json.windows(3).any(raw) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 8);
    let mut i = 0;
    while i < json.len() {
        match json.get(i..i + 3) {
            Some(w) if raw(w) => {
                out.extend_from_slice(if w[2] == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                i += 3;
            }
            _ => {
                out.push(json[i]);
                i += 1;
            }
        }
    }
    out
}
