//! The mesh as pilot sees it: Services, workload endpoints and Istio resources, plus the proxies
//! that ask for configuration.
//!
//! The caller (istiod's workload in the reference mesh) builds a [`Model`] from Kubernetes objects:
//! [`Service`]s from `v1/Service`, [`Endpoint`]s from the pods selected by each Service, and Istio
//! resources with [`Model::add_istio_object`], which parses `networking.istio.io` objects into the
//! typed specs of [`istio`] and names the resource and the field when a spec is malformed.
//! [`Model::from_objects`] and [`Proxy::from_pod`] ([`kube`]) do all of it from the JSON objects
//! the API server stores.

pub mod istio;
pub mod kube;
pub mod policy;
pub mod security;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use istio::{DestinationRule, Gateway, ServiceEntry, Sidecar, VirtualService};
pub use policy::{AuthorizationPolicy, EnvoyFilter, RequestAuthentication};
pub use security::PeerAuthentication;

/// The default DNS suffix of a cluster's services.
pub const DEFAULT_DOMAIN_SUFFIX: &str = "cluster.local";

/// Everything pilot translates: services, their endpoints and the Istio resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The cluster's DNS suffix, `cluster.local` unless the caller says otherwise.
    pub domain_suffix: String,
    /// The mesh config (the `mesh` key of the `istio` ConfigMap in `istio-system`).
    pub mesh: MeshConfig,
    /// Kubernetes Services.
    pub services: Vec<Service>,
    /// Workload endpoints: one per (Service, ready pod) pair.
    pub endpoints: Vec<Endpoint>,
    /// networking.istio.io VirtualServices.
    pub virtual_services: Vec<Config<VirtualService>>,
    /// networking.istio.io DestinationRules.
    pub destination_rules: Vec<Config<DestinationRule>>,
    /// networking.istio.io Gateways.
    pub gateways: Vec<Config<Gateway>>,
    /// networking.istio.io ServiceEntries.
    pub service_entries: Vec<Config<ServiceEntry>>,
    /// networking.istio.io Sidecars.
    pub sidecars: Vec<Config<Sidecar>>,
    /// networking.istio.io EnvoyFilters.
    pub envoy_filters: Vec<Config<EnvoyFilter>>,
    /// security.istio.io PeerAuthentications.
    pub peer_authentications: Vec<Config<PeerAuthentication>>,
    /// security.istio.io AuthorizationPolicies.
    pub authorization_policies: Vec<Config<AuthorizationPolicy>>,
    /// security.istio.io RequestAuthentications.
    pub request_authentications: Vec<Config<RequestAuthentication>>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            domain_suffix: DEFAULT_DOMAIN_SUFFIX.to_owned(),
            mesh: MeshConfig::default(),
            services: Vec::new(),
            endpoints: Vec::new(),
            virtual_services: Vec::new(),
            destination_rules: Vec::new(),
            gateways: Vec::new(),
            service_entries: Vec::new(),
            sidecars: Vec::new(),
            envoy_filters: Vec::new(),
            peer_authentications: Vec::new(),
            authorization_policies: Vec::new(),
            request_authentications: Vec::new(),
        }
    }
}

/// The parts of Istio's mesh config pilot honours.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MeshConfig {
    /// Where mesh-wide policies live (`istio-system`).
    pub root_namespace: String,
    /// The trust domain of SPIFFE identities (`cluster.local`).
    pub trust_domain: String,
    /// What sidecars do with traffic to hosts outside the registry.
    pub outbound_traffic_policy: OutboundTrafficPolicy,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            root_namespace: "istio-system".to_owned(),
            trust_domain: DEFAULT_DOMAIN_SUFFIX.to_owned(),
            outbound_traffic_policy: OutboundTrafficPolicy::default(),
        }
    }
}

