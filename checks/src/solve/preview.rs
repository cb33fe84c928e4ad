//! What applying a solution's manifests will change, shown before anything runs.
//!
//! For each object of each manifest, [`preview`] fetches the object the target holds under
//! the same kind, namespace and name through the target's kube client and says whether
//! `kubectl apply` will create it, change it (with a diff of the fields the manifest sets), or
//! leave it as it is. Only the fields the manifest writes are compared ([`changes`]), so what
//! the API server filled in (defaults, status, bookkeeping) never shows up as a change.

use crate::content::Content;
use crate::course::ManifestVerb;
use crate::manifest;
use crate::target::Target;
use crate::target::status::explain;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::Scope;
use serde_json::{Map, Value};

/// What applying will do to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It does not exist yet and will be created.
    Create,
    /// It exists and the manifest changes some of its fields.
    Update {
        /// A unified diff from the target's object to the manifest, over the fields the
        /// manifest sets.
        diff: String,
    },
    /// It exists with every field the manifest sets already as written.
    Unchanged,
    /// It exists and a reset will delete it.
    Delete,
    /// A reset would delete it, but it is not there.
    Absent,
    /// The target could not tell (unreachable, or the kind is not served yet).
    Unknown {
        /// Why, for the learner.
        reason: String,
    },
}

/// One object of a manifest and what applying it will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    /// Its kind (`VirtualService`).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The namespace it lands in (`None`: cluster-scoped, or not known).
    pub namespace: Option<String>,
    /// What applying does to it.
    pub change: Change,
}

impl ObjectChange {
    /// `VirtualService reviews in default`, `Namespace foo`.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {} in {ns}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The preview of one manifest: its objects, or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPreview {
    /// The manifest's path in the content (`manifests/…`).
    pub path: String,
    /// Its objects in file order, or what is wrong with the file.
    pub objects: Result<Vec<ObjectChange>, String>,
}

/// What applying (or, for a reset, deleting) each of `manifests` (paths in `content`) will
/// change on `target`.
///
/// Never fails as a whole: a manifest that cannot be read, or an object the target cannot be
/// asked about, says why in its own entry.
pub async fn preview(
    target: &dyn Target,
    content: &Content,
    manifests: &[String],
    verb: ManifestVerb,
) -> Vec<ManifestPreview> {
    let mut out = Vec::with_capacity(manifests.len());
    for path in manifests {
        let objects = match manifest::objects(content, path) {
            Err(e) => Err(e.to_string()),
            Ok(objects) => {
                let mut changes = Vec::with_capacity(objects.len());
                for object in &objects {
                    changes.push(object_change(target, object, verb).await);
                }
                Ok(changes)
            }
        };
        out.push(ManifestPreview {
            path: path.clone(),
            objects,
        });
    }
    out
}

async fn object_change(target: &dyn Target, object: &Value, verb: ManifestVerb) -> ObjectChange {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = manifest::name(object).to_string();
    let written_ns = manifest::namespace(object).map(str::to_string);
    let mut entry = ObjectChange {
        kind,
        name,
        namespace: written_ns.clone(),
        change: Change::Create,
    };
    let unknown = |reason: String| Change::Unknown { reason };
    let client = match target.client() {
        Ok(c) => c.clone(),
        Err(e) => {
            entry.change = unknown(e.to_string());
            return entry;
        }
    };
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Ok(gv) = api_version.parse::<GroupVersion>() else {
        entry.change = unknown(format!("`{api_version}` is not an apiVersion"));
        return entry;
    };
    let gvk = gv.with_kind(&entry.kind);
    let (resource, caps) = match kube::discovery::pinned_kind(&client, &gvk).await {
        Ok(found) => found,
        Err(kube::Error::Api(status)) if status.code == 404 => {
            entry.change = unknown(not_served(&entry.kind, api_version));
            return entry;
        }
        Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingKind(_))) => {
            entry.change = unknown(not_served(&entry.kind, api_version));
            return entry;
        }
        Err(e) => {
            entry.change = unknown(format!("cannot ask the target: {}", explain(&e)));
            return entry;
        }
    };
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = written_ns.unwrap_or_else(|| client.default_namespace().to_string());
            entry.namespace = Some(ns.clone());
            Api::namespaced_with(client, &ns, &resource)
        }
        Scope::Cluster => {
            entry.namespace = None;
            Api::all_with(client, &resource)
        }
    };
    entry.change = match api.get_opt(&entry.name).await {
        Ok(None) if verb == ManifestVerb::Delete => Change::Absent,
        Ok(Some(_)) if verb == ManifestVerb::Delete => Change::Delete,
        Ok(None) => Change::Create,
        Ok(Some(live)) => match serde_json::to_value(&live) {
            Ok(live) => match changes(object, &live, &entry.kind, &entry.name) {
                Some(diff) => Change::Update { diff },
                None => Change::Unchanged,
            },
            Err(e) => unknown(format!("cannot read the target's object: {e}")),
        },
        Err(e) => unknown(format!("cannot read it: {}", explain(&e))),
    };
    entry
}

fn not_served(kind: &str, api_version: &str) -> String {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    if group.ends_with("istio.io") {
        format!("the target has no kind {kind} yet: Istio is not installed, so applying fails")
    } else {
        format!(
            "the target has no kind {kind} in {api_version} yet (its CRD is not installed), \
             so applying fails"
        )
    }
}

