//! `translate(&Model, &Proxy) -> Resources`: the mesh as Envoy configuration for one proxy.
//!
//! Names follow Istio so that what learners read in `istioctl proxy-config` matches the docs:
//! clusters `outbound|9080|v1|reviews.default.svc.cluster.local` and `inbound|9080||`, route
//! configurations named after the port (`9080`, `http.8080` on gateways), `BlackHoleCluster` and
//! `PassthroughCluster`. Problems are returned as [`Warning`]s naming the resource; nothing here
//! panics and nothing is dropped silently.
//!
//! - [`cluster`]: clusters and endpoints, with DestinationRule policies.
//! - [`routes`]: VirtualService HTTP rules as Envoy routes.
//! - [`listeners`]: inbound, outbound and gateway listeners.
//! - [`policy`]: authorization, JWT and rate-limit filters.
//! - [`tls`]: auto mutual TLS, DestinationRule TLS modes and PeerAuthentication on inbound listeners.

mod cluster;
mod listeners;
mod policy;
mod routes;
pub mod tls;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::google::protobuf;

use crate::model::istio::{DestinationRule, VirtualService};
use crate::model::{
    Config, Model, PortProtocol, Proxy, ProxyKind, ServiceEntry, labels_match, protocol_from_name,
};

/// The cluster that drops traffic (Istio's name).
pub const BLACK_HOLE_CLUSTER: &str = "BlackHoleCluster";
/// The cluster that forwards to the original destination (Istio's name).
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";
/// Istio's default retry conditions.
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
/// The SDS secret holding a workload's own certificate chain and key (Istio's name).
pub const SDS_WORKLOAD_SECRET: &str = "default";
/// The SDS secret holding the mesh's trust bundle (Istio's name).
pub const SDS_ROOT_SECRET: &str = "ROOTCA";
/// Istio's default number of retries.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 2;

/// The access log line of every listener (Istio's default format); a later `meshwork explain`
/// joins lines of different proxies by `%REQ(X-REQUEST-ID)%`.
pub const ACCESS_LOG_FORMAT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// The Envoy configuration for one proxy, and what went wrong building it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// CDS: every cluster (wildcard).
    pub clusters: Vec<Cluster>,
    /// EDS: assignments of the EDS clusters, by cluster name.
    pub endpoints: Vec<ClusterLoadAssignment>,
    /// LDS: every listener (wildcard).
    pub listeners: Vec<Listener>,
    /// RDS: route configurations, by name.
    pub routes: Vec<RouteConfiguration>,
    /// Translation problems, each naming the resource it comes from.
    pub warnings: Vec<Warning>,
}

impl Resources {
    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The route configuration called `name`.
    pub fn route(&self, name: &str) -> Option<&RouteConfiguration> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The endpoint assignment of cluster `name`.
    pub fn assignment(&self, name: &str) -> Option<&ClusterLoadAssignment> {
        self.endpoints.iter().find(|e| e.cluster_name == name)
    }

    /// The listener called `name`.
    pub fn listener(&self, name: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.name == name)
    }
}

/// A translation problem: which resource, and what pilot did about it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Warning {
    /// The resource, e.g. `VirtualService default/reviews`.
    pub resource: String,
    /// What is wrong and what pilot did (`…; the rule is skipped`).
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.resource, self.message)
    }
}

