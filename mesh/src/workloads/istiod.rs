//! istiod (`istio/pilot`): Istio's control plane, as the reference mesh runs it.
//!
//! It listens on the ports its container declares (the kubelet binds them on the pod IP) and
//! gives each the job istiod gives it:
//! - `8080`: readiness (`GET /ready`) and `/version` ([`http`]);
//! - `15014`: monitoring, `/metrics` in Prometheus' text format and `/version` ([`http`]);
//! - `15010`: xDS for the proxies ([`xds`]): pilot-lite's ADS server (crate `meshwork-pilot`,
//!   hosted by [`crate::xds`]), configured from the store, which also serves each proxy its
//!   SPIFFE certificate over SDS, signed by istiod's CA ([`ca`]: `cacerts` or the self-signed
//!   root in `istio-ca-secret`, published as `istio-ca-root-cert` in every namespace);
//! - any other port (`15012` CA/DNS, `15017` injection webhook): held open, each connection
//!   logged and closed, so nothing pretends to serve what is not there.
//!
//! Log lines follow istiod's format: `<RFC 3339 time>\t<level>\t[<scope>\t]<message>`.

pub mod ca;
mod http;
mod xds;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::{LogBuffer, PodContext, Termination};

/// The Istio release the reference mesh's istiod reports (`/version`, `istio_build`).
pub const VERSION: &str = "1.24.0";

/// Readiness and debug port.
pub const DEBUG_PORT: u16 = 8080;
/// Plain-text xDS port.
pub const XDS_PORT: u16 = 15010;
/// Monitoring port (`/metrics`).
pub const MONITORING_PORT: u16 = 15014;

/// What istiod's ports share: the container's log and the counters `/metrics` reports.
#[derive(Debug)]
pub struct Istiod {
    log: LogBuffer,
    started: Instant,
    started_unix: f64,
    /// xDS clients connected right now (`pilot_xds`).
    xds_clients: AtomicU64,
    /// Connections to the xDS port that found no xDS server and were closed.
    xds_unserved: AtomicU64,
    /// `GET /ready` requests answered.
    ready_checks: AtomicU64,
    /// The xDS server's current state, for the debug endpoints.
    control_plane: crate::xds::report::ControlPlane,
}

impl Istiod {
    fn new(log: LogBuffer) -> Self {
        let started_unix = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
        Self {
            log,
            started: Instant::now(),
            started_unix,
            xds_clients: AtomicU64::new(0),
            xds_unserved: AtomicU64::new(0),
            ready_checks: AtomicU64::new(0),
            control_plane: crate::xds::report::ControlPlane::default(),
        }
    }

    /// Writes one line in istiod's log format; `scope` is empty for the default scope.
    pub fn log(&self, level: &str, scope: &str, message: &str) {
        self.log.push(log_line(level, scope, message));
    }

    /// Counts an xDS client that connected (for an ADS server hosted on [`XDS_PORT`]).
    pub fn xds_connected(&self) {
        self.xds_clients.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an xDS client that went away.
    pub fn xds_disconnected(&self) {
        let _ = self
            .xds_clients
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// One log line as istiod writes it.
fn log_line(level: &str, scope: &str, message: &str) -> String {
    let time = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ");
    if scope.is_empty() {
        format!("{time}\t{level}\t{message}")
    } else {
        format!("{time}\t{level}\t{scope}\t{message}")
    }
}

/// The `--flag value` and `--flag=value` pairs of istiod's command line, as istiod logs them
/// at start-up (`FLAG: --domain="cluster.local"`).
fn flags(command: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut args = command.iter().peekable();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            continue;
        };
        match flag.split_once('=') {
            Some((k, v)) => out.push((k.to_owned(), v.to_owned())),
            None => {
                let value = match args.peek() {
                    Some(next) if !next.starts_with("--") => args.next().cloned(),
                    _ => None,
                };
                out.push((flag.to_owned(), value.unwrap_or_else(|| "true".to_owned())));
            }
        }
    }
    out
}

/// Serves istiod on `listeners` until one of its ports stops accepting.
pub async fn serve(listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let istiod = Arc::new(Istiod::new(ctx.log.clone()));
    for (k, v) in flags(&ctx.command) {
        istiod.log("info", "", &format!("FLAG: --{k}={v:?}"));
    }
    istiod.log(
        "info",
        "",
        &format!(
            "istiod version {VERSION} (meshwork reference mesh), pod {}/{}",
            ctx.namespace, ctx.pod
        ),
    );
    if listeners.is_empty() {
        let message =
            "istiod has no port to listen on: declare its containerPorts (8080, 15010, 15014)";
        istiod.log("error", "", message);
        return Termination::error(message);
    }
    let mut ports = JoinSet::new();
    let identity = start_ca(&istiod, &ctx, &mut ports);
    for listener in listeners {
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return Termination::error(format!("istiod: a listener has no address: {e}")),
        };
        let istiod = Arc::clone(&istiod);
        match addr.port() {
            DEBUG_PORT => {
                istiod.log("info", "", &format!("starting HTTP service at {addr}"));
                ports.spawn(http::serve(http::Port::Debug, listener, istiod));
            }
            MONITORING_PORT => {
                istiod.log("info", "", &format!("starting monitoring server at {addr}"));
                ports.spawn(http::serve(http::Port::Monitoring, listener, istiod));
            }
            XDS_PORT => {
                ports.spawn(xds::serve(
                    listener,
                    istiod,
                    ctx.network.store().clone(),
                    identity.clone(),
                ));
            }
            _ => {
                ports.spawn(xds::hold(listener, istiod));
            }
        }
    }
    istiod.log("info", "", "istiod is ready to serve");
    let message = match ports.join_next().await {
        Some(Ok(reason)) => format!("istiod stopped: {reason}"),
        Some(Err(e)) => format!("istiod stopped: {e}"),
        None => "istiod exited".to_owned(),
    };
    istiod.log("error", "", &message);
    Termination::error(message)
}

/// Loads (or makes) istiod's CA, logs where it came from and the certificate lifetime, and
/// keeps the root published in every namespace (a task in `tasks`). `None` when there is no
/// usable CA: the proxies then get no certificates, and the log says why.
fn start_ca(
    istiod: &Arc<Istiod>,
    ctx: &PodContext,
    tasks: &mut JoinSet<String>,
) -> Option<crate::xds::Identity> {
    let store = ctx.network.store().clone();
    let loaded = match ca::load_or_create(&store, &ctx.namespace, std::time::SystemTime::now()) {
        Ok(loaded) => loaded,
        Err(message) => {
            istiod.log("error", "ca", &message);
            return None;
        }
    };
    for note in &loaded.notes {
        istiod.log("info", "ca", note);
    }
    for error in &loaded.errors {
        istiod.log("error", "ca", error);
    }
    let (ttl, warning) = ca::ttl(&ctx.env);
    if let Some(warning) = warning {
        istiod.log("warn", "ca", &warning);
    }
    istiod.log(
        "info",
        "ca",
        &format!(
            "workload certificates live {}s ({}), rotated at half of it",
            ttl.as_secs(),
            ca::TTL_ENV
        ),
    );
    let root = loaded.ca.root_pem().to_owned();
    let logger = Arc::clone(istiod);
    tasks.spawn(async move {
        ca::keep_root_published(store, root, move |e| logger.log("error", "ca", e)).await;
        "the object store closed: the mesh is shutting down".to_owned()
    });
    Some(crate::xds::Identity { ca: loaded.ca, ttl })
}

#[cfg(test)]
mod tests;
