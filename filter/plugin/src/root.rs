//! The root context: loads the policy once per VM, keeps the VM's state (keys, metrics; the
//! audit chain is the VM's, shared by its root contexts), fetches remote key sets on a timer,
//! writes the VM's own audit records, resumes requests that wait for first keys, and creates
//! a stream per request.

use super::grants_fetch::{Doc, GrantsFetcher};
use super::host::{Host, Level};
use super::jwks_fetch::Fetcher;
use super::keys::KeyShare;
use super::metrics::Metrics;
use super::stream::{RequestStep, StreamState};
use super::vm::Vm;
use super::vm_audit::VmAudit;
use pci_guard_core::audit::checkpoint::Signer;
use pci_guard_core::audit::control::ControlFailure;
use pci_guard_core::audit::record::ControlRef;
use pci_guard_core::identity::key_store::KeyState;
use pci_guard_core::identity::KeySource;
use pci_guard_core::policy::Policy;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

mod http;
pub use http::Stream;

/// How often a VM flushes its metrics, looks for due key fetches and for keys other VMs
/// fetched, writes its due audit records, and ends the waits that are over.
pub const TICK: Duration = Duration::from_millis(500);
/// While a chain's start record waits for its self-request the VM ticks this often: its first
/// requests wait for the start (at most `vm_audit::START_WAIT_MS`), resumed on a tick.
pub const FIRST_TICK: Duration = Duration::from_millis(5);

pub struct Root<H: Host> {
    host: H,
    /// `None` until a policy loads; streams without one are refused (fail closed).
    vm: Option<Rc<RefCell<Vm>>>,
    /// The VM's audit chain and own records, shared with the VM's other root contexts.
    audit: Rc<RefCell<VmAudit>>,
    /// This root context counts among the VM's live ones.
    counted: bool,
    /// `on_done` returned false: the VM's end record is on its way.
    ending: bool,
    /// Ticking at [`FIRST_TICK`] while requests may wait for the start record.
    fast: bool,
    metrics: Option<Rc<Metrics>>,
    /// How this root shares remote key sets with the process's other roots.
    share: Rc<dyn KeyShare>,
    fetcher: Option<Fetcher>,
    /// Polls the approvals service when the policy takes grants from a header.
    grants: Option<GrantsFetcher>,
    /// Requests paused until their provider's first keys arrive (or the wait times out).
    waiting: Rc<RefCell<Vec<Waiter<H>>>>,
}

/// A request waiting for its provider's first keys, or for its VM's start record.
pub struct Waiter<H: Host> {
    pub context_id: u32,
    pub deadline_ms: u64,
    /// The route's providers: any of them getting keys ends the wait.
    pub providers: Vec<usize>,
    /// Waits for the VM's start record, not yet judged.
    pub start: bool,
    pub stream: Rc<RefCell<StreamState<H>>>,
}

impl<H: Host> Root<H> {
    /// A root on `host` that shares key sets with the process's other roots through `share`;
    /// `audit`: the VM's audit state (one per VM, whatever its root contexts).
    pub fn new(host: H, share: Rc<dyn KeyShare>, audit: Rc<RefCell<VmAudit>>) -> Self {
        Self {
            host,
            vm: None,
            audit,
            counted: false,
            ending: false,
            fast: false,
            metrics: None,
            share,
            fetcher: None,
            grants: None,
            waiting: Rc::default(),
        }
    }

    fn reject(&self, message: &str) -> bool {
        self.host.log(
            Level::Error,
            &format!("pci-guard: policy rejected: {message}"),
        );
        false
    }

    /// Whether a policy is in force (streams without one are refused).
    pub fn loaded(&self) -> bool {
        self.vm.is_some()
    }

    /// A policy that did not load: logged, and a control failure of the process. Envoy
    /// builds a new filter config on its main thread first, whose VM serves no requests and
    /// is dropped with the failed config: the failure goes through shared data, once per
    /// document, for a worker's VM to write; its count is flushed at once.
    fn rejected(&self, messages: &[String], config: &[u8]) -> bool {
        for m in messages {
            self.reject(m);
        }
        let mut detail = messages.join("; ");
        pci_guard_core::audit::cap(&mut detail);
        let c = ControlRef {
            reason: ControlFailure::PolicyRejected,
            detail: format!("a new policy was refused, the last good one stays: {detail}"),
            provider: None,
            request_id: None,
            count: 1,
        };
        let key = format!("policy_rejected/{}", pci_guard_core::digest::sha256(config));
        self.audit
            .borrow_mut()
            .post(&self.host, self.metrics.as_deref(), &key, c, false);
        if let Some(m) = &self.metrics {
            m.flush(&self.host);
        }
        false
    }

