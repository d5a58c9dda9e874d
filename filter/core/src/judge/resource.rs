//! RFC 9728 protected-resource metadata: the document at
//! `/.well-known/oauth-protected-resource` (and its path-suffixed form,
//! `/.well-known/oauth-protected-resource/mcp` for the resource `https://host/mcp`), built
//! from the policy, and the URL of it that every challenge names, so that an MCP client that
//! was refused finds the authorization server by itself.

use crate::headers::Headers;
use crate::policy::ProtectedResource;

pub(super) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The resource path a metadata request asks about (`""` for the root form), if `path` (the
/// match path) is one.
pub(super) fn asked(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(WELL_KNOWN)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// `scheme://authority` as the client reached the filter: the scheme Envoy says
/// (`:scheme`, then `x-forwarded-proto`), `https` when neither does. `None` when the
/// authority could break out of a quoted header value.
fn origin<H: Headers + ?Sized>(headers: &H) -> Option<String> {
    let authority = headers.get(":authority").or_else(|| headers.get("host"))?;
    let scheme = headers
        .get(":scheme")
        .or_else(|| headers.get("x-forwarded-proto"))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| "https".to_string());
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'/' | b'?' | b'#'))
    };
    safe(authority).then(|| format!("{scheme}://{authority}"))
}

/// The metadata URL for a request to `path`: the configured resource's, or the one of the
/// URL the client used.
pub(super) fn metadata_url<H: Headers + ?Sized>(
    pr: &ProtectedResource,
    headers: &H,
    path: &str,
) -> Option<String> {
    if let Some(r) = &pr.resource {
        let (scheme, rest) = r.split_once("://")?;
        let (host, p) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let p = p.trim_end_matches('/');
        return Some(match p {
            "" => format!("{scheme}://{host}{WELL_KNOWN}"),
            p => format!("{scheme}://{host}{WELL_KNOWN}/{p}"),
        });
    }
    let origin = origin(headers)?;
    if path
        .bytes()
        .any(|b| !b.is_ascii_graphic() || matches!(b, b'"' | b'\\'))
    {
        return None;
    }
    Some(match path.trim_end_matches('/') {
        "" => format!("{origin}{WELL_KNOWN}"),
        p => format!("{origin}{WELL_KNOWN}{p}"),
    })
}

/// The metadata document for `resource_path` (from [`asked`]).
pub(super) fn document<H: Headers + ?Sized>(
    pr: &ProtectedResource,
    headers: &H,
    resource_path: &str,
) -> Vec<u8> {
    let resource = match &pr.resource {
        Some(r) => r.clone(),
        None => format!("{}{resource_path}", origin(headers).unwrap_or_default()),
    };
    let mut doc = serde_json::json!({
        "resource": resource,
        "authorization_servers": pr.authorization_servers,
        "scopes_supported": pr.scopes_supported,
        "bearer_methods_supported": ["header"],
    });
    if let Some(name) = &pr.resource_name {
        doc["resource_name"] = serde_json::Value::String(name.clone());
    }
    let mut out = serde_json::to_vec(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}
