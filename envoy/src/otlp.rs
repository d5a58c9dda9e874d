//! A real OTLP logs receiver (gRPC) on loopback: what Envoy's OpenTelemetry access logger
//! delivers, as the string bodies of the log records.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};

/// One log record: its string body and its string attributes.
pub type Record = (String, std::collections::BTreeMap<String, String>);

#[derive(Clone, Default)]
struct Receiver {
    bodies: Arc<Mutex<Vec<String>>>,
    records: Arc<Mutex<Vec<Record>>>,
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let mut out = self.bodies.lock().unwrap();
        let mut records = self.records.lock().unwrap();
        for rl in req.into_inner().resource_logs {
            for sl in rl.scope_logs {
                for rec in sl.log_records {
                    let attributes = rec
                        .attributes
                        .iter()
                        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                            Value::StringValue(v) => Some((kv.key.clone(), v.clone())),
                            _ => None,
                        })
                        .collect();
                    if let Some(Value::StringValue(s)) = rec.body.and_then(|b| b.value) {
                        out.push(s.clone());
                        records.push((s, attributes));
                    }
                }
            }
        }
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

pub struct OtlpReceiver {
    pub port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    records: Arc<Mutex<Vec<Record>>>,
    _rt: tokio::runtime::Runtime,
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        let rx = Receiver::default();
        let bodies = rx.bodies.clone();
        let records = rx.records.clone();
        let (port, rt) = crate::grpc::serve_on_loopback(
            tonic::transport::Server::builder().add_service(LogsServiceServer::new(rx)),
        );
        OtlpReceiver {
            port,
            bodies,
            records,
            _rt: rt,
        }
    }

    /// Log bodies received so far, waiting (up to 10 s) for at least `n`.
    pub fn bodies(&self, n: usize) -> Vec<String> {
        crate::collected_at_least(&self.bodies, n)
    }

    /// The request events among the log bodies received so far (the VM's own records left
    /// out), waiting (up to 10 s) for at least `n`.
    pub fn request_bodies(&self, n: usize) -> Vec<String> {
        crate::request_events_at_least(&self.bodies, n)
    }

    /// Log records (body and string attributes) received so far, waiting for at least `n`.
    pub fn records(&self, n: usize) -> Vec<Record> {
        crate::collected_at_least(&self.records, n)
    }
}
