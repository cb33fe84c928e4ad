//! The table of kinds the API server serves: group, version, resource, kind, scope, short names,
//! categories and subresources, as a Kubernetes 1.32 API server advertises them.

use crate::store::ResourceKey;

/// One servable resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// API group (empty for core).
    pub group: &'static str,
    /// Version within the group.
    pub version: &'static str,
    /// Plural resource name used in URLs.
    pub resource: &'static str,
    /// The `kind` of its objects.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names for kubectl (`po`, `svc`, …).
    pub short_names: &'static [&'static str],
    /// Categories (`all` makes it part of `kubectl get all`).
    pub categories: &'static [&'static str],
    /// Subresources advertised in discovery (`status`, `scale`, `log`, `exec`, `portforward`).
    pub subresources: &'static [&'static str],
}

impl Kind {
    /// The store key of this kind.
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(self.group, self.version, self.resource)
    }

    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Singular lowercase name (`deployment`).
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// Whether it has a `status` subresource (the main resource then ignores status writes).
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    /// The verbs a subresource accepts, as discovery lists them.
    pub fn subresource_verbs(sub: &str) -> &'static [&'static str] {
        match sub {
            "log" => &["get"],
            "exec" | "portforward" => &["create", "get"],
            _ => &["get", "patch", "update"],
        }
    }

    /// The kind of a subresource's objects.
    pub fn subresource_kind(&self, sub: &str) -> &'static str {
        match sub {
            "scale" => "Scale",
            "exec" => "PodExecOptions",
            "portforward" => "PodPortForwardOptions",
            "log" => "Pod",
            _ => self.kind,
        }
    }
}

/// The verbs every main resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

#[allow(clippy::too_many_arguments)] // one argument per discovery column keeps the table readable
const fn kind(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Kind {
    Kind {
        group,
        version,
        resource,
        kind,
        namespaced,
        short_names,
        categories,
        subresources,
    }
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];
const STATUS: &[&str] = &["status"];
const STATUS_SCALE: &[&str] = &["status", "scale"];

/// The built-in kinds of a Kubernetes 1.32 cluster that the reference mesh serves.
pub const BUILTIN: &[Kind] = &[
    kind(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        NONE,
        &["status", "finalize"],
    ),
    kind(
        "",
        "v1",
        "nodes",
        "Node",
        false,
        &["no"],
        NONE,
        &["status", "proxy"],
    ),
    kind(
        "",
        "v1",
        "pods",
        "Pod",
        true,
        &["po"],
        ALL,
        &["status", "log", "exec", "portforward"],
    ),
    kind("", "v1", "services", "Service", true, &["svc"], ALL, STATUS),
    kind(
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        NONE,
        NONE,
    ),
    kind(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        NONE,
        NONE,
    ),
    kind(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        NONE,
        NONE,
    ),
    kind("", "v1", "secrets", "Secret", true, NONE, NONE, NONE),
    kind("", "v1", "events", "Event", true, &["ev"], NONE, NONE),
    kind(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        NONE,
        STATUS,
    ),
    kind(
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        true,
        &["quota"],
        NONE,
        STATUS,
    ),
    kind(
        "",
        "v1",
        "limitranges",
        "LimitRange",
        true,
        &["limits"],
        NONE,
        NONE,
    ),
    kind(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        ALL,
        STATUS_SCALE,
    ),
    kind(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        ALL,
        STATUS_SCALE,
    ),
    kind(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        ALL,
        STATUS_SCALE,
    ),
    kind(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        &["ds"],
        ALL,
        STATUS,
    ),
    kind(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        true,
        NONE,
        NONE,
        NONE,
    ),
    kind("batch", "v1", "jobs", "Job", true, NONE, ALL, STATUS),
    kind(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        true,
        &["cj"],
        ALL,
        STATUS,
    ),
    kind(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        ALL,
        STATUS,
    ),
    kind(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        NONE,
        STATUS,
    ),
    kind(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        NONE,
        STATUS,
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        false,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
        NONE,
        NONE,
    ),
    kind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        NONE,
        STATUS,
    ),
    kind(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        NONE,
        NONE,
        NONE,
    ),
    kind(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
        &["sc"],
        NONE,
        NONE,
    ),
];

/// Finds a built-in kind by group, version and plural resource name.
pub fn find(group: &str, version: &str, resource: &str) -> Option<&'static Kind> {
    BUILTIN
        .iter()
        .find(|k| k.group == group && k.version == version && k.resource == resource)
}

/// The group/versions served, in discovery order (core `v1` is not included: it lives under `/api`).
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in BUILTIN.iter().filter(|k| !k.group.is_empty()) {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

/// The kinds of one group/version.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Kind> + 'a {
    BUILTIN
        .iter()
        .filter(move |k| k.group == group && k.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_unique_and_short_names_do_not_clash() {
        let mut seen = std::collections::HashSet::new();
        let mut shorts = std::collections::HashSet::new();
        for k in BUILTIN {
            assert!(
                seen.insert((k.group, k.resource)),
                "duplicate {}",
                k.resource
            );
            for s in k.short_names {
                assert!(shorts.insert(*s), "short name {s} used twice");
            }
        }
    }

    #[test]
    fn lookups_find_the_workshop_kinds() {
        let deploy = find("apps", "v1", "deployments").expect("deployments");
        assert_eq!(deploy.kind, "Deployment");
        assert!(deploy.subresources.contains(&"scale"));
        assert!(find("", "v1", "pods").is_some_and(|p| p.namespaced && p.categories == ["all"]));
        assert!(find("", "v1", "namespaces").is_some_and(|n| !n.namespaced));
        assert!(find("apps", "v2", "deployments").is_none());
        assert!(group_versions().contains(&("apps", "v1")));
        assert!(!group_versions().iter().any(|(g, _)| g.is_empty()));
    }
}
