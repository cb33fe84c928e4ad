//! Sidecar injection: Istio's injector as the reference mesh runs it.
//!
//! On a real cluster Istio's `istio-sidecar-injector` mutating webhook adds the `istio-proxy`
//! sidecar to pods as they are created. Here the API server calls [`admit`] on every pod create
//! (from a client or a controller): once Istio is installed (the webhook configuration
//! [`WEBHOOK`] exists), a pod that Istio's policy selects ([`policy`]) gets the containers,
//! volumes, labels and annotations of Istio's injection template ([`sidecar`]). Pods that
//! already exist are not changed; a rollout restart creates injected ones.
//!
//! `meshwork istioctl kube-inject` uses the same code on manifests: [`inject_document`] injects
//! the pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
//! ReplicationController or Pod and leaves other kinds as they are.
//!
//! Modules:
//! - [`policy`]: which pods are injected (namespace and pod labels, opt-outs).
//! - [`sidecar`]: what an injected pod looks like.

pub mod policy;
pub mod sidecar;

use serde_json::Value;

use crate::meta;
use crate::store::{ResourceKey, Store};

pub use policy::Decision;

/// The MutatingWebhookConfiguration whose presence means Istio is installed.
pub const WEBHOOK: &str = "istio-sidecar-injector";
/// The image registry of Istio's images when istiod's image does not say otherwise.
pub const DEFAULT_HUB: &str = "docker.io/istio";
/// The Istio version of the proxy image when istiod's image does not say otherwise: the one
/// the reference install runs.
pub const DEFAULT_TAG: &str = crate::workloads::istiod::VERSION;

/// The install-wide values the injection template uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Registry and repository of Istio's images (`docker.io/istio`).
    pub hub: String,
    /// Istio's version, the images' tag (`1.24.0`).
    pub tag: String,
    /// The control plane revision (`default`).
    pub revision: String,
    /// Where istiod runs (`istio-system`).
    pub istio_namespace: String,
    /// `ISTIO_META_CLUSTER_ID` (`Kubernetes`).
    pub cluster_id: String,
    /// The trust domain and mesh id (`cluster.local`).
    pub trust_domain: String,
    /// The cluster's DNS domain (`cluster.local`).
    pub cluster_domain: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hub: DEFAULT_HUB.to_owned(),
            tag: DEFAULT_TAG.to_owned(),
            revision: policy::DEFAULT_REVISION.to_owned(),
            istio_namespace: "istio-system".to_owned(),
            cluster_id: "Kubernetes".to_owned(),
            trust_domain: "cluster.local".to_owned(),
            cluster_domain: "cluster.local".to_owned(),
        }
    }
}

impl Settings {
    /// The proxy image (`docker.io/istio/proxyv2:1.24.0`).
    pub fn proxy_image(&self) -> String {
        format!("{}/proxyv2:{}", self.hub, self.tag)
    }

    /// The settings of the installed Istio: the injector's values (`global.hub`, `global.tag`,
    /// `global.proxy.clusterDomain` in the `istio-sidecar-injector` ConfigMap), else hub and tag
    /// from istiod's image (`docker.io/istio/pilot:1.24.0`), else the defaults.
    pub fn from_store(store: &Store) -> Self {
        let mut settings = Self::default();
        let config_maps = ResourceKey::new("", "v1", "configmaps");
        let values = store
            .get(&config_maps, Some(&settings.istio_namespace), WEBHOOK)
            .ok()
            .and_then(|cm| {
                let text = cm.pointer("/data/values")?.as_str()?;
                serde_json::from_str::<Value>(text).ok()
            });
        if let Some(values) = values {
            let text = |pointer: &str| {
                values
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            if let (Some(hub), Some(tag)) = (text("/global/hub"), text("/global/tag")) {
                settings.hub = hub;
                settings.tag = tag;
                if let Some(domain) = text("/global/proxy/clusterDomain") {
                    settings.cluster_domain = domain;
                }
                return settings;
            }
        }
        let deployments = ResourceKey::new("apps", "v1", "deployments");
        let Ok(istiod) = store.get(&deployments, Some(&settings.istio_namespace), "istiod") else {
            return settings;
        };
        let image = istiod
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("image").and_then(Value::as_str))
            .find(|i| i.contains("/pilot"));
        if let Some((repo, tag)) = image.and_then(|i| i.rsplit_once(':'))
            && !tag.contains('/')
            && let Some(hub) = repo.strip_suffix("/pilot")
        {
            hub.clone_into(&mut settings.hub);
            tag.clone_into(&mut settings.tag);
        }
        settings
    }
}

/// The workload a pod belongs to, as Istio names it (`ISTIO_META_WORKLOAD_NAME`,
/// `ISTIO_META_OWNER`, the canonical name when the pod has no `app` label).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// `apps/v1`, `batch/v1`, `v1`.
    pub api_version: String,
    /// `Deployment`, `StatefulSet`, `Pod` …
    pub kind: String,
    /// The workload's name.
    pub name: String,
    /// The workload's namespace (empty in a manifest without one).
    pub namespace: String,
}

