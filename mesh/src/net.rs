//! Service networking: cluster DNS-style names, kube-proxy-lite routing from a Service's
//! address to one of its ready endpoints, and the listeners that expose NodePort and
//! LoadBalancer Services on 127.0.0.1.
//!
//! Every connection a workload opens goes through [`Network::connect`]: this is the one seam
//! where traffic is routed (the sidecar work puts Envoy on this path). A name resolves as a
//! pod's resolver would with `search <ns>.svc.cluster.local svc.cluster.local cluster.local`:
//! `reviews`, `reviews.default`, `reviews.default.svc`, `reviews.default.svc.cluster.local`.
//! A ClusterIP (10.96.x.x) exists only inside the mesh: connecting to `ClusterIP:port` picks a
//! ready endpoint of the Service (round-robin) and connects to `podIP:targetPort`, as kube-proxy's
//! rules do. Pod IPs (127.1.x.x) are real loopback addresses and are connected to directly.
//! Inside a pod `localhost` and `127.0.0.1` mean the pod itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpStream;

use crate::meta;
use crate::store::{ResourceKey, Store};

/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// How long a connection attempt may take before it counts as a timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Who opens a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A container of a pod: names resolve in its namespace, `localhost` is the pod itself.
    Pod {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        name: String,
        /// The pod's IP.
        ip: IpAddr,
    },
    /// The learner's machine outside the cluster (NodePort and port-forward traffic): cluster
    /// names do not resolve, only IPs.
    Host,
}

impl Origin {
    /// The namespace names resolve in (`default` for the host).
    pub fn namespace(&self) -> &str {
        match self {
            Self::Pod { namespace, .. } => namespace,
            Self::Host => "default",
        }
    }
}

/// Why a connection could not be made; each maps to the error curl reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The name does not resolve (curl exit 6).
    #[error("Could not resolve host: {0}")]
    Resolve(String),
    /// Nothing listens there, or the Service has no ready endpoint (curl exit 7).
    #[error("Failed to connect to {host} port {port}: {reason}")]
    Refused {
        /// The host as given.
        host: String,
        /// The port.
        port: u16,
        /// What happened (`Connection refused`, `no ready endpoints`).
        reason: String,
    },
    /// The connection attempt did not complete in time (curl exit 28).
    #[error("Connection timed out after {0} milliseconds")]
    Timeout(u128),
}

/// A Service as the network sees it.
#[derive(Clone, Debug)]
struct ServiceView {
    namespace: String,
    name: String,
    cluster_ip: Option<IpAddr>,
    /// (port, port name).
    ports: Vec<(u16, String)>,
}

/// The mesh's network: resolves names and routes connections. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Network {
    store: Store,
    /// Round-robin position per (namespace, service, port).
    next: Arc<Mutex<HashMap<(String, String, u16), Arc<AtomicUsize>>>>,
}

fn services() -> ResourceKey {
    ResourceKey::new("", "v1", "services")
}

fn endpoints() -> ResourceKey {
    ResourceKey::new("", "v1", "endpoints")
}

fn namespaces() -> ResourceKey {
    ResourceKey::new("", "v1", "namespaces")
}