impl MeshConfig {
    /// Reads the mesh config (its YAML text already parsed); a malformed one is an error naming
    /// the field.
    pub fn from_value(value: &serde_json::Value) -> Result<MeshConfig, String> {
        if value.is_null() {
            return Ok(MeshConfig::default());
        }
        serde_path_to_error::deserialize(value)
            .map_err(|e| format!("mesh config field `{}`: {}", e.path(), e.inner()))
    }
}

/// `outboundTrafficPolicy` of the mesh config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutboundTrafficPolicy {
    /// `ALLOW_ANY` (default) or `REGISTRY_ONLY`.
    pub mode: OutboundMode,
}

/// Whether sidecars pass traffic to unknown hosts through or block it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundMode {
    /// Unknown hosts are reached directly (`PassthroughCluster`).
    #[default]
    AllowAny,
    /// Only hosts in the registry (Services, ServiceEntries) are reachable; others get
    /// `BlackHoleCluster` (502 for HTTP).
    RegistryOnly,
}

/// An Istio resource: its namespace, name and typed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Config<T> {
    /// The resource's namespace.
    pub namespace: String,
    /// The resource's name.
    pub name: String,
    /// The parsed spec.
    pub spec: T,
}

/// The Istio kinds pilot understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IstioKind {
    /// networking.istio.io VirtualService.
    VirtualService,
    /// networking.istio.io DestinationRule.
    DestinationRule,
    /// networking.istio.io Gateway.
    Gateway,
    /// networking.istio.io ServiceEntry.
    ServiceEntry,
    /// networking.istio.io Sidecar.
    Sidecar,
    /// networking.istio.io EnvoyFilter.
    EnvoyFilter,
    /// security.istio.io PeerAuthentication.
    PeerAuthentication,
    /// security.istio.io AuthorizationPolicy.
    AuthorizationPolicy,
    /// security.istio.io RequestAuthentication.
    RequestAuthentication,
}

impl IstioKind {
    /// The kind for a Kubernetes `kind` string, if it is one pilot translates.
    pub fn from_kind(kind: &str) -> Option<IstioKind> {
        Some(match kind {
            "VirtualService" => IstioKind::VirtualService,
            "DestinationRule" => IstioKind::DestinationRule,
            "Gateway" => IstioKind::Gateway,
            "ServiceEntry" => IstioKind::ServiceEntry,
            "Sidecar" => IstioKind::Sidecar,
            "EnvoyFilter" => IstioKind::EnvoyFilter,
            "PeerAuthentication" => IstioKind::PeerAuthentication,
            "AuthorizationPolicy" => IstioKind::AuthorizationPolicy,
            "RequestAuthentication" => IstioKind::RequestAuthentication,
            _ => return None,
        })
    }

    /// The Kubernetes `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            IstioKind::VirtualService => "VirtualService",
            IstioKind::DestinationRule => "DestinationRule",
            IstioKind::Gateway => "Gateway",
            IstioKind::ServiceEntry => "ServiceEntry",
            IstioKind::Sidecar => "Sidecar",
            IstioKind::EnvoyFilter => "EnvoyFilter",
            IstioKind::PeerAuthentication => "PeerAuthentication",
            IstioKind::AuthorizationPolicy => "AuthorizationPolicy",
            IstioKind::RequestAuthentication => "RequestAuthentication",
        }
    }
}

/// A malformed Istio resource: which one, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {namespace}/{name}: field `{field}`: {message}")]
pub struct ParseError {
    /// The resource's kind, e.g. `VirtualService`.
    pub kind: String,
    /// The resource's namespace.
    pub namespace: String,
    /// The resource's name.
    pub name: String,
    /// The path of the offending field inside the object, e.g. `spec.http[0].route[0].weight`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Model {
    /// An empty model with the default DNS suffix.
    pub fn new() -> Model {
        Model::default()
    }

