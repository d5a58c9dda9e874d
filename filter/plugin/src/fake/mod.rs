//! A fake [`Host`] for native tests: it plays Envoy's part for one VM (streams, their headers
//! and bodies, properties, filter state, shared data, HTTP calls, counters, time) and records
//! every call, so tests can drive the plugin callback by callback and count host calls.
//!
//! Body buffers follow Envoy's rules as the plugin relies on them: a callback sees everything
//! buffered so far; `Continue` sends the buffer on, `Pause` keeps it; a write replaces from
//! the start or appends at the end, and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::host::{HeaderEdit, Host, Level, Map};

mod envoy;
pub use envoy::Envoy;

/// The self-request cluster of policies that do not name one.
pub const SELF_CLUSTER: &str = pci_guard_core::policy::DEFAULT_SELF_CLUSTER;
use pci_guard_core::identity::signature::{PureVerifier, SignatureVerifier};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Grpc {
        status: u32,
        message: String,
    },
}

#[derive(Debug, Default)]
pub struct FakeStream {
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub response_trailers: Vec<(String, String)>,
    /// Properties by dotted path (`source.address`).
    pub properties: HashMap<String, Vec<u8>>,
    pub filter_state: HashMap<String, Vec<u8>>,
    pub reply: Option<Reply>,
    pub resumed: bool,
    pub reset: bool,
    /// Request body bytes buffered in the host (not yet sent upstream).
    pub request_buffered: Vec<u8>,
    /// Request body bytes sent upstream.
    pub request_sent: Vec<u8>,
    /// Response body bytes buffered in the host (not yet sent).
    pub buffered: Vec<u8>,
    /// Response body bytes sent to the client.
    pub sent: Vec<u8>,
    /// The client went away: calls on this stream fail.
    pub gone: bool,
    /// The plugin said the stream waits for keys (`Host::on_stream_waiting`).
    pub waiting: bool,
}

/// An HTTP call the plugin dispatched.
#[derive(Debug)]
pub struct Dispatched {
    pub token: u32,
    pub cluster: String,
    pub headers: Vec<(String, String)>,
}

impl FakeStream {
    fn map(&mut self, map: Map) -> &mut Vec<(String, String)> {
        match map {
            Map::RequestHeaders => &mut self.request_headers,
            Map::ResponseHeaders => &mut self.response_headers,
            Map::ResponseTrailers => &mut self.response_trailers,
        }
    }
}

#[derive(Debug, Default)]
pub struct World {
    pub now_ms: u64,
    pub config: Option<Vec<u8>>,
    pub env: HashMap<String, String>,
    pub tick: Option<Duration>,
    pub logs: Vec<(Level, String)>,
    /// Counters by id (index): name and value handed to the host.
    pub counters: Vec<(String, u64)>,
    /// Gauges by id (index): name and last value.
    pub gauges: Vec<(String, u64)>,
    /// The root context called `done` after a delayed `on_done`.
    pub done: bool,
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    pub calls: Vec<Dispatched>,
    /// The HTTP call answer being delivered: status and body.
    pub call_answer: Option<(Option<String>, Vec<u8>)>,
    /// Its other response headers (lower-case names).
    pub call_headers: Vec<(String, String)>,
    pub current: u32,
    pub streams: BTreeMap<u32, FakeStream>,
    /// Host calls made, by method name.
    pub host_calls: BTreeMap<&'static str, usize>,
}

#[derive(Clone, Default)]
pub struct FakeHost(pub Rc<RefCell<World>>);

