//! The root context: loads the policy once per VM, keeps the VM's state (keys, audit chain,
//! metrics), fetches remote key sets on a timer, resumes requests that wait for first keys,
//! and creates a stream per request.

use super::host::{Host, Level};
use super::jwks_fetch::Fetcher;
use super::keys::KeyShare;
use super::metrics::Metrics;
use super::stream::{RequestStep, StreamState};
use super::vm::Vm;
use pci_guard_core::audit::Chain;
use pci_guard_core::policy::Policy;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// How often a VM flushes its metrics, looks for due key fetches and for keys other VMs
/// fetched, and ends the waits that are over.
pub const TICK: Duration = Duration::from_millis(500);

pub struct Root<H: Host> {
    host: H,
    /// `None` until a policy loads; streams without one are refused (fail closed).
    vm: Option<Rc<RefCell<Vm>>>,
    /// This VM's audit hash chain, shared by its streams (one thread per VM).
    chain: Option<Rc<RefCell<Chain>>>,
    metrics: Option<Rc<Metrics>>,
    /// How this root shares remote key sets with the process's other roots.
    share: Rc<dyn KeyShare>,
    fetcher: Option<Fetcher>,
    /// Requests paused until their provider's first keys arrive (or the wait times out).
    waiting: Rc<RefCell<Vec<Waiter<H>>>>,
}

/// A request waiting for its provider's first keys.
pub struct Waiter<H: Host> {
    pub context_id: u32,
    pub deadline_ms: u64,
    /// The route's providers: any of them getting keys ends the wait.
    pub providers: Vec<usize>,
    pub stream: Rc<RefCell<StreamState<H>>>,
}

/// A name for this VM's chain that no other VM of the process shares: host time mixed with
/// the randomness WASI gives std's hasher.
fn chain_id(now_ms: u64) -> String {
    use std::hash::BuildHasher;
    let seed = std::collections::hash_map::RandomState::new().hash_one(now_ms);
    format!("{seed:016x}")
}

impl<H: Host> Root<H> {
    /// A root on `host` that shares key sets with the process's other roots through `share`.
    pub fn new(host: H, share: Rc<dyn KeyShare>) -> Self {
        Self {
            host,
            vm: None,
            chain: None,
            metrics: None,
            share,
            fetcher: None,
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
                for e in &errors.0 {
                    self.reject(&e.to_string());
                }
                return false;
            }
        };
        if let Err(errors) = policy.resolve_secrets(|var| self.host.env(var)) {
            for e in &errors.0 {
                self.reject(&e.to_string());
            }
            return false;
        }
        let key = match &policy.audit.chain_secret_env {
            None => None,
            Some(var) => match self.host.env(var) {
                Some(k) if !k.is_empty() => Some(k.into_bytes()),
                _ => {
                    return self.reject(&format!(
                        "/audit/chain_secret_env: the environment variable {var} is not set for the VM (vm_config.environment_variables)"
                    ))
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
        let vm = Vm::new(Rc::new(policy), self.host.verifier(), now_ms);
        // The tick flushes metrics, and drives key fetches when a provider has remote keys.
        self.host.set_tick_period(TICK);
        self.fetcher = vm
            .has_remote_keys()
            .then(|| Fetcher::new(self.share.clone()));
        self.vm = Some(Rc::new(RefCell::new(vm)));
        if self.chain.is_none() || key.is_some() {
            self.chain = Some(Rc::new(RefCell::new(Chain::new(chain_id(now_ms), key))));
        }
        // Requests that waited for the old policy's keys are judged again under this one:
        // the old policy's fetches will never be answered here.
        self.resume_waiting(true);
        self.on_tick();
        true
    }

    pub fn on_tick(&mut self) {
        if let Some(m) = &self.metrics {
            m.flush(&self.host);
        }
        let (Some(vm), Some(fetcher)) = (&self.vm, &mut self.fetcher) else {
            return;
        };
        fetcher.tick(&self.host, &mut vm.borrow_mut(), self.host.now_ms() / 1000);
        self.resume_waiting(false);
    }

    /// The answer to a key fetch: `headers` response headers (none when the call failed:
    /// reset, timeout) and `body_size` body bytes.
    pub fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize) {
        let (Some(vm), Some(fetcher)) = (&self.vm, &mut self.fetcher) else {
            return;
        };
        let now = self.host.now_ms() / 1000;
        let answer = (headers > 0).then_some(body_size);
        fetcher.on_response(&self.host, &mut vm.borrow_mut(), token, answer, now);
        self.resume_waiting(false);
    }

    /// The plugin is shutting down (Envoy draining, or this VM replaced): counts gathered
    /// since the last tick still go to Envoy.
    pub fn on_done(&mut self) -> bool {
        if let Some(m) = &self.metrics {
            m.flush(&self.host);
        }
        true
    }

    pub fn create_stream(&self, context_id: u32) -> Stream<H> {
        Stream {
            id: context_id,
            host: self.host.clone(),
            waiting: self.waiting.clone(),
            state: Rc::new(RefCell::new(StreamState::new(
                self.host.clone(),
                self.vm.clone(),
                self.chain.clone(),
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
        let now_ms = self.host.now_ms();
        let ready: Vec<Waiter<H>> = {
            let v = vm.borrow();
            let (ready, still): (Vec<_>, Vec<_>) = std::mem::take(&mut *self.waiting.borrow_mut())
                .into_iter()
                .partition(|w| {
                    rebind
                        || now_ms >= w.deadline_ms
                        || v.keyring.has_keys(&w.providers, now_ms / 1000)
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
                    s.rebind(Some(vm.clone()), self.chain.clone());
                }
                s.judge(rebind, now_ms)
            };
            match step {
                RequestStep::Continue => self.host.resume_request(),
                RequestStep::Replied => {}
                RequestStep::Waiting {
                    deadline_ms,
                    providers,
                } => self.waiting.borrow_mut().push(Waiter {
                    deadline_ms,
                    providers,
                    ..w
                }),
            }
        }
    }
}

/// The HTTP context Envoy calls, one per request. Its state lives behind an `Rc` so that a
/// request waiting for its provider's first keys can be judged again from the root context.
pub struct Stream<H: Host> {
    id: u32,
    host: H,
    state: Rc<RefCell<StreamState<H>>>,
    waiting: Rc<RefCell<Vec<Waiter<H>>>>,
}

impl<H: Host> Stream<H> {
    pub fn on_request_headers(&mut self) -> super::host::Action {
        use super::host::Action;
        let step = self.state.borrow_mut().on_request_headers();
        match step {
            RequestStep::Continue => Action::Continue,
            RequestStep::Replied => Action::Pause,
            RequestStep::Waiting {
                deadline_ms,
                providers,
            } => {
                self.waiting.borrow_mut().push(Waiter {
                    context_id: self.id,
                    deadline_ms,
                    providers,
                    stream: self.state.clone(),
                });
                self.host.on_stream_waiting();
                Action::Pause
            }
        }
    }

    pub fn on_response_headers(&mut self, end_of_stream: bool) -> super::host::Action {
        self.state.borrow_mut().on_response_headers(end_of_stream)
    }

    pub fn on_response_body(&mut self, size: usize, end_of_stream: bool) -> super::host::Action {
        self.state
            .borrow_mut()
            .on_response_body(size, end_of_stream)
    }

    pub fn on_response_trailers(&mut self) -> super::host::Action {
        self.state.borrow_mut().on_response_trailers()
    }

    pub fn on_log(&mut self) {
        self.state.borrow_mut().on_log()
    }
}