impl Owner {
    /// The owner of a manifest's object: the object itself.
    pub fn of_object(obj: &Value) -> Self {
        let text = |key: &str| {
            obj.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Self {
            api_version: text("apiVersion"),
            kind: text("kind"),
            name: meta::name(obj).unwrap_or("").to_owned(),
            namespace: meta::namespace(obj).unwrap_or("").to_owned(),
        }
    }

    /// The workload of a pod from its controller reference: a ReplicaSet made by a Deployment
    /// (its name is the Deployment's plus the pod-template-hash) counts as the Deployment, a
    /// pod without a controller is its own workload.
    pub fn of_pod(pod: &Value) -> Self {
        let namespace = meta::namespace(pod).unwrap_or("").to_owned();
        let controller = meta::metadata(pod)
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
        let Some(owner) = controller else {
            let name = meta::name(pod)
                .or_else(|| meta::meta_str(pod, "generateName"))
                .unwrap_or("")
                .trim_end_matches('-')
                .to_owned();
            return Self {
                api_version: "v1".to_owned(),
                kind: "Pod".to_owned(),
                name,
                namespace,
            };
        };
        let text = |key: &str| {
            owner
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (api_version, kind, name) = (text("apiVersion"), text("kind"), text("name"));
        let hash = meta::labels(pod)
            .find(|(k, _)| *k == "pod-template-hash")
            .map(|(_, v)| v);
        if kind == "ReplicaSet"
            && let Some(deployment) =
                hash.and_then(|h| name.strip_suffix(&format!("-{h}")).map(str::to_owned))
        {
            return Self {
                api_version: "apps/v1".to_owned(),
                kind: "Deployment".to_owned(),
                name: deployment,
                namespace,
            };
        }
        Self {
            api_version,
            kind,
            name,
            namespace,
        }
    }
}

/// Adds the sidecar to a pod or pod template (an object with `metadata` and `spec`), as
/// Istio's injection template does; injecting an injected template again gives the same result.
pub fn inject_template(template: &mut Value, owner: &Owner, settings: &Settings) {
    sidecar::inject(template, owner, settings);
}

/// Whether Istio is installed: its injector's webhook configuration exists.
pub fn installed(store: &Store) -> bool {
    let key = ResourceKey::new(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
    );
    store.get(&key, None, WEBHOOK).is_ok()
}

/// What the injector decides for a pod about to be created in the store's cluster.
pub fn decide(store: &Store, pod: &Value) -> Decision {
    let namespace = meta::namespace(pod).unwrap_or("default");
    let ns = store
        .get(&ResourceKey::new("", "v1", "namespaces"), None, namespace)
        .ok();
    policy::decide(namespace, ns.as_deref(), pod)
}

/// The API server's admission step for a pod being created (by a client or a controller):
/// injects the sidecar when Istio is installed and its policy selects the pod. Returns whether
/// it did.
pub fn admit(store: &Store, pod: &mut Value) -> bool {
    if !installed(store) || !decide(store, pod).injects() {
        return false;
    }
    let owner = Owner::of_pod(pod);
    inject_template(pod, &owner, &Settings::from_store(store));
    true
}

/// What [`inject_document`] did with one manifest document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentOutcome {
    /// The pod template (or every injectable item of a List) got the sidecar.
    Injected,
    /// A kind without a pod template: left as it was.
    Unchanged,
    /// The pod template opts out; the message says which object and why, in istioctl's words.
    Skipped(String),
}

/// Where a kind keeps its pod template (`None` for kinds without one).
fn template_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController"
        | "DeploymentConfig" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        "Pod" => Some(""),
        _ => None,
    }
}

/// `istioctl kube-inject` on one manifest document: injects the pod template of workload kinds
/// (Istio's manual injection has no namespace label to consult, so only the pod's own opt-out,
/// host network and system namespaces skip it) and leaves other kinds unchanged.
pub fn inject_document(doc: &mut Value, settings: &Settings) -> DocumentOutcome {
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if kind == "List" {
        let mut outcome = DocumentOutcome::Unchanged;
        if let Some(items) = doc.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                match inject_document(item, settings) {
                    DocumentOutcome::Unchanged => {}
                    other => outcome = other,
                }
            }
        }
        return outcome;
    }
    let Some(pointer) = template_pointer(&kind) else {
        return DocumentOutcome::Unchanged;
    };
    let owner = if kind == "Pod" {
        Owner::of_pod(doc)
    } else {
        Owner::of_object(doc)
    };
    let Some(template) = doc.pointer_mut(pointer) else {
        return DocumentOutcome::Unchanged;
    };
    if !template.is_object() {
        return DocumentOutcome::Unchanged;
    }
    let namespace = meta::namespace(template)
        .map(str::to_owned)
        .unwrap_or_else(|| owner.namespace.clone());
    let decision = policy::injector_requires(&namespace, template);
    if !decision.injects() {
        let name = if namespace.is_empty() {
            owner.name.clone()
        } else {
            format!("{namespace}/{}", owner.name)
        };
        let why = match decision {
            Decision::HostNetwork => "has host networking enabled".to_owned(),
            _ => "has sidecar injection disabled".to_owned(),
        };
        return DocumentOutcome::Skipped(format!(
            "===> Skipping injection because {kind} \"{name}\" {why}"
        ));
    }
    inject_template(template, &owner, settings);
    DocumentOutcome::Injected
}

#[cfg(test)]
mod tests;
