//! Traffic from a pod with a sidecar to hosts outside the cluster's Services, as Istio handles
//! it: ServiceEntry hosts are answered by the sidecar's DNS proxy and routed by the sidecar
//! (so a ServiceEntry can point an "external" name anywhere, a loopback test server included);
//! with the mesh config's `outboundTrafficPolicy.mode: REGISTRY_ONLY` every other host also goes
//! to the sidecar, whose catch-all sends it to `BlackHoleCluster` (502 for HTTP), instead of
//! leaving directly as under `ALLOW_ANY`.

use std::net::IpAddr;

use meshwork_pilot::model::{MeshConfig, OutboundMode};
use serde_json::Value;

use crate::store::{ResourceKey, Store};

/// The mesh config's ConfigMap (namespace, name) and key.
const MESH_CONFIG: (&str, &str, &str) = ("istio-system", "istio", "mesh");

/// Whether `host` is named by a ServiceEntry (exactly or by a `*.` wildcard), in any namespace.
pub(crate) fn is_service_entry_host(store: &Store, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    store
        .resources_with_objects()
        .iter()
        .filter(|k| k.group == "networking.istio.io" && k.resource == "serviceentries")
        .flat_map(|k| store.list(k, None).0)
        .any(|entry| {
            entry
                .pointer("/spec/hosts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|pattern| host_matches(&pattern.to_ascii_lowercase(), &host))
        })
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
        None => pattern == host,
    }
}

/// Whether the mesh config says `outboundTrafficPolicy.mode: REGISTRY_ONLY` (a mesh config that
/// does not parse counts as the default, as pilot also falls back to it).
pub(crate) fn registry_only(store: &Store) -> bool {
    let (namespace, name, key) = MESH_CONFIG;
    let Ok(map) = store.get(
        &ResourceKey::new("", "v1", "configmaps"),
        Some(namespace),
        name,
    ) else {
        return false;
    };
    let text = map
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    serde_yaml::from_str::<Value>(text)
        .ok()
        .and_then(|v| MeshConfig::from_value(&v).ok())
        .is_some_and(|m| m.outbound_traffic_policy.mode == OutboundMode::RegistryOnly)
}

/// The address a sidecar's DNS proxy gives a ServiceEntry host: one of Istio's auto-allocated
/// 240.240.0.0/16 addresses, the same for the same name.
pub(crate) fn auto_allocated(host: &str) -> IpAddr {
    let hash = host
        .to_ascii_lowercase()
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
    let [_, _, x, y] = hash.to_be_bytes();
    IpAddr::from([240, 240, x, y.max(1)])
}

/// Whether `ip` belongs to the cluster: a pod's addresses (127.1–3.x.y) or the Service range.
pub(crate) fn in_cluster(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            (a == 127 && (1..=3).contains(&b))
                || (a == 10 && (96..112).contains(&b))
                || (a, b) == (240, 240)
        }
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_subdomains_only() {
        assert!(host_matches("*.example.com", "api.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(host_matches("httpbin.org", "httpbin.org"));
        assert!(!host_matches("httpbin.org", "httpbin.org.evil"));
    }

    #[test]
    fn cluster_addresses_are_pods_and_services() {
        assert!(in_cluster("127.1.0.4".parse().unwrap()));
        assert!(in_cluster("127.3.0.4".parse().unwrap()));
        assert!(in_cluster("10.96.0.10".parse().unwrap()));
        assert!(!in_cluster("127.0.0.2".parse().unwrap()));
        assert!(!in_cluster("127.4.0.1".parse().unwrap()));
    }

    #[test]
    fn service_entry_hosts_get_a_stable_auto_allocated_address() {
        let a = auto_allocated("external.example.com");
        assert_eq!(a, auto_allocated("EXTERNAL.example.com"));
        assert!(in_cluster(a), "{a}");
        assert_ne!(a, auto_allocated("other.example.com"));
    }
}