/// The Istio name of an outbound cluster: `outbound|<port>|<subset>|<host>`.
pub fn outbound_cluster_name(port: u16, subset: &str, host: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// The Istio name of an inbound cluster: `inbound|<port>||`.
pub fn inbound_cluster_name(port: u16) -> String {
    format!("inbound|{port}||")
}

/// The route configuration name of a gateway listener on `port`: `http.<port>`.
pub fn gateway_route_name(port: u16) -> String {
    format!("http.{port}")
}

/// Translates the model for one proxy. Pure: same inputs, same output.
pub fn translate(model: &Model, proxy: &Proxy) -> Resources {
    let mut ctx = Ctx::new(model, proxy);
    let hosts = ctx.visible_hosts();
    ctx.check_hosts_exist();
    let mut out = Resources::default();
    cluster::outbound(&mut ctx, &hosts, &mut out);
    out.clusters.push(cluster::black_hole());
    out.clusters.push(cluster::passthrough());
    match proxy.kind {
        ProxyKind::Sidecar => {
            listeners::inbound(&mut ctx, &mut out);
            listeners::outbound(&mut ctx, &hosts, &mut out);
        }
        ProxyKind::Gateway => listeners::gateway(&mut ctx, &hosts, &mut out),
    }
    let mut seen = BTreeSet::new();
    ctx.warnings.retain(|w| seen.insert(w.clone()));
    out.warnings = ctx.warnings;
    out
}

/// Translation state shared by the steps.
pub(crate) struct Ctx<'a> {
    pub model: &'a Model,
    pub proxy: &'a Proxy,
    pub warnings: Vec<Warning>,
    /// DestinationRules by resolved host.
    rules_by_host: HashMap<String, Vec<&'a Config<DestinationRule>>>,
    /// VirtualServices (index in the model) by resolved exact host, and the wildcard ones.
    vs_by_host: HashMap<String, Vec<usize>>,
    vs_wildcards: Vec<(String, usize)>,
}

/// A destination host: a Kubernetes Service or a ServiceEntry host.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    /// FQDN (or the ServiceEntry host as written).
    pub name: String,
    /// Namespace of the Service or ServiceEntry.
    pub namespace: String,
    /// Short name (Kubernetes services only).
    pub short: Option<String>,
    /// Cluster IP or ServiceEntry address.
    pub vip: Option<IpAddr>,
    /// Ports.
    pub ports: Vec<HostPort>,
    /// Where the endpoints come from.
    pub source: HostSource,
}

/// A port of a destination host.
#[derive(Debug, Clone)]
pub(crate) struct HostPort {
    pub port: u16,
    pub protocol: PortProtocol,
}

/// Where a host's endpoints come from.
#[derive(Debug, Clone)]
pub(crate) enum HostSource {
    /// Kubernetes endpoints of Service `name`.
    Service,
    /// A ServiceEntry.
    Entry(Config<ServiceEntry>),
}

