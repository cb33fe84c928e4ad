//! How a Service is reached: from the learner's host through its nodePort on a node's address,
//! from inside a pod through its cluster DNS name; Istio's ingress gateway also through its
//! load-balancer address on a live cluster.
//!
//! Both targets answer the same way: the reference mesh's node has the address 127.0.0.1 and
//! opens every nodePort there; a live cluster's node is reached at its ExternalIP, or its
//! InternalIP (which kind and minikube nodes expose to a Linux host).

use crate::course::ServiceRef;
use crate::target::status::{explain, node_is_ready};
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, ListParams};

/// Why a Service cannot be reached from the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    /// The Service is not there or has no usable port: the learner's state (a failure).
    #[error("{0}")]
    NotReachable(String),
    /// The API could not be asked.
    #[error("{0}")]
    Api(String),
}

/// `http://productpage.default:9080/productpage`: the URL a pod uses for the Service.
pub fn in_cluster_url(service: &ServiceRef, default_namespace: &str) -> String {
    let ns = service.namespace.as_deref().unwrap_or(default_namespace);
    format!(
        "http://{}.{ns}:{}{}",
        service.name, service.port, service.path
    )
}

/// The URL the host uses for the Service: `http://NODE-ADDRESS:NODEPORT/PATH`.
pub async fn host_url(client: &kube::Client, service: &ServiceRef) -> Result<String, ReachError> {
    let ns = service
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let what = format!("service {} in namespace {ns}", service.name);
    let found = Api::<Service>::namespaced(client.clone(), &ns)
        .get_opt(&service.name)
        .await
        .map_err(|e| ReachError::Api(format!("cannot read {what}: {}", explain(&e))))?
        .ok_or_else(|| ReachError::NotReachable(format!("there is no {what}")))?;
    let node_port = node_port(&found, service.port, &what)?;
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| ReachError::Api(format!("cannot list the nodes: {}", explain(&e))))?
        .items;
    let address = node_address(&nodes).ok_or_else(|| {
        ReachError::NotReachable(
            "no Ready node has an ExternalIP or InternalIP address to reach the nodePort on"
                .to_string(),
        )
    })?;
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address
    };
    Ok(format!("http://{host}:{node_port}{}", service.path))
}

/// Overrides where the ingress gateway is reached from the host (`http://192.168.49.2:31380`).
pub const INGRESS_ENV: &str = "MESHWORK_INGRESS";

/// Istio's ingress gateway Service, port 80, at `path`.
pub fn ingress_service(path: &str) -> ServiceRef {
    ServiceRef {
        name: "istio-ingressgateway".to_string(),
        namespace: Some("istio-system".to_string()),
        port: 80,
        path: path.to_string(),
    }
}

/// The URL the host uses for `path` on Istio's ingress gateway: `MESHWORK_INGRESS` when set,
/// else (with `prefer_load_balancer`, on a live cluster) the Service's load-balancer address,
/// else its nodePort on a node's address.
pub async fn ingress_url(
    client: &kube::Client,
    path: &str,
    prefer_load_balancer: bool,
) -> Result<String, ReachError> {
    if let Some(base) = std::env::var(INGRESS_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        return Ok(format!("{}{path}", base.trim().trim_end_matches('/')));
    }
    let service = ingress_service(path);
    if prefer_load_balancer {
        let found = Api::<Service>::namespaced(client.clone(), "istio-system")
            .get_opt(&service.name)
            .await
            .map_err(|e| {
                ReachError::Api(format!(
                    "cannot read service istio-ingressgateway in namespace istio-system: {}",
                    explain(&e)
                ))
            })?
            .ok_or_else(|| {
                ReachError::NotReachable(
                    "there is no service istio-ingressgateway in namespace istio-system: is \
                     Istio installed with its ingress gateway (profile demo or default)?"
                        .to_string(),
                )
            })?;
        if let Some(address) = load_balancer_address(&found) {
            return Ok(format!("http://{address}{path}"));
        }
    }
    host_url(client, &service).await.map_err(|e| match e {
        ReachError::NotReachable(why) => ReachError::NotReachable(format!(
            "{why}; or set {INGRESS_ENV} to the gateway's address (e.g. http://192.168.49.2:31380)"
        )),
        other => other,
    })
}

