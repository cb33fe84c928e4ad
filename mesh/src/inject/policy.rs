//! Whether a pod gets a sidecar: the selectors of the default revision's webhooks, then the
//! injector's own checks (host network, system namespaces, the pod's opt-in or opt-out).
//!
//! Istio's `istio-sidecar-injector` webhook configuration for the `default` revision sends a pod
//! to the injector when
//! - its namespace is labelled `istio-injection=enabled`, or
//! - its namespace has no `istio-injection` label and `istio.io/rev=default`, or
//! - its namespace has neither label and the pod is labelled `sidecar.istio.io/inject=true`
//!   (without `istio.io/rev`) or `istio.io/rev=default`,
//!
//! and in the first two cases only when the pod is not labelled `sidecar.istio.io/inject=false`.
//! A namespace labelled `istio-injection=disabled` (or anything but `enabled`) is never sent.
//! The injector then skips pods on the host network and in the system namespaces, and reads the
//! pod's `sidecar.istio.io/inject` label (or, without the label, the legacy annotation):
//! `y`, `yes`, `true`, `on` inject, any other value does not, no value follows the default
//! policy (`enabled`: inject).

use serde_json::Value;

/// The namespace label that turns injection on (`enabled`) or off (anything else).
pub const NAMESPACE_LABEL: &str = "istio-injection";
/// The revision label, on a namespace or a pod.
pub const REVISION_LABEL: &str = "istio.io/rev";
/// The pod label (and legacy annotation) that opts a pod in or out.
pub const POD_SELECTOR: &str = "sidecar.istio.io/inject";
/// The only revision the reference mesh installs.
pub const DEFAULT_REVISION: &str = "default";
/// Namespaces the injector never touches.
pub const IGNORED_NAMESPACES: [&str; 4] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
];

/// Why a pod is or is not injected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The sidecar is added.
    Inject,
    /// No webhook selects the pod (its namespace and labels do not ask for injection).
    NotSelected,
    /// The pod uses the host's network, where the iptables rules would change the node's routing.
    HostNetwork,
    /// The pod is in a namespace the injector always skips (`kube-system` …).
    SystemNamespace,
    /// The pod's `sidecar.istio.io/inject` label or annotation says no.
    OptedOut,
}

impl Decision {
    /// Whether the sidecar is added.
    pub fn injects(&self) -> bool {
        *self == Self::Inject
    }

    /// The reason in words, for messages (`istioctl kube-inject`, `analyze`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Inject => "sidecar injection is enabled",
            Self::NotSelected => {
                "its namespace is not labelled istio-injection=enabled and the pod does not ask for a sidecar"
            }
            Self::HostNetwork => "it uses the host network",
            Self::SystemNamespace => "it is in a Kubernetes system namespace",
            Self::OptedOut => "it has sidecar injection disabled",
        }
    }
}

fn string_map<'a>(obj: Option<&'a Value>, field: &str) -> impl Iterator<Item = (&'a str, &'a str)> {
    obj.and_then(|o| o.get("metadata"))
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
}

fn lookup<'a>(obj: Option<&'a Value>, field: &str, key: &str) -> Option<&'a str> {
    string_map(obj, field)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Whether one of the default revision's webhooks is called for a pod with these labels in a
/// namespace with these labels (the webhooks' `namespaceSelector` and `objectSelector`).
pub fn webhook_selects(namespace: Option<&Value>, pod: &Value) -> bool {
    let ns_injection = lookup(namespace, "labels", NAMESPACE_LABEL);
    let ns_revision = lookup(namespace, "labels", REVISION_LABEL);
    let pod_inject = lookup(Some(pod), "labels", POD_SELECTOR);
    let pod_revision = lookup(Some(pod), "labels", REVISION_LABEL);
    let not_opted_out = pod_inject != Some("false");
    match (ns_injection, ns_revision) {
        (Some(value), _) => value == "enabled" && not_opted_out,
        (None, Some(revision)) => revision == DEFAULT_REVISION && not_opted_out,
        (None, None) => match pod_revision {
            Some(revision) => revision == DEFAULT_REVISION && not_opted_out,
            None => pod_inject == Some("true"),
        },
    }
}

/// The injector's own checks on a pod it was sent (Istio's `injectRequired` with the default
/// `enabled` policy); `namespace` is the pod's namespace name.
pub fn injector_requires(namespace: &str, pod: &Value) -> Decision {
    let host_network = pod
        .pointer("/spec/hostNetwork")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if host_network {
        return Decision::HostNetwork;
    }
    if IGNORED_NAMESPACES.contains(&namespace) {
        return Decision::SystemNamespace;
    }
    // The label is the current API; with both, the label wins.
    let choice = lookup(Some(pod), "labels", POD_SELECTOR)
        .or_else(|| lookup(Some(pod), "annotations", POD_SELECTOR))
        .unwrap_or("");
    match choice.to_ascii_lowercase().as_str() {
        "" | "y" | "yes" | "true" | "on" => Decision::Inject,
        _ => Decision::OptedOut,
    }
}

