//! Root context: loads the policy once per VM, keeps the VM's state (key stores, token cache,
//! audit chain, metrics), fetches remote key sets on a timer, and creates a stream context
//! per request.

mod body;
mod host;
mod jwks_fetch;
mod metrics;
mod stream;
mod vm;

use pci_guard_core::audit::Chain;
use pci_guard_core::policy::Policy;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// How often a VM flushes its metrics, looks for due key fetches and for keys other VMs fetched.
pub(crate) const TICK: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Root {
    /// `None` until a policy loads; streams without one are refused (fail closed).
    vm: Option<Rc<RefCell<vm::Vm>>>,
    /// This VM's audit hash chain, shared by its streams (one thread per VM).
    chain: Option<Rc<RefCell<Chain>>>,
    metrics: Option<Rc<metrics::Metrics>>,
    fetcher: Option<jwks_fetch::Fetcher>,
}

/// A name for this VM's chain that no other VM of the process shares: host time mixed with
/// the randomness WASI gives std's hasher.
fn chain_id() -> String {
    use std::hash::BuildHasher;
    let seed = std::collections::hash_map::RandomState::new().hash_one(host::now_ms());
    format!("{seed:016x}")
}

fn reject(message: &str) -> bool {
    host::log(
        LogLevel::Error,
        &format!("pci-guard: policy rejected: {message}"),
    );
    false
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let (Some(vm), Some(fetcher)) = (&self.vm, &mut self.fetcher) else {
            return;
        };
        fetcher.on_response(
            &mut vm.borrow_mut(),
            token,
            body_size,
            host::now_ms() / 1000,
        );
    }

    /// The plugin is shutting down (Envoy draining, or this VM replaced): counts gathered
    /// since the last tick still go to Envoy.
    fn on_done(&mut self) -> bool {
        if let Some(m) = &self.metrics {
            m.flush();
        }
        true
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        self.metrics = Some(Rc::new(metrics::Metrics::define()));
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let Some(config) = host::plugin_configuration() else {
            return reject(
                "no policy configured: set the plugin configuration to a pci-guard policy (JSON)",
            );
        };
        // On any error, whatever policy was in force stays: fail closed means the last good
        // policy, never no policy.
        let mut policy = match Policy::parse(&config) {
            Ok(p) => p,
            Err(errors) => {
                for e in &errors.0 {
                    reject(&e.to_string());
                }
                return false;
            }
        };
        if let Err(errors) = policy.resolve_secrets(|var| std::env::var(var).ok()) {
            for e in &errors.0 {
                reject(&e.to_string());
            }
            return false;
        }
        let key = match &policy.audit.chain_secret_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => Some(k.into_bytes()),
                _ => {
                    return reject(&format!(
                        "/audit/chain_secret_env: the environment variable {var} is not set for the VM (vm_config.environment_variables)"
                    ))
                }
            },
        };
        host::log(
            LogLevel::Info,
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
        let vm = vm::Vm::new(Rc::new(policy));
        // The tick flushes metrics, and drives key fetches when a provider has remote keys.
        let _ = proxy_wasm::hostcalls::set_tick_period(TICK);
        self.fetcher = vm.has_remote_keys().then(jwks_fetch::Fetcher::new);
        self.vm = Some(Rc::new(RefCell::new(vm)));
        if self.chain.is_none() || key.is_some() {
            self.chain = Some(Rc::new(RefCell::new(Chain::new(chain_id(), key))));
        }
        self.on_tick();
        true
    }

    fn on_tick(&mut self) {
        if let Some(m) = &self.metrics {
            m.flush();
        }
        let (Some(vm), Some(fetcher)) = (&self.vm, &mut self.fetcher) else {
            return;
        };
        fetcher.tick(&mut vm.borrow_mut(), host::now_ms() / 1000);
        stream::resume_waiting(vm);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(stream::Stream::new(
            context_id,
            self.vm.clone(),
            self.chain.clone(),
            self.metrics.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
