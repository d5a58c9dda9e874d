//! gRPC callers through a real Envoy, with a real gRPC client and server (tonic): denials are
//! trailers-only answers with the gRPC status Envoy itself would map to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pci_guard_e2e::grpc::{GrpcClient, GrpcUpstream};
use pci_guard_e2e::*;
use tonic::Code;

fn policy() -> String {
    std::fs::read_to_string(root().join("testdata/policies/foundation.json")).unwrap()
}

#[test]
fn grpc_public_method_reaches_the_server() {
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let reply = GrpcClient::connect(envoy.port, None).stats().unwrap();
    assert_eq!(reply.cards, 3);
    assert_eq!(up.calls(), 1);
    let e = &envoy.audit_events(1)[0];
    assert_eq!(e["request"]["grpc"], "payments.v1.Admin/Stats");
    assert_eq!(e["response"]["grpc_status"], 0);
}

#[test]
fn grpc_call_without_token_is_unauthenticated() {
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let status = GrpcClient::connect(envoy.port, None)
        .get_card("c_1")
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "a bearer token is required");
    assert_eq!(up.calls(), 0, "a denied call reached the server");
    let e = &envoy.audit_events(1)[0];
    assert_eq!(e["decision"]["reason"], "token_missing");
    assert_eq!(e["response"]["grpc_status"], 16);
}

#[test]
fn grpc_method_without_route_is_permission_denied() {
    let up = GrpcUpstream::start();
    let envoy = Harness::new("pci-guard.yaml", policy(), up.port).start();
    let status = GrpcClient::connect(envoy.port, None)
        .purge_all()
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(up.calls(), 0);
}
