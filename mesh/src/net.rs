//! Service networking: cluster DNS names, kube-proxy-lite routing from a Service's address to
//! one of its ready endpoints, and the listeners that expose NodePort and LoadBalancer Services
//! on 127.0.0.1 (`proxy`).
//!
//! Every connection a workload opens goes through [`Network::connect`]: this is the one seam
//! where traffic is routed (the sidecar work puts Envoy on this path); NodePort traffic joins
//! it in `Network::connect_service`. A name resolves as a pod's resolver would with
//! `search <ns>.svc.cluster.local svc.cluster.local cluster.local` and `ndots:5` (`dns`):
//! `reviews`, `reviews.default`, `reviews.default.svc`, `reviews.default.svc.cluster.local`;
//! a headless Service to its ready endpoints' pod IPs in turn, a StatefulSet pod as
//! `db-0.db.<ns>.svc.cluster.local`. A ClusterIP (10.96.x.x) exists only inside the mesh:
//! connecting to `ClusterIP:port` picks a ready endpoint of the Service (round-robin) and
//! connects to `podIP:targetPort`, as kube-proxy's rules do. Pod IPs (127.1.x.x) are real
//! loopback addresses and are connected to directly. Inside a pod `localhost` and `127.0.0.1`
//! mean the pod itself; from the host ([`Origin::Host`]) only addresses resolve.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpStream;

use crate::meta;
use crate::store::{ResourceKey, Store};
use dns::Record;

pub(crate) mod dns;
mod egress;
pub(crate) mod proxy;
pub mod sidecar;
#[cfg(test)]
mod tests;

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
    /// `None` for a headless Service (`clusterIP: None`) and an ExternalName.
    cluster_ip: Option<IpAddr>,
    /// (port, port name).
    ports: Vec<(u16, String)>,
    /// `spec.externalName` of an ExternalName Service.
    external_name: Option<String>,
    /// `spec.publishNotReadyAddresses`: DNS answers with pods that are not ready too.
    publish_not_ready: bool,
}

/// The round-robin position of one (namespace, Service, port); port 0 is the DNS answer of a
/// headless Service.
type CursorKey = (String, String, u16);

/// How many CNAME hops (ExternalName Services) a lookup follows.
const MAX_CNAME_HOPS: usize = 4;

/// The mesh's network: resolves names and routes connections. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Network {
    store: Store,
    /// Round-robin position per (namespace, service, port).
    next: Arc<Mutex<HashMap<CursorKey, usize>>>,
}

fn services() -> ResourceKey {
    ResourceKey::new("", "v1", "services")
}

fn endpoints() -> ResourceKey {
    ResourceKey::new("", "v1", "endpoints")
}

fn pods() -> ResourceKey {
    ResourceKey::new("", "v1", "pods")
}

fn statefulsets() -> ResourceKey {
    ResourceKey::new("apps", "v1", "statefulsets")
}

