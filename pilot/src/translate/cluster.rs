//! Outbound clusters (one per host port, one per DestinationRule subset) and their endpoints.

use std::net::IpAddr;

use envoy_types::pb::envoy::config::cluster::v3::circuit_breakers::Thresholds;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, EdsClusterConfig, LbConfig, LbPolicy, RingHashLbConfig,
};
use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection as EnvoyOutlier, cluster::CommonLbConfig,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ApiVersion, ConfigSource, Http1ProtocolOptions,
    Http2ProtocolOptions, HttpProtocolOptions as CoreHttpOptions, SocketAddress,
    address::Address as AddressKind, config_source::ConfigSourceSpecifier,
    socket_address::PortSpecifier,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint as EnvoyEndpoint, LbEndpoint, LocalityLbEndpoints,
    lb_endpoint::HostIdentifier,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options::ExplicitHttpConfig,
    http_protocol_options::UpstreamProtocolOptions,
    http_protocol_options::explicit_http_config::ProtocolConfig,
};
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::util::pack_any;

use super::tls::{self, UpstreamTls};
use super::{
    BLACK_HOLE_CLUSTER, Ctx, Host, HostPort, HostSource, PASSTHROUGH_CLUSTER, Resources,
    duration_field, outbound_cluster_name, pb_duration, u32v,
};
use crate::model::istio::{
    ClientTlsSettings, ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection,
    TrafficPolicy,
};
use crate::model::{PortProtocol, labels_match};

/// Istio's default connect timeout.
const CONNECT_TIMEOUT_SECS: u64 = 10;
const UPSTREAM_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// The ADS config source.
pub(crate) fn ads_source() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

/// A socket address.
pub(crate) fn socket_address(ip: &str, port: u16) -> Address {
    Address {
        address: Some(AddressKind::SocketAddress(SocketAddress {
            address: ip.to_owned(),
            port_specifier: Some(PortSpecifier::PortValue(u32::from(port))),
            ..Default::default()
        })),
    }
}

/// One endpoint.
fn lb_endpoint(ip: &str, port: u16) -> LbEndpoint {
    LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(EnvoyEndpoint {
            address: Some(socket_address(ip, port)),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// An assignment of `endpoints` to `cluster`.
pub(crate) fn assignment(cluster: &str, endpoints: Vec<LbEndpoint>) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: cluster.to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: endpoints,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A STATIC cluster with one endpoint (inbound clusters).
pub(crate) fn static_cluster(name: &str, ip: IpAddr, port: u16, http2: bool) -> Cluster {
    let mut cluster = Cluster {
        name: name.to_owned(),
        connect_timeout: Some(pb_duration(std::time::Duration::from_secs(
            CONNECT_TIMEOUT_SECS,
        ))),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32)),
        load_assignment: Some(assignment(name, vec![lb_endpoint(&ip.to_string(), port)])),
        circuit_breakers: Some(default_breakers()),
        ..Default::default()
    };
    if http2 {
        cluster.typed_extension_protocol_options.insert(
            UPSTREAM_OPTIONS.to_owned(),
            pack_any(explicit_http(true, None)),
        );
    }
    cluster
}

/// Upstream HTTP options: HTTP/1.1 or HTTP/2, with optional common options.
fn explicit_http(http2: bool, common: Option<CoreHttpOptions>) -> HttpProtocolOptions {
    let protocol = if http2 {
        ProtocolConfig::Http2ProtocolOptions(Http2ProtocolOptions::default())
    } else {
        ProtocolConfig::HttpProtocolOptions(Http1ProtocolOptions::default())
    };
    HttpProtocolOptions {
        common_http_protocol_options: common,
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(protocol),
            },
        )),
        ..Default::default()
    }
}

/// Istio's `BlackHoleCluster`: STATIC, no endpoints.
pub(crate) fn black_hole() -> Cluster {
    Cluster {
        name: BLACK_HOLE_CLUSTER.to_owned(),
        connect_timeout: Some(pb_duration(std::time::Duration::from_secs(
            CONNECT_TIMEOUT_SECS,
        ))),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32)),
        ..Default::default()
    }
}

