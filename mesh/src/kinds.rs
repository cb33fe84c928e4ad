//! The kinds the API server serves: the built-in kinds of a Kubernetes 1.32 API server (a
//! compile-time table) plus the kinds CustomResourceDefinitions add at run time.
//!
//! A [`Registry`] holds the current [`Catalog`] behind an `Arc`: a request takes a snapshot
//! (one lock and a reference-count increment) and works on it without further locking; a CRD
//! write rebuilds the catalog from the stored CRDs and swaps it in.
//!
//! Modules:
//! - [`crd`]: reading, validating and defaulting CustomResourceDefinitions.

pub mod crd;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use serde_json::Value;

use crate::store::{ResourceKey, Store};

/// One servable resource type (one group/version/resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kind {
    /// API group (empty for core).
    pub group: String,
    /// Version within the group.
    pub version: String,
    /// Plural resource name used in URLs.
    pub resource: String,
    /// The `kind` of its objects.
    pub kind: String,
    /// Singular lowercase name (`deployment`).
    pub singular: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names for kubectl (`po`, `svc`, …).
    pub short_names: Vec<String>,
    /// Categories (`all` makes it part of `kubectl get all`).
    pub categories: Vec<String>,
    /// Subresources advertised in discovery (`status`, `scale`, `log`, `exec`, `portforward`).
    pub subresources: Vec<String>,
    /// What a CustomResourceDefinition adds; `None` for built-in kinds.
    pub custom: Option<Custom>,
}

/// The parts of a kind that only custom resources have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Custom {
    /// Name of the CRD that defines the kind (`virtualservices.networking.istio.io`).
    pub crd: String,
    /// The version objects are stored as (every served version reads and writes them).
    pub storage_version: String,
    /// The `kind` of its lists.
    pub list_kind: String,
    /// The CRD's `additionalPrinterColumns` for this version (empty: NAME and AGE).
    pub columns: Vec<PrinterColumn>,
}

/// One of a CRD's `additionalPrinterColumns`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// OpenAPI format hint (may be empty).
    pub format: String,
    /// Human-readable description.
    pub description: String,
    /// 0 for the default output, higher for `-o wide`.
    pub priority: i64,
    /// Simple JSONPath into the object (`.spec.hosts`).
    pub json_path: String,
}

impl Kind {
    /// The store key of this kind's objects (for custom resources: the storage version's).
    pub fn key(&self) -> ResourceKey {
        match &self.custom {
            Some(c) => ResourceKey::new(&self.group, &c.storage_version, &self.resource),
            None => ResourceKey::new(&self.group, &self.version, &self.resource),
        }
    }

    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether a CustomResourceDefinition defines it.
    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }

    /// The `kind` of its lists (`PodList`).
    pub fn list_kind(&self) -> String {
        match &self.custom {
            Some(c) => c.list_kind.clone(),
            None => format!("{}List", self.kind),
        }
    }

    /// Whether it has a subresource of that name.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }

    /// Whether it has a `status` subresource (the main resource then ignores status writes).
    pub fn has_status(&self) -> bool {
        self.has_subresource("status")
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
    pub fn subresource_kind(&self, sub: &str) -> &str {
        match sub {
            "scale" => "Scale",
            "exec" => "PodExecOptions",
            "portforward" => "PodPortForwardOptions",
            "log" => "Pod",
            _ => &self.kind,
        }
    }

    /// An object as a client of this version sees it: stored custom resources carry the storage
    /// version's `apiVersion`, which is rewritten to the requested one (conversion strategy `None`).
    pub fn present(&self, obj: Arc<Value>) -> Arc<Value> {
        let want = self.api_version();
        if obj.get("apiVersion").and_then(Value::as_str) == Some(want.as_str()) {
            return obj;
        }
        let mut copy = (*obj).clone();
        if let Some(m) = copy.as_object_mut() {
            m.insert("apiVersion".into(), Value::String(want));
        }
        Arc::new(copy)
    }

    /// An object as it is stored: a custom resource written through any served version gets the
    /// storage version's `apiVersion`.
    pub fn to_storage(&self, obj: &mut Value) {
        if let Some(c) = &self.custom
            && let Some(m) = obj.as_object_mut()
        {
            m.insert(
                "apiVersion".into(),
                Value::String(format!("{}/{}", self.group, c.storage_version)),
            );
        }
    }
}

