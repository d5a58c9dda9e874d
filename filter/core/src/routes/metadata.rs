//! Envoy route metadata (`xds.route_metadata`): the serialized `envoy.config.core.v3.Metadata`
//! of the matched Envoy route, decoded just far enough to read `filter_metadata.pci_guard`.
//!
//! Lets Envoy users keep the policy route beside their Envoy routes:
//! `metadata: {filter_metadata: {pci_guard: {route: cards-read}}}` on an Envoy route makes
//! pci-guard apply its policy route `cards-read` to requests on it, without a path match.
//!
//! A hand-written reader of the protobuf wire format (varints and length-delimited fields
//! only, which is all `Metadata`/`Struct`/`Value` use besides one fixed64 double): the glue
//! has the bytes, and a full protobuf runtime in the wasm would cost more than this.

use serde_json::{Map, Value};

/// The namespace under `filter_metadata` that pci-guard reads.
pub const NAMESPACE: &str = "pci_guard";

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Next field: (number, wire type, payload for length-delimited / fixed64).
    fn field(&mut self) -> Option<(u64, Payload<'a>)> {
        let key = self.varint()?;
        let payload = match key & 7 {
            0 => Payload::Varint(self.varint()?),
            1 => {
                let (b, rest) = self.buf.split_first_chunk::<8>()?;
                self.buf = rest;
                Payload::Fixed64(u64::from_le_bytes(*b))
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                if len > self.buf.len() {
                    return None;
                }
                let (b, rest) = self.buf.split_at(len);
                self.buf = rest;
                Payload::Bytes(b)
            }
            5 => {
                let (_, rest) = self.buf.split_first_chunk::<4>()?;
                self.buf = rest;
                Payload::Varint(0)
            }
            _ => return None,
        };
        Some((key >> 3, payload))
    }

    fn fields(buf: &'a [u8]) -> impl Iterator<Item = Option<(u64, Payload<'a>)>> {
        let mut r = Reader { buf };
        std::iter::from_fn(move || {
            if r.buf.is_empty() {
                None
            } else {
                Some(r.field())
            }
        })
    }
}

#[derive(Clone, Copy)]
enum Payload<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

fn depth_ok(depth: u32) -> Option<()> {
    (depth < 16).then_some(())
}

fn decode_struct(buf: &[u8], depth: u32) -> Option<Map<String, Value>> {
    depth_ok(depth)?;
    let mut out = Map::new();
    for f in Reader::fields(buf) {
        if let (1, Payload::Bytes(entry)) = f? {
            let (mut key, mut value) = (String::new(), Value::Null);
            for e in Reader::fields(entry) {
                match e? {
                    (1, Payload::Bytes(k)) => key = String::from_utf8(k.to_vec()).ok()?,
                    (2, Payload::Bytes(v)) => value = decode_value(v, depth + 1)?,
                    _ => {}
                }
            }
            out.insert(key, value);
        }
    }
    Some(out)
}

fn decode_value(buf: &[u8], depth: u32) -> Option<Value> {
    depth_ok(depth)?;
    let mut v = Value::Null;
    for f in Reader::fields(buf) {
        v = match f? {
            (1, _) => Value::Null,
            (2, Payload::Fixed64(bits)) => serde_json::Number::from_f64(f64::from_bits(bits))
                .map_or(Value::Null, Value::Number),
            (3, Payload::Bytes(s)) => Value::String(String::from_utf8(s.to_vec()).ok()?),
            (4, Payload::Varint(b)) => Value::Bool(b != 0),
            (5, Payload::Bytes(s)) => Value::Object(decode_struct(s, depth + 1)?),
            (6, Payload::Bytes(l)) => {
                let mut items = Vec::new();
                for item in Reader::fields(l) {
                    if let (1, Payload::Bytes(x)) = item? {
                        items.push(decode_value(x, depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            _ => v,
        };
    }
    Some(v)
}

/// `filter_metadata.pci_guard` of a serialized `Metadata`, as JSON. `None` when absent or
/// not decodable.
pub fn pci_guard_metadata(metadata: &[u8]) -> Option<Map<String, Value>> {
    for f in Reader::fields(metadata) {
        if let (1, Payload::Bytes(entry)) = f? {
            let mut key = None;
            let mut value = None;
            for e in Reader::fields(entry) {
                match e? {
                    (1, Payload::Bytes(k)) => key = Some(k),
                    (2, Payload::Bytes(v)) => value = Some(v),
                    _ => {}
                }
            }
            if key == Some(NAMESPACE.as_bytes()) {
                return decode_struct(value?, 0);
            }
        }
    }
    None
}

/// The policy route an Envoy route names in its metadata (`{route: NAME}`).
pub fn route_name(metadata: &[u8]) -> Option<String> {
    pci_guard_metadata(metadata)?
        .get("route")?
        .as_str()
        .map(str::to_string)
}
