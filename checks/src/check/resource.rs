//! `resource` checks: an object of any kind exists / is absent / has field values.
//!
//! The kind is resolved through API discovery, so custom resources (Istio's VirtualService,
//! DestinationRule, …) work like built-in ones. On a mismatch the finding carries a unified
//! diff between the reference object from `manifests/` and the learner's object.

use super::{Context, Finding};
use crate::course::{Presence, ResourceCheck};
use crate::manifest;
use crate::target::status::explain;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

/// Evaluates a `resource` check.
pub async fn evaluate(ctx: &Context, check: &ResourceCheck) -> Finding {
    let client = match ctx.target.client() {
        Ok(c) => c.clone(),
        Err(e) => return Finding::error(e.to_string()),
    };
    let kind = &check.kind;
    let (resource, caps) = match resolve(&client, check, &ctx.target.describe()).await {
        Ok(found) => found,
        Err(Resolve::Unknown(text)) => {
            return match check.expect {
                Presence::Absent => {
                    Finding::pass(format!("{text}, so there is no {kind} {}", check.name))
                }
                Presence::Present => Finding::fail(text),
            };
        }
        Err(Resolve::Error(text)) => return Finding::error(text),
    };
    let (api, place) = match caps.scope {
        Scope::Namespaced => {
            let ns = check
                .namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_string());
            let place = format!(" in namespace {ns}");
            (
                Api::<DynamicObject>::namespaced_with(client, &ns, &resource),
                place,
            )
        }
        Scope::Cluster => (
            Api::<DynamicObject>::all_with(client, &resource),
            String::new(),
        ),
    };
    let what = format!("{kind} {}{place}", check.name);
    let object = match api.get_opt(&check.name).await {
        Ok(o) => o,
        Err(e) => return Finding::error(format!("cannot read {what}: {}", explain(&e))),
    };
    match (check.expect, object) {
        (Presence::Absent, None) => Finding::pass(format!("there is no {what}, as expected")),
        (Presence::Absent, Some(_)) => Finding::fail(format!(
            "{what} still exists; this step expects it to be deleted"
        )),
        (Presence::Present, None) => Finding::fail(format!("there is no {what}")),
        (Presence::Present, Some(object)) => {
            let object = match serde_json::to_value(&object) {
                Ok(v) => v,
                Err(e) => return Finding::error(format!("cannot read {what}: {e}")),
            };
            let mismatches = compare_fields(check, &object);
            if mismatches.is_empty() {
                let n = check.fields.len();
                return Finding::pass(match n {
                    0 => format!("{what} exists"),
                    1 => format!("{what} exists and its checked field has the expected value"),
                    _ => {
                        format!("{what} exists and its {n} checked fields have the expected values")
                    }
                });
            }
            let mut message = format!("{what} is not as expected: {}", mismatches.join("; "));
            let diff = match check.reference.as_deref() {
                None => None,
                Some(file) => match reference_diff(ctx, check, file, &object) {
                    Ok(diff) => diff,
                    Err(why) => {
                        message.push_str(&format!(" (no diff with the reference: {why})"));
                        None
                    }
                },
            };
            Finding::fail(message).with_diff(diff)
        }
    }
}

/// Why a kind could not be resolved.
enum Resolve {
    /// The API server does not serve this kind (a learner-facing message).
    Unknown(String),
    /// Discovery itself failed.
    Error(String),
}

async fn resolve(
    client: &kube::Client,
    check: &ResourceCheck,
    target: &str,
) -> Result<(ApiResource, ApiCapabilities), Resolve> {
    let gv: GroupVersion = check.api_version.parse().map_err(|_| {
        Resolve::Error(format!(
            "`{}` is not an apiVersion (write `v1` or `group/version`, e.g. networking.istio.io/v1)",
            check.api_version
        ))
    })?;
    let gvk = gv.with_kind(&check.kind);
    match kube::discovery::pinned_kind(client, &gvk).await {
        Ok(found) => Ok(found),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            Err(Resolve::Unknown(unknown_kind(check, &gvk.group)))
        }
        Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingKind(_))) => {
            Err(Resolve::Unknown(unknown_kind(check, &gvk.group)))
        }
        Err(e @ kube::Error::Api(_)) => Err(Resolve::Error(format!(
            "cannot look up kind {} in {}: {}",
            check.kind,
            check.api_version,
            explain(&e)
        ))),
        Err(e) => Err(Resolve::Error(format!(
            "cannot reach the {target}: {}",
            explain(&e)
        ))),
    }
}

