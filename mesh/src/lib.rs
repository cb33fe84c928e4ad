//! meshwork's reference mesh: a local, Kubernetes-compatible control plane that the real
//! `kubectl` and the kube crate talk to.
//!
//! Start one with [`start`] (returns a handle once the API is ready) or [`run`] (serves until a
//! shutdown future completes). Everything lives in [`MeshConfig::state_dir`]: `store.json`, the
//! CA and server certificate, the bearer token, `kubeconfig` and `server.json`.
//!
//! Modules:
//! - [`store`]: objects as JSON with resourceVersions, watch fan-out and durable snapshots.
//! - `controllers`: Deployment/ReplicaSet/Pod, StatefulSet, DaemonSet, Service endpoints,
//!   garbage collection and events, reconciling on the store's watch inside the mesh process.
//! - [`api`]: the HTTPS API server (discovery, OpenAPI, CRUD, patch, watch, Table, Status errors).
//! - [`kinds`]: the served kinds: built-ins and those CustomResourceDefinitions add.
//! - [`patch`]: JSON merge patch, JSON patch and strategic merge patch.
//! - [`meta`]: metadata helpers (uids, timestamps, ages, labels).
//! - [`lifecycle`]: the mesh as a background process (state dir, start detached, status, stop).
//! - [`kubelet`]: runs pods' containers as built-in [`workloads`] and reports their status.
//! - [`workloads`]: the built-in programs container images select (httpbin, Bookinfo, …).
//! - [`net`]: service networking: names, ClusterIP routing, NodePort and LoadBalancer ports.
//! - [`envoy`]: the real Envoy: finding and installing it, one process per sidecar or gateway.
//! - [`inject`]: Istio's sidecar injection (the webhook's policy and template, kube-inject).
//! - [`xds`]: istiod's xDS: pilot-lite's ADS server fed from the store's objects.

pub mod api;
mod controllers;
pub mod envoy;
pub mod inject;
pub mod kinds;
pub mod kubelet;
pub mod lifecycle;
pub mod meta;
pub mod net;
pub mod patch;
mod seed;
mod server;
pub mod store;
pub mod workloads;
pub mod xds;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch as signal;

use crate::api::{ApiState, Credentials};
use crate::store::Store;

/// Where the mesh keeps its state and which port it listens on.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// The state directory (the CLI uses `$XDG_STATE_HOME/meshwork/`).
    pub state_dir: PathBuf,
    /// The port on 127.0.0.1; `None` lets the operating system choose a free one.
    pub port: Option<u16>,
}

/// Why the mesh could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file in the state directory could not be read or written.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Certificates could not be created or loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The store could not be opened or written.
    #[error(transparent)]
    Store(#[from] store::PersistError),
    /// The initial objects could not be created.
    #[error("could not create the mesh's initial objects: {0}")]
    Seed(#[from] store::StoreError),
    /// The port could not be bound.
    #[error(
        "could not listen on {addr}: {source}; choose another port or stop whatever is using it"
    )]
    Bind {
        /// The address.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// File name of the running server's description in the state directory.
pub const SERVER_FILE: &str = "server.json";

/// A running mesh; dropping it without [`Mesh::shutdown`] leaves the server task running
/// until the runtime stops.
#[derive(Debug)]
pub struct Mesh {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    state_dir: PathBuf,
    credentials: Credentials,
    store: Store,
    notice: Option<String>,
    stop: signal::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    controllers: tokio::task::JoinHandle<()>,
    kubelet: kubelet::Kubelet,
    network: net::Network,
    kubelet_task: tokio::task::JoinHandle<()>,
    proxy: tokio::task::JoinHandle<()>,
}

impl Mesh {
    /// The address the API listens on.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base URL (`https://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Path of the kubeconfig (mode 0600) with CA, token and server URL; context `meshwork`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.credentials.token
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.credentials.ca_pem
    }

    /// The object store (for in-process controllers and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The mesh's network (resolve names, connect as a pod or from the host).
    pub fn network(&self) -> &net::Network {
        &self.network
    }

    /// The kubelet running the pods' containers (logs of a container, …).
    pub fn kubelet(&self) -> &kubelet::Kubelet {
        &self.kubelet
    }

    /// Set when the previous state file was unreadable and moved aside; show it to the user.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Stops accepting connections, ends open watches, waits for requests in flight (at most
    /// a few seconds), stops every container, closes the NodePort and LoadBalancer ports and
    /// removes `server.json`.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.controllers.await;
        let _ = self.kubelet_task.await;
        let _ = self.proxy.await;
        let _ = std::fs::remove_file(self.state_dir.join(SERVER_FILE));
    }
}

