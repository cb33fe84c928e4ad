//! Runs the reference mesh's API server in the foreground until Ctrl-C.
//!
//! `cargo run -p meshwork-mesh --example apiserver -- [STATE_DIR] [PORT]`
//! then `KUBECONFIG=STATE_DIR/kubeconfig kubectl get ns`.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let state_dir = args.next().map_or_else(
        || std::env::temp_dir().join("meshwork-apiserver"),
        PathBuf::from,
    );
    let port = match args.next().map(|p| p.parse::<u16>()) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            eprintln!("error: the port must be a number from 0 to 65535 ({e})");
            return std::process::ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let config = meshwork_mesh::MeshConfig { state_dir, port };
    let mesh = match meshwork_mesh::start(config).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(n) = mesh.notice() {
        eprintln!("warning: {n}");
    }
    println!(
        "reference mesh API ready at {} in {} ms\nexport KUBECONFIG={}",
        mesh.url(),
        started.elapsed().as_millis(),
        mesh.kubeconfig_path().display()
    );
    meshwork_mesh::shutdown_signal().await;
    mesh.shutdown().await;
    std::process::ExitCode::SUCCESS
}
