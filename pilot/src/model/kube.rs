//! Building the model from Kubernetes objects as the API server stores them (JSON): Services,
//! Pods and networking.istio.io resources.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::{
    ContainerPort, Endpoint, Model, ParseError, Proxy, ProxyKind, Service, ServicePort,
    labels_match,
};

/// The name of Istio's sidecar container.
pub const SIDECAR_CONTAINER: &str = "istio-proxy";

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn port_number(value: Option<&Value>) -> Option<u16> {
    value
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
}

fn namespace(object: &Value) -> String {
    match text(object, "/metadata/namespace") {
        "" => "default".to_owned(),
        ns => ns.to_owned(),
    }
}

impl Service {
    /// A `v1/Service` object as pilot sees it; `None` if it has no name. A named `targetPort`
    /// is kept as the service port here and resolved per pod in [`Model::from_objects`].
    pub fn from_object(object: &Value) -> Option<Service> {
        let name = text(object, "/metadata/name");
        if name.is_empty() {
            return None;
        }
        let cluster_ip = text(object, "/spec/clusterIP").parse::<IpAddr>().ok();
        let ports = object
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| {
                        let port = port_number(p.get("port"))?;
                        Some(ServicePort {
                            name: text(p, "/name").to_owned(),
                            port,
                            protocol: match text(p, "/protocol") {
                                "" => "TCP".to_owned(),
                                other => other.to_owned(),
                            },
                            app_protocol: p
                                .get("appProtocol")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            target_port: port_number(p.get("targetPort")).unwrap_or(port),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Service {
            namespace: namespace(object),
            name: name.to_owned(),
            cluster_ip,
            ports,
            selector: string_map(object.pointer("/spec/selector")),
        })
    }
}

/// Whether a pod is running, ready and has an IP: what the Endpoints controller lists.
fn pod_serving(pod: &Value) -> Option<IpAddr> {
    if text(pod, "/status/phase") != "Running"
        || pod.pointer("/metadata/deletionTimestamp").is_some()
    {
        return None;
    }
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| text(c, "/type") == "Ready" && text(c, "/status") == "True")
        });
    if !ready {
        return None;
    }
    text(pod, "/status/podIP").parse().ok()
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The pod's application container ports (the sidecar's own are left out).
fn app_ports(pod: &Value) -> Vec<ContainerPort> {
    containers(pod)
        .filter(|c| text(c, "/name") != SIDECAR_CONTAINER)
        .flat_map(|c| {
            c.get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|p| {
            Some(ContainerPort {
                name: text(p, "/name").to_owned(),
                port: port_number(p.get("containerPort"))?,
            })
        })
        .collect()
}

fn has_sidecar(pod: &Value) -> bool {
    containers(pod).any(|c| text(c, "/name") == SIDECAR_CONTAINER)
}

fn service_account(pod: &Value) -> String {
    match text(pod, "/spec/serviceAccountName") {
        "" => "default".to_owned(),
        sa => sa.to_owned(),
    }
}

impl Model {
    /// Builds the model: Services as given, one [`Endpoint`] per (Service, running and ready pod
    /// it selects), and every networking.istio.io object pilot translates. Malformed Istio
    /// objects are left out and returned as errors naming the resource and the field.
    pub fn from_objects<'a>(
        services: impl IntoIterator<Item = &'a Value>,
        pods: impl IntoIterator<Item = &'a Value>,
        istio: impl IntoIterator<Item = &'a Value>,
    ) -> (Model, Vec<ParseError>) {
        let mut model = Model::new();
        let raw: Vec<&Value> = services.into_iter().collect();
        model.services = raw.iter().filter_map(|s| Service::from_object(s)).collect();
        let pods: Vec<&Value> = pods.into_iter().collect();
        for (svc, object) in model
            .services
            .iter()
            .zip(raw.iter().filter(|s| Service::from_object(s).is_some()))
        {
            if svc.selector.is_empty() {
                continue;
            }
            let spec_ports = object.pointer("/spec/ports").and_then(Value::as_array);
            for pod in &pods {
                if namespace(pod) != svc.namespace
                    || !labels_match(&svc.selector, &string_map(pod.pointer("/metadata/labels")))
                {
                    continue;
                }
                let Some(ip) = pod_serving(pod) else { continue };
                let container_ports = app_ports(pod);
                let mut ports = BTreeMap::new();
                for sp in &svc.ports {
                    let target = spec_ports
                        .and_then(|ps| {
                            ps.iter()
                                .find(|p| port_number(p.get("port")) == Some(sp.port))
                        })
                        .and_then(|p| p.get("targetPort"));
                    let resolved = match target {
                        Some(Value::String(name)) => container_ports
                            .iter()
                            .find(|c| &c.name == name)
                            .map(|c| c.port),
                        _ => Some(sp.target_port),
                    };
                    if let Some(port) = resolved {
                        ports.insert(sp.port, port);
                    }
                }
                model.endpoints.push(Endpoint {
                    namespace: svc.namespace.clone(),
                    service: svc.name.clone(),
                    pod: text(pod, "/metadata/name").to_owned(),
                    ip,
                    ports,
                    labels: string_map(pod.pointer("/metadata/labels")),
                    service_account: service_account(pod),
                    sidecar: has_sidecar(pod),
                });
            }
        }
        let mut errors = Vec::new();
        for object in istio {
            if let Err(e) = model.add_istio_object(object) {
                errors.push(e);
            }
        }
        (model, errors)
    }
}

