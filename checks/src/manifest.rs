//! Kubernetes manifests: parsing, finding an object, normalising and diffing.
//!
//! A manifest is a multi-document YAML file under `manifests/` (a lab's reference solution).
//! [`objects`] reads one from [`Content`] into JSON objects (the shape the Kubernetes API
//! speaks), [`find`] picks the object a check is about, and [`diff`] compares a reference
//! object with what the cluster holds after [`normalise`] has removed the fields a server fills
//! in, so a learner sees only real differences.

use crate::content::Content;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A manifest that cannot be used, naming the file and the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The file is not in the course's content.
    #[error("{path} does not exist in the course content")]
    Missing {
        /// The manifest path.
        path: String,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The manifest path.
        path: String,
    },
    /// A document is not valid YAML or not a Kubernetes object.
    #[error("{path}, document {document}: {message}")]
    Document {
        /// The manifest path.
        path: String,
        /// 1-based document number (counting `---` separated documents).
        document: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads the Kubernetes objects of the manifest at `path` in `content` (empty documents skipped).
pub fn objects(content: &Content, path: &str) -> Result<Vec<Value>, ManifestError> {
    let bytes = content.get(path).ok_or_else(|| ManifestError::Missing {
        path: path.to_string(),
    })?;
    let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::NotText {
        path: path.to_string(),
    })?;
    parse(text, path)
}

/// Parses multi-document YAML text into Kubernetes objects; `path` is only used in errors.
pub fn parse(text: &str, path: &str) -> Result<Vec<Value>, ManifestError> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        let err = |message: String| ManifestError::Document {
            path: path.to_string(),
            document,
            message,
        };
        let value = Value::deserialize(doc).map_err(|e| err(format!("not valid YAML: {e}")))?;
        match value {
            Value::Null => continue,
            Value::Object(_) => {
                check_identity(&value).map_err(err)?;
                out.push(value);
            }
            other => {
                return Err(err(format!(
                    "expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found {}",
                    type_name(&other)
                )));
            }
        }
    }
    Ok(out)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn check_identity(value: &Value) -> Result<(), String> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if text("apiVersion").is_none() {
        return Err("the object has no apiVersion (e.g. `apiVersion: v1`)".into());
    }
    if text("kind").is_none() {
        return Err("the object has no kind (e.g. `kind: Service`)".into());
    }
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if name.is_none() {
        let kind = text("kind").unwrap_or_default();
        return Err(format!("the {kind} has no metadata.name"));
    }
    Ok(())
}

/// The `metadata.name` of an object (empty when absent).
pub fn name(object: &Value) -> &str {
    metadata_str(object, "name").unwrap_or_default()
}

/// The `metadata.namespace` of an object, if set.
pub fn namespace(object: &Value) -> Option<&str> {
    metadata_str(object, "namespace")
}

fn metadata_str<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get(key)?.as_str()
}

/// Finds the object with this apiVersion, kind and name; an object without a namespace
/// matches any `namespace`.
pub fn find<'a>(
    objects: &'a [Value],
    api_version: &str,
    kind: &str,
    name_: &str,
    namespace_: Option<&str>,
) -> Option<&'a Value> {
    objects.iter().find(|o| {
        o.get("apiVersion").and_then(Value::as_str) == Some(api_version)
            && o.get("kind").and_then(Value::as_str) == Some(kind)
            && name(o) == name_
            && match (namespace(o), namespace_) {
                (Some(have), Some(want)) => have == want,
                _ => true,
            }
    })
}

/// Metadata fields the API server fills in; they are never part of what a learner wrote.
const SERVER_METADATA: [&str; 7] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
];

/// The annotation `kubectl apply` stores the previous manifest in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A copy of `object` without server-populated fields: top-level `status`, metadata `uid`,
/// `resourceVersion`, `generation`, `creationTimestamp`, `managedFields`, `selfLink`,
/// `deletionTimestamp`, the last-applied annotation, and an annotations map left empty.
pub fn normalise(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                meta.remove(key);
            }
            let empty = match meta.get_mut("annotations") {
                Some(Value::Object(annotations)) => {
                    annotations.remove(LAST_APPLIED);
                    annotations.is_empty()
                }
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                meta.remove("annotations");
            }
        }
    }
    object
}