/// One entry of the compile-time table of built-in kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Builtin {
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
    /// Short names for kubectl.
    pub short_names: &'static [&'static str],
    /// Categories.
    pub categories: &'static [&'static str],
    /// Subresources.
    pub subresources: &'static [&'static str],
}

impl From<&Builtin> for Kind {
    fn from(b: &Builtin) -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            group: b.group.to_owned(),
            version: b.version.to_owned(),
            resource: b.resource.to_owned(),
            kind: b.kind.to_owned(),
            singular: b.kind.to_ascii_lowercase(),
            namespaced: b.namespaced,
            short_names: strings(b.short_names),
            categories: strings(b.categories),
            subresources: strings(b.subresources),
            custom: None,
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
) -> Builtin {
    Builtin {
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
pub const BUILTIN: &[Builtin] = &[
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

/// The kinds served at one moment: built-ins plus those of the established CRDs.
#[derive(Debug)]
pub struct Catalog {
    kinds: Vec<Arc<Kind>>,
    index: HashMap<(String, String, String), usize>,
    /// Groups (without core) with their versions, most preferred first, in discovery order.
    groups: Vec<(String, Vec<String>)>,
}

impl Catalog {
    /// The built-in kinds only.
    pub fn builtin() -> Self {
        Self::build(BUILTIN.iter().map(|b| Arc::new(Kind::from(b))).collect())
    }

    /// Built-ins plus the served versions of `crds` (stored CustomResourceDefinition objects).
    ///
    /// A CRD version whose group/version/resource is already taken (by a built-in or an older
    /// CRD) is left out, as a real server refuses names already in use.
    pub fn with_crds<'a>(crds: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut kinds: Vec<Arc<Kind>> = BUILTIN.iter().map(|b| Arc::new(Kind::from(b))).collect();
        let mut crds: Vec<&Value> = crds.into_iter().collect();
        crds.sort_by_key(|c| {
            crate::meta::meta_str(c, "creationTimestamp")
                .unwrap_or("")
                .to_owned()
        });
        for c in crds {
            for k in crd::served_kinds(c) {
                let taken = kinds.iter().any(|o| {
                    o.group == k.group && o.version == k.version && o.resource == k.resource
                });
                if !taken {
                    kinds.push(Arc::new(k));
                }
            }
        }
        Self::build(kinds)
    }

    fn build(kinds: Vec<Arc<Kind>>) -> Self {
        let index = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| ((k.group.clone(), k.version.clone(), k.resource.clone()), i))
            .collect();
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for k in kinds.iter().filter(|k| !k.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == k.group) {
                Some((_, versions)) => {
                    if !versions.contains(&k.version) {
                        versions.push(k.version.clone());
                    }
                }
                None => groups.push((k.group.clone(), vec![k.version.clone()])),
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|v| version_priority(v));
        }
        Self {
            kinds,
            index,
            groups,
        }
    }

    /// Finds a kind by group, version and plural resource name.
    pub fn find(&self, group: &str, version: &str, resource: &str) -> Option<Arc<Kind>> {
        self.index
            .get(&(group.to_owned(), version.to_owned(), resource.to_owned()))
            .map(|i| Arc::clone(&self.kinds[*i]))
    }

    /// Every served kind.
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<Kind>> {
        self.kinds.iter()
    }

    /// The groups served (core excluded: it lives under `/api`), each with its versions, most
    /// preferred first.
    pub fn groups(&self) -> &[(String, Vec<String>)] {
        &self.groups
    }

    /// The group/versions served, in discovery order (core `v1` not included).
    pub fn group_versions(&self) -> Vec<(&str, &str)> {
        self.groups
            .iter()
            .flat_map(|(g, vs)| vs.iter().map(move |v| (g.as_str(), v.as_str())))
            .collect()
    }

    /// The kinds of one group/version.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Kind>> + 'a {
        self.kinds
            .iter()
            .filter(move |k| k.group == group && k.version == version)
    }
}

