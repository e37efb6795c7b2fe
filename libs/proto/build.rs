//! Compiles `proto/` with protox (pure Rust), so `cargo build` needs no protoc.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "ledgerlink/types/v1/types.proto",
    "ledgerlink/extractor/v1/extractor.proto",
    "ledgerlink/scoring/v1/scoring.proto",
    "ledgerlink/reminder/v1/reminder.proto",
    "ledgerlink/klaviyo/v1/klaviyo_gateway.proto",
    "ledgerlink/coordinator/v1/coordinator.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, [&proto_root])?;
    std::fs::write(
        out_dir.join("ledgerlink_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    // compile_fds does not know where the files came from.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