/// Renders an object as YAML with every mapping's keys sorted.
pub fn render(object: &Value) -> String {
    serde_yaml::to_string(&sorted(object)).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&map[k.as_str()]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// A unified diff from the reference object (in `reference_file`) to the cluster's object,
/// both normalised and rendered as YAML; `None` when they do not differ.
pub fn diff(reference: &Value, reference_file: &str, actual: &Value) -> Option<String> {
    let old = render(&normalise(reference));
    let new = render(&normalise(actual));
    if old == new {
        return None;
    }
    let kind = actual
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object");
    let text = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("reference: {reference_file}"),
            &format!("cluster: {kind}/{}", name(actual)),
        )
        .to_string();
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Origin;
    use serde_json::json;

    const BOOKINFO: &str = "\
# reviews goes to v1 only
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
---
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: default
spec:
  host: reviews
";

    #[test]
    fn parses_documents_and_skips_empty_ones() {
        let objs = parse(BOOKINFO, "manifests/reviews.yaml").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0]["kind"], "VirtualService");
        assert_eq!(objs[1]["spec"]["host"], "reviews");
    }

    #[test]
    fn bad_yaml_names_file_and_document() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [unclosed\n";
        let err = parse(text, "manifests/x.yaml").unwrap_err().to_string();
        assert!(
            err.starts_with("manifests/x.yaml, document 2: not valid YAML"),
            "{err}"
        );
    }

    #[test]
    fn documents_must_be_named_kubernetes_objects() {
        let err = |t: &str| parse(t, "m.yaml").unwrap_err().to_string();
        assert_eq!(
            err("kind: Service\nmetadata: {name: a}\n"),
            "m.yaml, document 1: the object has no apiVersion (e.g. `apiVersion: v1`)"
        );
        assert!(err("apiVersion: v1\nmetadata: {name: a}\n").contains("has no kind"));
        assert_eq!(
            err("---\napiVersion: v1\nkind: Service\nmetadata: {}\n"),
            "m.yaml, document 1: the Service has no metadata.name"
        );
        assert!(err("- a\n- b\n").contains("found a list"));
    }

    #[test]
    fn objects_reads_from_content() {
        let content = Content::from_files(
            Origin::Embedded,
            [("manifests/reviews.yaml", BOOKINFO.as_bytes().to_vec())],
        );
        assert_eq!(
            objects(&content, "manifests/reviews.yaml").unwrap().len(),
            2
        );
        assert_eq!(
            objects(&content, "manifests/nope.yaml")
                .unwrap_err()
                .to_string(),
            "manifests/nope.yaml does not exist in the course content"
        );
    }

    #[test]
    fn find_matches_identity_and_namespace() {
        let objs = parse(BOOKINFO, "m.yaml").unwrap();
        let vs = find(
            &objs,
            "networking.istio.io/v1",
            "VirtualService",
            "reviews",
            Some("bookinfo"),
        );
        assert_eq!(vs.map(|o| &o["kind"]), Some(&json!("VirtualService")));
        assert!(
            find(
                &objs,
                "networking.istio.io/v1",
                "DestinationRule",
                "reviews",
                Some("other")
            )
            .is_none()
        );
        assert!(
            find(
                &objs,
                "networking.istio.io/v1beta1",
                "VirtualService",
                "reviews",
                None
            )
            .is_none()
        );
        assert!(
            find(
                &objs,
                "networking.istio.io/v1",
                "VirtualService",
                "ratings",
                None
            )
            .is_none()
        );
    }

    #[test]
    fn normalise_strips_server_fields_only() {
        let live = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "reviews", "namespace": "default", "uid": "1234",
                "resourceVersion": "99", "generation": 3, "creationTimestamp": "2025-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubectl"}], "selfLink": "/x",
                "ownerReferences": [{"kind": "Deployment", "name": "reviews"}],
                "labels": {"app": "reviews"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
            },
            "spec": {"ports": [{"port": 9080}]},
            "status": {"loadBalancer": {}}
        });
        assert_eq!(
            normalise(&live),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {
                    "name": "reviews", "namespace": "default",
                    "ownerReferences": [{"kind": "Deployment", "name": "reviews"}],
                    "labels": {"app": "reviews"}
                },
                "spec": {"ports": [{"port": 9080}]}
            })
        );
        let kept = normalise(&json!({"metadata": {"annotations": {"a": "b", LAST_APPLIED: "{}"}}}));
        assert_eq!(kept, json!({"metadata": {"annotations": {"a": "b"}}}));
    }

    #[test]
    fn render_sorts_keys() {
        let text = render(&json!({"spec": {"b": 1, "a": 2}, "kind": "X", "apiVersion": "v1"}));
        assert_eq!(text, "apiVersion: v1\nkind: X\nspec:\n  a: 2\n  b: 1\n");
    }

    #[test]
    fn diff_shows_only_real_differences() {
        let reference = parse(BOOKINFO, "m.yaml").unwrap().remove(0);
        let mut live = reference.clone();
        live["metadata"]["uid"] = json!("abc");
        live["metadata"]["resourceVersion"] = json!("12");
        live["status"] = json!({"validationMessages": []});
        assert_eq!(diff(&reference, "manifests/reviews.yaml", &live), None);

        live["spec"]["http"][0]["route"][0]["destination"]["subset"] = json!("v2");
        let d = diff(&reference, "manifests/reviews.yaml", &live).unwrap();
        let expected = [
            "--- reference: manifests/reviews.yaml",
            "+++ cluster: VirtualService/reviews",
            "@@ -9,4 +9,4 @@",
            "   - route:",
            "     - destination:",
            "         host: reviews",
            "-        subset: v1",
            "+        subset: v2",
        ];
        assert_eq!(d.lines().collect::<Vec<_>>(), expected, "{d}");
    }
}
