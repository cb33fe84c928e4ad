//! istiod's xDS port (15010) and the ports it holds without serving them.
//!
//! The ADS server (crate `meshwork-pilot`, `AdsServer`) is hosted by [`serve`]: it gets the
//! bound listener and istiod's shared state ([`Istiod::xds_connected`] and
//! [`Istiod::xds_disconnected`] keep `pilot_xds` honest). Until it is, the port stays open and
//! every connection is logged and closed — nothing here pretends to speak xDS.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;

use super::Istiod;

/// Serves xDS on `listener` until accepting fails; returns why it stopped.
pub(super) async fn serve(listener: TcpListener, istiod: Arc<Istiod>) -> String {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    istiod.log(
        "info",
        "ads",
        &format!(
            "xDS port open at {addr}: the xDS server is not available yet in this build; \
             connections are logged and closed"
        ),
    );
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                istiod.xds_unserved.fetch_add(1, Ordering::Relaxed);
                istiod.log(
                    "info",
                    "ads",
                    &format!("connection from {peer} closed: xDS server not available yet"),
                );
                drop(stream);
            }
            Err(e) => return format!("could not accept on the xDS port {addr}: {e}"),
        }
    }
}

/// Holds a port istiod declares but the reference mesh does not serve (15012 CA and DNS,
/// 15017 injection webhook): connections are logged and closed.
pub(super) async fn hold(listener: TcpListener, istiod: Arc<Istiod>) -> String {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let what = match port {
        15012 => "the CA and DNS service (xDS over TLS)",
        15017 => "the sidecar-injection webhook",
        _ => "this port",
    };
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                istiod.log(
                    "info",
                    "",
                    &format!("connection from {peer} to {addr} closed: {what} is not served here"),
                );
                drop(stream);
            }
            Err(e) => return format!("could not accept on {addr}: {e}"),
        }
    }
}