impl Network {
    /// A network over the services and endpoints in `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            next: Arc::default(),
        }
    }

    /// The object store the network reads Services and Pods from (istiod's xDS reads it too).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Resolves `host` as a pod in `origin`'s namespace would (see `dns`): an IP literal as
    /// is, `localhost` to the pod's own IP, a Service name to its ClusterIP (or, for a headless
    /// Service, the IP of one ready endpoint, in turn), a StatefulSet pod's name under its
    /// headless Service to the pod's IP. From [`Origin::Host`] only IPs and `localhost` resolve.
    pub fn resolve(&self, origin: &Origin, host: &str) -> Result<IpAddr, NetError> {
        let bare = host
            .trim_end_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(self.own_address(origin, ip));
        }
        if bare.eq_ignore_ascii_case("localhost") {
            return Ok(self.own_address(origin, IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        let unknown = || NetError::Resolve(host.to_owned());
        let Origin::Pod {
            namespace,
            name,
            ip,
        } = origin
        else {
            return Err(unknown());
        };
        if bare.eq_ignore_ascii_case(name) {
            return Ok(*ip);
        }
        if let Some(found) = self.lookup(namespace, host, 0) {
            return Ok(found);
        }
        // A sidecar's DNS proxy answers for ServiceEntry hosts with an address of its own
        // (Istio's auto-allocation range); the sidecar routes the connection by name.
        if self.sidecar_of(origin).is_some() && egress::is_service_entry_host(&self.store, bare) {
            return Ok(egress::auto_allocated(bare));
        }
        Err(unknown())
    }

    /// Tries the names a pod in `namespace` would for `host`; the first answer wins.
    fn lookup(&self, namespace: &str, host: &str, hops: usize) -> Option<IpAddr> {
        if hops > MAX_CNAME_HOPS {
            return None;
        }
        dns::candidates(namespace, host)
            .iter()
            .filter_map(|fqdn| dns::record(fqdn))
            .find_map(|record| self.answer(namespace, &record, hops))
    }

    /// The address a cluster DNS record answers with, if any.
    fn answer(&self, namespace: &str, record: &Record, hops: usize) -> Option<IpAddr> {
        match record {
            Record::Service {
                namespace: ns,
                name,
            } => {
                let service = self.service(ns, name)?;
                if let Some(ip) = service.cluster_ip {
                    return Some(ip);
                }
                if let Some(target) = &service.external_name {
                    return self.lookup(namespace, target, hops + 1);
                }
                let ips = self.endpoint_ips(&service);
                self.rotate((ns.clone(), name.clone(), 0), &ips)
            }
            Record::ServicePod {
                namespace: ns,
                service,
                hostname,
            } => {
                let service = self.service(ns, service)?;
                if service.cluster_ip.is_some() || service.external_name.is_some() {
                    return None;
                }
                let ip = self.service_pod_ip(&service, hostname)?;
                self.endpoint_ips(&service).contains(&ip).then_some(ip)
            }
            Record::PodIp(ip) => Some(IpAddr::V4(*ip)),
        }
    }

    /// The IP of the pod with `hostname` under the headless `service`: a pod whose
    /// `hostname`/`subdomain` say so, or a pod of a StatefulSet governed by the Service.
    fn service_pod_ip(&self, service: &ServiceView, hostname: &str) -> Option<IpAddr> {
        let (all, _) = self.store.list(&pods(), Some(&service.namespace));
        let pod = all.iter().find(|pod| {
            let spec = |field: &str| {
                pod.pointer(&format!("/spec/{field}"))
                    .and_then(Value::as_str)
            };
            if spec("subdomain") == Some(service.name.as_str()) {
                return spec("hostname").or_else(|| meta::name(pod)) == Some(hostname);
            }
            meta::name(pod) == Some(hostname) && self.governed_by(pod, service)
        })?;
        pod.pointer("/status/podIP")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse().ok())
    }

    /// Whether the pod belongs to a StatefulSet whose `serviceName` is `service`.
    fn governed_by(&self, pod: &Value, service: &ServiceView) -> bool {
        pod.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|o| o.get("kind").and_then(Value::as_str) == Some("StatefulSet"))
            .filter_map(|o| o.get("name").and_then(Value::as_str))
            .filter_map(|set| {
                self.store
                    .get(&statefulsets(), Some(&service.namespace), set)
                    .ok()
            })
            .any(|set| {
                set.pointer("/spec/serviceName").and_then(Value::as_str)
                    == Some(service.name.as_str())
            })
    }

    /// The ready `podIP:targetPort` addresses behind port `port` of Service `namespace/service`
    /// (empty when there is no such Service or no ready endpoint), for a component that dials
    /// the pods themselves rather than the Service's address: Istio's proxy reaching istiod,
    /// whose traffic no sidecar redirection applies to.
    pub fn endpoints(&self, namespace: &str, service: &str, port: u16) -> Vec<SocketAddr> {
        self.service(namespace, service)
            .map(|s| self.ready_addresses(&s, port))
            .unwrap_or_default()
    }

    /// Opens a TCP connection from `origin` to `host:port`, routing a Service address to one of
    /// its ready endpoints (spread round-robin).
    pub async fn connect(
        &self,
        origin: &Origin,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, NetError> {
        let resolved = self.resolve(origin, host);
        let service = resolved
            .as_ref()
            .ok()
            .and_then(|ip| self.service_by_ip(*ip));
        if let Some(addresses) = self.sidecar_of(origin) {
            let outbound = SocketAddr::new(addresses.outbound, port);
            if service.is_some() {
                // A pod with a sidecar sends its Service traffic to the sidecar's outbound
                // listener for that port, as the sidecar's redirection does on a cluster.
                // Nothing listening there (no such port in the sidecar's configuration yet)
                // passes the connection through to its original destination, as Istio's
                // PassthroughCluster does.
                if let Ok(stream) = Self::dial(origin, host, port, outbound).await {
                    return Ok(stream);
                }
            } else if egress::is_service_entry_host(&self.store, host) {
                // The sidecar's DNS proxy answers for ServiceEntry hosts; the sidecar routes them.
                return Self::dial(origin, host, port, outbound).await;
            } else if resolved
                .as_ref()
                .is_ok_and(|ip| !egress::in_cluster(*ip) && !ip.is_unspecified())
                && egress::registry_only(&self.store)
            {
                // REGISTRY_ONLY: a host outside the registry reaches only the sidecar's
                // catch-all (BlackHoleCluster); a port without an outbound listener is closed.
                return Self::dial(origin, host, port, outbound).await.map_err(|_| {
                    NetError::Refused {
                        host: host.to_owned(),
                        port,
                        reason: "Connection reset by peer (the sidecar sends hosts outside the \
                                 registry to BlackHoleCluster: outboundTrafficPolicy is \
                                 REGISTRY_ONLY)"
                            .to_owned(),
                    }
                });
            }
        }
        let ip = resolved?;
        match service {
            Some(service) => self.connect_service(origin, host, &service, port).await,
            None => Self::dial(origin, host, port, SocketAddr::new(ip, port)).await,
        }
    }

    /// The sidecar addresses of the pod a connection comes from, when it has a sidecar.
    pub fn sidecar_of(&self, origin: &Origin) -> Option<sidecar::SidecarAddresses> {
        let Origin::Pod {
            namespace,
            name,
            ip,
            ..
        } = origin
        else {
            return None;
        };
        let pod = self.store.get(&pods(), Some(namespace), name).ok()?;
        if !sidecar::has_sidecar(&pod) {
            return None;
        }
        sidecar::SidecarAddresses::of(*ip)
    }

    /// Routes a connection for a Service port to one of its ready endpoints, as kube-proxy's
    /// rules do: refused when there is none. Both ClusterIP traffic ([`Self::connect`]) and
    /// NodePort/LoadBalancer traffic (`proxy`) come through here.
    async fn connect_service(
        &self,
        origin: &Origin,
        host: &str,
        service: &ServiceView,
        port: u16,
    ) -> Result<TcpStream, NetError> {
        let Some(target) = self.pick_endpoint(service, port) else {
            return Err(NetError::Refused {
                host: host.to_owned(),
                port,
                reason: "Connection refused".into(),
            });
        };
        tracing::trace!(
            ?origin,
            service = %format_args!("{}/{}", service.namespace, service.name),
            port,
            %target,
            "routing a service connection"
        );
        Self::dial(origin, host, port, target).await
    }

    /// Connects to one address, mapping failures to [`NetError`]. A pod's connections leave
    /// from the pod's IP, as on a cluster (httpbin's `/ip`, a server's peer address).
    pub(crate) async fn dial(
        origin: &Origin,
        host: &str,
        port: u16,
        target: SocketAddr,
    ) -> Result<TcpStream, NetError> {
        let attempt = async {
            let socket = match target {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            if let Origin::Pod { ip, .. } = origin
                && ip.is_ipv4() == target.is_ipv4()
            {
                socket.bind(SocketAddr::new(*ip, 0))?;
            }
            socket.connect(target).await
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
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

    /// Inside a pod, 127.0.0.1 is the pod's own loopback: its IP here (the application's
    /// address when the pod has a sidecar: localhost traffic is never redirected).
    fn own_address(&self, origin: &Origin, ip: IpAddr) -> IpAddr {
        match origin {
            Origin::Pod { ip: own, .. } if ip == IpAddr::V4(Ipv4Addr::LOCALHOST) => self
                .sidecar_of(origin)
                .map_or(*own, |addresses| addresses.app),
            _ => ip,
        }
    }

    /// The Service `namespace/name`, if it exists.
    fn service(&self, namespace: &str, name: &str) -> Option<ServiceView> {
        let svc = self.store.get(&services(), Some(namespace), name).ok()?;
        Some(view(&svc))
    }

    fn service_by_ip(&self, ip: IpAddr) -> Option<ServiceView> {
        let (all, _) = self.store.list(&services(), None);
        all.iter()
            .map(|s| view(s))
            .find(|s| s.cluster_ip == Some(ip))
    }

    /// The Service's Endpoints subsets (empty when there are none).
    fn subsets(&self, service: &ServiceView) -> Vec<Value> {
        self.store
            .get(&endpoints(), Some(&service.namespace), &service.name)
            .ok()
            .and_then(|ep| ep.get("subsets").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    }

    /// The IPs DNS answers with for a headless Service: its ready endpoints (and the not-ready
    /// ones with `publishNotReadyAddresses`), sorted.
    fn endpoint_ips(&self, service: &ServiceView) -> Vec<IpAddr> {
        let mut fields = vec!["addresses"];
        if service.publish_not_ready {
            fields.push("notReadyAddresses");
        }
        let mut out: Vec<IpAddr> = self
            .subsets(service)
            .iter()
            .flat_map(|subset| {
                fields
                    .iter()
                    .filter_map(|f| subset.get(*f).and_then(Value::as_array))
                    .flatten()
                    .filter_map(|a| a.get("ip")?.as_str()?.parse().ok())
                    .collect::<Vec<IpAddr>>()
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Ready `podIP:targetPort` addresses of the Service port `port`.
    fn ready_addresses(&self, service: &ServiceView, port: u16) -> Vec<SocketAddr> {
        let Some(port_name) = service
            .ports
            .iter()
            .find(|(n, _)| *n == port)
            .map(|(_, name)| name.as_str())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for subset in self.subsets(service) {
            let target = subset
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
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
        let ready = self.ready_addresses(service, port);
        self.rotate(
            (service.namespace.clone(), service.name.clone(), port),
            &ready,
        )
    }

    /// The next of `items` for `key`, in turn.
    fn rotate<T: Copy>(&self, key: CursorKey, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let i = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let cursor = next.entry(key).or_default();
            let i = *cursor;
            *cursor = cursor.wrapping_add(1);
            i
        };
        items.get(i % items.len()).copied()
    }
}

fn view(svc: &Value) -> ServiceView {
    let spec = |field: &str| svc.pointer(&format!("/spec/{field}"));
    ServiceView {
        namespace: meta::namespace(svc).unwrap_or("default").to_owned(),
        name: meta::name(svc).unwrap_or("").to_owned(),
        cluster_ip: spec("clusterIP")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse().ok()),
        ports: spec("ports")
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
        external_name: (spec("type").and_then(Value::as_str) == Some("ExternalName"))
            .then(|| spec("externalName").and_then(Value::as_str))
            .flatten()
            .map(str::to_owned),
        publish_not_ready: spec("publishNotReadyAddresses").and_then(Value::as_bool) == Some(true),
    }
}