impl Proxy {
    /// The proxy of a pod: P is its pod IP, `app_ip` (A) and `outbound_ip` (O) are the addresses
    /// the mesh chose for it; the ports are its application containers' ports. `None` until the
    /// pod has an IP.
    pub fn from_pod(
        pod: &Value,
        kind: ProxyKind,
        app_ip: IpAddr,
        outbound_ip: IpAddr,
    ) -> Option<Proxy> {
        let ip: IpAddr = text(pod, "/status/podIP").parse().ok()?;
        Some(Proxy {
            kind,
            pod: text(pod, "/metadata/name").to_owned(),
            namespace: namespace(pod),
            labels: string_map(pod.pointer("/metadata/labels")),
            service_account: service_account(pod),
            ip,
            app_ip,
            outbound_ip,
            ports: app_ports(pod),
            port_map: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, version: &str, ip: &str, ready: bool) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "reviews", "version": version}},
            "spec": {"serviceAccountName": "bookinfo-reviews", "containers": [
                {"name": "reviews", "ports": [{"name": "http-web", "containerPort": 9080}]},
                {"name": "istio-proxy", "ports": [{"name": "http-envoy-prom", "containerPort": 15090}]}
            ]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        })
    }

    #[test]
    fn services_and_ready_pods_become_endpoints_with_named_target_ports_resolved() {
        let svc = json!({
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.12", "selector": {"app": "reviews"}, "ports": [
                {"name": "http", "port": 9080, "targetPort": "http-web"},
                {"name": "http-alt", "port": 80, "targetPort": 9080}
            ]}
        });
        let headless = json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}});
        let pods = [
            pod("reviews-v1", "v1", "127.1.0.1", true),
            pod("reviews-v2", "v2", "127.1.0.2", false),
        ];
        let vs = json!({"kind": "VirtualService", "metadata": {"name": "bad"}, "spec": {"hosts": "reviews"}});
        let (model, errors) = Model::from_objects([&svc, &headless], pods.iter(), [&vs]);
        assert_eq!(model.services.len(), 2);
        assert_eq!(
            model.services[0].cluster_ip,
            Some("10.96.0.12".parse().unwrap())
        );
        assert_eq!(model.services[1].cluster_ip, None, "headless");
        assert_eq!(model.endpoints.len(), 1, "the unready pod is left out");
        let ep = &model.endpoints[0];
        assert_eq!(ep.ports, [(80, 9080), (9080, 9080)].into_iter().collect());
        assert!(ep.sidecar);
        assert_eq!(ep.service_account, "bookinfo-reviews");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.hosts");
    }

    #[test]
    fn a_pod_gives_its_proxy_with_application_ports_only() {
        let p = pod("reviews-v1", "v1", "127.1.0.1", true);
        let proxy = Proxy::from_pod(
            &p,
            ProxyKind::Sidecar,
            "127.2.0.1".parse().unwrap(),
            "127.3.0.1".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            proxy.ports,
            [ContainerPort {
                name: "http-web".into(),
                port: 9080
            }]
        );
        assert_eq!(
            proxy.node_id(),
            "sidecar~127.1.0.1~reviews-v1.default~default.svc.cluster.local"
        );
    }
}
