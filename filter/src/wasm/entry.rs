//! The proxy-wasm entry: Envoy's callbacks, each handed to [`Root`] or [`Stream`] with the
//! [`WasmHost`] (wasm32 only). Nothing else here.

use super::host::WasmHost;
use pci_guard_plugin::keys::SharedDataLease;
use pci_guard_plugin::vm_audit::VmAudit;
use pci_guard_plugin::{Action, Host, Root, Stream};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{self, ContextType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// The VM's audit state: module memory, so every root context of this VM shares it.
    static AUDIT: Rc<RefCell<VmAudit>> = Rc::new(RefCell::new(VmAudit::new(WasmHost.now_ms())));
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        let share = Rc::new(SharedDataLease::new(WasmHost));
        Box::new(WasmRoot(Root::new(WasmHost, share, AUDIT.with(Rc::clone))))
    });
}}

fn action(a: Action) -> types::Action {
    match a {
        Action::Continue => types::Action::Continue,
        Action::Pause => types::Action::Pause,
    }
}

struct WasmRoot(Root<WasmHost>);

impl Context for WasmRoot {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body: usize, _trailers: usize) {
        self.0.on_http_call_response(token, headers, body);
    }

    fn on_done(&mut self) -> bool {
        self.0.on_done()
    }
}

impl RootContext for WasmRoot {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        self.0.on_vm_start()
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        self.0.on_configure()
    }

    fn on_tick(&mut self) {
        self.0.on_tick();
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WasmStream(self.0.create_stream(context_id))))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct WasmStream(Stream<WasmHost>);

impl Context for WasmStream {}

impl HttpContext for WasmStream {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> types::Action {
        action(self.0.on_request_headers(end_of_stream))
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> types::Action {
        action(self.0.on_request_body(size, end_of_stream))
    }

    fn on_http_request_trailers(&mut self, _trailers: usize) -> types::Action {
        action(self.0.on_request_trailers())
    }

    fn on_http_response_headers(&mut self, _headers: usize, end_of_stream: bool) -> types::Action {
        action(self.0.on_response_headers(end_of_stream))
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> types::Action {
        action(self.0.on_response_body(size, end_of_stream))
    }

    fn on_http_response_trailers(&mut self, _trailers: usize) -> types::Action {
        action(self.0.on_response_trailers())
    }

    fn on_log(&mut self) {
        self.0.on_log();
    }
}
