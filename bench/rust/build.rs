//! Generates the Stargate gRPC client from sample-grpc's `.proto` files (the same files, the
//! same generator as samples/grpc/build.rs), so the gRPC reads use exactly the sample's client.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../samples/grpc/proto");
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