/// How Kubernetes orders versions: GA before beta before alpha, higher numbers first, then
/// anything else alphabetically (`v1`, `v1beta2`, `v1beta1`, `v1alpha3`, `foo`).
fn version_priority(v: &str) -> (u8, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, String) {
    let parsed = v.strip_prefix('v').and_then(|rest| {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((0, major, 0));
        }
        for (rank, word) in [(1, "beta"), (2, "alpha")] {
            if let Some(n) = tail.strip_prefix(word) {
                let minor: u64 = n.parse().ok()?;
                return Some((rank, major, minor));
            }
        }
        None
    });
    match parsed {
        Some((rank, major, minor)) => (
            rank,
            std::cmp::Reverse(major),
            std::cmp::Reverse(minor),
            String::new(),
        ),
        None => (3, std::cmp::Reverse(0), std::cmp::Reverse(0), v.to_owned()),
    }
}

/// The store key of CustomResourceDefinitions.
pub fn crd_key() -> ResourceKey {
    ResourceKey::new("apiextensions.k8s.io", "v1", "customresourcedefinitions")
}

/// The live kind registry: cheap snapshots for requests, rebuilt when CRDs change.
#[derive(Clone, Debug)]
pub struct Registry {
    current: Arc<RwLock<Arc<Catalog>>>,
    /// Serialises rebuilds so the last swap always reflects the latest store state.
    rebuild: Arc<Mutex<()>>,
}

impl Registry {
    /// A registry of the built-ins and the CRDs in `store` (at start and after a restart).
    pub fn load(store: &Store) -> Self {
        let registry = Self {
            current: Arc::new(RwLock::new(Arc::new(Catalog::builtin()))),
            rebuild: Arc::new(Mutex::new(())),
        };
        registry.refresh(store);
        registry
    }

    /// The catalog as of now.
    pub fn snapshot(&self) -> Arc<Catalog> {
        let guard = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Rebuilds the catalog from the CRDs in `store` (call after every CRD write).
    pub fn refresh(&self, store: &Store) {
        let _serial = self
            .rebuild
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (crds, _) = store.list(&crd_key(), None);
        let catalog = Arc::new(Catalog::with_crds(crds.iter().map(AsRef::as_ref)));
        let mut guard = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = catalog;
    }
}

static BUILTIN_CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::builtin);

/// Finds a built-in kind by group, version and plural resource name.
pub fn find(group: &str, version: &str, resource: &str) -> Option<Arc<Kind>> {
    BUILTIN_CATALOG.find(group, version, resource)
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
        assert!(deploy.has_subresource("scale"));
        assert!(find("", "v1", "pods").is_some_and(|p| p.namespaced && p.categories == ["all"]));
        assert!(find("", "v1", "namespaces").is_some_and(|n| !n.namespaced));
        assert!(find("apps", "v2", "deployments").is_none());
        let catalog = Catalog::builtin();
        assert!(catalog.group_versions().contains(&("apps", "v1")));
        assert!(!catalog.group_versions().iter().any(|(g, _)| g.is_empty()));
    }

    #[test]
    fn versions_sort_as_kubernetes_prefers_them() {
        let mut v = vec![
            "v1alpha3",
            "foo",
            "v1beta1",
            "v2",
            "v1",
            "v1beta2",
            "v10alpha1",
        ];
        v.sort_by_key(|x| version_priority(x));
        assert_eq!(
            v,
            [
                "v2",
                "v1",
                "v1beta2",
                "v1beta1",
                "v10alpha1",
                "v1alpha3",
                "foo"
            ]
        );
    }
}
