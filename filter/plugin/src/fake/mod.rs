//! A fake [`Host`] for native tests: it plays Envoy's part for one VM (streams, their headers
//! and bodies, properties, filter state, shared data, HTTP calls, counters, time) and records
//! every call, so tests can drive the plugin callback by callback and count host calls.
//!
//! Body buffers follow Envoy's rules as the plugin relies on them: a callback sees everything
//! buffered so far; `Continue` sends the buffer on, `Pause` keeps it; a write replaces from
//! the start or appends at the end, and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::host::{Action, HeaderEdit, Host, Level, Map};
use super::keys::{KeyShare, SharedDataLease};
use super::root::{Root, Stream};
use super::vm_audit::VmAudit;

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
        let w = self.0.borrow();
        let (status, _) = w
            .call_answer
            .as_ref()
            .expect("no HTTP call answer is being delivered");
        // Envoy has no headers for a failed call, and the SDK panics when asked for them.
        assert!(status.is_some(), "asked for the headers of a failed call");
        status.clone()
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

/// A VM as Envoy drives it: the root context and its streams, on one [`FakeHost`].
pub struct Envoy {
    pub host: FakeHost,
    pub root: Root<FakeHost>,
    /// The VM's audit state (its root contexts share it).
    pub audit: Rc<RefCell<VmAudit>>,
    streams: HashMap<u32, Stream<FakeHost>>,
    next_id: u32,
    /// Self-requests already run through the internal listener.
    delivered: std::collections::BTreeSet<u32>,
}

impl Envoy {
    /// Starts a VM and configures it with `policy`; panics if the policy is refused. Key sets
    /// are shared as in proxy-wasm (a lease in the fake's shared data).
    pub fn start(policy: &[u8]) -> Self {
        let host = FakeHost::default();
        Self::start_with(policy, host.clone(), Rc::new(SharedDataLease::new(host)))
    }

    /// [`Envoy::start`] on `host`, sharing key sets through `share`.
    pub fn start_with(policy: &[u8], host: FakeHost, share: Rc<dyn KeyShare>) -> Self {
        Self::boot(policy, host, share, VmAudit::new(1_800_000_000_000))
    }

    /// [`Envoy::start`] as the dynamic module runs a worker: its audit is carried by request
    /// lines (no self-requests).
    pub fn start_carried(policy: &[u8]) -> Self {
        let host = FakeHost::default();
        let share = Rc::new(SharedDataLease::new(host.clone()));
        Self::boot(policy, host, share, VmAudit::carried(1_800_000_000_000))
    }

    fn boot(policy: &[u8], host: FakeHost, share: Rc<dyn KeyShare>, audit: VmAudit) -> Self {
        host.world().now_ms = 1_800_000_000_000;
        host.world().config = Some(policy.to_vec());
        let audit = Rc::new(RefCell::new(audit));
        let mut root = Root::new(host.clone(), share, audit.clone());
        assert!(root.on_vm_start());
        let mut envoy = Self {
            host,
            root,
            audit,
            streams: HashMap::new(),
            next_id: 1,
            delivered: Default::default(),
        };
        assert!(
            envoy.configure(policy),
            "policy refused: {:?}",
            envoy.host.world().logs
        );
        // The VM's first tick sends the start record's self-request: it goes through, as it
        // does in Envoy before the listeners take traffic.
        envoy.tick();
        envoy.run_self_requests(SELF_CLUSTER);
        envoy
    }

    /// Hands the VM a new plugin configuration, as Envoy does on an ECDS update.
    pub fn configure(&mut self, policy: &[u8]) -> bool {
        self.host.world().config = Some(policy.to_vec());
        self.host.world().current = 0;
        self.root.on_configure()
    }

    pub fn tick(&mut self) {
        self.host.world().current = 0;
        self.root.on_tick();
    }

    /// Delivers the answer to HTTP call `token`.
    pub fn answer_call(&mut self, token: u32, status: &str, body: &[u8]) {
        self.host.world().call_answer = Some((Some(status.to_string()), body.to_vec()));
        self.host.world().current = 0;
        self.root.on_http_call_response(token, 1, body.len());
        self.host.world().call_answer = None;
    }

    /// HTTP call `token` failed (reset, timeout): no headers, no body.
    pub fn fail_call(&mut self, token: u32) {
        self.host.world().call_answer = Some((None, Vec::new()));
        self.host.world().current = 0;
        self.root.on_http_call_response(token, 0, 0);
        self.host.world().call_answer = None;
    }

    /// A new stream with these request headers (and `source.address`); its request headers
    /// callback runs. Returns the stream id and the callback's action.
    pub fn request<N: AsRef<str>, V: AsRef<str>>(&mut self, headers: &[(N, V)]) -> (u32, Action) {
        self.request_eos(headers, false)
    }

