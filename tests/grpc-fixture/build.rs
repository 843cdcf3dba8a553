//! Compiles `proto/shop.proto` with protox (pure Rust: no `protoc` on the machine) and generates
//! its tonic client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/shop.proto");
    let files = protox::compile(["proto/shop.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_transport(false)
        .compile_fds(files)?;
    Ok(())
}
