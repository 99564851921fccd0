//! Generates the gRPC client from `proto/` (Stargate's `.proto` files) at build time.
//!
//! `protoc`, the protobuf compiler, comes from the `protoc-bin-vendored` crate (with the
//! well-known types such as `google/protobuf/wrappers.proto`), so `cargo build` needs nothing
//! installed. The generated code lands in `OUT_DIR`; `src/main.rs` pulls it in with
//! `tonic::include_proto!`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    // stargate.proto declares the service, query.proto its messages (it imports
    // google/rpc/status.proto from proto/ and google/protobuf/wrappers.proto from the vendored include path).
    let protos = [proto_dir.join("stargate.proto"), proto_dir.join("query.proto")];
    println!("cargo:rerun-if-changed={}", proto_dir.display());

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let includes = [proto_dir, protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
