//! Root context: loads the policy once per VM and hands it to every stream.

mod host;
mod metrics;
mod stream;

use pci_guard_core::audit::Chain;
use pci_guard_core::policy::Policy;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { policy: None, chain: None, metrics: Rc::new(metrics::Metrics::none()) }) });
}}

struct Root {
    /// `None` until a policy loads; streams without one are refused (fail closed).
    policy: Option<Rc<Policy>>,
    /// This VM's audit hash chain, shared by its streams (one thread per VM).
    chain: Option<Rc<RefCell<Chain>>>,
    metrics: Rc<metrics::Metrics>,
}

/// A name for this VM's chain that no other VM of the process shares: host time mixed with
/// the randomness WASI gives std's hasher.
fn chain_id() -> String {
    use std::hash::BuildHasher;
    let seed = std::collections::hash_map::RandomState::new().hash_one(host::now_ms());
    format!("{seed:016x}")
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        self.metrics = Rc::new(metrics::Metrics::define());
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let Some(config) = host::plugin_configuration() else {
            host::log(LogLevel::Error, "pci-guard: no policy configured: set the plugin configuration to a pci-guard policy (JSON)");
            return false;
        };
        match Policy::parse(&config) {
            Ok(policy) => {
                let key = match &policy.audit.chain_secret_env {
                    None => None,
                    Some(var) => match std::env::var(var) {
                        Ok(k) if !k.is_empty() => Some(k.into_bytes()),
                        _ => {
                            host::log(LogLevel::Error, &format!(
                                "pci-guard: policy rejected: /audit/chain_secret_env: the environment variable {var} is not set for the VM (vm_config.environment_variables)"
                            ));
                            return false;
                        }
                    },
                };
                if self.chain.is_none() || key.is_some() {
                    self.chain = Some(Rc::new(RefCell::new(Chain::new(chain_id(), key))));
                }
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
                self.policy = Some(Rc::new(policy));
                true
            }
            Err(errors) => {
                // Keep whatever policy was in force before: fail closed means the last good
                // policy, never no policy.
                for e in &errors.0 {
                    host::log(LogLevel::Error, &format!("pci-guard: policy rejected: {e}"));
                }
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(stream::Stream::new(
            self.policy.clone(),
            self.chain.clone(),
            self.metrics.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
