//! Actions that re-enter Envoy's filter chain (a local reply, continuing a paused request,
//! resetting a stream), queued while the plugin decides and run when its call has returned:
//! Envoy runs them synchronously, and would call this stream's hooks again while the plugin's
//! state is borrowed. (Envoy's wasm host defers them the same way.)

#![allow(unsafe_code)]

use super::DynamicHost;
use crate::abi::{self, *};
use crate::shared::EnvoyPtr;

/// An action that re-enters Envoy's filter chain, run when the plugin's call has returned.
pub(super) enum Deferred {
    Reply {
        filter: EnvoyPtr,
        status: u32,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    Continue(EnvoyPtr),
    Reset(EnvoyPtr),
}

impl DynamicHost {
    /// Runs the actions the plugin asked for during its call, now that it has returned.
    pub fn run_deferred(&self) {
        let Some(cb) = abi::cb() else { return };
        loop {
            let actions = std::mem::take(&mut *self.0.deferred.borrow_mut());
            if actions.is_empty() {
                return;
            }
            for a in actions {
                match a {
                    Deferred::Reply {
                        filter,
                        status,
                        headers,
                        body,
                    } => {
                        let mut h: Vec<envoy_dynamic_module_type_module_http_header> = headers
                            .iter()
                            .map(|(n, v)| envoy_dynamic_module_type_module_http_header {
                                key_ptr: n.as_ptr().cast(),
                                key_length: n.len(),
                                value_ptr: v.as_ptr().cast(),
                                value_length: v.len(),
                            })
                            .collect();
                        // SAFETY: `filter` is live (deferred within its own hook); the header
                        // and body buffers outlive the call, which copies them.
                        unsafe {
                            (cb.envoy_dynamic_module_callback_http_send_response)(
                                filter.0,
                                status,
                                h.as_mut_ptr(),
                                h.len(),
                                envoy_dynamic_module_type_module_buffer::of(&body),
                                envoy_dynamic_module_type_module_buffer::of(b"pci_guard"),
                            )
                        }
                    }
                    // SAFETY: as above: the filter is live.
                    Deferred::Continue(f) => unsafe {
                        (cb.envoy_dynamic_module_callback_http_filter_continue_decoding)(f.0)
                    },
                    // SAFETY: as above: the filter is live.
                    Deferred::Reset(f) => unsafe {
                        (cb.envoy_dynamic_module_callback_http_filter_reset_stream)(
                            f.0,
                            RESET_LOCAL,
                            envoy_dynamic_module_type_module_buffer::of(b"pci_guard_body_refused"),
                        )
                    },
                }
            }
        }
    }

    pub(super) fn defer_reply(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        let Some(f) = self.filter() else { return false };
        self.0.deferred.borrow_mut().push(Deferred::Reply {
            filter: EnvoyPtr(f),
            status: u32::from(status),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        });
        true
    }

    /// A trailers-only gRPC answer: Envoy's local reply to a gRPC caller is one, with the
    /// body as `grpc-message` and our `grpc-status`.
    pub(super) fn defer_grpc_reply(
        &self,
        status: u32,
        message: &str,
        metadata: &[(&str, &[u8])],
    ) -> bool {
        let Some(f) = self.filter() else { return false };
        let mut headers: Vec<(String, Vec<u8>)> = metadata
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        headers.push(("grpc-status".into(), status.to_string().into_bytes()));
        self.0.deferred.borrow_mut().push(Deferred::Reply {
            filter: EnvoyPtr(f),
            status: http_for_grpc(status),
            headers,
            body: message.as_bytes().to_vec(),
        });
        true
    }
}

/// The HTTP status Envoy maps to gRPC `code` (its local replies to gRPC callers), so the code
/// comes out right even where `grpc-status` is not taken from our headers.
fn http_for_grpc(code: u32) -> u32 {
    match code {
        16 => 401,
        7 => 403,
        12 => 404,
        14 => 503,
        13 => 400,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_the_http_status_envoy_maps_back() {
        assert_eq!(http_for_grpc(16), 401);
        assert_eq!(http_for_grpc(7), 403);
        assert_eq!(http_for_grpc(14), 503);
    }
}