/// What the manifest writes: everything but apiVersion, kind and status, and of the metadata
/// only the labels and annotations (name and namespace say which object it is).
fn written(object: &Value) -> Value {
    let mut out = Map::new();
    let Some(map) = object.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                let mut meta = Map::new();
                for part in ["labels", "annotations"] {
                    if let Some(v) = value.get(part).filter(|v| !v.is_null()) {
                        meta.insert(part.to_string(), v.clone());
                    }
                }
                if !meta.is_empty() {
                    out.insert(key.clone(), Value::Object(meta));
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// `live` cut down to the fields `wanted` sets: mappings keep only the manifest's keys (at every
/// depth), lists are compared item by item (extra items on the target are kept, so removing
/// them shows), anything else is the target's value.
fn shaped_like(wanted: &Value, live: &Value) -> Value {
    match (wanted, live) {
        (Value::Object(w), Value::Object(l)) => {
            let mut out = Map::new();
            for (key, wv) in w {
                if let Some(lv) = l.get(key) {
                    out.insert(key.clone(), shaped_like(wv, lv));
                }
            }
            Value::Object(out)
        }
        (Value::Array(w), Value::Array(l)) => Value::Array(
            l.iter()
                .enumerate()
                .map(|(i, lv)| {
                    w.get(i)
                        .map_or_else(|| lv.clone(), |wv| shaped_like(wv, lv))
                })
                .collect(),
        ),
        _ => live.clone(),
    }
}

/// How applying `manifest` changes the target's `live` object, as a unified diff (`-` what the
/// target has, `+` what the manifest writes) over the fields the manifest sets; `None` when
/// those already match.
pub fn changes(manifest: &Value, live: &Value, kind: &str, name: &str) -> Option<String> {
    let wanted = written(manifest);
    let have = shaped_like(&wanted, &written(live));
    let old = manifest::render(&have);
    let new = manifest::render(&wanted);
    if old == new {
        return None;
    }
    let text = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("target now: {kind}/{name}"),
            &format!("after apply: {kind}/{name}"),
        )
        .to_string();
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Origin;
    use crate::target::{TargetError, TargetKind};
    use serde_json::json;

    fn reviews_v1() -> Value {
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "reviews"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]},
        })
    }

    #[test]
    fn fields_the_server_filled_in_are_not_changes() {
        let mut live = reviews_v1();
        live["metadata"]["uid"] = json!("1234");
        live["metadata"]["resourceVersion"] = json!("99");
        live["metadata"]["namespace"] = json!("default");
        live["spec"]["http"][0]["timeout"] = json!(null);
        live["spec"]["gateways"] = json!(["mesh"]);
        live["status"] = json!({"observedGeneration": 1});
        assert_eq!(
            changes(&reviews_v1(), &live, "VirtualService", "reviews"),
            None
        );
    }

    #[test]
    fn a_changed_subset_shows_what_the_target_has_and_what_the_manifest_writes() {
        let mut live = reviews_v1();
        live["spec"]["http"][0]["route"][0]["destination"]["subset"] = json!("v3");
        let diff = changes(&reviews_v1(), &live, "VirtualService", "reviews").unwrap();
        assert!(diff.contains("-        subset: v3"), "{diff}");
        assert!(diff.contains("+        subset: v1"), "{diff}");
        assert!(
            diff.contains("target now: VirtualService/reviews"),
            "{diff}"
        );
    }

    #[test]
    fn a_route_the_manifest_drops_and_a_label_it_adds_are_changes() {
        let mut live = reviews_v1();
        let jason = json!({"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [{"destination": {"host": "reviews", "subset": "v2"}}]});
        live["spec"]["http"]
            .as_array_mut()
            .unwrap()
            .insert(0, jason);
        let mut manifest = reviews_v1();
        manifest["metadata"]["labels"] = json!({"lab": "05"});
        let diff = changes(&manifest, &live, "VirtualService", "reviews").unwrap();
        assert!(diff.contains("+  labels:"), "{diff}");
        assert!(diff.contains("-        subset: v2"), "{diff}");
    }

    struct Offline(TargetError);

    impl Target for Offline {
        fn kind(&self) -> TargetKind {
            TargetKind::Cluster
        }
        fn describe(&self) -> String {
            "offline".into()
        }
        fn client(&self) -> Result<&kube::Client, &TargetError> {
            Err(&self.0)
        }
    }

    #[tokio::test]
    async fn every_object_is_listed_even_when_the_target_cannot_be_asked() {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
                    apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
                    metadata: {name: reviews, namespace: shop}\nspec: {host: reviews}\n";
        let content = Content::from_files(
            Origin::Embedded,
            [
                ("manifests/a.yaml", yaml.as_bytes().to_vec()),
                ("manifests/bad.yaml", b"kind: [".to_vec()),
            ],
        );
        let target = Offline(TargetError::NotConfigured {
            searched: "~/.kube/config".into(),
        });
        let paths = ["manifests/a.yaml".to_string(), "manifests/bad.yaml".into()];
        let out = preview(&target, &content, &paths, ManifestVerb::Apply).await;
        let objects = out[0].objects.as_ref().unwrap();
        let labels: Vec<String> = objects.iter().map(ObjectChange::label).collect();
        assert_eq!(
            labels,
            ["Namespace shop", "DestinationRule reviews in shop"]
        );
        assert!(matches!(objects[0].change, Change::Unknown { .. }));
        assert_eq!(
            not_served("DestinationRule", "networking.istio.io/v1"),
            "the target has no kind DestinationRule yet: Istio is not installed, so applying fails"
        );
        let bad = out[1].objects.as_ref().unwrap_err();
        assert!(bad.contains("manifests/bad.yaml"), "{bad}");
    }
}