    /// Parses a whole Kubernetes object of an Istio kind pilot translates and adds it to the model.
    ///
    /// Returns `Ok(false)` for kinds pilot does not translate (they are ignored), `Ok(true)` when
    /// the object was added, and a [`ParseError`] naming the resource and the field otherwise.
    pub fn add_istio_object(&mut self, object: &serde_json::Value) -> Result<bool, ParseError> {
        let kind_str = object
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default();
        let Some(kind) = IstioKind::from_kind(kind_str) else {
            return Ok(false);
        };
        let metadata = object.get("metadata");
        let text = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let namespace = match text("namespace") {
            ns if ns.is_empty() => "default".to_owned(),
            ns => ns,
        };
        let name = text("name");
        let null = serde_json::Value::Null;
        let spec = object.get("spec").unwrap_or(&null);
        self.add_istio_spec(kind, &namespace, &name, spec)?;
        Ok(true)
    }

    /// Parses the `spec` of an Istio resource of `kind` and adds it to the model.
    pub fn add_istio_spec(
        &mut self,
        kind: IstioKind,
        namespace: &str,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<(), ParseError> {
        match kind {
            IstioKind::VirtualService => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.virtual_services.push(config(namespace, name, spec));
            }
            IstioKind::DestinationRule => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.destination_rules.push(config(namespace, name, spec));
            }
            IstioKind::Gateway => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.gateways.push(config(namespace, name, spec));
            }
            IstioKind::ServiceEntry => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.service_entries.push(config(namespace, name, spec));
            }
            IstioKind::Sidecar => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.sidecars.push(config(namespace, name, spec));
            }
            IstioKind::EnvoyFilter => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.envoy_filters.push(config(namespace, name, spec));
            }
            IstioKind::PeerAuthentication => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.peer_authentications
                    .push(config(namespace, name, spec));
            }
            IstioKind::AuthorizationPolicy => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.authorization_policies
                    .push(config(namespace, name, spec));
            }
            IstioKind::RequestAuthentication => {
                let spec = parse_spec(kind, namespace, name, spec)?;
                self.request_authentications
                    .push(config(namespace, name, spec));
            }
        }
        Ok(())
    }

    /// The fully qualified name of a service, e.g. `reviews.default.svc.cluster.local`.
    pub fn fqdn(&self, namespace: &str, name: &str) -> String {
        format!("{name}.{namespace}.svc.{}", self.domain_suffix)
    }
}

fn config<T>(namespace: &str, name: &str, spec: T) -> Config<T> {
    Config {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        spec,
    }
}

