use serde_json::{Value, json};

use super::*;

const BUILTIN: Schema = Schema {
    custom: false,
    has_status: true,
};
const CUSTOM: Schema = Schema {
    custom: true,
    has_status: false,
};

fn writer(manager: &str) -> Writer<'_> {
    Writer {
        manager,
        api_version: "apps/v1",
        subresource: None,
        time: "2026-11-26T06:00:00Z",
    }
}

fn deployment(replicas: i64, labels: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": image,
                    "ports": [{"containerPort": 80}],
                }]},
            },
        },
    })
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    entries(obj)
        .into_iter()
        .map(|e| (e.manager, e.operation))
        .collect()
}

#[test]
fn applied_fields_use_kubernetes_encoding() {
    let d = deployment(2, json!({"app": "web"}), "nginx");
    let set = FieldSet::of_applied(&d, BUILTIN, None);
    let v1 = set.to_fields_v1();
    assert_eq!(
        v1,
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80}": {
                            ".": {},
                            "f:containerPort": {},
                        }},
                    }}},
                },
            },
        })
    );
    assert_eq!(
        FieldSet::from_fields_v1(&v1),
        set,
        "decoding inverts encoding"
    );
}

#[test]
fn update_fields_mark_new_maps_and_only_changed_leaves() {
    let old = json!({"metadata": {"name": "x"}, "data": {"a": "1", "b": "2"}});
    let new = json!({"metadata": {"name": "x", "labels": {"k": "v"}},
        "data": {"a": "1", "b": "3"}, "finalizers": ["f"]});
    let set = FieldSet::of_update(Some(&old), &new, CUSTOM, None);
    assert_eq!(
        set.to_fields_v1(),
        json!({
            "f:data": {"f:b": {}},
            "f:finalizers": {},
            "f:metadata": {"f:labels": {".": {}, "f:k": {}}},
        })
    );
}

#[test]
fn set_lists_of_scalars_are_encoded_by_value() {
    let obj = json!({"metadata": {"finalizers": ["a/b"]}});
    let set = FieldSet::of_applied(&obj, BUILTIN, None);
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}}})
    );
}

#[test]
fn status_writes_own_only_status() {
    let old = json!({"spec": {"replicas": 1}});
    let new = json!({"spec": {"replicas": 1}, "status": {"replicas": 1}});
    let main = FieldSet::of_update(Some(&old), &new, BUILTIN, None);
    assert!(main.is_empty(), "main-resource writes ignore status");
    let status = FieldSet::of_update(Some(&old), &new, BUILTIN, Some("status"));
    assert_eq!(
        status.to_fields_v1(),
        json!({"f:status": {"f:replicas": {}}})
    );
}

#[test]
fn apply_creates_with_one_apply_entry() {
    let d = deployment(2, json!({"app": "web"}), "nginx");
    let obj = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    assert_eq!(managers(&obj), [("kubectl".into(), "Apply".into())]);
    assert_eq!(obj["spec"]["replicas"], 2);
    let entry = &obj["metadata"]["managedFields"][0];
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(entry["apiVersion"], "apps/v1");
}

