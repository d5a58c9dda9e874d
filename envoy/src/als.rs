//! A real gRPC access-log service (Envoy's ALS, `envoy.access_loggers.http_grpc`) on loopback:
//! the audit events Envoy streams to it, taken from the `wasm.pci_guard_audit` filter-state
//! object of each HTTP log entry (`testdata/protos/envoy_als_subset.proto`).

use prost::Message;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status, Streaming};

pub mod pb {
    tonic::include_proto!("envoy.service.accesslog.v3");
}

use pb::access_log_service_server::{AccessLogService, AccessLogServiceServer};
use pb::{StreamAccessLogsMessage, StreamAccessLogsResponse, WrappedBytes};

/// The filter-state key the sink configs log (`filter_state_objects_to_log`).
pub const AUDIT_KEY: &str = "wasm.pci_guard_audit";

#[derive(Clone, Default)]
struct Receiver {
    events: Arc<Mutex<Vec<String>>>,
    log_names: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl AccessLogService for Receiver {
    async fn stream_access_logs(
        &self,
        req: Request<Streaming<StreamAccessLogsMessage>>,
    ) -> Result<Response<StreamAccessLogsResponse>, Status> {
        let mut stream = req.into_inner();
        while let Some(msg) = stream.message().await? {
            if let Some(id) = msg.identifier {
                self.log_names.lock().unwrap().push(id.log_name);
            }
            let entries = msg.http_logs.map(|h| h.log_entry).unwrap_or_default();
            let mut out = self.events.lock().unwrap();
            for entry in entries {
                let Some(packed) = entry
                    .common_properties
                    .and_then(|c| c.filter_state_objects.get(AUDIT_KEY).cloned())
                else {
                    // An entry without the event is kept visible as such.
                    out.push(String::new());
                    continue;
                };
                let text = WrappedBytes::decode(&packed.value[..])
                    .map(|w| String::from_utf8_lossy(&w.value).into_owned())
                    .unwrap_or_default();
                out.push(text);
            }
        }
        Ok(Response::new(StreamAccessLogsResponse {}))
    }
}

pub struct AlsReceiver {
    pub port: u16,
    events: Arc<Mutex<Vec<String>>>,
    log_names: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

impl AlsReceiver {
    pub fn start() -> AlsReceiver {
        let rx = Receiver::default();
        let (events, log_names) = (rx.events.clone(), rx.log_names.clone());
        let (port, rt) = crate::grpc::serve_on_loopback(
            tonic::transport::Server::builder().add_service(AccessLogServiceServer::new(rx)),
        );
        AlsReceiver {
            port,
            events,
            log_names,
            _rt: rt,
        }
    }

    /// Audit events received so far (one per HTTP log entry; empty if an entry carried
    /// none), waiting (up to 10 s) for at least `n`. Envoy flushes ALS batches on a timer.
    pub fn events(&self, n: usize) -> Vec<String> {
        crate::collected_at_least(&self.events, n)
    }

    /// The request events received so far (the VM's own records left out), waiting (up to
    /// 10 s) for at least `n`.
    pub fn request_events(&self, n: usize) -> Vec<String> {
        crate::request_events_at_least(&self.events, n)
    }

    /// The `log_name`s of the streams Envoy opened.
    pub fn log_names(&self) -> Vec<String> {
        self.log_names.lock().unwrap().clone()
    }
}