/// The Service's first load-balancer IP or hostname, bracketed when IPv6.
fn load_balancer_address(service: &Service) -> Option<String> {
    let ingress = service
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?;
    let address = ingress.ip.clone().or_else(|| ingress.hostname.clone())?;
    Some(if address.contains(':') {
        format!("[{address}]")
    } else {
        address
    })
}

/// The nodePort behind the Service's `port`, or why there is none.
fn node_port(service: &Service, port: u16, what: &str) -> Result<u16, ReachError> {
    let spec = service.spec.as_ref();
    let kind = spec.and_then(|s| s.type_.as_deref()).unwrap_or("ClusterIP");
    let ports: Vec<_> = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .collect();
    let Some(entry) = ports.iter().find(|p| p.port == i32::from(port)) else {
        let listed: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
        return Err(ReachError::NotReachable(format!(
            "{what} has no port {port} (its ports: {})",
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        )));
    };
    entry
        .node_port
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ReachError::NotReachable(format!(
                "{what} is of type {kind}, so port {port} has no nodePort the host can reach; \
                 make it a NodePort or LoadBalancer service"
            ))
        })
}

/// A Ready node's ExternalIP, else InternalIP.
fn node_address(nodes: &[Node]) -> Option<String> {
    let addresses = |kind: &str| {
        nodes
            .iter()
            .filter(|n| node_is_ready(n))
            .flat_map(|n| n.status.iter().flat_map(|s| s.addresses.iter().flatten()))
            .find(|a| a.type_ == kind)
            .map(|a| a.address.clone())
    };
    addresses("ExternalIP").or_else(|| addresses("InternalIP"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(kind: &str, node_port: Option<u16>) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "productpage"},
            "spec": {"type": kind, "ports": [{"port": 9080, "nodePort": node_port}]}
        }))
        .unwrap()
    }

    #[test]
    fn the_node_port_of_the_service_port_is_used() {
        assert_eq!(
            node_port(&svc("NodePort", Some(31000)), 9080, "s"),
            Ok(31000)
        );
        let err = node_port(
            &svc("ClusterIP", None),
            9080,
            "service productpage in namespace default",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "service productpage in namespace default is of type ClusterIP, so port 9080 has no nodePort \
             the host can reach; make it a NodePort or LoadBalancer service"
        );
        let err = node_port(&svc("NodePort", Some(31000)), 80, "s")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "s has no port 80 (its ports: 9080)");
    }

    #[test]
    fn a_ready_nodes_external_address_wins() {
        let node = |ready: &str, addresses: serde_json::Value| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "n"},
                "status": {"conditions": [{"type": "Ready", "status": ready}], "addresses": addresses}
            }))
            .unwrap()
        };
        let internal = node(
            "True",
            json!([{"type": "InternalIP", "address": "172.18.0.2"}]),
        );
        let both = node(
            "True",
            json!([{"type": "InternalIP", "address": "10.0.0.4"}, {"type": "ExternalIP", "address": "34.1.2.3"}]),
        );
        let down = node(
            "False",
            json!([{"type": "ExternalIP", "address": "9.9.9.9"}]),
        );
        assert_eq!(
            node_address(std::slice::from_ref(&internal)).as_deref(),
            Some("172.18.0.2")
        );
        assert_eq!(node_address(&[internal, both]).as_deref(), Some("34.1.2.3"));
        assert_eq!(node_address(&[down]), None);
    }

    #[test]
    fn a_load_balancer_ip_or_hostname_is_the_ingress_address() {
        let mut service = svc("LoadBalancer", Some(31380));
        assert_eq!(load_balancer_address(&service), None);
        service.status = Some(k8s_openapi::api::core::v1::ServiceStatus {
            load_balancer: Some(k8s_openapi::api::core::v1::LoadBalancerStatus {
                ingress: Some(vec![k8s_openapi::api::core::v1::LoadBalancerIngress {
                    hostname: Some("a1.elb.example.com".into()),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        });
        assert_eq!(
            load_balancer_address(&service).as_deref(),
            Some("a1.elb.example.com")
        );
        assert_eq!(
            in_cluster_url(&ingress_service("/productpage"), "default"),
            "http://istio-ingressgateway.istio-system:80/productpage"
        );
    }

    #[test]
    fn pods_use_the_services_dns_name() {
        let s = ServiceRef {
            name: "productpage".into(),
            namespace: None,
            port: 9080,
            path: "/productpage".into(),
        };
        assert_eq!(
            in_cluster_url(&s, "bookinfo"),
            "http://productpage.bookinfo:9080/productpage"
        );
    }
}
