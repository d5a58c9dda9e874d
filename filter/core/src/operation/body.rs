//! Request bodies (and GraphQL's GET query strings) read as operations.
//!
//! - JSON-RPC 2.0 (`application/json`): one message, or a non-empty array of them. A message
//!   is a request (`method` and `id`), a notification (`method`, no `id`) or a response the
//!   client sends back (`result` or `error`, and `id`). `jsonrpc` must be `"2.0"`; a
//!   `tools/call` must name its tool (`params.name`, a string).
//! - GraphQL over HTTP: `application/json` with `query`, `operationName`, `variables`,
//!   `extensions` (or an array of those, batched), `application/graphql` with the document
//!   as the body, or `GET ?query=…&operationName=…&extensions=…`.

use super::graphql;
use super::json::{self, read_object, Expecting};
use super::{Call, GqlOperation, OpError, Operations, Protocol, RpcCall, RpcId};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// Reads the operations of a request body sent with `content_type`.
pub fn parse(
    protocol: Protocol,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Operations, OpError> {
    let media = media_type(content_type)?;
    match (protocol, media.as_str()) {
        (Protocol::JsonRpc, "application/json") => {
            let top: Top<RpcMessage> =
                serde_json::from_slice(body).map_err(|_| OpError::Malformed)?;
            let (calls, batch) = top.into_calls()?;
            Ok(Operations {
                protocol,
                calls: calls.into_iter().map(|m| Call::JsonRpc(m.0)).collect(),
                batch,
            })
        }
        (Protocol::GraphQl, "application/json") => {
            let top: Top<GqlRequest> =
                serde_json::from_slice(body).map_err(|_| OpError::Malformed)?;
            let (reqs, batch) = top.into_calls()?;
            let calls = reqs
                .into_iter()
                .map(|r| r.operation().map(Call::GraphQl))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Operations {
                protocol,
                calls,
                batch,
            })
        }
        (Protocol::GraphQl, "application/graphql") => {
            let doc = std::str::from_utf8(body).map_err(|_| OpError::Malformed)?;
            let op = GqlRequest {
                query: Some(doc.to_string()),
                ..GqlRequest::default()
            }
            .operation()?;
            Ok(single(Call::GraphQl(op)))
        }
        _ => Err(OpError::ContentType),
    }
}

/// Reads the GraphQL operation of a `GET` from its query string (without the `?`).
pub fn parse_graphql_query(query_string: &str) -> Result<Operations, OpError> {
    let mut req = GqlRequest::default();
    let mut seen = [false; 3];
    for pair in query_string.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name).ok_or(OpError::Malformed)?;
        let i = match name.as_str() {
            "query" => 0,
            "operationName" => 1,
            "extensions" => 2,
            other
                if ["query", "operationname", "extensions"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(other)) =>
            {
                return Err(OpError::Malformed)
            }
            _ => continue,
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(OpError::Malformed);
        }
        let value = percent_decode(value).ok_or(OpError::Malformed)?;
        match i {
            0 => req.query = Some(value),
            1 => req.operation_name = Some(value).filter(|v| !v.is_empty()),
            _ => {
                let ext: Extensions =
                    serde_json::from_str(&value).map_err(|_| OpError::Malformed)?;
                req.hash = ext.0;
            }
        }
    }
    Ok(single(Call::GraphQl(req.operation()?)))
}

fn single(call: Call) -> Operations {
    Operations {
        protocol: call.protocol(),
        calls: vec![call],
        batch: false,
    }
}

/// The media type in lower case; a charset other than UTF-8 is refused (JSON is UTF-8).
fn media_type(content_type: Option<&str>) -> Result<String, OpError> {
    let ct = content_type.ok_or(OpError::ContentType)?;
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k.trim().eq_ignore_ascii_case("charset") {
            let v = v.trim().trim_matches('"');
            if !v.eq_ignore_ascii_case("utf-8") && !v.eq_ignore_ascii_case("utf8") {
                return Err(OpError::ContentType);
            }
        }
    }
    Ok(media)
}

/// `%XX` and `+` decoded, as form and query strings are; `None` if not UTF-8 or a bad escape.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let h = b.get(i + 1).copied().and_then(hex)?;
                let l = b.get(i + 2).copied().and_then(hex)?;
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// One message, or a non-empty array of them.
enum Top<T> {
    One(T),
    Batch(Vec<T>),
}

