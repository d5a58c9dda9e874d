//! The driver of the fake host: a VM as Envoy runs it, callback by callback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{FakeHost, Reply, SELF_CLUSTER};
use crate::host::Action;
use crate::keys::{KeyShare, SharedDataLease};
use crate::root::{Root, Stream};
use crate::vm_audit::VmAudit;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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
        self.answer_call_with(token, status, &[], body);
    }

    /// Delivers the answer to HTTP call `token`, with response `headers` beside `:status`.
    pub fn answer_call_with(
        &mut self,
        token: u32,
        status: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut w = self.host.world();
        w.call_answer = Some((Some(status.to_string()), body.to_vec()));
        w.call_headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        w.current = 0;
        drop(w);
        self.root.on_http_call_response(token, 1, body.len());
        let mut w = self.host.world();
        w.call_answer = None;
        w.call_headers.clear();
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
