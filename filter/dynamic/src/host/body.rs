//! A body as the plugin sees it: what Envoy buffered for this filter (after a pause), then the
//! chunk just received; read from Envoy's slices into the caller's reused buffer and, for the
//! response, when the length stays (masking), written back in place.

#![allow(unsafe_code)]

use super::DynamicHost;
use crate::abi::{self, *};
use std::ffi::c_void;

/// Which body: the request's (read to judge operations) or the response's (scanned, masked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

impl DynamicHost {
    /// A body's parts as the plugin sees them: what Envoy buffered for this filter (after a
    /// pause), then the chunk just received. When the chunk received is itself the buffered
    /// body (an earlier filter buffered it), it is the only part.
    fn body_parts(&self, cb: &Callbacks, f: *mut c_void, side: Side) -> Vec<u32> {
        // SAFETY: `f` is the live current filter.
        let same = unsafe {
            match side {
                Side::Request => {
                    (cb.envoy_dynamic_module_callback_http_received_buffered_request_body)(f)
                }
                Side::Response => {
                    (cb.envoy_dynamic_module_callback_http_received_buffered_response_body)(f)
                }
            }
        };
        let (buffered, received) = match side {
            Side::Request => (BODY_BUFFERED_REQUEST, BODY_RECEIVED_REQUEST),
            Side::Response => (BODY_BUFFERED_RESPONSE, BODY_RECEIVED_RESPONSE),
        };
        if same {
            vec![received]
        } else {
            vec![buffered, received]
        }
    }

    /// The slices of one body part (valid until the hook returns or the body changes).
    fn slices(
        cb: &Callbacks,
        f: *mut c_void,
        part: u32,
    ) -> Vec<envoy_dynamic_module_type_envoy_buffer> {
        // SAFETY: `f` is the live current filter.
        let n = unsafe { (cb.envoy_dynamic_module_callback_http_get_body_chunks_size)(f, part) };
        if n == 0 {
            return Vec::new();
        }
        let mut v = vec![envoy_dynamic_module_type_envoy_buffer::NULL; n];
        // SAFETY: `v` has room for the `n` slices Envoy reported.
        let ok = unsafe {
            (cb.envoy_dynamic_module_callback_http_get_body_chunks)(f, part, v.as_mut_ptr())
        };
        if ok {
            v
        } else {
            Vec::new()
        }
    }

    /// The size the current stream's body callback sees: buffered plus received.
    pub fn body_size(&self, side: Side) -> usize {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return 0;
        };
        self.body_parts(cb, f, side)
            .into_iter()
            // SAFETY: `f` is the live current filter.
            .map(|p| unsafe { (cb.envoy_dynamic_module_callback_http_get_body_size)(f, p) })
            .sum()
    }

    pub(super) fn read_body(
        &self,
        side: Side,
        start: usize,
        len: usize,
        into: &mut Vec<u8>,
    ) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        let (mut skip, mut want) = (start, len);
        into.reserve(len);
        for part in self.body_parts(cb, f, side) {
            for s in Self::slices(cb, f, part) {
                // SAFETY: Envoy filled the slice in this hook; nothing changed the body since.
                let bytes = unsafe { s.bytes() };
                if skip >= bytes.len() {
                    skip -= bytes.len();
                    continue;
                }
                let take = &bytes[skip..bytes.len().min(skip + want)];
                skip = 0;
                want -= take.len();
                into.extend_from_slice(take);
                if want == 0 {
                    return true;
                }
            }
        }
        want == 0
    }

    pub(super) fn write_body(&self, start: usize, len: usize, data: &[u8]) -> bool {
        let (Some(cb), Some(f)) = (abi::cb(), self.filter()) else {
            return false;
        };
        if start != 0 {
            return false;
        }
        let parts = self.body_parts(cb, f, Side::Response);
        if data.len() == len {
            // Same length (masking in place): written into Envoy's slices, nothing moves.
            let mut rest = data;
            for &part in &parts {
                for s in Self::slices(cb, f, part) {
                    if rest.is_empty() {
                        return true;
                    }
                    let n = s.length.min(rest.len());
                    // SAFETY: the slice is Envoy's buffer memory for this filter's body, live
                    // until the hook returns; only this filter touches it now (it holds the
                    // body), and `n` is within it. Envoy's own SDK writes bodies in place.
                    unsafe {
                        std::ptr::copy_nonoverlapping(rest.as_ptr(), s.ptr.cast_mut().cast(), n)
                    };
                    rest = &rest[n..];
                }
            }
            return rest.is_empty();
        }
        // Another length: keep what follows the replaced bytes, empty the body, write anew.
        let mut tail = Vec::new();
        let total = self.body_size(Side::Response);
        if len < total && !self.read_body(Side::Response, len, total - len, &mut tail) {
            return false;
        }
        for &part in &parts {
            // SAFETY: `f` is the live current filter.
            unsafe { (cb.envoy_dynamic_module_callback_http_drain_body)(f, part, usize::MAX) };
        }
        let mut all = Vec::with_capacity(data.len() + tail.len());
        all.extend_from_slice(data);
        all.extend_from_slice(&tail);
        if all.is_empty() {
            return true;
        }
        // The chunk received goes on (or is buffered) after the hook; in the trailers hook
        // there is none, and the buffered body takes the bytes.
        // SAFETY: `f` is the live current filter; `all` outlives the call (Envoy copies it).
        unsafe {
            (cb.envoy_dynamic_module_callback_http_append_body)(
                f,
                BODY_RECEIVED_RESPONSE,
                envoy_dynamic_module_type_module_buffer::of(&all),
            ) || (cb.envoy_dynamic_module_callback_http_append_body)(
                f,
                BODY_BUFFERED_RESPONSE,
                envoy_dynamic_module_type_module_buffer::of(&all),
            )
        }
    }
}