    /// [`Envoy::request`] for a request whose headers end the stream (no body).
    pub fn request_eos<N: AsRef<str>, V: AsRef<str>>(
        &mut self,
        headers: &[(N, V)],
        end_of_stream: bool,
    ) -> (u32, Action) {
        let id = self.next_id;
        self.next_id += 1;
        {
            let mut s = self.host.stream(id);
            s.request_headers = headers
                .iter()
                .map(|(n, v)| (n.as_ref().to_string(), v.as_ref().to_string()))
                .collect();
            s.properties
                .insert("source.address".into(), b"10.0.0.5:53211".to_vec());
            s.properties
                .insert("request.protocol".into(), b"HTTP/1.1".to_vec());
        }
        let mut stream = self.root.create_stream(id);
        self.host.world().current = id;
        let action = stream.on_request_headers(end_of_stream);
        self.streams.insert(id, stream);
        (id, action)
    }

    /// One request body callback with `chunk` added to what the host buffers. On `Continue`
    /// the buffer goes upstream.
    pub fn request_body(&mut self, id: u32, chunk: &[u8], eos: bool) -> Action {
        let size = {
            let mut s = self.host.stream(id);
            s.request_buffered.extend_from_slice(chunk);
            s.request_buffered.len()
        };
        let action = self.on(id, |s| s.on_request_body(size, eos));
        if action == Action::Continue {
            let mut s = self.host.stream(id);
            let out = std::mem::take(&mut s.request_buffered);
            s.request_sent.extend_from_slice(&out);
        }
        action
    }

    pub fn on<T>(&mut self, id: u32, f: impl FnOnce(&mut Stream<FakeHost>) -> T) -> T {
        self.host.world().current = id;
        f(self.streams.get_mut(&id).expect("no such stream"))
    }

    pub fn response_headers(&mut self, id: u32, headers: &[(&str, &str)], eos: bool) -> Action {
        self.host.stream(id).response_headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.on(id, |s| s.on_response_headers(eos))
    }

    /// One body callback with `chunk` added to what the host buffers. On `Continue` the
    /// buffer goes to the client.
    pub fn body(&mut self, id: u32, chunk: &[u8], eos: bool) -> Action {
        let size = {
            let mut s = self.host.stream(id);
            s.buffered.extend_from_slice(chunk);
            s.buffered.len()
        };
        let action = self.on(id, |s| s.on_response_body(size, eos));
        if action == Action::Continue {
            let mut s = self.host.stream(id);
            let out = std::mem::take(&mut s.buffered);
            s.sent.extend_from_slice(&out);
        }
        action
    }

    /// The request trailers callback; on `Continue` the buffered request body goes upstream.
    pub fn trailers_request(&mut self, id: u32) -> Action {
        let action = self.on(id, |s| s.on_request_trailers());
        if action == Action::Continue {
            let mut s = self.host.stream(id);
            let out = std::mem::take(&mut s.request_buffered);
            s.request_sent.extend_from_slice(&out);
        }
        action
    }

    /// The trailers callback with these trailers; on `Continue` whatever is still buffered
    /// goes to the client.
    pub fn trailers_with(&mut self, id: u32, trailers: &[(&str, &str)]) -> Action {
        self.host.stream(id).response_trailers = trailers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.trailers(id)
    }

    /// The trailers callback; on `Continue` whatever is still buffered goes to the client.
    pub fn trailers(&mut self, id: u32) -> Action {
        let action = self.on(id, |s| s.on_response_trailers());
        if action == Action::Continue {
            let mut s = self.host.stream(id);
            let out = std::mem::take(&mut s.buffered);
            s.sent.extend_from_slice(&out);
        }
        action
    }

    /// The stream ends: `on_log` runs; returns the audit event it recorded.
    pub fn log(&mut self, id: u32) -> serde_json::Value {
        self.on(id, |s| s.on_log());
        self.streams.remove(&id);
        let line = self
            .host
            .stream(id)
            .filter_state
            .get("pci_guard_audit")
            .cloned()
            .expect("no audit event recorded");
        serde_json::from_slice(&line).expect("the audit event is JSON")
    }
}

impl Envoy {
    /// Runs the self-requests the VM dispatched to `cluster` as Envoy's internal listener
    /// would: each becomes a stream of this VM with the dispatched headers, is answered, and
    /// logged; then the call's answer reaches the root. Returns the lines they logged.
    pub fn run_self_requests(&mut self, cluster: &str) -> Vec<serde_json::Value> {
        let calls: Vec<(u32, Vec<(String, String)>)> = self
            .host
            .world()
            .calls
            .iter()
            .filter(|c| c.cluster == cluster && !self.delivered.contains(&c.token))
            .map(|c| (c.token, c.headers.clone()))
            .collect();
        let mut lines = Vec::new();
        for (token, headers) in calls {
            self.delivered.insert(token);
            let (id, _) = self.request(&headers);
            let status = match &self.host.stream(id).reply {
                Some(Reply::Http { status, .. }) => status.to_string(),
                other => panic!("a self-request must be answered locally: {other:?}"),
            };
            self.on(id, |s| s.on_log());
            self.streams.remove(&id);
            if let Some(line) = self.host.stream(id).filter_state.get("pci_guard_audit") {
                lines.push(serde_json::from_slice(line).expect("the record is JSON"));
            }
            self.answer_call(token, &status, b"");
        }
        lines
    }
}
