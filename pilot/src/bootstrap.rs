//! The Envoy v3 bootstrap that points a proxy at pilot's ADS server.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::model::Proxy;

/// The node metadata key under which the bootstrap carries the whole [`Proxy`] as JSON text, so
/// the server knows the proxy without a separate registration.
pub const PROXY_METADATA_KEY: &str = "MESHWORK_PROXY";

/// The name of the static cluster that reaches pilot.
pub const XDS_CLUSTER: &str = "xds-grpc";

/// A valid Envoy v3 bootstrap for `proxy`: node id/cluster/metadata, admin on
/// `127.0.0.1:<admin_port>`, ADS over HTTP/2 to `ads_addr`, CDS and LDS over ADS.
pub fn bootstrap(proxy: &Proxy, ads_addr: SocketAddr, admin_port: u16) -> Value {
    let proxy_json = serde_json::to_string(proxy).unwrap_or_default();
    let ads = json!({"ads": {}, "resource_api_version": "V3"});
    json!({
        "node": {
            "id": proxy.node_id(),
            "cluster": proxy.service_cluster(),
            "metadata": {
                PROXY_METADATA_KEY: proxy_json,
                "NAME": proxy.pod,
                "NAMESPACE": proxy.namespace,
                "LABELS": proxy.labels,
                "INSTANCE_IPS": proxy.ip.to_string(),
                "SERVICE_ACCOUNT": proxy.service_account,
            },
        },
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}},
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": true,
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
            },
            "cds_config": ads,
            "lds_config": ads,
        },
        "static_resources": {
            "clusters": [{
                "name": XDS_CLUSTER,
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {
                    "cluster_name": XDS_CLUSTER,
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": ads_addr.ip().to_string(),
                        "port_value": ads_addr.port(),
                    }}}}]}],
                },
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": {"http2_protocol_options": {}},
                    },
                },
            }],
        },
    })
}

/// The [`Proxy`] carried in a node's metadata by [`bootstrap`], if any.
pub fn proxy_from_metadata(
    metadata: Option<&envoy_types::pb::google::protobuf::Struct>,
) -> Option<Proxy> {
    use envoy_types::pb::google::protobuf::value::Kind;
    let value = metadata?.fields.get(PROXY_METADATA_KEY)?;
    match &value.kind {
        Some(Kind::StringValue(text)) => serde_json::from_str(text).ok(),
        _ => None,
    }
}