/// An original-destination load balancer that takes the destination from the
/// `x-envoy-original-dst-host` header only. Without iptables a connection's local address is the
/// proxy's own listener, so using it would send the request back to the proxy in a loop; a
/// request without the header fails with 503 instead.
fn original_dst_by_header() -> LbConfig {
    LbConfig::OriginalDstLbConfig(
        envoy_types::pb::envoy::config::cluster::v3::cluster::OriginalDstLbConfig {
            use_http_header: true,
            ..Default::default()
        },
    )
}

/// Istio's `PassthroughCluster`: the original destination (by header, see
/// [`original_dst_by_header`]).
pub(crate) fn passthrough() -> Cluster {
    Cluster {
        name: PASSTHROUGH_CLUSTER.to_owned(),
        connect_timeout: Some(pb_duration(std::time::Duration::from_secs(
            CONNECT_TIMEOUT_SECS,
        ))),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(
            DiscoveryType::OriginalDst as i32,
        )),
        lb_policy: LbPolicy::ClusterProvided as i32,
        lb_config: Some(original_dst_by_header()),
        circuit_breakers: Some(default_breakers()),
        ..Default::default()
    }
}

/// Istio's default thresholds: effectively unlimited.
fn default_breakers() -> CircuitBreakers {
    CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: Some(u32v(u32::MAX)),
            max_pending_requests: Some(u32v(u32::MAX)),
            max_requests: Some(u32v(u32::MAX)),
            max_retries: Some(u32v(u32::MAX)),
            track_remaining: true,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Outbound clusters and endpoints for every host port and DestinationRule subset.
pub(crate) fn outbound(ctx: &mut Ctx<'_>, hosts: &[Host], out: &mut Resources) {
    for host in hosts {
        let dr = ctx.destination_rule(host).cloned();
        for port in &host.ports {
            let name = outbound_cluster_name(port.port, "", &host.name);
            let top = dr.as_ref().and_then(|d| d.spec.traffic_policy.clone());
            let resource = dr
                .as_ref()
                .map(|d| format!("DestinationRule {}/{}", d.namespace, d.name))
                .unwrap_or_default();
            let policy = effective_policy(top.as_ref(), None, port.port);
            build(ctx, host, port, &name, None, &policy, &resource, out);
            if let Some(dr) = &dr {
                for (i, subset) in dr.spec.subsets.iter().enumerate() {
                    if subset.name.is_empty() {
                        ctx.warn(&resource, "a subset has no name; it is ignored");
                        continue;
                    }
                    let mut policy =
                        effective_policy(top.as_ref(), subset.traffic_policy.as_ref(), port.port);
                    if port_policy(subset.traffic_policy.as_ref(), port.port)
                        .tls
                        .is_some()
                    {
                        policy.tls_field = format!("subsets[{i}].{}", policy.tls_field);
                    }
                    let name = outbound_cluster_name(port.port, &subset.name, &host.name);
                    build(
                        ctx,
                        host,
                        port,
                        &name,
                        Some(&subset.labels),
                        &policy,
                        &resource,
                        out,
                    );
                }
            }
        }
    }
}

/// The settings for one port of a subset: the top-level policy with its port-level settings,
/// overridden field by field by the subset's policy with its own port-level settings.
pub(crate) fn effective_policy(
    top: Option<&TrafficPolicy>,
    subset: Option<&TrafficPolicy>,
    port: u16,
) -> PortPolicy {
    let mut out = port_policy(top, port);
    if subset.is_some() {
        let sub = port_policy(subset, port);
        if sub.load_balancer.is_some() {
            out.load_balancer = sub.load_balancer;
        }
        if sub.connection_pool.is_some() {
            out.connection_pool = sub.connection_pool;
        }
        if sub.outlier_detection.is_some() {
            out.outlier_detection = sub.outlier_detection;
        }
        if sub.tls.is_some() {
            out.tls = sub.tls;
            out.tls_field = sub.tls_field;
        }
    }
    out
}

/// The effective load balancer, pool and outlier settings for one port.
pub(crate) struct PortPolicy {
    pub load_balancer: Option<LoadBalancerSettings>,
    pub connection_pool: Option<ConnectionPoolSettings>,
    pub outlier_detection: Option<OutlierDetection>,
    /// `tls` (absent: auto mutual TLS).
    pub tls: Option<ClientTlsSettings>,
    /// Where `tls` was written in the policy (`trafficPolicy.portLevelSettings[0].tls`).
    pub tls_field: String,
}

/// Applies `portLevelSettings` for `port` over the policy.
pub(crate) fn port_policy(policy: Option<&TrafficPolicy>, port: u16) -> PortPolicy {
    let mut out = PortPolicy {
        load_balancer: policy.and_then(|p| p.load_balancer.clone()),
        connection_pool: policy.and_then(|p| p.connection_pool.clone()),
        outlier_detection: policy.and_then(|p| p.outlier_detection.clone()),
        tls: policy.and_then(|p| p.tls.clone()),
        tls_field: "trafficPolicy.tls".to_owned(),
    };
    if let Some((i, pl)) = policy.and_then(|p| {
        p.port_level_settings
            .iter()
            .enumerate()
            .find(|(_, s)| s.port.as_ref().is_some_and(|sel| sel.number == port))
    }) {
        if pl.load_balancer.is_some() {
            out.load_balancer = pl.load_balancer.clone();
        }
        if pl.connection_pool.is_some() {
            out.connection_pool = pl.connection_pool.clone();
        }
        if pl.outlier_detection.is_some() {
            out.outlier_detection = pl.outlier_detection.clone();
        }
        if pl.tls.is_some() {
            out.tls = pl.tls.clone();
            out.tls_field = format!("trafficPolicy.portLevelSettings[{i}].tls");
        }
    }
    out
}

#[allow(clippy::too_many_arguments)] // one cluster needs all of these; a struct would only rename them
fn build(
    ctx: &mut Ctx<'_>,
    host: &Host,
    port: &HostPort,
    name: &str,
    subset: Option<&std::collections::BTreeMap<String, String>>,
    pp: &PortPolicy,
    resource: &str,
    out: &mut Resources,
) {
    let mut cluster = Cluster {
        name: name.to_owned(),
        alt_stat_name: name.to_owned(),
        connect_timeout: Some(pb_duration(std::time::Duration::from_secs(
            CONNECT_TIMEOUT_SECS,
        ))),
        circuit_breakers: Some(default_breakers()),
        ..Default::default()
    };
    match &host.source {
        HostSource::Service => {
            cluster.cluster_discovery_type =
                Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32));
            cluster.eds_cluster_config = Some(EdsClusterConfig {
                eds_config: Some(super::cluster::ads_source()),
                service_name: name.to_owned(),
            });
            let endpoints = ctx
                .model
                .endpoints
                .iter()
                .filter(|e| host.short.as_deref() == Some(e.service.as_str()))
                .filter(|e| e.namespace == host.namespace)
                .filter(|e| subset.is_none_or(|labels| labels_match(labels, &e.labels)))
                .filter_map(|e| {
                    let target = *e.ports.get(&port.port)?;
                    let mut endpoint = lb_endpoint(&e.ip.to_string(), target);
                    if tls::endpoint_speaks_mtls(ctx, e, target) {
                        endpoint.metadata = Some(tls::istio_endpoint_metadata());
                    }
                    Some(endpoint)
                })
                .collect();
            out.endpoints.push(assignment(name, endpoints));
        }
        HostSource::Entry(se) => {
            let resolution = se.spec.resolution.as_deref().unwrap_or("NONE");
            let se_port = se.spec.ports.iter().find(|p| p.number == port.port);
            let port_name = se_port.map(|p| p.name.clone()).unwrap_or_default();
            let target = se_port.and_then(|p| p.target_port).unwrap_or(port.port);
            let endpoints: Vec<LbEndpoint> = if se.spec.endpoints.is_empty() {
                if resolution.starts_with("DNS") {
                    vec![lb_endpoint(&host.name, target)]
                } else {
                    Vec::new()
                }
            } else {
                se.spec
                    .endpoints
                    .iter()
                    .filter(|e| subset.is_none_or(|labels| labels_match(labels, &e.labels)))
                    .map(|e| {
                        let p = e.ports.get(&port_name).copied().unwrap_or(target);
                        let mut endpoint = lb_endpoint(&e.address, p);
                        if e.labels.get(tls::TLS_MODE_LABEL).map(String::as_str) == Some("istio") {
                            endpoint.metadata = Some(tls::istio_endpoint_metadata());
                        }
                        endpoint
                    })
                    .collect()
            };
            match resolution {
                "DNS" | "DNS_ROUND_ROBIN" => {
                    cluster.cluster_discovery_type =
                        Some(ClusterDiscoveryType::Type(if resolution == "DNS" {
                            DiscoveryType::StrictDns
                        } else {
                            DiscoveryType::LogicalDns
                        } as i32));
                    cluster.load_assignment = Some(assignment(name, endpoints));
                }
                "STATIC" => {
                    cluster.cluster_discovery_type =
                        Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32));
                    cluster.eds_cluster_config = Some(EdsClusterConfig {
                        eds_config: Some(ads_source()),
                        service_name: name.to_owned(),
                    });
                    out.endpoints.push(assignment(name, endpoints));
                }
                _ => {
                    cluster.cluster_discovery_type = Some(ClusterDiscoveryType::Type(
                        DiscoveryType::OriginalDst as i32,
                    ));
                    cluster.lb_policy = LbPolicy::ClusterProvided as i32;
                    cluster.lb_config = Some(original_dst_by_header());
                }
            }
        }
    }
    let mut http = CoreHttpOptions::default();
    let mut http_set = false;
    if cluster.lb_policy != LbPolicy::ClusterProvided as i32 {
        apply_lb(&mut cluster, pp.load_balancer.as_ref(), ctx, resource);
    }
    if let Some(pool) = &pp.connection_pool {
        let th = &mut cluster
            .circuit_breakers
            .get_or_insert_with(default_breakers)
            .thresholds[0];
        if let Some(tcp) = &pool.tcp {
            if let Some(max) = tcp.max_connections {
                th.max_connections = Some(u32v(max));
            }
            if let Some(t) = duration_field(
                ctx,
                resource,
                "trafficPolicy.connectionPool.tcp.connectTimeout",
                tcp.connect_timeout.as_ref(),
            ) {
                cluster.connect_timeout = Some(t);
            }
        }
        if let Some(h) = &pool.http {
            if let Some(max) = h.http1_max_pending_requests {
                th.max_pending_requests = Some(u32v(max));
            }
            if let Some(max) = h.http2_max_requests {
                th.max_requests = Some(u32v(max));
            }
            if let Some(max) = h.max_retries {
                th.max_retries = Some(u32v(max));
            }
            if let Some(max) = h.max_requests_per_connection {
                http.max_requests_per_connection = Some(u32v(max));
                http_set = true;
            }
            if let Some(t) = duration_field(
                ctx,
                resource,
                "trafficPolicy.connectionPool.http.idleTimeout",
                h.idle_timeout.as_ref(),
            ) {
                http.idle_timeout = Some(t);
                http_set = true;
            }
        }
    }
    if let Some(od) = &pp.outlier_detection {
        cluster.outlier_detection = Some(outlier(ctx, resource, od));
        // As Istio does: with outlier detection, the panic threshold is minHealthPercent, 0
        // when unset, so ejecting every pod of a small service leaves nothing to send to
        // (503 no healthy upstream) instead of Envoy's default 50 % panic sending to all.
        cluster.common_lb_config = Some(CommonLbConfig {
            healthy_panic_threshold: Some(Percent {
                value: f64::from(od.min_health_percent.unwrap_or(0)),
            }),
            ..Default::default()
        });
    }
    let http2 = port.protocol == PortProtocol::Http2;
    if (http_set || http2) && port.protocol != PortProtocol::Tcp {
        let options = explicit_http(http2, http_set.then_some(http));
        cluster
            .typed_extension_protocol_options
            .insert(UPSTREAM_OPTIONS.to_owned(), pack_any(options));
    }
    apply_tls(ctx, &mut cluster, host, pp, resource);
    out.clusters.push(cluster);
}