impl<'a> Ctx<'a> {
    fn new(model: &'a Model, proxy: &'a Proxy) -> Ctx<'a> {
        let mut rules_by_host: HashMap<String, Vec<&'a Config<DestinationRule>>> = HashMap::new();
        for dr in &model.destination_rules {
            rules_by_host
                .entry(resolve_host(model, &dr.spec.host, &dr.namespace))
                .or_default()
                .push(dr);
        }
        let mut vs_by_host: HashMap<String, Vec<usize>> = HashMap::new();
        let mut vs_wildcards = Vec::new();
        for (i, vs) in model.virtual_services.iter().enumerate() {
            for host in &vs.spec.hosts {
                let resolved = resolve_host(model, host, &vs.namespace);
                if resolved.starts_with('*') {
                    vs_wildcards.push((resolved, i));
                } else {
                    vs_by_host.entry(resolved).or_default().push(i);
                }
            }
        }
        Ctx {
            model,
            proxy,
            warnings: Vec::new(),
            rules_by_host,
            vs_by_host,
            vs_wildcards,
        }
    }

    pub fn warn(&mut self, resource: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            resource: resource.into(),
            message: message.into(),
        });
    }

    /// Every Service and ServiceEntry host this proxy sees (Sidecar egress narrows it).
    fn visible_hosts(&mut self) -> Vec<Host> {
        let model = self.model;
        let mut hosts: Vec<Host> = Vec::new();
        for svc in &model.services {
            hosts.push(Host {
                name: model.fqdn(&svc.namespace, &svc.name),
                namespace: svc.namespace.clone(),
                short: Some(svc.name.clone()),
                vip: svc.cluster_ip,
                ports: svc
                    .ports
                    .iter()
                    .map(|p| HostPort {
                        port: p.port,
                        protocol: p.protocol_kind(),
                    })
                    .collect(),
                source: HostSource::Service,
            });
        }
        for se in &model.service_entries {
            for host in &se.spec.hosts {
                if hosts.iter().any(|h| &h.name == host) {
                    self.warn(
                        format!("ServiceEntry {}/{}", se.namespace, se.name),
                        format!("host {host} is already defined by a Service or another ServiceEntry; this one is ignored"),
                    );
                    continue;
                }
                hosts.push(Host {
                    name: host.clone(),
                    namespace: se.namespace.clone(),
                    short: None,
                    vip: se
                        .spec
                        .addresses
                        .iter()
                        .find_map(|a| a.parse::<IpAddr>().ok()),
                    ports: se
                        .spec
                        .ports
                        .iter()
                        .map(|p| HostPort {
                            port: p.number,
                            protocol: protocol_from_name(&p.protocol.to_ascii_lowercase(), "TCP"),
                        })
                        .collect(),
                    source: HostSource::Entry(se.clone()),
                });
            }
        }
        if self.proxy.kind == ProxyKind::Sidecar
            && let Some(sidecar) = self.sidecar_for_proxy()
        {
            let egress: Vec<String> = sidecar
                .spec
                .egress
                .iter()
                .flat_map(|e| e.hosts.iter().cloned())
                .collect();
            if !egress.is_empty() {
                let own_ns = sidecar.namespace.clone();
                hosts.retain(|h| {
                    egress
                        .iter()
                        .any(|pattern| egress_host_matches(pattern, &own_ns, h))
                });
            }
        }
        hosts
    }

    /// Warns about DestinationRules and mesh VirtualServices naming hosts that no Service or
    /// ServiceEntry defines (a typo there silently does nothing on a real mesh).
    fn check_hosts_exist(&mut self) {
        let model = self.model;
        let known = |host: &str| {
            host.starts_with('*')
                || model
                    .services
                    .iter()
                    .any(|s| model.fqdn(&s.namespace, &s.name) == host)
                || model
                    .service_entries
                    .iter()
                    .any(|se| se.spec.hosts.iter().any(|h| host_matches(h, host)))
        };
        for dr in &model.destination_rules {
            let host = resolve_host(model, &dr.spec.host, &dr.namespace);
            if !known(&host) {
                self.warn(
                    format!("DestinationRule {}/{}", dr.namespace, dr.name),
                    format!("field `host`: no service or ServiceEntry named {host}; the rule applies to nothing"),
                );
            }
        }
        for vs in &model.virtual_services {
            if !vs_bound_to(vs, "mesh") {
                continue;
            }
            for (i, h) in vs.spec.hosts.iter().enumerate() {
                let host = resolve_host(model, h, &vs.namespace);
                if !known(&host) {
                    self.warn(
                        format!("VirtualService {}/{}", vs.namespace, vs.name),
                        format!("field `hosts[{i}]`: no service or ServiceEntry named {host}; sidecars get no routes for it"),
                    );
                }
            }
        }
    }

    /// The Sidecar resource that applies to this proxy: one selecting it, else the namespace's
    /// default, else the root namespace's.
    fn sidecar_for_proxy(&self) -> Option<&Config<crate::model::Sidecar>> {
        let proxy = self.proxy;
        let in_ns = self
            .model
            .sidecars
            .iter()
            .filter(|s| s.namespace == proxy.namespace);
        let selecting = in_ns.clone().find(|s| {
            s.spec
                .workload_selector
                .as_ref()
                .is_some_and(|sel| labels_match(&sel.labels, &proxy.labels))
        });
        selecting
            .or_else(|| in_ns.clone().find(|s| s.spec.workload_selector.is_none()))
            .or_else(|| {
                self.model
                    .sidecars
                    .iter()
                    .find(|s| s.namespace == ROOT_NAMESPACE && s.spec.workload_selector.is_none())
            })
    }

    /// Resolves a host written in a resource of namespace `ns` to its FQDN.
    pub fn resolve_host(&self, host: &str, ns: &str) -> String {
        resolve_host(self.model, host, ns)
    }

    /// The DestinationRule for `host` as seen from this proxy: the proxy's namespace first, then
    /// the host's namespace, then the root namespace, then any.
    pub fn destination_rule(&self, host: &Host) -> Option<&'a Config<DestinationRule>> {
        let matching: &[&Config<DestinationRule>] = self
            .rules_by_host
            .get(&host.name)
            .map_or(&[], Vec::as_slice);
        [
            self.proxy.namespace.as_str(),
            host.namespace.as_str(),
            ROOT_NAMESPACE,
        ]
        .iter()
        .find_map(|ns| matching.iter().find(|dr| dr.namespace == *ns).copied())
        .or_else(|| matching.first().copied())
    }

    /// The VirtualServices bound to `gateway` (`mesh` for sidecars) that name `host`.
    pub fn virtual_services_for(
        &self,
        gateway: &str,
        host: &str,
    ) -> Vec<&'a Config<VirtualService>> {
        let mut indices: Vec<usize> = self.vs_by_host.get(host).cloned().unwrap_or_default();
        indices.extend(
            self.vs_wildcards
                .iter()
                .filter(|(pattern, _)| host_matches(pattern, host))
                .map(|(_, i)| *i),
        );
        indices.sort_unstable();
        indices.dedup();
        indices
            .into_iter()
            .filter_map(|i| self.model.virtual_services.get(i))
            .filter(|vs| vs_bound_to(vs, gateway))
            .collect()
    }
}