/// The whole decision for a pod created through the API: the webhooks' selectors, then the
/// injector's checks. `namespace` is the pod's Namespace object (`None` when it is unknown).
pub fn decide(namespace_name: &str, namespace: Option<&Value>, pod: &Value) -> Decision {
    if !webhook_selects(namespace, pod) {
        return if lookup(Some(pod), "labels", POD_SELECTOR) == Some("false") {
            Decision::OptedOut
        } else {
            Decision::NotSelected
        };
    }
    injector_requires(namespace_name, pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ns(labels: Value) -> Value {
        json!({"metadata": {"name": "default", "labels": labels}})
    }

    fn pod(labels: Value, annotations: Value) -> Value {
        json!({"metadata": {"labels": labels, "annotations": annotations}, "spec": {}})
    }

    #[test]
    fn namespace_and_pod_labels_decide_as_istios_webhooks_do() {
        use Decision::*;
        let none = json!({});
        // (namespace labels, pod labels, pod annotations, decision)
        let table = [
            (
                json!({"istio-injection": "enabled"}),
                none.clone(),
                none.clone(),
                Inject,
            ),
            (
                json!({"istio-injection": "enabled"}),
                json!({"sidecar.istio.io/inject": "true"}),
                none.clone(),
                Inject,
            ),
            (
                json!({"istio-injection": "enabled"}),
                json!({"sidecar.istio.io/inject": "false"}),
                none.clone(),
                OptedOut,
            ),
            (
                json!({"istio-injection": "enabled"}),
                json!({"sidecar.istio.io/inject": "no"}),
                none.clone(),
                OptedOut,
            ),
            (
                json!({"istio-injection": "enabled"}),
                none.clone(),
                json!({"sidecar.istio.io/inject": "false"}),
                OptedOut,
            ),
            // The label wins over the annotation.
            (
                json!({"istio-injection": "enabled"}),
                json!({"sidecar.istio.io/inject": "true"}),
                json!({"sidecar.istio.io/inject": "false"}),
                Inject,
            ),
            (
                json!({"istio-injection": "disabled"}),
                none.clone(),
                none.clone(),
                NotSelected,
            ),
            (
                json!({"istio-injection": "disabled"}),
                json!({"sidecar.istio.io/inject": "true"}),
                none.clone(),
                NotSelected,
            ),
            (
                json!({"istio-injection": "enabled", "istio.io/rev": "canary"}),
                none.clone(),
                none.clone(),
                Inject,
            ),
            (
                json!({"istio.io/rev": "default"}),
                none.clone(),
                none.clone(),
                Inject,
            ),
            (
                json!({"istio.io/rev": "canary"}),
                none.clone(),
                none.clone(),
                NotSelected,
            ),
            (
                json!({"istio.io/rev": "default"}),
                json!({"sidecar.istio.io/inject": "false"}),
                none.clone(),
                OptedOut,
            ),
            (none.clone(), none.clone(), none.clone(), NotSelected),
            (
                none.clone(),
                json!({"sidecar.istio.io/inject": "true"}),
                none.clone(),
                Inject,
            ),
            // The annotation alone does not call the webhook.
            (
                none.clone(),
                none.clone(),
                json!({"sidecar.istio.io/inject": "true"}),
                NotSelected,
            ),
            (
                none.clone(),
                json!({"istio.io/rev": "default"}),
                none.clone(),
                Inject,
            ),
            (
                none.clone(),
                json!({"istio.io/rev": "default", "sidecar.istio.io/inject": "true"}),
                none.clone(),
                Inject,
            ),
        ];
        for (ns_labels, pod_labels, annotations, want) in table {
            let got = decide(
                "default",
                Some(&ns(ns_labels.clone())),
                &pod(pod_labels.clone(), annotations.clone()),
            );
            assert_eq!(
                got, want,
                "namespace {ns_labels} pod {pod_labels} {annotations}"
            );
        }
    }

    #[test]
    fn host_network_and_system_namespaces_are_never_injected() {
        let enabled = json!({"metadata": {"labels": {"istio-injection": "enabled"}}});
        let mut p = pod(json!({"sidecar.istio.io/inject": "true"}), json!({}));
        p["spec"]["hostNetwork"] = json!(true);
        assert_eq!(decide("default", Some(&enabled), &p), Decision::HostNetwork);
        let p = pod(json!({}), json!({}));
        assert_eq!(
            decide("kube-system", Some(&enabled), &p),
            Decision::SystemNamespace
        );
        assert_eq!(decide("default", None, &p), Decision::NotSelected);
    }
}