/// The cluster's transport: a DestinationRule's `tls`, or Istio's auto mutual TLS towards the
/// identities of the service's workloads (ServiceEntry hosts: towards endpoints labelled
/// `tlsMode: istio` only; original-destination clusters stay plaintext).
fn apply_tls(
    ctx: &mut Ctx<'_>,
    cluster: &mut Cluster,
    host: &Host,
    pp: &PortPolicy,
    resource: &str,
) {
    let original_dst = cluster.lb_policy == LbPolicy::ClusterProvided as i32;
    if original_dst && pp.tls.is_none() {
        return;
    }
    let sans = match (&host.source, &host.short) {
        (HostSource::Service, Some(short)) => tls::service_identities(ctx, &host.namespace, short),
        _ => Vec::new(),
    };
    match tls::upstream(
        ctx,
        pp.tls.as_ref(),
        &cluster.name,
        &host.name,
        &sans,
        resource,
        &pp.tls_field,
    ) {
        UpstreamTls::Auto(matches) => cluster.transport_socket_matches = matches,
        UpstreamTls::Socket(socket) => cluster.transport_socket = Some(socket),
        UpstreamTls::Plaintext => {}
    }
}

fn apply_lb(
    cluster: &mut Cluster,
    lb: Option<&LoadBalancerSettings>,
    ctx: &mut Ctx<'_>,
    resource: &str,
) {
    let Some(lb) = lb else {
        // Istio's default is LEAST_REQUEST.
        cluster.lb_policy = LbPolicy::LeastRequest as i32;
        return;
    };
    if let Some(hash) = &lb.consistent_hash {
        cluster.lb_policy = LbPolicy::RingHash as i32;
        cluster.lb_config = Some(LbConfig::RingHashLbConfig(RingHashLbConfig {
            minimum_ring_size: hash
                .minimum_ring_size
                .map(|v| envoy_types::pb::google::protobuf::UInt64Value { value: v }),
            ..Default::default()
        }));
        return;
    }
    cluster.lb_policy = match lb.simple.as_deref() {
        None | Some("LEAST_REQUEST" | "LEAST_CONN" | "UNSPECIFIED") => LbPolicy::LeastRequest,
        Some("ROUND_ROBIN") => LbPolicy::RoundRobin,
        Some("RANDOM") => LbPolicy::Random,
        Some("PASSTHROUGH") => {
            cluster.cluster_discovery_type = Some(ClusterDiscoveryType::Type(
                DiscoveryType::OriginalDst as i32,
            ));
            cluster.eds_cluster_config = None;
            cluster.lb_config = Some(original_dst_by_header());
            LbPolicy::ClusterProvided
        }
        Some(other) => {
            ctx.warn(
                resource,
                format!("field `trafficPolicy.loadBalancer.simple`: unknown policy {other:?} (use ROUND_ROBIN, LEAST_REQUEST, RANDOM or PASSTHROUGH); LEAST_REQUEST is used"),
            );
            LbPolicy::LeastRequest
        }
    } as i32;
}

