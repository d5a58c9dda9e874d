//! The current stream's headers, attributes and filter state, as the plugin's `Host` asks for
//! them: Envoy's attributes under the proxy-wasm property paths the plugin uses, the route's
//! `pci_guard` metadata in the serialized form the core reads, the audit event under the wasm
//! build's filter-state key.

#![allow(unsafe_code)]

use super::{DynamicHost, FILTER_STATE_PREFIX};
use crate::abi::{self, *};
use pci_guard_plugin::{HeaderEdit, Map};

impl DynamicHost {
    fn attr_string(&self, id: u32) -> Option<Vec<u8>> {
        let (cb, f) = (abi::cb()?, self.filter()?);
        let mut out = envoy_dynamic_module_type_envoy_buffer::NULL;
        // SAFETY: `f` is the live current filter; `out` is a valid place for the result.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_get_attribute_string)(f, id, &mut out)
        };
        // SAFETY: Envoy filled `out` in this hook.
        ok.then(|| unsafe { out.bytes() }.to_vec())
    }

    fn attr_int(&self, id: u32) -> Option<Vec<u8>> {
        let (cb, f) = (abi::cb()?, self.filter()?);
        let mut v = 0u64;
        // SAFETY: `f` is the live current filter; `v` is a valid place for the result.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_filter_get_attribute_int)(f, id, &mut v)
        };
        ok.then(|| v.to_le_bytes().to_vec())
    }

    /// `filter_metadata.pci_guard.route` of the matched route, as the serialized `Metadata`
    /// the core reads for `xds.route_metadata` (only that field: it is all the core reads).
    fn route_metadata(&self) -> Option<Vec<u8>> {
        let (cb, f) = (abi::cb()?, self.filter()?);
        let mut out = envoy_dynamic_module_type_envoy_buffer::NULL;
        // SAFETY: `f` is the live current filter; the key buffers outlive the call.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_get_metadata_string)(
                f,
                METADATA_ROUTE,
                envoy_dynamic_module_type_module_buffer::of(b"pci_guard"),
                envoy_dynamic_module_type_module_buffer::of(b"route"),
                &mut out,
            )
        };
        // SAFETY: Envoy filled `out` in this hook.
        ok.then(|| route_metadata(unsafe { out.bytes() }))
    }

    /// A header map of the current stream, read in one call.
    pub(super) fn headers(&self, map: Map) -> Vec<(String, String)> {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return Vec::new();
        };
        let t = header_type(map);
        // SAFETY: `f` is the live current filter.
        let n = unsafe { (cb.envoy_dynamic_module_callback_http_get_headers_size)(f, t) };
        let empty = envoy_dynamic_module_type_envoy_http_header {
            key_ptr: std::ptr::null(),
            key_length: 0,
            value_ptr: std::ptr::null(),
            value_length: 0,
        };
        let mut raw = vec![empty; n];
        // SAFETY: `raw` has room for the `n` headers Envoy reported.
        if n == 0
            || !unsafe {
                (cb.envoy_dynamic_module_callback_http_get_headers)(f, t, raw.as_mut_ptr())
            }
        {
            return Vec::new();
        }
        // SAFETY: Envoy filled these in this hook and no setter ran since.
        raw.iter().map(|h| unsafe { h.pair() }).collect()
    }

    pub(super) fn edit_header(&self, map: Map, edit: &HeaderEdit) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        let t = header_type(map);
        // SAFETY: `f` is the live current filter; name and value outlive each call. A null
        // value removes the header.
        unsafe {
            match edit {
                HeaderEdit::Set { name, value } => (cb
                    .envoy_dynamic_module_callback_http_set_header)(
                    f,
                    t,
                    Self::callback_buffer(name),
                    Self::callback_buffer(value),
                ),
                HeaderEdit::Remove { name } => (cb.envoy_dynamic_module_callback_http_set_header)(
                    f,
                    t,
                    Self::callback_buffer(name),
                    envoy_dynamic_module_type_module_buffer::NULL,
                ),
                HeaderEdit::Add { name, value } => (cb
                    .envoy_dynamic_module_callback_http_add_header)(
                    f,
                    t,
                    Self::callback_buffer(name),
                    Self::callback_buffer(value),
                ),
            }
        }
    }

    /// A proxy-wasm property path answered from Envoy's attributes.
    pub(super) fn attribute(&self, path: &[&str]) -> Option<Vec<u8>> {
        match path {
            ["xds", "route_name"] => self.attr_string(ATTR_XDS_ROUTE_NAME),
            ["xds", "route_metadata"] => self.route_metadata(),
            ["source", "address"] => self.attr_string(ATTR_SOURCE_ADDRESS),
            ["connection", "uri_san_peer_certificate"] => {
                self.attr_string(ATTR_CONNECTION_URI_SAN_PEER_CERTIFICATE)
            }
            ["request", "protocol"] => self.attr_string(ATTR_REQUEST_PROTOCOL),
            ["request", "method"] => self.attr_string(ATTR_REQUEST_METHOD),
            ["request", "path"] => self.attr_string(ATTR_REQUEST_PATH),
            ["response", "code"] => self.attr_int(ATTR_RESPONSE_CODE),
            ["response", "grpc_status"] => self.attr_int(ATTR_RESPONSE_GRPC_STATUS),
            ["response", "code_details"] => self.attr_string(ATTR_RESPONSE_CODE_DETAILS),
            _ => None,
        }
    }

    pub(super) fn set_filter_state(&self, path: &[&str], value: &[u8]) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        let key = format!("{FILTER_STATE_PREFIX}{}", path.join("."));
        // SAFETY: `f` is the live current filter; key and value outlive the call (Envoy
        // copies them).
        unsafe {
            (cb.envoy_dynamic_module_callback_http_set_filter_state_bytes)(
                f,
                Self::callback_buffer(&key),
                envoy_dynamic_module_type_module_buffer::of(value),
            )
        }
    }
}

/// Serializes `Metadata { filter_metadata: { "pci_guard": Struct { fields: { "route":
/// Value { string_value } } } } }` (proto3 wire format).
pub fn route_metadata(route: &[u8]) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
        out.push((number << 3) | 2);
        let mut n = bytes.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(bytes);
    }
    let mut value = Vec::new();
    field(&mut value, 3, route); // Value.string_value
    let mut entry = Vec::new();
    field(&mut entry, 1, b"route");
    field(&mut entry, 2, &value);
    let mut fields = Vec::new();
    field(&mut fields, 1, &entry); // Struct.fields
    let mut ns = Vec::new();
    field(&mut ns, 1, b"pci_guard");
    field(&mut ns, 2, &fields);
    let mut out = Vec::new();
    field(&mut out, 1, &ns); // Metadata.filter_metadata
    out
}

fn header_type(map: Map) -> u32 {
    match map {
        Map::RequestHeaders => HEADER_REQUEST,
        Map::ResponseHeaders => HEADER_RESPONSE,
        Map::ResponseTrailers => HEADER_RESPONSE_TRAILER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_metadata_is_what_the_core_reads_from_envoy() {
        let bytes = route_metadata(b"cards-read");
        assert_eq!(
            pci_guard_core::routes::metadata::route_name(&bytes).as_deref(),
            Some("cards-read")
        );
    }
}
