//! Where a pod with an Istio sidecar listens and connects, standing in for the iptables rules
//! `istio-init` installs on a cluster.
//!
//! Such a pod has three loopback addresses derived from its pod IP P = 127.1.x.y:
//! - P itself, where the sidecar's inbound listeners bind the pod's ports (so every client
//!   reaches the application through Envoy, as the redirection makes it on a cluster);
//! - A = 127.2.x.y, where the application's containers listen (the pod's own loopback: the
//!   sidecar's inbound clusters, the kubelet's probes and port-forward reach it there);
//! - O = 127.3.x.y, where the sidecar's outbound listeners bind one port per service port; the
//!   application's connections to Services go there ([`crate::net::Network::connect`]).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::workloads::{self, ImageSupport, Workload};

/// The container name Istio's injector gives the sidecar.
pub const PROXY_CONTAINER: &str = "istio-proxy";

/// The three addresses of a pod with a sidecar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SidecarAddresses {
    /// P: the pod IP (the sidecar's inbound listeners).
    pub pod: IpAddr,
    /// A: where the application listens.
    pub app: IpAddr,
    /// O: where the sidecar's outbound listeners bind.
    pub outbound: IpAddr,
}

impl SidecarAddresses {
    /// The addresses for pod IP `pod` (only 127.1.x.y pod IPs have them).
    pub fn of(pod: IpAddr) -> Option<Self> {
        let IpAddr::V4(v4) = pod else { return None };
        let [a, b, x, y] = v4.octets();
        if (a, b) != (127, 1) {
            return None;
        }
        Some(Self {
            pod,
            app: IpAddr::V4(Ipv4Addr::new(127, 2, x, y)),
            outbound: IpAddr::V4(Ipv4Addr::new(127, 3, x, y)),
        })
    }
}

/// Whether the pod runs an Istio sidecar: a container named `istio-proxy` whose image is
/// Istio's proxy.
pub fn has_sidecar(pod: &Value) -> bool {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(is_proxy_container))
}

/// Whether this container is the Istio sidecar.
pub fn is_proxy_container(container: &Value) -> bool {
    container.get("name").and_then(Value::as_str) == Some(PROXY_CONTAINER)
        && container
            .get("image")
            .and_then(Value::as_str)
            .is_some_and(|image| {
                workloads::classify(image) == ImageSupport::Builtin(Workload::IstioProxy)
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_follow_the_pod_ip() {
        let a = SidecarAddresses::of("127.1.4.9".parse().expect("ip")).expect("a pod IP");
        assert_eq!(a.app, "127.2.4.9".parse::<IpAddr>().expect("ip"));
        assert_eq!(a.outbound, "127.3.4.9".parse::<IpAddr>().expect("ip"));
        assert_eq!(SidecarAddresses::of("10.96.0.1".parse().expect("ip")), None);
    }

    #[test]
    fn a_sidecar_is_the_istio_proxy_container_with_istios_image() {
        let pod = |name: &str, image: &str| {
            json!({"spec": {"containers": [{"name": "app", "image": "nginx"},
                                           {"name": name, "image": image}]}})
        };
        assert!(has_sidecar(&pod(
            "istio-proxy",
            "docker.io/istio/proxyv2:1.24.0"
        )));
        assert!(!has_sidecar(&pod("istio-proxy", "nginx")));
        assert!(!has_sidecar(&pod(
            "proxy",
            "docker.io/istio/proxyv2:1.24.0"
        )));
    }
}
