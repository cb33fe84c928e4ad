//! The bootstrap configuration a pod's Envoy starts from, shaped like the one Istio's
//! pilot-agent writes: the node's identity and metadata, the admin interface on 127.0.0.1,
//! ADS (clusters and listeners) from the `xds-grpc` cluster over HTTP/2, a readiness listener
//! (`/healthz/ready` on the pod's port 15021, answered from the admin's `/ready`) and the
//! Prometheus listener (`/stats/prometheus` on port 15090).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// The port the kubelet probes for an Istio proxy's readiness (`/healthz/ready`).
pub const HEALTH_PORT: u16 = 15021;
/// The port serving Envoy's stats in Prometheus format (`/stats/prometheus`).
pub const PROMETHEUS_PORT: u16 = 15090;
/// The name of the static cluster ADS is read from (Istio's name).
pub const XDS_CLUSTER: &str = "xds-grpc";

/// Where the xDS server is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XdsAddress {
    /// A TCP address.
    Socket(SocketAddr),
    /// A Unix domain socket (Istio's sidecar uses `./etc/istio/proxy/XDS`).
    Pipe(PathBuf),
}

/// What a pod's bootstrap is made of.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    /// `node.id` (`sidecar~10.1.0.5~productpage-v1-….default~default.svc.cluster.local`).
    pub node_id: String,
    /// `node.cluster` (`productpage.default`).
    pub cluster: String,
    /// `node.metadata` (Istio's `NAMESPACE`, `NAME`, `INSTANCE_IPS`, …).
    pub metadata: Map<String, Value>,
    /// The ADS server; `None` leaves out dynamic resources (a static-only Envoy).
    pub xds: Option<XdsAddress>,
    /// The pod IP the readiness and Prometheus listeners bind to; `None` leaves them out.
    pub pod_ip: Option<IpAddr>,
}

impl Bootstrap {
    /// The bootstrap as JSON, with the admin interface on `admin`.
    pub fn render(&self, admin: SocketAddr) -> Value {
        let mut clusters = vec![
            static_cluster("prometheus_stats", socket(admin), false),
            static_cluster("agent", socket(admin), false),
        ];
        let mut config = json!({
            "node": {
                "id": self.node_id,
                "cluster": self.cluster,
                "metadata": self.metadata,
            },
            "admin": {
                "address": socket(admin),
            },
            // Istio sets no limit either; saying so explicitly keeps Envoy from warning at
            // every start.
            "overload_manager": {
                "resource_monitors": [{
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                        "max_active_downstream_connections": 2_147_483_647u64,
                    }
                }]
            },
            "stats_config": {
                "use_all_default_tags": false,
            },
        });
        if let Some(xds) = &self.xds {
            let address = match xds {
                XdsAddress::Socket(addr) => socket(*addr),
                XdsAddress::Pipe(path) => json!({"pipe": {"path": path}}),
            };
            clusters.push(static_cluster(XDS_CLUSTER, address, true));
            config["dynamic_resources"] = json!({
                "ads_config": {
                    "api_type": "GRPC",
                    "transport_api_version": "V3",
                    "set_node_on_first_message_only": true,
                    "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
                },
                "cds_config": {"ads": {}, "resource_api_version": "V3"},
                "lds_config": {"ads": {}, "resource_api_version": "V3"},
            });
        }
        let mut listeners = Vec::new();
        if let Some(ip) = self.pod_ip {
            listeners.push(http_listener(
                "health",
                SocketAddr::new(ip, HEALTH_PORT),
                "/healthz/ready",
                "agent",
                "/ready",
            ));
            listeners.push(http_listener(
                "prometheus",
                SocketAddr::new(ip, PROMETHEUS_PORT),
                "/stats/prometheus",
                "prometheus_stats",
                "/stats/prometheus",
            ));
        }
        config["static_resources"] = json!({
            "clusters": clusters,
            "listeners": listeners,
        });
        config
    }
}