fn unknown_kind(check: &ResourceCheck, group: &str) -> String {
    let question = if group.ends_with("istio.io") {
        "is Istio (its CRDs) installed?"
    } else if group == "gateway.networking.k8s.io" {
        "are the Kubernetes Gateway API CRDs installed?"
    } else if group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io") {
        "is the cluster's Kubernetes version recent enough?"
    } else {
        "is the CRD that defines it installed?"
    };
    format!(
        "the API server does not know kind {} in {} — {question}",
        check.kind, check.api_version
    )
}

/// Every expected field that the object does not have, as a sentence part.
fn compare_fields(check: &ResourceCheck, object: &Value) -> Vec<String> {
    check
        .fields
        .iter()
        .filter_map(|(path, expected)| match path.lookup(object) {
            None | Some(Value::Null) => Some(format!(
                "{} is not set, expected {}",
                path.text,
                show(expected)
            )),
            Some(actual) if same(expected, actual) => None,
            Some(actual) => Some(format!(
                "{} is {}, expected {}",
                path.text,
                show(actual),
                show(expected)
            )),
        })
        .collect()
}

/// JSON equality with numbers compared numerically (`9080` equals `9080.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64().zip(y.as_f64()).is_some_and(|(i, j)| i == j),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| same(i, j))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A value for a sentence: strings bare, everything else as compact JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "\"\"".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The diff between the reference object in `file` and the learner's object (`None` when they
/// are the same once normalised), or why the reference cannot be used.
fn reference_diff(
    ctx: &Context,
    check: &ResourceCheck,
    file: &str,
    object: &Value,
) -> Result<Option<String>, String> {
    let objects = manifest::objects(&ctx.content, file).map_err(|e| e.to_string())?;
    let namespace = manifest::namespace(object);
    let reference = manifest::find(
        &objects,
        &check.api_version,
        &check.kind,
        &check.name,
        namespace,
    )
    .ok_or_else(|| format!("{file} has no {} {}", check.kind, check.name))?;
    let mut reference = reference.clone();
    // A manifest usually leaves the namespace to `kubectl apply -n`; the cluster's object has one.
    if let (Some(ns), Some(meta)) = (
        namespace,
        reference.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        meta.entry("namespace")
            .or_insert_with(|| Value::String(ns.to_string()));
    }
    Ok(manifest::diff(&reference, file, object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::FieldPath;
    use serde_json::json;

    fn check_with(fields: &[(&str, Value)]) -> ResourceCheck {
        ResourceCheck {
            api_version: "networking.istio.io/v1".into(),
            kind: "VirtualService".into(),
            name: "reviews".into(),
            namespace: Some("default".into()),
            expect: Presence::Present,
            fields: fields
                .iter()
                .map(|(p, v)| (FieldPath::parse(p).unwrap(), v.clone()))
                .collect(),
            reference: None,
        }
    }

    #[test]
    fn numbers_compare_numerically() {
        assert!(same(&json!(9080), &json!(9080.0)));
        assert!(same(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(!same(&json!(9080), &json!("9080")));
        assert!(!same(&json!(1), &json!(2)));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(same(&json!(u64::MAX), &json!(u64::MAX)));
    }

    #[test]
    fn every_mismatch_is_reported() {
        let object = json!({"spec": {
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080.0}}}]}]
        }});
        let check = check_with(&[
            ("spec.http[0].route[0].destination.subset", json!("v1")),
            ("spec.http[0].route[0].destination.port.number", json!(9080)),
            ("spec.http[0].route[0].weight", json!(100)),
            ("spec.hosts", json!(["reviews"])),
            ("spec.gateways[0]", json!("bookinfo-gateway")),
        ]);
        assert_eq!(
            compare_fields(&check, &object),
            [
                "spec.http[0].route[0].destination.subset is v2, expected v1",
                "spec.http[0].route[0].weight is not set, expected 100",
                "spec.gateways[0] is not set, expected bookinfo-gateway",
            ]
        );
    }

    #[test]
    fn unknown_kinds_suggest_what_to_install() {
        let check = check_with(&[]);
        assert_eq!(
            unknown_kind(&check, "networking.istio.io"),
            "the API server does not know kind VirtualService in networking.istio.io/v1 — is Istio (its CRDs) installed?"
        );
        assert!(unknown_kind(&check, "gateway.networking.k8s.io").contains("Gateway API CRDs"));
        assert!(unknown_kind(&check, "apps").contains("Kubernetes version"));
        assert!(unknown_kind(&check, "example.com").contains("CRD that defines it"));
    }
}