    pub fn on_vm_start(&mut self) -> bool {
        self.metrics = Some(Rc::new(Metrics::define(&self.host)));
        true
    }

    /// Loads the plugin configuration as the policy. On any error, whatever policy was in
    /// force stays: fail closed means the last good policy, never no policy.
    pub fn on_configure(&mut self) -> bool {
        let Some(config) = self.host.plugin_configuration() else {
            return self.reject(
                "no policy configured: set the plugin configuration to a pci-guard policy (JSON)",
            );
        };
        let mut policy = match Policy::parse(&config) {
            Ok(p) => p,
            Err(errors) => {
                let m: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
                return self.rejected(&m, &config);
            }
        };
        if let Err(errors) = policy.resolve_secrets(|var| self.host.env(var)) {
            let m: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            return self.rejected(&m, &config);
        }
        let key = match &policy.audit.chain_secret_env {
            None => None,
            Some(var) => match self.host.env(var) {
                Some(k) if !k.is_empty() => Some(k.into_bytes()),
                _ => {
                    return self.rejected(&[format!(
                        "/audit/chain_secret_env: the environment variable {var} is not set for the VM (vm_config.environment_variables)"
                    )], &config)
                }
            },
        };
        let signer = match &policy.audit.checkpoint {
            None => None,
            Some(c) => match self.host.env(&c.signing_key_env).map(|pem| Signer::from_pem(&pem)) {
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    return self.rejected(&[format!(
                        "/audit/checkpoint/signing_key_env: {}: {e}",
                        c.signing_key_env
                    )], &config)
                }
                None => {
                    return self.rejected(&[format!(
                        "/audit/checkpoint/signing_key_env: the environment variable {} is not set for the VM (vm_config.environment_variables)",
                        c.signing_key_env
                    )], &config)
                }
            },
        };
        self.host.log(
            Level::Info,
            &format!(
                "pci-guard: policy {:?} loaded ({}; mode {:?}, {} routes, {} rules, {} providers)",
                policy.version,
                policy.digest,
                policy.mode,
                policy.routes.len(),
                policy.rules.len(),
                policy.providers.len()
            ),
        );
        let now_ms = self.host.now_ms();
        {
            let mut audit = self.audit.borrow_mut();
            audit.configure(&policy, key, signer, now_ms);
            if !self.counted {
                audit.root_started();
                self.counted = true;
            }
        }
        let vm = Vm::new(Rc::new(policy), self.host.verifier(), now_ms);
        // The tick flushes metrics, writes the VM's audit records, and drives key fetches
        // when a provider has remote keys.
        if self.audit.borrow().start_unwritten() {
            self.fast = true;
            self.host.set_tick_period(FIRST_TICK);
        } else {
            self.host.set_tick_period(TICK);
        }
        self.fetcher = vm
            .has_remote_keys()
            .then(|| Fetcher::new(self.share.clone()));
        self.grants = vm
            .grants
            .is_some()
            .then(|| GrantsFetcher::new(self.share.clone()));
        if let Some(m) = &self.metrics {
            if self.grants.is_some() {
                for doc in [Doc::Keys, Doc::Revocations] {
                    m.define_provider(&self.host, doc.name());
                }
            }
            for p in &vm.policy.providers {
                if matches!(p.keys, KeySource::Remote(_)) {
                    m.define_provider(&self.host, &p.name);
                }
            }
        }
        self.vm = Some(Rc::new(RefCell::new(vm)));
        // Requests that waited for the old policy's keys are judged again under this one:
        // the old policy's fetches will never be answered here.
        self.resume_waiting(true);
        self.tick(false);
        true
    }

    pub fn on_tick(&mut self) {
        self.tick(true);
    }

    /// The timer's work. `timer`: also the VM's audit records and key fetches; false from
    /// `on_configure`, which on a worker runs before the worker serves (a self-request to the
    /// internal listener then crashed Envoy 1.40, measured) and on Envoy's main thread while
    /// the server starts (a key fetch made then held the process's fetch lease for its whole
    /// timeout without an answer), so the first of each goes on the first tick.
    fn tick(&mut self, timer: bool) {
        let audit = timer;
        if let Some(m) = &self.metrics {
            m.flush(&self.host);
        }
        let now_ms = self.host.now_ms();
        if audit {
            self.audit
                .borrow_mut()
                .tick(&self.host, self.metrics.as_deref(), now_ms);
            let waits = self.audit.borrow().start_wait(now_ms).is_some();
            if self.fast && !waits {
                // The start is written (or will not be soon: Envoy's main thread): back to
                // the usual pace.
                self.fast = false;
                self.host.set_tick_period(TICK);
            }
            self.finish_ending(now_ms);
            self.resume_waiting(false);
        }
        if let (Some(vm), Some(grants), true) = (&self.vm, &mut self.grants, timer) {
            let stale = grants.tick(&self.host, &mut vm.borrow_mut(), now_ms / 1000);
            if let Some((key, c)) = stale {
                let m = self.metrics.as_deref();
                self.audit.borrow_mut().post(&self.host, m, &key, c, false);
            }
        }
        let (Some(vm), Some(fetcher), true) = (&self.vm, &mut self.fetcher, timer) else {
            return;
        };
        fetcher.tick(&self.host, &mut vm.borrow_mut(), now_ms / 1000);
        self.keys_watch(now_ms / 1000);
        self.resume_waiting(false);
    }

    /// Remote key sets: their age as a gauge, and a control failure when they pass
    /// `max_stale` (tokens of that provider are refused from then on).
    fn keys_watch(&self, now: u64) {
        let Some(vm) = &self.vm else {
            return;
        };
        let vm = vm.borrow();
        for (i, p) in vm.policy.providers.iter().enumerate() {
            let (KeySource::Remote(remote), Some(store)) = (&p.keys, vm.keyring.store(i)) else {
                continue;
            };
            let Some(fetched_at) = store.fetched_at() else {
                continue;
            };
            if let Some(m) = &self.metrics {
                m.jwks_age(&self.host, &p.name, now.saturating_sub(fetched_at));
            }
            if store.state(now) == KeyState::Expired {
                self.audit.borrow_mut().keys_expired(
                    &self.host,
                    self.metrics.as_deref(),
                    &p.name,
                    fetched_at,
                    remote.max_stale_ms / 1000,
                );
            }
        }
    }

    /// The answer to an HTTP call: a self-request of the VM's audit, or a key fetch.
    /// `headers` response headers (none when the call failed: reset, timeout) and
    /// `body_size` body bytes.
    pub fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize) {
        let now_ms = self.host.now_ms();
        let is_audit = self.audit.borrow().is_self_call(token);
        if is_audit {
            let status = (headers > 0)
                .then(|| self.host.http_call_status())
                .flatten();
            self.audit.borrow_mut().on_call_response(
                &self.host,
                self.metrics.as_deref(),
                token,
                status.as_deref(),
            );
            self.finish_ending(now_ms);
            // Requests that waited for the start record go on.
            self.resume_waiting(false);
            return;
        }
        let answer = (headers > 0).then_some(body_size);
        if let (Some(vm), Some(grants)) = (&self.vm, &mut self.grants) {
            let mut vm = vm.borrow_mut();
            let m = self.metrics.as_deref();
            if grants.on_response(&self.host, m, &mut vm, token, answer, now_ms / 1000) {
                return;
            }
        }
        let (Some(vm), Some(fetcher)) = (&self.vm, &mut self.fetcher) else {
            return;
        };
        let outcome = fetcher.on_response(
            &self.host,
            &mut vm.borrow_mut(),
            token,
            answer,
            now_ms / 1000,
        );
        if let Some((provider, result)) = outcome {
            self.fetched(&provider, result, now_ms);
        }
        self.resume_waiting(false);
    }

    /// A key fetch for `provider` ended: counted, and a failure is a control failure.
    fn fetched(&self, provider: &str, result: Result<(), String>, now_ms: u64) {
        use super::metrics::Fetch;
        let outcome = if result.is_ok() {
            Fetch::Ok
        } else {
            Fetch::Failed
        };
        if let Some(m) = &self.metrics {
            m.jwks_fetch(&self.host, provider, outcome);
        }
        if let Err(why) = result {
            let c = ControlRef {
                reason: ControlFailure::JwksUnavailable,
                detail: format!(
                    "key fetch failed: {why}; the last good keys stay in use until max_stale"
                ),
                provider: Some(provider.to_string()),
                request_id: None,
                count: 1,
            };
            // One record per provider and minute, counting the failures in it: a retry
            // every second must not become a record every second.
            let key = format!("jwks_unavailable/{provider}/{}", now_ms / 60_000);
            self.audit
                .borrow_mut()
                .post(&self.host, self.metrics.as_deref(), &key, c, true);
        }
    }

    /// The plugin is shutting down (Envoy draining, or this root context replaced by a new
    /// policy's): counts gathered since the last tick still go to Envoy. When this was the
    /// VM's last root context, the VM ends its chain: false asks Envoy to wait (briefly) for
    /// the end record to go through the sinks; where Envoy no longer serves requests (it is
    /// exiting), the record cannot be written, and `verify` reports a stop without an end.
    pub fn on_done(&mut self) -> bool {
        if let Some(m) = &self.metrics {
            m.flush(&self.host);
        }
        if !self.counted {
            return true;
        }
        self.counted = false;
        let now_ms = self.host.now_ms();
        let mut audit = self.audit.borrow_mut();
        if !audit.root_done(now_ms) {
            return true;
        }
        audit.send_owed(&self.host, now_ms);
        self.ending = true;
        false
    }

    /// The host drops this root after a failure it caught (a panic): the VM's chain stops
    /// here, and the process's next writer records it as a failed control.
    pub fn on_failed(&self) {
        self.audit
            .borrow_mut()
            .crashed(&self.host, self.metrics.as_deref());
    }

    /// After a delayed `on_done`: tells Envoy the root context is done once the end record
    /// was written or the wait is over.
    fn finish_ending(&mut self, now_ms: u64) {
        if self.ending && self.audit.borrow().end_settled(now_ms) {
            self.ending = false;
            self.host.done();
        }
    }

    pub fn create_stream(&self, context_id: u32) -> Stream<H> {
        Stream {
            id: context_id,
            host: self.host.clone(),
            waiting: self.waiting.clone(),
            state: Rc::new(RefCell::new(StreamState::new(
                self.host.clone(),
                self.vm.clone(),
                self.audit.clone(),
                self.metrics.clone(),
            ))),
        }
    }

    /// Judges again the waiting requests whose keys arrived or whose wait is over; with
    /// `rebind` (a new policy was loaded), every waiting request, under the new policy, where
    /// it may wait again for that policy's keys.
    fn resume_waiting(&mut self, rebind: bool) {
        let Some(vm) = &self.vm else {
            return;
        };
        if self.waiting.borrow().is_empty() {
            return;
        }
        let now_ms = self.host.now_ms();
        // The start is written, or no longer waited for (the path failed, or a second passed).
        let started = self.audit.borrow().start_wait(now_ms).is_none();
        let ready: Vec<Waiter<H>> = {
            let v = vm.borrow();
            let (ready, still): (Vec<_>, Vec<_>) = std::mem::take(&mut *self.waiting.borrow_mut())
                .into_iter()
                .partition(|w| {
                    rebind
                        || now_ms >= w.deadline_ms
                        || if w.start {
                            started
                        } else {
                            v.keyring.has_keys(&w.providers, now_ms / 1000)
                        }
                });
            *self.waiting.borrow_mut() = still;
            ready
        };
        for w in ready {
            // The stream may have ended meanwhile (client gone): then there is nothing to resume.
            if !self.host.set_effective_context(w.context_id) {
                continue;
            }
            let step = {
                let mut s = w.stream.borrow_mut();
                if rebind {
                    s.rebind(Some(vm.clone()));
                }
                // A request that waited for the start has not had its wait for keys yet.
                s.judge(rebind || w.start, now_ms)
            };
            match step {
                // A request whose decision needs its body goes on too: its headers were held
                // with StopAll, so Envoy kept the body back and hands it to this filter's body
                // callbacks first when the stream resumes; they hold it until it ends and
                // judge it then. Left paused, the request would hang.
                RequestStep::Continue | RequestStep::ReadBody => self.host.resume_request(),
                RequestStep::Replied => {}
                RequestStep::Waiting {
                    deadline_ms,
                    providers,
                } => self.waiting.borrow_mut().push(Waiter {
                    deadline_ms,
                    providers,
                    start: false,
                    ..w
                }),
                RequestStep::AwaitStart { .. } => {}
            }
        }
    }
}
