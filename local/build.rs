//! Compiles Stargate's gRPC API (`samples/grpc/proto/`, the repository's one copy of the `.proto`
//! files) for the gateway's gRPC server. `protoc` comes from the `protoc-bin-vendored` crate, so a
//! fresh machine needs nothing installed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest.join("../samples/grpc/proto");
    let protos = [proto_dir.join("stargate.proto"), proto_dir.join("query.proto")];
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        proto_dir.join("google/rpc/status.proto").display()
    );

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let includes = [proto_dir, protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