fn outlier(ctx: &mut Ctx<'_>, resource: &str, od: &OutlierDetection) -> EnvoyOutlier {
    let mut out = EnvoyOutlier {
        interval: duration_field(
            ctx,
            resource,
            "trafficPolicy.outlierDetection.interval",
            od.interval.as_ref(),
        ),
        base_ejection_time: duration_field(
            ctx,
            resource,
            "trafficPolicy.outlierDetection.baseEjectionTime",
            od.base_ejection_time.as_ref(),
        ),
        max_ejection_percent: od.max_ejection_percent.map(u32v),
        // Istio turns the success-rate algorithm off.
        enforcing_success_rate: Some(u32v(0)),
        ..Default::default()
    };
    // The deprecated consecutiveErrors counts gateway errors (502, 503, 504) only.
    let gateway = od.consecutive_gateway_errors.or(od.consecutive_errors);
    if let Some(n) = gateway {
        out.consecutive_gateway_failure = Some(u32v(n));
        out.enforcing_consecutive_gateway_failure = Some(u32v(100));
    }
    match od.consecutive_5xx_errors {
        Some(n) => {
            out.consecutive_5xx = Some(u32v(n));
            out.enforcing_consecutive_5xx = Some(u32v(if n > 0 { 100 } else { 0 }));
        }
        None if gateway.is_some() => out.enforcing_consecutive_5xx = Some(u32v(0)),
        None => {}
    }
    out
}
