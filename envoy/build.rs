// Generates the gRPC code of testdata/protos for the e2e tests: payments.proto (client and
// server) and the subset of Envoy's access-log service the ALS receiver needs.
// Needs `protoc` (Debian: protobuf-compiler; `make setup` installs it).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "../testdata/protos/payments.proto",
        "../testdata/protos/envoy_als_subset.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    tonic_prost_build::configure().compile_protos(&protos, &["../testdata/protos"])?;
    Ok(())
}
