//! What pilot is built from: a snapshot of the store's Services, Pods and networking.istio.io
//! objects, turned into pilot's [`Model`] and the [`Proxy`] of each pod running Istio's proxy.

use std::net::IpAddr;
use std::sync::Arc;

use meshwork_pilot::model::{MeshConfig, ParseError};
use meshwork_pilot::{Model, Proxy, ProxyKind};
use serde_json::Value;

use crate::net::sidecar::{self, SidecarAddresses};
use crate::store::{ResourceKey, Store};

/// The API group of Istio's traffic resources.
pub const ISTIO_NETWORKING: &str = "networking.istio.io";
/// The API group of Istio's security resources.
pub const ISTIO_SECURITY: &str = "security.istio.io";

/// The Istio resources pilot translates: (API group, plural name).
pub const ISTIO_RESOURCES: [(&str, &str); 9] = [
    (ISTIO_NETWORKING, "virtualservices"),
    (ISTIO_NETWORKING, "destinationrules"),
    (ISTIO_NETWORKING, "gateways"),
    (ISTIO_NETWORKING, "serviceentries"),
    (ISTIO_NETWORKING, "sidecars"),
    (ISTIO_NETWORKING, "envoyfilters"),
    (ISTIO_SECURITY, "peerauthentications"),
    (ISTIO_SECURITY, "authorizationpolicies"),
    (ISTIO_SECURITY, "requestauthentications"),
];

/// Whether objects of `group`/`resource` are Istio resources pilot translates.
pub fn is_istio_resource(group: &str, resource: &str) -> bool {
    ISTIO_RESOURCES.contains(&(group, resource))
}

/// The ConfigMap (namespace, name) holding Istio's mesh config under the key `mesh`.
pub const MESH_CONFIG_MAP: (&str, &str) = ("istio-system", "istio");

/// The mesh config of the `istio` ConfigMap: its `mesh` key's YAML.
fn mesh_config(map: &Value) -> Result<MeshConfig, String> {
    let text = map
        .pointer("/data/mesh")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value: Value =
        serde_yaml::from_str(text).map_err(|e| format!("the mesh config is not YAML: {e}"))?;
    MeshConfig::from_value(&value)
}

/// The objects pilot reads, as stored at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `v1/Service` objects.
    pub services: Vec<Arc<Value>>,
    /// `v1/Pod` objects.
    pub pods: Vec<Arc<Value>>,
    /// Istio objects of the kinds pilot translates, every stored version.
    pub istio: Vec<Arc<Value>>,
    /// The `istio` ConfigMap in `istio-system` (the mesh config), if there is one.
    pub mesh_config: Option<Arc<Value>>,
}

impl Snapshot {
    /// The objects in `store` now.
    pub fn of(store: &Store) -> Snapshot {
        let (services, _) = store.list(&ResourceKey::new("", "v1", "services"), None);
        let (pods, _) = store.list(&ResourceKey::new("", "v1", "pods"), None);
        let mut keys: Vec<ResourceKey> = store
            .resources_with_objects()
            .into_iter()
            .filter(|k| is_istio_resource(&k.group, &k.resource))
            .collect();
        keys.sort();
        let istio = keys.iter().flat_map(|k| store.list(k, None).0).collect();
        let (namespace, name) = MESH_CONFIG_MAP;
        let mesh_config = store
            .get(
                &ResourceKey::new("", "v1", "configmaps"),
                Some(namespace),
                name,
            )
            .ok();
        Snapshot {
            services,
            pods,
            istio,
            mesh_config,
        }
    }

    /// Pilot's model of these objects, and the Istio resources left out as malformed (a
    /// malformed mesh config is reported too, and the defaults used instead).
    pub fn model(&self) -> (Model, Vec<ParseError>) {
        let (mut model, mut errors) = Model::from_objects(
            self.services.iter().map(AsRef::as_ref),
            self.pods.iter().map(AsRef::as_ref),
            self.istio.iter().map(AsRef::as_ref),
        );
        if let Some(map) = &self.mesh_config {
            match mesh_config(map) {
                Ok(mesh) => model.mesh = mesh,
                Err(message) => {
                    let (namespace, name) = MESH_CONFIG_MAP;
                    errors.push(ParseError {
                        kind: "ConfigMap".to_owned(),
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                        field: "data.mesh".to_owned(),
                        message: format!("{message}; the mesh config's defaults are used"),
                    });
                }
            }
        }
        (model, errors)
    }

    /// The proxies of the pods running Istio's proxy.
    pub fn proxies(&self) -> Vec<Proxy> {
        proxies(self.pods.iter().map(AsRef::as_ref))
    }
}

/// The [`Proxy`] of every pod that runs Istio's proxy and has an IP and is not being deleted:
/// gateways ([`is_gateway`]) bind their listeners on the pod IP; sidecars also get the
/// application address A and the outbound address O of [`SidecarAddresses`].
pub fn proxies<'a>(pods: impl IntoIterator<Item = &'a Value>) -> Vec<Proxy> {
    pods.into_iter()
        .filter(|pod| sidecar::has_sidecar(pod))
        .filter(|pod| pod.pointer("/metadata/deletionTimestamp").is_none())
        .filter_map(|pod| {
            let ip: IpAddr = pod.pointer("/status/podIP")?.as_str()?.parse().ok()?;
            let kind = if is_gateway(pod) {
                ProxyKind::Gateway
            } else {
                ProxyKind::Sidecar
            };
            let (app, outbound) =
                SidecarAddresses::of(ip).map_or((ip, ip), |a| (a.app, a.outbound));
            Proxy::from_pod(pod, kind, app, outbound)
        })
        .collect()
}

/// Whether the pod is an Istio gateway: labelled `istio: ingressgateway|egressgateway`, or its
/// proxy container runs `proxy router`.
pub fn is_gateway(pod: &Value) -> bool {
    let label = pod
        .pointer("/metadata/labels/istio")
        .and_then(Value::as_str);
    if matches!(label, Some("ingressgateway" | "egressgateway")) {
        return true;
    }
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| sidecar::is_proxy_container(c))
        .any(|c| {
            ["command", "args"].iter().any(|field| {
                c.get(*field)
                    .and_then(Value::as_array)
                    .is_some_and(|words| words.iter().any(|w| w.as_str() == Some("router")))
            })
        })
}
