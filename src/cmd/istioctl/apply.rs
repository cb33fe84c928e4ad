//! Putting manifest objects on the reference mesh and taking them off again, through the kube
//! crate: server-side apply (field manager `istio-operator`, as istioctl's installer uses), and
//! delete; the kind of each object is looked up in the API's discovery once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

/// The field manager of every apply.
const FIELD_MANAGER: &str = "istio-operator";

/// A manifest object's identity, for messages: `Deployment:istio-system:istiod`.
pub fn describe(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or("?");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}:{ns}:{name}"),
        None => format!("{kind}::{name}"),
    }
}

/// Applies and deletes objects of any kind, remembering what discovery said about each kind.
pub struct Applier {
    client: kube::Client,
    kinds: HashMap<(String, String), (ApiResource, ApiCapabilities)>,
}

impl Applier {
    /// An applier for `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            kinds: HashMap::new(),
        }
    }

    async fn api(&mut self, obj: &Value) -> anyhow::Result<(Api<DynamicObject>, String)> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let key = (api_version.clone(), kind.clone());
        if !self.kinds.contains_key(&key) {
            let (group, version) = match api_version.split_once('/') {
                Some((g, v)) => (g, v),
                None => ("", api_version.as_str()),
            };
            let gvk = GroupVersionKind::gvk(group, version, &kind);
            let found = kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .with_context(|| format!("the API server does not serve {kind} ({api_version})"))?;
            self.kinds.insert(key.clone(), found);
        }
        let (ar, caps) = &self.kinds[&key];
        let api = match caps.scope {
            Scope::Namespaced => {
                let ns = obj
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                Api::namespaced_with(self.client.clone(), ns, ar)
            }
            Scope::Cluster => Api::all_with(self.client.clone(), ar),
        };
        Ok((api, name))
    }

    /// Server-side applies `obj` (creating it when missing).
    pub async fn apply(&mut self, obj: &Value) -> anyhow::Result<()> {
        let (api, name) = self.api(obj).await?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&name, &params, &Patch::Apply(obj))
            .await
            .map_err(|e| anyhow::anyhow!(meshwork_checks::target::status::explain(&e)))
            .with_context(|| format!("failed to apply {}", describe(obj)))?;
        Ok(())
    }

    /// Deletes `obj`; `false` when it was not there.
    pub async fn delete(&mut self, obj: &Value) -> anyhow::Result<bool> {
        let (api, name) = self.api(obj).await?;
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
            Err(e) => Err(anyhow::anyhow!(meshwork_checks::target::status::explain(
                &e
            )))
            .with_context(|| format!("failed to delete {}", describe(obj))),
        }
    }

    /// Whether a Deployment has all its replicas updated and available.
    pub async fn deployment_ready(&self, namespace: &str, name: &str) -> anyhow::Result<bool> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let Some(d) = api
            .get_opt(name)
            .await
            .map_err(|e| anyhow::anyhow!(meshwork_checks::target::status::explain(&e)))?
        else {
            return Ok(false);
        };
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let generation = d.metadata.generation.unwrap_or(0);
        Ok(d.status.as_ref().is_some_and(|s| {
            s.observed_generation.unwrap_or(0) >= generation
                && s.updated_replicas.unwrap_or(0) >= want
                && s.available_replicas.unwrap_or(0) >= want
        }))
    }

    /// Why a Deployment's pods are not ready, in kubectl's words (`container failed to start:
    /// CrashLoopBackOff: …`), when a pod says.
    pub async fn why_not_ready(&self, namespace: &str, name: &str) -> Option<String> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let d = deployments.get_opt(name).await.ok()??;
        let labels = d.spec?.selector.match_labels?;
        let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let list = pods
            .list(&ListParams::default().labels(&selector.join(",")))
            .await
            .ok()?;
        for pod in list.items {
            for c in pod
                .status
                .and_then(|s| s.container_statuses)
                .unwrap_or_default()
            {
                if let Some(waiting) = c.state.and_then(|s| s.waiting) {
                    let reason = waiting.reason.unwrap_or_default();
                    let message = waiting.message.unwrap_or_default();
                    return Some(format!(
                        "container failed to start: {reason}{}{message}",
                        if message.is_empty() { "" } else { ": " }
                    ));
                }
                if !c.ready {
                    return Some(format!("container {} is not ready", c.name));
                }
            }
        }
        Some("no pod is available yet".to_owned())
    }
}

/// Waits until every Deployment is available or `deadline` passes, calling `tick` with the
/// Deployment waited for about ten times a second; returns the ones still not ready.
pub async fn wait_available(
    applier: &Applier,
    deployments: &[(&str, &str)],
    deadline: Instant,
    mut tick: impl FnMut(&str),
) -> anyhow::Result<Vec<(String, String)>> {
    let mut pending: Vec<(String, String)> = deployments
        .iter()
        .map(|(ns, n)| ((*ns).to_owned(), (*n).to_owned()))
        .collect();
    let mut last_poll: Option<Instant> = None;
    while !pending.is_empty() {
        if last_poll.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
            let mut still = Vec::new();
            for (ns, name) in pending {
                if !applier.deployment_ready(&ns, &name).await? {
                    still.push((ns, name));
                }
            }
            pending = still;
            last_poll = Some(Instant::now());
            if pending.is_empty() || Instant::now() >= deadline {
                break;
            }
        }
        if let Some((ns, name)) = pending.first() {
            tick(&format!("Deployment/{ns}/{name}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(pending)
}