impl FakeHost {
    pub fn world(&self) -> std::cell::RefMut<'_, World> {
        self.0.borrow_mut()
    }

    fn count(&self, name: &'static str) {
        *self.0.borrow_mut().host_calls.entry(name).or_default() += 1;
    }

    fn with_stream<T>(&self, f: impl FnOnce(&mut FakeStream) -> T) -> Option<T> {
        let mut w = self.0.borrow_mut();
        let id = w.current;
        let s = w.streams.get_mut(&id)?;
        if s.gone {
            return None;
        }
        Some(f(s))
    }

    pub fn stream(&self, id: u32) -> std::cell::RefMut<'_, FakeStream> {
        std::cell::RefMut::map(self.0.borrow_mut(), |w| w.streams.entry(id).or_default())
    }

    pub fn advance(&self, ms: u64) {
        self.0.borrow_mut().now_ms += ms;
    }

    /// A header of the HTTP call answer being delivered (`:status` included).
    fn answered_call_header(&self, name: &str) -> Option<String> {
        let w = self.0.borrow();
        let (status, _) = w
            .call_answer
            .as_ref()
            .expect("no HTTP call answer is being delivered");
        // Envoy has no headers for a failed call, and the SDK panics when asked for them.
        assert!(status.is_some(), "asked for the headers of a failed call");
        if name == ":status" {
            return status.clone();
        }
        w.call_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

impl Host for FakeHost {
    fn now_ms(&self) -> u64 {
        self.count("now_ms");
        self.0.borrow().now_ms
    }
    fn log(&self, level: Level, msg: &str) {
        self.count("log");
        self.0.borrow_mut().logs.push((level, msg.to_string()));
    }
    fn plugin_configuration(&self) -> Option<Vec<u8>> {
        self.count("plugin_configuration");
        self.0.borrow().config.clone()
    }
    fn env(&self, name: &str) -> Option<String> {
        self.0.borrow().env.get(name).cloned()
    }
    fn set_tick_period(&self, period: Duration) {
        self.count("set_tick_period");
        self.0.borrow_mut().tick = Some(period);
    }
    fn verifier(&self) -> Box<dyn SignatureVerifier> {
        Box::new(PureVerifier)
    }
    fn done(&self) {
        self.count("done");
        self.0.borrow_mut().done = true;
    }
    fn define_gauge(&self, name: &str) -> Option<u32> {
        self.count("define_gauge");
        let mut w = self.0.borrow_mut();
        w.gauges.push((name.to_string(), 0));
        Some(w.gauges.len() as u32 - 1)
    }
    fn set_gauge(&self, id: u32, value: u64) {
        self.count("set_gauge");
        if let Some(g) = self.0.borrow_mut().gauges.get_mut(id as usize) {
            g.1 = value;
        }
    }
    fn define_counter(&self, name: &str) -> Option<u32> {
        self.count("define_counter");
        let mut w = self.0.borrow_mut();
        w.counters.push((name.to_string(), 0));
        Some(w.counters.len() as u32 - 1)
    }
    fn increment_counter(&self, id: u32, by: u64) {
        self.count("increment_counter");
        if let Some(c) = self.0.borrow_mut().counters.get_mut(id as usize) {
            c.1 += by;
        }
    }
    fn shared_data(&self, key: &str) -> Option<(Option<Vec<u8>>, Option<u32>)> {
        self.count("shared_data");
        Some(match self.0.borrow().shared.get(key) {
            Some((v, cas)) => (Some(v.clone()), Some(*cas)),
            None => (None, None),
        })
    }
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        self.count("set_shared_data");
        let mut w = self.0.borrow_mut();
        let current = w.shared.get(key).map(|(_, c)| *c);
        if cas.is_some() && cas != current {
            return false;
        }
        let next = current.unwrap_or(0) + 1;
        w.shared.insert(key.to_string(), (value.to_vec(), next));
        true
    }
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        _timeout: Duration,
    ) -> Option<u32> {
        self.count("dispatch_http_call");
        let mut w = self.0.borrow_mut();
        let token = w.calls.len() as u32 + 1;
        w.calls.push(Dispatched {
            token,
            cluster: cluster.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        });
        Some(token)
    }
    fn http_call_status(&self) -> Option<String> {
        self.count("http_call_status");
        self.answered_call_header(":status")
    }
    fn http_call_header(&self, name: &str) -> Option<String> {
        self.count("http_call_header");
        self.answered_call_header(name)
    }
    fn http_call_body(&self, size: usize) -> Option<Vec<u8>> {
        self.count("http_call_body");
        let w = self.0.borrow();
        let body = &w.call_answer.as_ref()?.1;
        Some(body[..size.min(body.len())].to_vec())
    }
    fn set_effective_context(&self, context_id: u32) -> bool {
        self.count("set_effective_context");
        let mut w = self.0.borrow_mut();
        match w.streams.get(&context_id) {
            Some(s) if !s.gone => {
                w.current = context_id;
                true
            }
            _ => false,
        }
    }
    fn resume_request(&self) {
        self.count("resume_request");
        self.with_stream(|s| s.resumed = true);
    }
    fn map(&self, map: Map) -> Vec<(String, String)> {
        self.count("map");
        self.with_stream(|s| s.map(map).clone()).unwrap_or_default()
    }
    fn edit(&self, map: Map, edit: &HeaderEdit) -> bool {
        self.count("edit");
        self.with_stream(|s| {
            let h = s.map(map);
            match edit {
                HeaderEdit::Set { name, value } => {
                    h.retain(|(n, _)| n != name);
                    h.push((name.clone(), value.clone()));
                }
                HeaderEdit::Remove { name } => h.retain(|(n, _)| n != name),
                HeaderEdit::Add { name, value } => h.push((name.clone(), value.clone())),
            }
        })
        .is_some()
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.count("property");
        self.with_stream(|s| s.properties.get(&path.join(".")).cloned())
            .flatten()
    }
    fn set_property(&self, path: &[&str], value: &[u8]) -> bool {
        self.count("set_property");
        self.with_stream(|s| s.filter_state.insert(path.join("."), value.to_vec()))
            .is_some()
    }
    fn send_http_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        self.count("send_http_response");
        self.with_stream(|s| {
            s.reply = Some(Reply::Http {
                status,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
            })
        })
        .is_some()
    }
    fn send_grpc_response(&self, status: u32, message: &str, _metadata: &[(&str, &[u8])]) -> bool {
        self.count("send_grpc_response");
        self.with_stream(|s| {
            s.reply = Some(Reply::Grpc {
                status,
                message: message.to_string(),
            })
        })
        .is_some()
    }
    fn read_request_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        self.count("request_body");
        self.with_stream(|s| {
            let end = start.saturating_add(len).min(s.request_buffered.len());
            into.extend_from_slice(
                s.request_buffered
                    .get(start.min(end)..end)
                    .unwrap_or_default(),
            );
        })
        .is_some()
    }
    fn read_response_body(&self, start: usize, len: usize, into: &mut Vec<u8>) -> bool {
        self.count("response_body");
        self.with_stream(|s| {
            let end = start.saturating_add(len).min(s.buffered.len());
            into.extend_from_slice(s.buffered.get(start.min(end)..end).unwrap_or_default());
        })
        .is_some()
    }
    fn set_response_body(&self, start: usize, len: usize, data: &[u8]) -> bool {
        self.count("set_response_body");
        self.with_stream(|s| {
            if start == 0 {
                let end = len.min(s.buffered.len());
                s.buffered.splice(0..end, data.iter().copied());
                true
            } else if start >= s.buffered.len() {
                s.buffered.extend_from_slice(data);
                true
            } else {
                false
            }
        })
        .unwrap_or(false)
    }
    fn reset_response(&self) {
        self.count("reset_response");
        self.with_stream(|s| s.reset = true);
    }
    fn on_stream_waiting(&self) {
        self.count("on_stream_waiting");
        self.with_stream(|s| s.waiting = true);
    }
}