impl<T> Top<T> {
    fn into_calls(self) -> Result<(Vec<T>, bool), OpError> {
        match self {
            Top::One(m) => Ok((vec![m], false)),
            Top::Batch(v) if v.is_empty() => Err(OpError::Malformed),
            Top::Batch(v) => Ok((v, true)),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Top<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Top<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", Expecting("an object or an array of objects"))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Top::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(m) = seq.next_element::<T>()? {
                    out.push(m);
                }
                Ok(Top::Batch(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One JSON-RPC message.
struct RpcMessage(RpcCall);

impl<'de> Deserialize<'de> for RpcMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RpcMessage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC 2.0 message")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RpcMessage, A::Error> {
                let mut version = None;
                let mut method = None;
                let mut id = None;
                let mut params: Option<Params> = None;
                let mut answer = false;
                read_object(
                    &mut map,
                    &["jsonrpc", "method", "id", "params", "result", "error"],
                    |i, map| {
                        match i {
                            0 => version = Some(json::string(map)?),
                            1 => method = Some(json::string(map)?),
                            2 => id = Some(map.next_value::<Id>()?.0),
                            3 => params = Some(map.next_value::<Params>()?),
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                                answer = true;
                            }
                        }
                        Ok(())
                    },
                )?;
                let bad = |m: &str| Err(de::Error::custom(m.to_string()));
                if version.as_deref() != Some("2.0") {
                    return bad("jsonrpc must be \"2.0\"");
                }
                match (&method, answer) {
                    (Some(_), true) => return bad("a request cannot carry a result"),
                    (None, false) => return bad("neither a request nor a response"),
                    (None, true) if id.is_none() => return bad("a response needs its id"),
                    _ => {}
                }
                let tool = match method.as_deref() {
                    Some("tools/call") => match params {
                        Some(Params { name: Some(n) }) => Some(n),
                        _ => return bad("tools/call must name its tool"),
                    },
                    _ => None,
                };
                Ok(RpcMessage(RpcCall { method, tool, id }))
            }
        }
        d.deserialize_map(V)
    }
}

/// A request id: a string, a number or null.
struct Id(RpcId);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id(RpcId::Str(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(RpcId::Number(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(RpcId::Number(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
                Ok(Id(RpcId::Number(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id(RpcId::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// `params`: only `name` is kept (a string, or it is not a tool name); arrays are skipped.
struct Params {
    name: Option<String>,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or an array")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
                let mut name = None;
                read_object(&mut map, &["name"], |_, map| {
                    name = map
                        .next_value::<serde_json::Value>()?
                        .as_str()
                        .map(str::to_string);
                    Ok(())
                })?;
                Ok(Params { name })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Params { name: None })
            }
        }
        d.deserialize_any(V)
    }
}

/// One GraphQL-over-HTTP request.
#[derive(Default)]
struct GqlRequest {
    query: Option<String>,
    operation_name: Option<String>,
    hash: Option<String>,
}

impl GqlRequest {
    /// The operation that runs: from the document, or only its hash when it is persisted.
    fn operation(self) -> Result<GqlOperation, OpError> {
        let hash = self.hash.map(|h| h.to_ascii_lowercase());
        let Some(query) = self.query else {
            // A persisted query: the server holds the document; only its hash is known.
            return match hash {
                Some(h) => Ok(GqlOperation {
                    kind: None,
                    name: self.operation_name,
                    fields: None,
                    hash: Some(h),
                }),
                None => Err(OpError::Malformed),
            };
        };
        if let Some(h) = &hash {
            // Servers refuse a hash that is not the document's; so does the filter, or a
            // rule on the hash could be dodged with another document.
            let digest = crate::digest::sha256(query.as_bytes());
            if digest.strip_prefix("sha256:") != Some(h.as_str()) {
                return Err(OpError::Malformed);
            }
        }
        let op = graphql::operation(&query, self.operation_name.as_deref())?;
        Ok(GqlOperation {
            kind: Some(op.kind),
            name: op.name,
            fields: Some(op.fields),
            hash,
        })
    }
}

impl<'de> Deserialize<'de> for GqlRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GqlRequest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a GraphQL request")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GqlRequest, A::Error> {
                let mut r = GqlRequest::default();
                read_object(
                    &mut map,
                    &["query", "operationName", "variables", "extensions"],
                    |i, map| {
                        match i {
                            0 => r.query = json::opt_string(map)?,
                            1 => r.operation_name = json::opt_string(map)?,
                            2 => {
                                map.next_value::<IgnoredAny>()?;
                            }
                            _ => r.hash = map.next_value::<Option<Extensions>>()?.and_then(|e| e.0),
                        }
                        Ok(())
                    },
                )?;
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// `extensions`: the persisted query's hash, if any.
struct Extensions(Option<String>);

impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Extensions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Extensions, A::Error> {
                let mut hash = None;
                read_object(&mut map, &["persistedQuery"], |_, map| {
                    hash = map.next_value::<Option<Persisted>>()?.map(|p| p.0);
                    Ok(())
                })?;
                Ok(Extensions(hash))
            }
        }
        d.deserialize_map(V)
    }
}

/// `persistedQuery`: `{"version": 1, "sha256Hash": "…"}`.
struct Persisted(String);

impl<'de> Deserialize<'de> for Persisted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Persisted;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a persisted query")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Persisted, A::Error> {
                let mut hash = None;
                read_object(&mut map, &["version", "sha256Hash"], |i, map| {
                    match i {
                        0 => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => hash = Some(json::string(map)?),
                    }
                    Ok(())
                })?;
                let hash = hash.ok_or_else(|| de::Error::custom("no sha256Hash"))?;
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(de::Error::custom("sha256Hash is not 64 hex digits"));
                }
                Ok(Persisted(hash))
            }
        }
        d.deserialize_map(V)
    }
}