/// Istio's root namespace (mesh-wide defaults live there).
pub const ROOT_NAMESPACE: &str = "istio-system";

/// Resolves a host written in a resource of namespace `ns`: short names get
/// `.<ns>.svc.<suffix>`, `name.ns` of an existing service gets `.svc.<suffix>`, others stay.
pub fn resolve_host(model: &Model, host: &str, ns: &str) -> String {
    if host == "*" || host.starts_with("*.") {
        return host.to_owned();
    }
    if !host.contains('.') {
        return model.fqdn(ns, host);
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() == 2
        && model
            .services
            .iter()
            .any(|s| s.name == parts[0] && s.namespace == parts[1])
    {
        return model.fqdn(parts[1], parts[0]);
    }
    host.to_owned()
}

/// Whether a (resolved) VirtualService or gateway host pattern matches a concrete host.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" || pattern == host {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix),
        None => false,
    }
}

/// Whether a VirtualService applies to `gateway` (`mesh`, or `namespace/name`).
fn vs_bound_to(vs: &Config<VirtualService>, gateway: &str) -> bool {
    if vs.spec.gateways.is_empty() {
        return gateway == "mesh";
    }
    vs.spec
        .gateways
        .iter()
        .any(|g| qualify_gateway(g, &vs.namespace) == gateway)
}

/// `name` → `ns/name`, `mesh` stays `mesh`.
pub(crate) fn qualify_gateway(gateway: &str, ns: &str) -> String {
    if gateway == "mesh" || gateway.contains('/') {
        gateway.to_owned()
    } else {
        format!("{ns}/{gateway}")
    }
}

/// Whether a Sidecar egress `ns/host` entry admits a host.
fn egress_host_matches(pattern: &str, own_ns: &str, host: &Host) -> bool {
    let (ns, name) = pattern.split_once('/').unwrap_or(("*", pattern));
    let ns_ok = match ns {
        "*" => true,
        "." => host.namespace == own_ns,
        "~" => false,
        other => host.namespace == other,
    };
    ns_ok && host_matches(name, &host.name)
}

/// Parses an Istio duration (`"0.5s"`, `"100ms"`, `"1m30s"`, `"1h"`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * factor;
    }
    if !total.is_finite() || total < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// A protobuf Duration.
pub(crate) fn pb_duration(d: Duration) -> protobuf::Duration {
    protobuf::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// A field's duration, or a warning naming it and `None`.
pub(crate) fn duration_field(
    ctx: &mut Ctx<'_>,
    resource: &str,
    field: &str,
    value: Option<&String>,
) -> Option<protobuf::Duration> {
    let text = value?;
    match parse_duration(text) {
        Some(d) => Some(pb_duration(d)),
        None => {
            ctx.warn(
                resource,
                format!("field `{field}`: {text:?} is not a duration (write e.g. 0.5s, 100ms, 1m); it is ignored"),
            );
            None
        }
    }
}

/// UInt32Value.
pub(crate) fn u32v(value: u32) -> protobuf::UInt32Value {
    protobuf::UInt32Value { value }
}

/// Labels as a sorted map (helper for callers building models in tests).
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests;
