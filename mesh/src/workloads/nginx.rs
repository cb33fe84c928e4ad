//! nginx's default site: `Welcome to nginx!` on every path that exists, 404 otherwise.

use tokio::net::TcpListener;

use super::{PodContext, Termination};

/// Serves the default site on `listeners` until accepting fails.
pub async fn serve(listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let _ = (listeners, ctx);
    Termination::error("IN PROGRESS: nginx is being written")
}
