//! The HTTP context: Envoy's request and response callbacks for one stream, handed to its
//! state; a request that must wait (for keys, for the VM's start record) is parked with the
//! root, which judges it again.

use super::super::host::{Action, Host};
use super::super::stream::{RequestStep, StreamState};
use super::Waiter;
use std::cell::RefCell;
use std::rc::Rc;

/// The HTTP context Envoy calls, one per request. Its state lives behind an `Rc` so that a
/// request waiting for its provider's first keys can be judged again from the root context.
pub struct Stream<H: Host> {
    pub(super) id: u32,
    pub(super) host: H,
    pub(super) state: Rc<RefCell<StreamState<H>>>,
    pub(super) waiting: Rc<RefCell<Vec<Waiter<H>>>>,
}

impl<H: Host> Stream<H> {
    pub fn on_request_headers(&mut self, end_of_stream: bool) -> Action {
        let step = self.state.borrow_mut().on_request_headers(end_of_stream);
        match step {
            // Envoy hands no body to a filter that holds the headers: they go on, the body
            // is held instead.
            RequestStep::ReadBody => Action::Continue,
            step => self.step(step),
        }
    }

    pub fn on_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        let step = self.state.borrow_mut().on_request_body(size, end_of_stream);
        self.step(step)
    }

    pub fn on_request_trailers(&mut self) -> Action {
        let step = self.state.borrow_mut().on_request_trailers();
        self.step(step)
    }

    /// What Envoy is told after a request callback.
    fn step(&mut self, step: RequestStep) -> Action {
        match step {
            RequestStep::Continue => Action::Continue,
            RequestStep::Replied | RequestStep::ReadBody => Action::Pause,
            RequestStep::Waiting {
                deadline_ms,
                providers,
            } => {
                self.waiting.borrow_mut().push(Waiter {
                    context_id: self.id,
                    deadline_ms,
                    providers,
                    start: false,
                    stream: self.state.clone(),
                });
                self.host.on_stream_waiting();
                Action::Pause
            }
            RequestStep::AwaitStart { deadline_ms } => {
                self.waiting.borrow_mut().push(Waiter {
                    context_id: self.id,
                    deadline_ms,
                    providers: Vec::new(),
                    start: true,
                    stream: self.state.clone(),
                });
                self.host.on_stream_waiting();
                Action::Pause
            }
        }
    }

    pub fn on_response_headers(&mut self, end_of_stream: bool) -> Action {
        self.state.borrow_mut().on_response_headers(end_of_stream)
    }

    pub fn on_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.state
            .borrow_mut()
            .on_response_body(size, end_of_stream)
    }

    pub fn on_response_trailers(&mut self) -> Action {
        self.state.borrow_mut().on_response_trailers()
    }

    pub fn on_log(&mut self) {
        self.state.borrow_mut().on_log()
    }
}