/// Parses one spec, naming the resource and the offending field on error.
pub fn parse_spec<T: serde::de::DeserializeOwned>(
    kind: IstioKind,
    namespace: &str,
    name: &str,
    spec: &serde_json::Value,
) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(spec).map_err(|e| {
        let path = e.path().to_string();
        ParseError {
            kind: kind.as_str().to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            field: if path == "." {
                "spec".to_owned()
            } else {
                format!("spec.{path}")
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// A Kubernetes Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The cluster IP, if the service has one (not headless).
    pub cluster_ip: Option<IpAddr>,
    /// The service's ports.
    pub ports: Vec<ServicePort>,
    /// The pod selector (used to map a gateway's service ports to its container ports).
    pub selector: BTreeMap<String, String>,
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    /// The port's name (`http`, `http2`, `grpc-web`, `tcp-db` …); its prefix selects the protocol.
    pub name: String,
    /// The service port.
    pub port: u16,
    /// The Kubernetes protocol (`TCP`, `UDP`, `SCTP`).
    pub protocol: String,
    /// The `appProtocol`, if set (wins over the name prefix).
    pub app_protocol: Option<String>,
    /// The container port the service forwards to (a named targetPort resolved by the caller).
    pub target_port: u16,
}

/// How a port's traffic is handled, from its name prefix or appProtocol (Istio's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortProtocol {
    /// HTTP/1.1 (or sniffed): HTTP routing.
    Http,
    /// HTTP/2 or gRPC: HTTP routing, HTTP/2 upstream.
    Http2,
    /// Opaque TCP.
    Tcp,
}

impl ServicePort {
    /// The protocol Istio would pick for this port.
    pub fn protocol_kind(&self) -> PortProtocol {
        let hint = self
            .app_protocol
            .clone()
            .unwrap_or_else(|| self.name.split('-').next().unwrap_or_default().to_owned())
            .to_ascii_lowercase();
        protocol_from_name(&hint, &self.protocol)
    }
}

/// Istio's protocol selection from a name prefix (`http`, `grpc`, `tcp` …) and the L4 protocol.
pub fn protocol_from_name(hint: &str, l4: &str) -> PortProtocol {
    if l4.eq_ignore_ascii_case("UDP") || l4.eq_ignore_ascii_case("SCTP") {
        return PortProtocol::Tcp;
    }
    match hint {
        "http2" | "grpc" | "grpc-web" | "h2c" => PortProtocol::Http2,
        "tcp" | "tls" | "https" | "mongo" | "mysql" | "redis" | "mqtt" => PortProtocol::Tcp,
        // http, and unnamed ports (Istio sniffs; our workloads speak HTTP)
        _ => PortProtocol::Http,
    }
}

/// A workload endpoint: one ready pod behind one Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The Service's namespace (also the pod's).
    pub namespace: String,
    /// The Service's name.
    pub service: String,
    /// The pod's name.
    pub pod: String,
    /// The pod IP (for a pod with a sidecar, the address its inbound listeners bind).
    pub ip: IpAddr,
    /// Service port → the pod's port for it.
    pub ports: BTreeMap<u16, u16>,
    /// The pod's labels (subsets select on them).
    pub labels: BTreeMap<String, String>,
    /// The pod's service account.
    pub service_account: String,
    /// Whether the pod has an istio-proxy sidecar.
    pub sidecar: bool,
}

/// What kind of Envoy asks for configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// A sidecar next to an application container.
    Sidecar,
    /// An ingress or egress gateway (router).
    Gateway,
}

/// One Envoy: who it is and which addresses its listeners bind.
///
/// Without iptables, addresses are explicit: a sidecar's inbound listeners bind the pod IP
/// ([`Proxy::ip`], what other pods connect to) and forward to the application on
/// [`Proxy::app_ip`]; its outbound listeners bind [`Proxy::outbound_ip`], where the application
/// sends its requests. A gateway's listeners bind the pod IP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    /// Sidecar or gateway.
    pub kind: ProxyKind,
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's labels (Gateway selectors, sourceLabels and Sidecar selectors match them).
    pub labels: BTreeMap<String, String>,
    /// The pod's service account.
    pub service_account: String,
    /// P: the pod IP, bound by inbound (sidecar) or gateway listeners.
    pub ip: IpAddr,
    /// A: where the application listens (sidecars); inbound clusters forward there.
    pub app_ip: IpAddr,
    /// O: where the outbound listeners bind (sidecars); the application connects there.
    pub outbound_ip: IpAddr,
    /// The pod's container ports (inbound listeners for sidecars, gateway listener ports).
    pub ports: Vec<ContainerPort>,
    /// Ports this Envoy cannot bind (below 1024 without privileges) → the port its listener
    /// binds instead, on the same address. Names keep the original port (`O_80` listener, `80`
    /// route configuration, `Host: sleep:80`). Whoever connects to such a listener (the mesh's
    /// network, other proxies through [`Endpoint::ports`]) must use the remapped port.
    #[serde(default)]
    pub port_map: BTreeMap<u16, u16>,
}

/// A container port of the proxy's pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPort {
    /// The port's name (may be empty); its prefix selects the protocol.
    pub name: String,
    /// The port number.
    pub port: u16,
}

impl Proxy {
    /// The Istio-style node id: `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local` (`router~…`
    /// for gateways).
    pub fn node_id(&self) -> String {
        let kind = match self.kind {
            ProxyKind::Sidecar => "sidecar",
            ProxyKind::Gateway => "router",
        };
        format!(
            "{kind}~{}~{}.{}~{}.svc.{DEFAULT_DOMAIN_SUFFIX}",
            self.ip, self.pod, self.namespace, self.namespace
        )
    }

