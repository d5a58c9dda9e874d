// Generates the gRPC client and server of testdata/protos/payments.proto for the e2e tests.
// Needs `protoc` (Debian: protobuf-compiler; `make setup` installs it).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../testdata/protos/payments.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure().compile_protos(&[proto], &["../testdata/protos"])?;
    Ok(())
}
