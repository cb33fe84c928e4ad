//! istiod's xDS port (15010) and the ports it holds without serving them.
//!
//! The ADS server (crate `meshwork-pilot`, `AdsServer`) is hosted by [`serve`] through
//! [`crate::xds`]: it gets the bound listener, the store and istiod as its [`Reporter`] (the
//! log, and [`Istiod::xds_connected`] and [`Istiod::xds_disconnected`] keep `pilot_xds` honest)
//! and istiod's CA ([`super::ca`]) to sign the proxies' certificates with.

use std::sync::Arc;

use tokio::net::TcpListener;

use super::Istiod;
use crate::store::Store;
use crate::xds::{Identity, Reporter};

impl Reporter for Istiod {
    fn log(&self, level: &str, scope: &str, message: &str) {
        Istiod::log(self, level, scope, message);
    }
    fn connected(&self) {
        self.xds_connected();
    }
    fn disconnected(&self) {
        self.xds_disconnected();
    }
    fn control_plane(&self) -> Option<&crate::xds::report::ControlPlane> {
        Some(&self.control_plane)
    }
}

/// Serves xDS (and, with an `identity`, workload certificates over SDS) on `listener` from
/// `store` until accepting fails; returns why it stopped.
pub(super) async fn serve(
    listener: TcpListener,
    istiod: Arc<Istiod>,
    store: Store,
    identity: Option<Identity>,
) -> String {
    crate::xds::serve(listener, store, istiod, identity).await
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