    /// The Envoy cluster name of this node (`<app label or pod>.<namespace>`), as Istio sets it.
    pub fn service_cluster(&self) -> String {
        let app = self
            .labels
            .get("app")
            .or_else(|| self.labels.get("app.kubernetes.io/name"))
            .cloned()
            .unwrap_or_else(|| self.pod.clone());
        format!("{app}.{}", self.namespace)
    }
}

/// Whether every `selector` label is on `labels` (an empty selector matches everything).
pub fn labels_match(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_id_is_istio_style() {
        let proxy = Proxy {
            kind: ProxyKind::Sidecar,
            pod: "reviews-v1-abc".into(),
            namespace: "default".into(),
            labels: BTreeMap::new(),
            service_account: "bookinfo-reviews".into(),
            ip: "127.1.0.7".parse().unwrap(),
            app_ip: "127.2.0.7".parse().unwrap(),
            outbound_ip: "127.3.0.7".parse().unwrap(),
            ports: vec![],
            port_map: BTreeMap::new(),
        };
        assert_eq!(
            proxy.node_id(),
            "sidecar~127.1.0.7~reviews-v1-abc.default~default.svc.cluster.local"
        );
    }

    #[test]
    fn parse_error_names_resource_and_field() {
        let mut model = Model::new();
        let err = model
            .add_istio_object(&json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "reviews", "namespace": "bookinfo"},
                "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}, "weight": "fifty"}]}]}
            }))
            .unwrap_err();
        assert_eq!(err.kind, "VirtualService");
        assert_eq!(err.namespace, "bookinfo");
        assert_eq!(err.name, "reviews");
        assert_eq!(err.field, "spec.http[0].route[0].weight");
        assert!(
            err.to_string().contains("VirtualService bookinfo/reviews"),
            "{err}"
        );
    }

    #[test]
    fn unknown_kinds_are_ignored_and_known_ones_added() {
        let mut model = Model::new();
        assert!(
            !model
                .add_istio_object(&json!({"kind": "Telemetry"}))
                .unwrap()
        );
        assert!(
            model
                .add_istio_object(&json!({"kind": "DestinationRule", "metadata": {"name": "r"}, "spec": {"host": "reviews"}}))
                .unwrap()
        );
        assert_eq!(model.destination_rules[0].namespace, "default");
    }

    #[test]
    fn mesh_config_reads_the_outbound_policy_and_keeps_defaults() {
        let mesh = MeshConfig::from_value(&json!({
            "accessLogFile": "/dev/stdout",
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}
        }))
        .unwrap();
        assert_eq!(
            mesh.outbound_traffic_policy.mode,
            OutboundMode::RegistryOnly
        );
        assert_eq!(mesh.root_namespace, "istio-system");
        assert_eq!(
            MeshConfig::from_value(&serde_json::Value::Null).unwrap(),
            MeshConfig::default()
        );
        let err = MeshConfig::from_value(&json!({"outboundTrafficPolicy": {"mode": "SOMETIMES"}}))
            .unwrap_err();
        assert!(err.contains("outboundTrafficPolicy.mode"), "{err}");
    }

    #[test]
    fn port_protocol_follows_istio_naming() {
        let port = |name: &str, app: Option<&str>| ServicePort {
            name: name.into(),
            port: 80,
            protocol: "TCP".into(),
            app_protocol: app.map(Into::into),
            target_port: 80,
        };
        assert_eq!(port("http", None).protocol_kind(), PortProtocol::Http);
        assert_eq!(port("grpc-api", None).protocol_kind(), PortProtocol::Http2);
        assert_eq!(port("tcp-db", None).protocol_kind(), PortProtocol::Tcp);
        assert_eq!(
            port("db", Some("http2")).protocol_kind(),
            PortProtocol::Http2
        );
    }
}
