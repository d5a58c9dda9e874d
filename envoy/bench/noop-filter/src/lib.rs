//! Does nothing: every callback has the SDK's default (Continue).
//!
//! Built with `NOOP_HOSTCALLS=N` in the environment, each request's header callback makes `N`
//! host calls (`get_property("request.protocol")`, a small value), so the cost of one host call
//! through Envoy's V8 can be read off two builds run side by side (see `envoy/bench/findings.md`).
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

const HOSTCALLS: usize = match option_env!("NOOP_HOSTCALLS") {
    Some(s) => parse(s.as_bytes()),
    None => 0,
};

const fn parse(s: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        n = n * 10 + (s[i] - b'0') as usize;
        i += 1;
    }
    n
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;
impl Context for Noop {}
impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        for _ in 0..HOSTCALLS {
            std::hint::black_box(self.get_property(vec!["request", "protocol"]));
        }
        Action::Continue
    }
}