/// Starts the mesh and returns once its API answers requests.
pub async fn start(config: MeshConfig) -> Result<Mesh, Error> {
    let state_dir = config.state_dir.clone();
    std::fs::create_dir_all(&state_dir).map_err(|source| Error::Io {
        action: "create the state directory",
        path: state_dir.clone(),
        source,
    })?;
    let credentials = Credentials::load_or_create(&state_dir)?;
    let opened = Store::open(&state_dir)?;
    let store = opened.store;
    seed::ensure(&store)?;
    let listen = format!("127.0.0.1:{}", config.port.unwrap_or(0));
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| Error::Bind {
            addr: listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: listen,
        source,
    })?;
    let url = format!("https://{addr}");
    let kubeconfig = state_dir.join(api::tls::KUBECONFIG);
    api::tls::write_private(&kubeconfig, credentials.kubeconfig(&url).as_bytes())?;
    let (stop, shutdown) = signal::channel(false);
    let network = net::Network::new(store.clone());
    let (kubelet, kubelet_task) = kubelet::start(store.clone(), network.clone(), shutdown.clone());
    let proxy = net::proxy::start(network.clone(), shutdown.clone());
    let state = Arc::new(ApiState {
        kubelet: kubelet.clone(),
        network: network.clone(),
        store: store.clone(),
        credentials: credentials.clone(),
        server_address: addr.to_string(),
        shutdown: shutdown.clone(),
        allocation: std::sync::Mutex::new(()),
        kinds: kinds::Registry::load(&store),
    });
    let tls = credentials.server_config()?;
    let server = tokio::spawn(server::serve(listener, tls, state, shutdown.clone()));
    let controllers = tokio::spawn(controllers::run(store.clone(), shutdown));
    // Namespaces that were Terminating when the mesh stopped finish deleting now.
    let (namespaces, _) = store.list(&store::ResourceKey::new("", "v1", "namespaces"), None);
    for ns in namespaces {
        if meta::meta_str(&ns, "deletionTimestamp").is_some()
            && let Some(name) = meta::name(&ns)
        {
            tokio::spawn(api::finalize_namespace(store.clone(), name.to_owned()));
        }
    }
    let info = serde_json::json!({
        "pid": std::process::id(),
        "url": url,
        "kubeconfig": kubeconfig,
        "startedAt": meta::now_rfc3339(),
    });
    api::tls::write_private(
        &state_dir.join(SERVER_FILE),
        serde_json::to_string_pretty(&info)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    tracing::info!(%url, kubeconfig = %kubeconfig.display(), "reference mesh API ready");
    Ok(Mesh {
        addr,
        kubeconfig,
        state_dir,
        credentials,
        store,
        notice: opened.notice,
        stop,
        server,
        controllers,
        kubelet,
        network,
        kubelet_task,
        proxy,
    })
}

/// Runs the mesh until `shutdown` completes, then stops it gracefully.
pub async fn run(config: MeshConfig, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let mesh = start(config).await?;
    if let Some(n) = mesh.notice() {
        eprintln!("warning: {n}");
    }
    shutdown.await;
    mesh.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (the signals `meshwork mesh down` and terminals send).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
