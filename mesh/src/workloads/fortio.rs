//! fortio: its echo server (the image's default `fortio server`) and the `fortio curl` and
//! `fortio load` commands learners run with `kubectl exec`.

use tokio::net::TcpListener;

use super::{PodContext, Termination};

/// Runs the container's main process: `fortio server` (echo on the HTTP port) unless the
/// container's command says otherwise.
pub async fn run_container(listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let _ = (listeners, ctx);
    Termination::error("IN PROGRESS: fortio is being written")
}
