//! Recording v1 Events about objects, as the controllers and the kubelet of a real cluster do.

use serde_json::{Value, json};

use crate::meta;
use crate::store::{ResourceKey, Store};

/// The store key of v1 Events.
pub(crate) fn events() -> ResourceKey {
    ResourceKey::new("", "v1", "events")
}

/// Who reports an event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// The scheduler (`Scheduled`).
    Scheduler,
    /// The kubelet on the node (`Pulled`, `Created`, `Started`).
    Kubelet,
    /// The deployment controller (`ScalingReplicaSet`).
    Deployment,
    /// The replicaset controller (`SuccessfulCreate`, `SuccessfulDelete`).
    ReplicaSet,
    /// The statefulset controller.
    StatefulSet,
    /// The daemonset controller.
    DaemonSet,
}

impl Source {
    fn component(self) -> &'static str {
        match self {
            Self::Scheduler => "default-scheduler",
            Self::Kubelet => "kubelet",
            Self::Deployment => "deployment-controller",
            Self::ReplicaSet => "replicaset-controller",
            Self::StatefulSet => "statefulset-controller",
            Self::DaemonSet => "daemonset-controller",
        }
    }
}

/// Records a `Normal` event about `involved`; `field_path` names a container
/// (`spec.containers{web}`) when the event is about one.
///
/// Failing to record an event never fails the reconcile that reported it.
pub(crate) fn record(
    store: &Store,
    involved: &Value,
    field_path: Option<&str>,
    source: Source,
    reason: &str,
    message: &str,
) {
    record_typed(
        store, involved, field_path, source, reason, message, "Normal",
    );
}

/// Records a `Warning` event (something went wrong), otherwise as [`record`].
pub(crate) fn record_warning(
    store: &Store,
    involved: &Value,
    field_path: Option<&str>,
    source: Source,
    reason: &str,
    message: &str,
) {
    record_typed(
        store, involved, field_path, source, reason, message, "Warning",
    );
}

fn record_typed(
    store: &Store,
    involved: &Value,
    field_path: Option<&str>,
    source: Source,
    reason: &str,
    message: &str,
    kind: &str,
) {
    let name = meta::name(involved).unwrap_or_default();
    let namespace = meta::namespace(involved).unwrap_or("default");
    let suffix: String = meta::random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let now = meta::now_rfc3339();
    let mut involved_ref = json!({
        "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
        "name": name,
        "namespace": namespace,
        "uid": meta::meta_str(involved, "uid").unwrap_or_default(),
        "resourceVersion": meta::meta_str(involved, "resourceVersion").unwrap_or_default(),
    });
    if let Some(path) = field_path {
        involved_ref["fieldPath"] = json!(path);
    }
    let mut source_json = json!({"component": source.component()});
    if matches!(source, Source::Kubelet) {
        source_json["host"] = json!(crate::seed::NODE_NAME);
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{suffix}"), "namespace": namespace},
        "involvedObject": involved_ref,
        "reason": reason,
        "message": message,
        "source": source_json,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": kind,
        "eventTime": null,
        "reportingComponent": source.component(),
        "reportingInstance": if matches!(source, Source::Kubelet) { crate::seed::NODE_NAME } else { "" },
    });
    if let Err(e) = store.create(&events(), event) {
        tracing::debug!("could not record event {reason} for {name}: {e}");
    }
}
