//! A real gRPC server and client (tonic) for the e2e tests: `payments.v1.Cards` and
//! `payments.v1.Admin` from `testdata/protos/payments.proto`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};

pub mod pb {
    tonic::include_proto!("payments.v1");
}

use pb::admin_server::{Admin, AdminServer};
use pb::cards_server::{Cards, CardsServer};

/// The cards every answer carries: public test numbers, so redaction has work to do.
pub fn sample_card(id: &str) -> pb::Card {
    pb::Card {
        id: id.to_string(),
        number: "4111111111111111".into(),
        cvv: "123".into(),
        holder: "A. Cardholder".into(),
        note: "card 5555 5555 5555 4444 on file".into(),
    }
}

#[derive(Clone, Default)]
struct Service {
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Cards for Service {
    async fn get_card(
        &self,
        req: Request<pb::GetCardRequest>,
    ) -> Result<Response<pb::Card>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(sample_card(&req.into_inner().id)))
    }

    type ListCardsStream = tokio_stream::Iter<std::vec::IntoIter<Result<pb::Card, Status>>>;

    async fn list_cards(
        &self,
        req: Request<pb::ListCardsRequest>,
    ) -> Result<Response<Self::ListCardsStream>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = req.into_inner().count;
        let cards: Vec<Result<pb::Card, Status>> =
            (0..n).map(|i| Ok(sample_card(&format!("c_{i}")))).collect();
        Ok(Response::new(tokio_stream::iter(cards)))
    }
}

#[tonic::async_trait]
impl Admin for Service {
    async fn purge_all(
        &self,
        _: Request<pb::PurgeRequest>,
    ) -> Result<Response<pb::PurgeReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(pb::PurgeReply {}))
    }

    async fn stats(
        &self,
        _: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(pb::StatsReply { cards: 3 }))
    }
}

/// A gRPC upstream (h2c) on loopback; counts the calls that reach it.
pub struct GrpcUpstream {
    pub port: u16,
    calls: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

/// Serves `router` (h2c) on a free loopback port from a runtime of its own; the runtime
/// must be kept alive as long as the server is needed.
pub fn serve_on_loopback(
    router: tonic::transport::server::Router,
) -> (u16, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(router.serve_with_incoming(
        // No Nagle: under load it delays responses by the peer's delayed ACK.
        tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |s| {
                if let Ok(s) = &s {
                    let _ = s.set_nodelay(true);
                }
                s
            },
        ),
    ));
    (port, rt)
}

impl GrpcUpstream {
    pub fn start() -> GrpcUpstream {
        let svc = Service::default();
        let calls = svc.calls.clone();
        let (port, rt) = serve_on_loopback(
            tonic::transport::Server::builder()
                .add_service(CardsServer::new(svc.clone()))
                .add_service(AdminServer::new(svc)),
        );
        GrpcUpstream {
            port,
            calls,
            _rt: rt,
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A blocking gRPC client through Envoy on `port`, with an optional bearer token.
pub struct GrpcClient {
    rt: tokio::runtime::Runtime,
    channel: tonic::transport::Channel,
    token: Option<String>,
    /// More metadata sent with every call (a grant header, …).
    metadata: Vec<(&'static str, String)>,
}

impl GrpcClient {
    pub fn connect(port: u16, token: Option<&str>) -> GrpcClient {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let channel = rt
            .block_on(
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .unwrap()
                    .timeout(Duration::from_secs(10))
                    .connect(),
            )
            .unwrap();
        GrpcClient {
            rt,
            channel,
            token: token.map(str::to_string),
            metadata: Vec::new(),
        }
    }

    /// Sends `name: value` with every call.
    pub fn with_metadata(mut self, name: &'static str, value: &str) -> GrpcClient {
        self.metadata.push((name, value.to_string()));
        self
    }

    fn request<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        if let Some(t) = &self.token {
            r.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        for (n, v) in &self.metadata {
            r.metadata_mut().insert(*n, v.parse().unwrap());
        }
        r
    }

    pub fn get_card(&self, id: &str) -> Result<pb::Card, Status> {
        let mut c = pb::cards_client::CardsClient::new(self.channel.clone());
        let req = self.request(pb::GetCardRequest { id: id.into() });
        self.rt.block_on(c.get_card(req)).map(Response::into_inner)
    }

    pub fn list_cards(&self, count: u32) -> Result<Vec<pb::Card>, Status> {
        let mut c = pb::cards_client::CardsClient::new(self.channel.clone());
        let req = self.request(pb::ListCardsRequest { count });
        self.rt.block_on(async {
            let mut stream = c.list_cards(req).await?.into_inner();
            let mut out = Vec::new();
            while let Some(card) = stream.message().await? {
                out.push(card);
            }
            Ok(out)
        })
    }

    pub fn purge_all(&self) -> Result<pb::PurgeReply, Status> {
        let mut c = pb::admin_client::AdminClient::new(self.channel.clone());
        let req = self.request(pb::PurgeRequest {});
        self.rt.block_on(c.purge_all(req)).map(Response::into_inner)
    }

    pub fn stats(&self) -> Result<pb::StatsReply, Status> {
        let mut c = pb::admin_client::AdminClient::new(self.channel.clone());
        let req = self.request(pb::StatsRequest {});
        self.rt.block_on(c.stats(req)).map(Response::into_inner)
    }
}
