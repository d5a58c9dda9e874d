//! The request as rules see it, normalised once, so that no spelling of the same operation
//! escapes a rule written for it.
//!
//! Upstream servers read one request many ways: many frameworks route without regard to case,
//! servlet containers drop `;parameters` from path segments, IIS drops a segment's trailing
//! dots, most frameworks ignore a trailing slash, any server decodes `%63` as `c`, HTTP/2 lets
//! a client send `:method: delete`, and a gRPC method is named by its path whatever the
//! content type says. Rules therefore match a *match path* and method that fold all of these:
//!
//! ```text
//! :path   /V1/Payments/p_1/%52efunds;x/?a=1   → match path /v1/payments/p_1/refunds
//! :method delete                              → DELETE
//! gRPC    /payments.v1.Admin/PurgeAll/        → payments.v1.admin/purgeall (any content type)
//! ```
//!
//! Policy templates, prefixes and gRPC names are folded the same way when the policy is
//! compiled. The audit event keeps the path as sent. Spellings that fold to something a rule
//! cannot name (empty or all-dot segments) are refused as non-canonical before any matching.

use std::borrow::Cow;

/// The parts of a request that matching looks at.
#[derive(Debug, Clone)]
pub struct RequestLine<'a> {
    /// The method in upper case.
    pub method: Cow<'a, str>,
    /// The path as sent, without the query string: what the audit event records.
    pub path: &'a str,
    /// The path rules match (see the module docs).
    pub match_path: Cow<'a, str>,
    /// `content-type: application/grpc*` (any case): answers take gRPC's form.
    pub grpc: bool,
    /// Envoy's `xds.route_name`, when the route has one.
    pub route_name: Option<&'a str>,
    /// The policy route the Envoy route names in its metadata (`filter_metadata.pci_guard.route`);
    /// when set, it is the route, whatever the path.
    pub metadata_route: Option<&'a str>,
    /// The one operation (a JSON-RPC call, a GraphQL operation) being judged, once the body
    /// was read; a batch is judged one call at a time.
    pub operation: Option<&'a crate::operation::Call>,
}

impl<'a> RequestLine<'a> {
    /// Splits `path_and_query` at `?` so the query never takes part in a decision.
    pub fn new(method: &'a str, path_and_query: &'a str, grpc: bool) -> Self {
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(p, _)| p);
        let method = if method.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(method.to_ascii_uppercase())
        } else {
            Cow::Borrowed(method)
        };
        Self {
            method,
            path,
            match_path: fold_path(path),
            grpc,
            route_name: None,
            metadata_route: None,
            operation: None,
        }
    }

    /// The gRPC method the match path names (`package.service/method`, folded): every path of
    /// two segments, whatever the content type, since the path alone names the operation.
    pub fn grpc_method(&self) -> Option<&str> {
        let m = self.match_path.strip_prefix('/')?;
        (m.matches('/').count() == 1).then_some(m)
    }

    /// The gRPC method as the client wrote it, for the audit event of a gRPC request.
    pub fn sent_grpc_method(&self) -> Option<&'a str> {
        if !self.grpc {
            return None;
        }
        let m = self.path.strip_prefix('/')?;
        (m.matches('/').count() == 1).then_some(m)
    }
}

/// The match path of `path` (no query string): each segment without its `;parameters` and
/// trailing dots, percent-encoded unreserved characters decoded, ASCII letters in lower case,
/// and no trailing slash (but `/` stays `/`). Borrows when nothing changes, which is the
/// common case.
pub fn fold_path(path: &str) -> Cow<'_, str> {
    let b = path.as_bytes();
    let plain = !b
        .iter()
        .any(|&c| matches!(c, b';' | b'%') || c.is_ascii_uppercase())
        && !b.windows(2).any(|w| w == b"./")
        && (b.len() <= 1 || !matches!(b[b.len() - 1], b'/' | b'.'));
    if plain {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let seg = seg.split(';').next().unwrap_or("");
        let start = out.len();
        push_decoded(&mut out, seg);
        // IIS drops a segment's trailing dots: `cards.` names `cards`.
        let kept = out[start..].trim_end_matches('.').len();
        out.truncate(start + kept);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    Cow::Owned(out)
}

/// Appends `seg` with `%XX` of unreserved characters decoded and ASCII letters lowered;
/// other escapes stay as written (upper-cased hex, so `%2f` and `%2F` compare equal).
fn push_decoded(out: &mut String, seg: &str) {
    let b = seg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                let c = (h * 16 + l) as u8;
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.push(c.to_ascii_lowercase() as char);
                } else {
                    out.push('%');
                    out.push(b[i + 1].to_ascii_uppercase() as char);
                    out.push(b[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        // Whole characters, so multi-byte UTF-8 is copied intact.
        let ch_len = seg[i..].chars().next().map_or(1, char::len_utf8);
        for c in seg[i..i + ch_len].chars() {
            out.push(c.to_ascii_lowercase());
        }
        i += ch_len;
    }
}