#[test]
fn reapplying_without_a_field_removes_it() {
    let first = deployment(2, json!({"app": "web", "tier": "front"}), "nginx");
    let live = apply(None, &first, BUILTIN, &writer("kubectl"), false).expect("create");
    let second = deployment(2, json!({"app": "web"}), "nginx");
    let obj = apply(Some(&live), &second, BUILTIN, &writer("kubectl"), false).expect("apply");
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn fields_another_manager_owns_are_kept_when_no_longer_applied() {
    let first = deployment(2, json!({"app": "web", "tier": "front"}), "nginx");
    let mut live = apply(None, &first, BUILTIN, &writer("kubectl"), false).expect("create");
    // Someone else sets the same label value: shared ownership.
    let old = live.clone();
    live["metadata"]["labels"]["owner"] = json!("ops");
    record_update(Some(&old), &mut live, BUILTIN, &writer("kubectl-label"));
    let second = deployment(2, json!({"app": "web"}), "nginx");
    let obj = apply(Some(&live), &second, BUILTIN, &writer("kubectl"), false).expect("apply");
    assert_eq!(
        obj["metadata"]["labels"],
        json!({"app": "web", "owner": "ops"}),
        "tier goes (only kubectl owned it), owner stays (kubectl-label owns it)"
    );
}

#[test]
fn changing_a_field_another_manager_owns_conflicts_unless_forced() {
    let d = deployment(2, json!({"app": "web"}), "nginx");
    let mut live = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    let old = live.clone();
    live["spec"]["replicas"] = json!(5);
    record_update(
        Some(&old),
        &mut live,
        BUILTIN,
        &writer("kubectl-client-side-apply"),
    );
    let again = deployment(3, json!({"app": "web"}), "nginx");
    let err = apply(Some(&live), &again, BUILTIN, &writer("kubectl"), false)
        .expect_err("replicas is owned by kubectl-client-side-apply");
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    // The same value is not a conflict.
    let same = deployment(5, json!({"app": "web"}), "nginx");
    apply(Some(&live), &same, BUILTIN, &writer("kubectl"), false).expect("same value");
    let forced = apply(Some(&live), &again, BUILTIN, &writer("kubectl"), true).expect("forced");
    assert_eq!(forced["spec"]["replicas"], 3);
    assert_eq!(
        managers(&forced),
        [("kubectl".into(), "Apply".into())],
        "the other manager lost its only field"
    );
}

#[test]
fn keyed_list_items_merge_and_are_removed_by_key() {
    let mut d = deployment(1, json!({"app": "web"}), "nginx");
    d["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("list")
        .push(json!({"name": "sidecar", "image": "proxy"}));
    let live = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    let d2 = deployment(1, json!({"app": "web"}), "nginx:2");
    let obj = apply(Some(&live), &d2, BUILTIN, &writer("kubectl"), false).expect("apply");
    let containers = &obj["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(1));
    assert_eq!(containers[0]["image"], "nginx:2");
}

#[test]
fn conflicts_name_list_items_by_key() {
    let d = deployment(1, json!({"app": "web"}), "nginx");
    let mut live = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    let old = live.clone();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("edited");
    record_update(Some(&old), &mut live, BUILTIN, &writer("kubectl-edit"));
    let d2 = deployment(4, json!({"app": "web"}), "nginx:2");
    let mut other = live.clone();
    other["spec"]["replicas"] = json!(9);
    record_update(Some(&live), &mut other, BUILTIN, &writer("kubectl-scale"));
    let err = apply(Some(&other), &d2, BUILTIN, &writer("kubectl"), false).expect_err("conflicts");
    assert_eq!(
        err.message(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-scale\" using apps/v1:\n- .spec.replicas\nconflicts with \"kubectl-edit\" using apps/v1:\n- .spec.template.spec.containers[name=\"web\"].image"
    );
}

#[test]
fn custom_resources_replace_lists_whole() {
    let vs = |hosts: Value| {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "r"}, "spec": {"hosts": hosts, "gateways": ["g"]}})
    };
    let w = Writer {
        api_version: "networking.istio.io/v1",
        ..writer("kubectl")
    };
    let live = apply(None, &vs(json!(["a", "b"])), CUSTOM, &w, false).expect("create");
    let mut second = vs(json!(["c"]));
    second["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("gateways");
    let obj = apply(Some(&live), &second, CUSTOM, &w, false).expect("apply");
    assert_eq!(obj["spec"], json!({"hosts": ["c"]}));
    assert_eq!(
        FieldSet::from_fields_v1(&obj["metadata"]["managedFields"][0]["fieldsV1"]).to_fields_v1(),
        json!({"f:spec": {"f:hosts": {}}})
    );
}

#[test]
fn updates_take_fields_from_appliers_and_forget_removed_fields() {
    let d = deployment(2, json!({"app": "web", "tier": "x"}), "nginx");
    let live = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    let mut new = live.clone();
    new["spec"]["replicas"] = json!(4);
    new["metadata"]["labels"]
        .as_object_mut()
        .expect("labels")
        .remove("tier");
    record_update(Some(&live), &mut new, BUILTIN, &writer("kubectl-edit"));
    let list = entries(&new);
    let applier = list
        .iter()
        .find(|e| e.manager == "kubectl")
        .expect("kubectl");
    let spec_replicas = vec![Elem::Field("spec".into()), Elem::Field("replicas".into())];
    assert!(!applier.fields.contains(&spec_replicas));
    assert!(!applier.fields.owns_within(&[
        Elem::Field("metadata".into()),
        Elem::Field("labels".into()),
        Elem::Field("tier".into())
    ]));
    let editor = list
        .iter()
        .find(|e| e.manager == "kubectl-edit")
        .expect("edit");
    assert_eq!(editor.operation, "Update");
    assert_eq!(
        editor.fields.to_fields_v1(),
        json!({"f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn an_unchanged_reapply_changes_nothing_not_even_the_time() {
    let d = deployment(2, json!({"app": "web"}), "nginx");
    let live = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    let later = Writer {
        time: "2026-11-26T07:00:00Z",
        ..writer("kubectl")
    };
    let again = apply(Some(&live), &d, BUILTIN, &later, false).expect("reapply");
    assert_eq!(again, live);
    let changed = deployment(3, json!({"app": "web"}), "nginx");
    let after = apply(Some(&live), &changed, BUILTIN, &later, false).expect("apply");
    assert_eq!(
        after["metadata"]["managedFields"][0]["time"],
        "2026-11-26T07:00:00Z"
    );
}

#[test]
fn a_create_owns_optional_maps_and_lists_but_not_required_structs() {
    let d = deployment(1, json!({"app": "web"}), "nginx");
    let set = FieldSet::of_update(None, &d, BUILTIN, None);
    let v1 = set.to_fields_v1();
    assert!(v1["f:spec"].get(".").is_none(), "{v1}");
    assert!(v1["f:metadata"].get(".").is_none(), "{v1}");
    assert_eq!(v1["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    let containers = &v1["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(containers.get(".").is_none(), "{v1}");
    assert!(
        containers["k:{\"name\":\"web\"}"]["f:ports"]
            .get(".")
            .is_some(),
        "{v1}"
    );
    let vs = json!({"metadata": {"name": "r"}, "spec": {"hosts": ["a"]}});
    let v1 = FieldSet::of_update(None, &vs, CUSTOM, None).to_fields_v1();
    assert_eq!(v1, json!({"f:spec": {".": {}, "f:hosts": {}}}));
}

#[test]
fn controller_status_writes_are_status_subresource_updates() {
    let d = deployment(1, json!({"app": "web"}), "nginx");
    let live = apply(None, &d, BUILTIN, &writer("kubectl"), false).expect("create");
    let mut next = live.clone();
    next["status"] = json!({"replicas": 1, "readyReplicas": 1});
    record_status_write(&live, &mut next, "kube-controller-manager");
    let list = entries(&next);
    assert_eq!(list.len(), 2);
    let controller = &list[1];
    assert_eq!(controller.manager, "kube-controller-manager");
    assert_eq!(controller.operation, "Update");
    assert_eq!(controller.subresource.as_deref(), Some("status"));
    assert_eq!(controller.api_version, "apps/v1");
    assert_eq!(
        controller.fields.to_fields_v1(),
        json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})
    );
    assert_eq!(list[0], entries(&live)[0], "the applier keeps its fields");
}