impl Network {
    /// A network over the services and endpoints in `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            next: Arc::default(),
        }
    }

    /// Resolves `host` as a pod in `origin`'s namespace would: an IP literal as is, `localhost`
    /// to the pod's own IP, a Service name to its ClusterIP (or, for a headless Service, the IP
    /// of one ready endpoint).
    pub fn resolve(&self, origin: &Origin, host: &str) -> Result<IpAddr, NetError> {
        let host = host.trim_end_matches('.');
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(self.own_address(origin, ip));
        }
        if host.eq_ignore_ascii_case("localhost") {
            return Ok(self.own_address(origin, IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        if let Origin::Pod { name, ip, .. } = origin
            && host == name
        {
            return Ok(*ip);
        }
        let Some(service) = self.service_by_name(origin, host) else {
            return Err(NetError::Resolve(host.to_owned()));
        };
        match service.cluster_ip {
            Some(ip) => Ok(ip),
            None => self
                .ready_addresses(&service, None)
                .into_iter()
                .next()
                .map(|a| a.ip())
                .ok_or_else(|| NetError::Resolve(host.to_owned())),
        }
    }

    /// Opens a TCP connection from `origin` to `host:port`, routing a Service address to one of
    /// its ready endpoints (spread round-robin).
    pub async fn connect(
        &self,
        origin: &Origin,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, NetError> {
        let ip = self.resolve(origin, host)?;
        let target = match self.service_by_ip(ip) {
            Some(service) => {
                self.pick_endpoint(&service, port)
                    .ok_or_else(|| NetError::Refused {
                        host: host.to_owned(),
                        port,
                        reason: "Connection refused".into(),
                    })?
            }
            None => SocketAddr::new(ip, port),
        };
        Self::dial(host, port, target).await
    }

    /// Connects to one address, mapping failures to [`NetError`].
    pub(crate) async fn dial(
        host: &str,
        port: u16,
        target: SocketAddr,
    ) -> Result<TcpStream, NetError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            Ok(Err(e)) => Err(NetError::Refused {
                host: host.to_owned(),
                port,
                reason: if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    "Connection refused".into()
                } else {
                    e.to_string()
                },
            }),
            Err(_) => Err(NetError::Timeout(CONNECT_TIMEOUT.as_millis())),
        }
    }

    /// Inside a pod, 127.0.0.1 is the pod's own loopback: its IP here.
    fn own_address(&self, origin: &Origin, ip: IpAddr) -> IpAddr {
        match origin {
            Origin::Pod { ip: own, .. } if ip == IpAddr::V4(Ipv4Addr::LOCALHOST) => *own,
            _ => ip,
        }
    }

    /// The Service a DNS name means for `origin`, trying the search path.
    fn service_by_name(&self, origin: &Origin, host: &str) -> Option<ServiceView> {
        let host = host.to_ascii_lowercase();
        let suffix = format!(".svc.{CLUSTER_DOMAIN}");
        let (name, namespace) = if let Some(rest) = host.strip_suffix(&suffix) {
            let (name, ns) = rest.split_once('.')?;
            (name.to_owned(), ns.to_owned())
        } else if let Some(rest) = host.strip_suffix(".svc") {
            let (name, ns) = rest.split_once('.')?;
            (name.to_owned(), ns.to_owned())
        } else if let Some((name, ns)) = host.split_once('.') {
            // `name.namespace`; anything longer is not a cluster name.
            if ns.contains('.') || !self.namespace_exists(ns) {
                return None;
            }
            (name.to_owned(), ns.to_owned())
        } else {
            if matches!(origin, Origin::Host) {
                return None;
            }
            (host.clone(), origin.namespace().to_owned())
        };
        if name.contains('.') {
            return None;
        }
        let svc = self.store.get(&services(), Some(&namespace), &name).ok()?;
        Some(view(&svc))
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.store.get(&namespaces(), None, ns).is_ok()
    }

    fn service_by_ip(&self, ip: IpAddr) -> Option<ServiceView> {
        let (all, _) = self.store.list(&services(), None);
        all.iter()
            .map(|s| view(s))
            .find(|s| s.cluster_ip == Some(ip))
    }

    /// Ready `podIP:targetPort` addresses of the Service port `port` (all ports when `None`).
    fn ready_addresses(&self, service: &ServiceView, port: Option<u16>) -> Vec<SocketAddr> {
        let Ok(ep) = self
            .store
            .get(&endpoints(), Some(&service.namespace), &service.name)
        else {
            return Vec::new();
        };
        let port_name = port.and_then(|p| {
            service
                .ports
                .iter()
                .find(|(n, _)| *n == p)
                .map(|(_, name)| name.clone())
        });
        if port.is_some() && port_name.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for subset in ep
            .get("subsets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let target = subset
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| match &port_name {
                    Some(name) => p.get("name").and_then(Value::as_str).unwrap_or("") == name,
                    None => true,
                })
                .and_then(|p| p.get("port")?.as_u64())
                .and_then(|p| u16::try_from(p).ok());
            let Some(target) = target else { continue };
            for address in subset
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(ip) = address
                    .get("ip")
                    .and_then(Value::as_str)
                    .and_then(|ip| ip.parse::<IpAddr>().ok())
                {
                    out.push(SocketAddr::new(ip, target));
                }
            }
        }
        out.sort();
        out
    }

    /// One ready endpoint of the Service port, round-robin.
    fn pick_endpoint(&self, service: &ServiceView, port: u16) -> Option<SocketAddr> {
        let ready = self.ready_addresses(service, Some(port));
        if ready.is_empty() {
            return None;
        }
        let counter = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                next.entry((service.namespace.clone(), service.name.clone(), port))
                    .or_default(),
            )
        };
        let i = counter.fetch_add(1, Ordering::Relaxed);
        ready.get(i % ready.len()).copied()
    }
}

fn view(svc: &Value) -> ServiceView {
    ServiceView {
        namespace: meta::namespace(svc).unwrap_or("default").to_owned(),
        name: meta::name(svc).unwrap_or("").to_owned(),
        cluster_ip: svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse().ok()),
        ports: svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let port = u16::try_from(p.get("port")?.as_u64()?).ok()?;
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                Some((port, name))
            })
            .collect(),
    }
}
