//! Listeners: a sidecar's inbound (pod IP P → app A) and outbound (O, one per service port)
//! listeners, and a gateway's listeners on its servers' container ports.
//!
//! Inbound listeners take mutual TLS as the workload's PeerAuthentication says ([`super::tls`]):
//! a TLS inspector picks the filter chain by transport protocol — STRICT has only the TLS chain
//! (a plaintext client's connection is closed), PERMISSIVE both, DISABLE only plaintext — and
//! their HTTP connection managers set `X-Forwarded-Client-Cert` from the client's certificate.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::accesslog::v3::{AccessLog, access_log};
use envoy_types::pb::envoy::config::core::v3::{
    DataSource, SubstitutionFormatString, data_source::Specifier, substitution_format_string,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener, filter,
};
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost,
    route::Action, route_action::ClusterSpecifier, route_match::PathSpecifier,
};
use envoy_types::pb::envoy::extensions::access_loggers::stream::v3::{
    StdoutAccessLog, stdout_access_log,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::Cors;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager::CodecType,
    http_connection_manager::ForwardClientCertDetails, http_connection_manager::RouteSpecifier,
    http_connection_manager::SetCurrentClientCertDetails, http_filter,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::pb::google::protobuf::{BoolValue, Duration as PbDuration};
use envoy_types::util::pack_any;

use super::cluster::{ads_source, socket_address, static_cluster};
use super::routes::{CORS_FILTER, FAULT_FILTER, Scope, default_route, hash_policy, vs_routes};
use super::tls;
use super::{
    ACCESS_LOG_FORMAT, Ctx, Host, HostSource, PASSTHROUGH_CLUSTER, Resources, gateway_route_name,
    host_matches, inbound_cluster_name, outbound_cluster_name, qualify_gateway,
};
use crate::model::security::MtlsMode;
use crate::model::{OutboundMode, PortProtocol, Proxy, labels_match, protocol_from_name};

const HCM: &str = "envoy.filters.network.http_connection_manager";
const TCP_PROXY: &str = "envoy.filters.network.tcp_proxy";

/// The stdout access log with Istio's format.
pub(crate) fn access_log() -> AccessLog {
    let format = SubstitutionFormatString {
        format: Some(substitution_format_string::Format::TextFormatSource(
            DataSource {
                specifier: Some(Specifier::InlineString(ACCESS_LOG_FORMAT.to_owned())),
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    AccessLog {
        name: "envoy.access_loggers.stdout".to_owned(),
        config_type: Some(access_log::ConfigType::TypedConfig(pack_any(
            StdoutAccessLog {
                access_log_format: Some(stdout_access_log::AccessLogFormat::LogFormat(format)),
            },
        ))),
        ..Default::default()
    }
}

fn http_filter(name: &str, config: envoy_types::pb::google::protobuf::Any) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        ..Default::default()
    }
}

/// Which side of a proxy an HTTP connection manager serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A sidecar's inbound listener: appends the client's identity to
    /// `X-Forwarded-Client-Cert` (Istio's APPEND_FORWARD).
    Inbound,
    /// A sidecar's outbound listener: the application's XFCC is dropped (Envoy's SANITIZE).
    Outbound,
    /// A gateway: replaces XFCC with the client's certificate, if any (Istio's SANITIZE_SET),
    /// and trusts the client's address.
    Gateway,
}

/// XFCC details Istio has Envoy set: subject, URI and DNS SANs of the client's certificate.
fn client_cert_details() -> SetCurrentClientCertDetails {
    SetCurrentClientCertDetails {
        subject: Some(BoolValue { value: true }),
        uri: true,
        dns: true,
        ..Default::default()
    }
}

/// An HTTP connection manager; `policy` filters (authorization, JWT, rate limit) run first.
fn hcm(stat_prefix: &str, routes: RouteSpecifier, side: Side, policy: Vec<HttpFilter>) -> Filter {
    let gateway = side == Side::Gateway;
    let mut http_filters = policy;
    http_filters.extend([
        http_filter(FAULT_FILTER, pack_any(HttpFault::default())),
        http_filter(CORS_FILTER, pack_any(Cors::default())),
        http_filter("envoy.filters.http.router", pack_any(Router::default())),
    ]);
    let manager = HttpConnectionManager {
        codec_type: CodecType::Auto as i32,
        stat_prefix: stat_prefix.to_owned(),
        server_name: "istio-envoy".to_owned(),
        use_remote_address: Some(BoolValue { value: gateway }),
        access_log: vec![access_log()],
        http_filters,
        // Istio turns the stream idle timeout off for long requests; keep Envoy's 5 min default.
        route_specifier: Some(routes),
        ..Default::default()
    };
    let mut manager = manager;
    match side {
        Side::Inbound => {
            manager.forward_client_cert_details = ForwardClientCertDetails::AppendForward as i32;
            manager.set_current_client_cert_details = Some(client_cert_details());
        }
        Side::Gateway => {
            manager.forward_client_cert_details = ForwardClientCertDetails::SanitizeSet as i32;
            manager.set_current_client_cert_details = Some(client_cert_details());
        }
        Side::Outbound => {}
    }
    Filter {
        name: HCM.to_owned(),
        config_type: Some(filter::ConfigType::TypedConfig(pack_any(manager))),
    }
}

fn tcp_proxy(stat_prefix: &str, cluster: &str) -> Filter {
    let proxy = TcpProxy {
        stat_prefix: stat_prefix.to_owned(),
        access_log: vec![access_log()],
        cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(cluster.to_owned())),
        ..Default::default()
    };
    Filter {
        name: TCP_PROXY.to_owned(),
        config_type: Some(filter::ConfigType::TypedConfig(pack_any(proxy))),
    }
}

/// A listener for `port`, bound on the proxy's remapped port if it has one.
fn listener(proxy: &Proxy, name: &str, ip: &str, port: u16, filter: Filter) -> Listener {
    let bind = proxy.port_map.get(&port).copied().unwrap_or(port);
    Listener {
        name: name.to_owned(),
        address: Some(socket_address(ip, bind)),
        filter_chains: vec![FilterChain {
            filters: vec![filter],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn rds(name: &str) -> RouteSpecifier {
    RouteSpecifier::Rds(Rds {
        config_source: Some(ads_source()),
        route_config_name: name.to_owned(),
    })
}

/// The protocol of a container port: that of a service port targeting it (the service's port
/// names are what Istio reads), else from the container port's own name.
fn inbound_protocol(ctx: &Ctx<'_>, port: &crate::model::ContainerPort) -> PortProtocol {
    let proxy = ctx.proxy;
    let from_service = ctx
        .model
        .endpoints
        .iter()
        .filter(|e| e.pod == proxy.pod && e.namespace == proxy.namespace)
        .find_map(|e| {
            let service_port = e.ports.iter().find(|(_, target)| **target == port.port)?.0;
            ctx.model
                .services
                .iter()
                .find(|s| s.name == e.service && s.namespace == e.namespace)?
                .ports
                .iter()
                .find(|p| p.port == *service_port)
                .map(crate::model::ServicePort::protocol_kind)
        });
    from_service.unwrap_or_else(|| {
        let hint = port
            .name
            .split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        protocol_from_name(&hint, "TCP")
    })
}

/// Inbound listeners on `P:<containerPort>` forwarding to `inbound|port||` → `A:port`.
pub(crate) fn inbound(ctx: &mut Ctx<'_>, out: &mut Resources) {
    let proxy = ctx.proxy;
    let ip = proxy.ip.to_string();
    for port in &proxy.ports {
        let cluster = inbound_cluster_name(port.port);
        let protocol = inbound_protocol(ctx, port);
        out.clusters.push(static_cluster(
            &cluster,
            proxy.app_ip,
            port.port,
            protocol == PortProtocol::Http2,
        ));
        let name = format!("{ip}_{}", port.port);
        let stat = format!("inbound_{ip}_{}", port.port);
        let filter = if protocol == PortProtocol::Tcp {
            tcp_proxy(&stat, &cluster)
        } else {
            let route = Route {
                name: "default".to_owned(),
                r#match: Some(RouteMatch {
                    path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
                    ..Default::default()
                }),
                action: Some(Action::Route(RouteAction {
                    cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.clone())),
                    timeout: Some(PbDuration {
                        seconds: 0,
                        nanos: 0,
                    }),
                    ..Default::default()
                })),
                ..Default::default()
            };
            let config = RouteConfiguration {
                name: cluster.clone(),
                virtual_hosts: vec![VirtualHost {
                    name: format!("inbound|http|{}", port.port),
                    domains: vec!["*".to_owned()],
                    routes: vec![route],
                    ..Default::default()
                }],
                validate_clusters: Some(BoolValue { value: false }),
                ..Default::default()
            };
            let policy = super::policy::inbound_http_filters(ctx, port.port);
            hcm(
                &stat,
                RouteSpecifier::RouteConfig(config),
                Side::Inbound,
                policy,
            )
        };
        let mode = tls::inbound_mode(ctx, port.port);
        let mut inbound = listener(proxy, &name, &ip, port.port, filter.clone());
        inbound.filter_chains = inbound_chains(mode, filter);
        if mode != MtlsMode::Disable {
            inbound.listener_filters.push(tls::tls_inspector());
        }
        out.listeners.push(inbound);
    }
}

/// The filter chains of an inbound listener under PeerAuthentication `mode` (never UNSET):
/// mutual TLS for connections that start a TLS handshake, plaintext for the others.
fn inbound_chains(mode: MtlsMode, filter: Filter) -> Vec<FilterChain> {
    let chain = |transport: &str| FilterChain {
        filter_chain_match: Some(FilterChainMatch {
            transport_protocol: transport.to_owned(),
            ..Default::default()
        }),
        filters: vec![filter.clone()],
        ..Default::default()
    };
    let mtls = FilterChain {
        transport_socket: Some(tls::istio_downstream()),
        ..chain(tls::TRANSPORT_TLS)
    };
    match mode {
        MtlsMode::Strict => vec![mtls],
        MtlsMode::Disable => vec![FilterChain {
            filters: vec![filter.clone()],
            ..Default::default()
        }],
        MtlsMode::Permissive | MtlsMode::Unset => vec![mtls, chain(tls::TRANSPORT_RAW)],
    }
}

/// The domains a sidecar uses for a host on `port` (Istio's set, each with a `:port` variant).
pub(crate) fn host_domains(ctx: &Ctx<'_>, host: &Host, port: u16) -> Vec<String> {
    let mut names = vec![host.name.clone()];
    if let (HostSource::Service, Some(short)) = (&host.source, &host.short) {
        if host.namespace == ctx.proxy.namespace {
            names.push(short.clone());
        }
        names.push(format!("{short}.{}", host.namespace));
        names.push(format!("{short}.{}.svc", host.namespace));
    }
    if let Some(vip) = host.vip {
        names.push(vip.to_string());
    }
    let mut out = Vec::new();
    for n in names {
        out.push(format!("{n}:{port}"));
        out.push(n);
    }
    out
}

/// Outbound listeners on `O:<port>`, one per service port in the mesh, and their routes.
pub(crate) fn outbound(ctx: &mut Ctx<'_>, hosts: &[Host], out: &mut Resources) {
    let mut by_port: BTreeMap<u16, Vec<&Host>> = BTreeMap::new();
    for host in hosts {
        for p in &host.ports {
            by_port.entry(p.port).or_default().push(host);
        }
    }
    let ip = ctx.proxy.outbound_ip.to_string();
    for (port, port_hosts) in by_port {
        let name = format!("{ip}_{port}");
        let stat = format!("outbound_{ip}_{port}");
        let tcp: Vec<&&Host> = port_hosts
            .iter()
            .filter(|h| {
                h.ports
                    .iter()
                    .any(|p| p.port == port && p.protocol == PortProtocol::Tcp)
            })
            .collect();
        if let Some(first) = tcp.first() {
            if port_hosts.len() > 1 {
                ctx.warn(
                    format!("port {port}"),
                    format!(
                        "{} is a TCP port and other services also use port {port}; without a cluster IP per service only {} is reachable on it",
                        first.name, first.name
                    ),
                );
            }
            let cluster = outbound_cluster_name(port, "", &first.name);
            out.listeners.push(listener(
                ctx.proxy,
                &name,
                &ip,
                port,
                tcp_proxy(&stat, &cluster),
            ));
            continue;
        }
        let route_name = port.to_string();
        out.listeners.push(listener(
            ctx.proxy,
            &name,
            &ip,
            port,
            hcm(&stat, rds(&route_name), Side::Outbound, Vec::new()),
        ));
        let mut vhosts = Vec::new();
        let mut used = BTreeSet::new();
        for host in port_hosts {
            let scope = Scope {
                gateway: "mesh",
                port,
                hosts,
            };
            let vss: Vec<_> = ctx
                .virtual_services_for("mesh", &host.name)
                .into_iter()
                .cloned()
                .collect();
            if vss.len() > 1 {
                let names: Vec<String> = vss
                    .iter()
                    .map(|v| format!("{}/{}", v.namespace, v.name))
                    .collect();
                ctx.warn(
                    format!("VirtualService {}", names[1..].join(", ")),
                    format!(
                        "{} is already routed by VirtualService {}; only that one is used for it",
                        host.name, names[0]
                    ),
                );
            }
            let routes = match vss.first() {
                Some(vs) => vs_routes(ctx, vs, &scope),
                None => {
                    let mut route = default_route(&outbound_cluster_name(port, "", &host.name));
                    let dest = crate::model::istio::Destination {
                        host: host.name.clone(),
                        subset: None,
                        port: Some(crate::model::istio::PortSelector { number: port }),
                    };
                    let hash = hash_policy(ctx, &dest, &host.namespace, &scope);
                    if let Some(Action::Route(action)) = &mut route.action {
                        action.hash_policy = hash;
                    }
                    vec![route]
                }
            };
            let domains: Vec<String> = host_domains(ctx, host, port)
                .into_iter()
                .filter(|d| used.insert(d.clone()))
                .collect();
            vhosts.push(VirtualHost {
                name: format!("{}:{port}", host.name),
                domains,
                routes,
                ..Default::default()
            });
        }
        vhosts.push(catch_all(ctx.model.mesh.outbound_traffic_policy.mode));
        out.routes.push(RouteConfiguration {
            name: route_name,
            virtual_hosts: vhosts,
            validate_clusters: Some(BoolValue { value: false }),
            ..Default::default()
        });
    }
}

/// The catch-all virtual host for hosts outside the registry, by the mesh config's
/// `outboundTrafficPolicy`: under `REGISTRY_ONLY` Istio's `block_all` answers 502 itself; under
/// `ALLOW_ANY` Istio's `allow_any` forwards to `PassthroughCluster`. (Without iptables the mesh's
/// network sends unknown hosts to the sidecar only under `REGISTRY_ONLY`; under `ALLOW_ANY` they
/// leave directly, as passthrough would take them.)
fn catch_all(mode: OutboundMode) -> VirtualHost {
    let (name, action) = match mode {
        OutboundMode::RegistryOnly => (
            "block_all",
            Action::DirectResponse(DirectResponseAction {
                status: 502,
                ..Default::default()
            }),
        ),
        OutboundMode::AllowAny => (
            "allow_any",
            Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster(PASSTHROUGH_CLUSTER.to_owned())),
                timeout: Some(PbDuration {
                    seconds: 0,
                    nanos: 0,
                }),
                ..Default::default()
            }),
        ),
    };
    VirtualHost {
        name: name.to_owned(),
        domains: vec!["*".to_owned()],
        routes: vec![Route {
            name: name.to_owned(),
            r#match: Some(RouteMatch {
                path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
                ..Default::default()
            }),
            action: Some(action),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A gateway's listeners on `P:<targetPort>` of its servers' ports, with `http.<port>` routes.
pub(crate) fn gateway(ctx: &mut Ctx<'_>, hosts: &[Host], out: &mut Resources) {
    let proxy = ctx.proxy;
    let model = ctx.model;
    let ip = proxy.ip.to_string();
    // bind port → (gateway name, server port, server hosts)
    let mut servers: BTreeMap<u16, Vec<(String, u16, Vec<String>)>> = BTreeMap::new();
    for gw in model
        .gateways
        .iter()
        .filter(|g| labels_match(&g.spec.selector, &proxy.labels))
    {
        let resource = format!("Gateway {}/{}", gw.namespace, gw.name);
        for (i, server) in gw.spec.servers.iter().enumerate() {
            let protocol = server.port.protocol.to_ascii_uppercase();
            if !matches!(protocol.as_str(), "HTTP" | "HTTP2" | "GRPC") {
                ctx.warn(
                    &resource,
                    format!("field `servers[{i}].port.protocol`: {protocol} servers are not supported by the reference mesh yet (use HTTP); the server is skipped"),
                );
                continue;
            }
            if server.tls.is_some() {
                ctx.warn(
                    &resource,
                    format!("field `servers[{i}].tls`: TLS on gateways is not supported by the reference mesh yet; the server is served as plain HTTP"),
                );
            }
            let number = server.port.number;
            let bind = model
                .services
                .iter()
                .filter(|s| !s.selector.is_empty() && labels_match(&s.selector, &proxy.labels))
                .flat_map(|s| s.ports.iter())
                .find(|p| p.port == number)
                .map(|p| p.target_port)
                .or(server.port.target_port)
                .unwrap_or(number);
            let gw_name = qualify_gateway(&gw.name, &gw.namespace);
            let hosts: Vec<String> = server
                .hosts
                .iter()
                .map(|h| h.split_once('/').map_or(h.as_str(), |(_, h)| h).to_owned())
                .collect();
            servers
                .entry(bind)
                .or_default()
                .push((gw_name, number, hosts));
        }
    }
    for (bind, entries) in servers {
        let route_name = gateway_route_name(bind);
        let policy = super::policy::gateway_http_filters(ctx);
        out.listeners.push(listener(
            proxy,
            &format!("{ip}_{bind}"),
            &ip,
            bind,
            hcm(
                &format!("outbound_{ip}_{bind}"),
                rds(&route_name),
                Side::Gateway,
                policy,
            ),
        ));
        let mut vhosts: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (gw_name, number, server_hosts) in &entries {
            let scope = Scope {
                gateway: gw_name,
                port: *number,
                hosts,
            };
            let bound: Vec<_> = model
                .virtual_services
                .iter()
                .filter(|vs| {
                    vs.spec
                        .gateways
                        .iter()
                        .any(|g| &qualify_gateway(g, &vs.namespace) == gw_name)
                })
                .collect();
            for vs in bound {
                // The intersection of the VirtualService's and the server's hosts: the more
                // specific of each matching pair (`*` with `bookinfo.com` is `bookinfo.com`).
                let mut vs_hosts: Vec<String> = Vec::new();
                for h in &vs.spec.hosts {
                    let h = ctx.resolve_host(h, &vs.namespace);
                    for s in server_hosts {
                        let host = if host_matches(s, &h) {
                            h.clone()
                        } else if host_matches(&h, s) {
                            s.clone()
                        } else {
                            continue;
                        };
                        if !vs_hosts.contains(&host) {
                            vs_hosts.push(host);
                        }
                    }
                }
                if vs_hosts.is_empty() {
                    continue;
                }
                let routes = vs_routes(ctx, vs, &scope);
                for h in vs_hosts {
                    if !vhosts.contains_key(&h) {
                        order.push(h.clone());
                    }
                    vhosts.entry(h).or_default().extend(routes.iter().cloned());
                }
            }
        }
        let mut virtual_hosts: Vec<VirtualHost> = order
            .into_iter()
            .map(|h| {
                let routes = vhosts.remove(&h).unwrap_or_default();
                let domains = if h == "*" {
                    vec!["*".to_owned()]
                } else {
                    vec![h.clone(), format!("{h}:*")]
                };
                VirtualHost {
                    name: format!("{h}:{}", entries.first().map_or(bind, |e| e.1)),
                    domains,
                    routes,
                    ..Default::default()
                }
            })
            .collect();
        // A wildcard host must come last or it would shadow the named ones.
        virtual_hosts.sort_by_key(|v| v.domains.iter().any(|d| d == "*"));
        if virtual_hosts.is_empty() {
            virtual_hosts.push(VirtualHost {
                name: format!("blackhole:{bind}"),
                domains: vec!["*".to_owned()],
                ..Default::default()
            });
        }
        out.routes.push(RouteConfiguration {
            name: route_name,
            virtual_hosts,
            validate_clusters: Some(BoolValue { value: false }),
            ..Default::default()
        });
    }
}