fn socket(addr: SocketAddr) -> Value {
    json!({"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}})
}

/// A STATIC cluster with one endpoint; `http2` for gRPC (without it Envoy never gets past
/// `cm init: initializing cds`).
fn static_cluster(name: &str, address: Value, http2: bool) -> Value {
    let mut cluster = json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    });
    if http2 {
        cluster["typed_extension_protocol_options"] = json!({
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        });
        // ADS streams live long; keep-alives notice a vanished control plane.
        cluster["upstream_connection_options"] = json!({
            "tcp_keepalive": {"keepalive_time": 300},
        });
    }
    cluster
}

/// A listener answering GETs of `path` from `cluster` (rewritten to `upstream_path`).
fn http_listener(
    name: &str,
    addr: SocketAddr,
    path: &str,
    cluster: &str,
    upstream_path: &str,
) -> Value {
    json!({
        "name": name,
        "address": socket(addr),
        "filter_chains": [{
            "filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": name,
                    "codec_type": "AUTO",
                    "http_filters": [{
                        "name": "envoy.filters.http.router",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                        }
                    }],
                    "route_config": {
                        "virtual_hosts": [{
                            "name": "backend",
                            "domains": ["*"],
                            "routes": [{
                                "match": {"prefix": path},
                                "route": {"cluster": cluster, "prefix_rewrite": upstream_path},
                            }],
                        }],
                    },
                },
            }],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bootstrap {
        Bootstrap {
            node_id: "sidecar~127.1.0.5~web.default~default.svc.cluster.local".into(),
            cluster: "web.default".into(),
            metadata: Map::new(),
            xds: Some(XdsAddress::Pipe("/tmp/x/XDS".into())),
            pod_ip: Some("127.1.0.5".parse().unwrap()),
        }
    }

    #[test]
    fn ads_comes_from_an_http2_static_cluster() {
        let config = sample().render("127.0.0.1:4000".parse().unwrap());
        let clusters = config["static_resources"]["clusters"].as_array().unwrap();
        let xds = clusters.iter().find(|c| c["name"] == XDS_CLUSTER).unwrap();
        assert_eq!(xds["type"], "STATIC");
        assert!(
            xds["typed_extension_protocol_options"]
                ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicit_http_config"]
                .get("http2_protocol_options")
                .is_some()
        );
        let ads = &config["dynamic_resources"]["ads_config"];
        assert_eq!(
            ads["grpc_services"][0]["envoy_grpc"]["cluster_name"],
            XDS_CLUSTER
        );
        assert_eq!(config["dynamic_resources"]["cds_config"]["ads"], json!({}));
        assert_eq!(config["dynamic_resources"]["lds_config"]["ads"], json!({}));
    }

    #[test]
    fn readiness_listens_on_the_pod_ip_and_asks_the_admin() {
        let config = sample().render("127.0.0.1:4000".parse().unwrap());
        let listeners = config["static_resources"]["listeners"].as_array().unwrap();
        let health = listeners.iter().find(|l| l["name"] == "health").unwrap();
        assert_eq!(
            health["address"]["socket_address"],
            json!({"address": "127.1.0.5", "port_value": 15021})
        );
        let route = &health["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
            [0]["routes"][0];
        assert_eq!(route["match"]["prefix"], "/healthz/ready");
        assert_eq!(route["route"]["prefix_rewrite"], "/ready");
        let clusters = config["static_resources"]["clusters"].as_array().unwrap();
        let agent = clusters.iter().find(|c| c["name"] == "agent").unwrap();
        assert_eq!(
            agent["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
                ["port_value"],
            4000
        );
    }

    #[test]
    fn without_xds_there_are_no_dynamic_resources() {
        let mut b = sample();
        b.xds = None;
        b.pod_ip = None;
        let config = b.render("127.0.0.1:4000".parse().unwrap());
        assert!(config.get("dynamic_resources").is_none());
        assert_eq!(config["static_resources"]["listeners"], json!([]));
    }
}
