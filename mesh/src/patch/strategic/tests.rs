use super::*;
use serde_json::json;

fn patched(doc: Value, patch: Value) -> Value {
    let mut d = doc;
    apply(&mut d, &patch).expect("patch applies");
    d
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "finalizers": ["a"]},
        "spec": {"replicas": 1, "template": {"spec": {
            "containers": [
                {"name": "app", "image": "app:1",
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 9080, "protocol": "TCP"}],
                 "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
                {"name": "sidecar", "image": "proxy:1"}
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}]
        }}}
    })
}

#[test]
fn containers_merge_by_name_and_keep_unmentioned_fields() {
    let out = patched(
        deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}),
    );
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers.as_array().map(Vec::len),
        Some(2),
        "the sidecar is kept"
    );
    assert_eq!(containers[0]["image"], "app:2");
    assert_eq!(containers[0]["env"][1]["value"], "2", "env is untouched");
    assert_eq!(containers[1]["name"], "sidecar");
}

#[test]
fn env_volumes_mounts_and_ports_merge_by_their_keys() {
    let out = patched(
        deployment(),
        json!({"spec": {"template": {"spec": {
            "containers": [{"name": "app",
                "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                "ports": [{"containerPort": 15090, "name": "metrics"}],
                "volumeMounts": [{"mountPath": "/tmp", "readOnly": true}]}],
            "volumes": [{"name": "cfg", "configMap": {"name": "x"}}]
        }}}}),
    );
    let app = &out["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        app["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(app["ports"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        app["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp", "readOnly": true}])
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn service_ports_merge_by_port() {
    let svc =
        json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
    let out = patched(
        svc,
        json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}])
    );
}

#[test]
fn patch_delete_removes_list_elements_and_maps() {
    let out = patched(
        deployment(),
        json!({"spec": {"template": {"spec": {
            "containers": [{"name": "sidecar", "$patch": "delete"},
                           {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}],
            "volumes": [{"name": "tmp", "$patch": "delete"}]
        }}}, "metadata": {"finalizers": null}}),
    );
    let spec = &out["spec"]["template"]["spec"];
    assert_eq!(spec["containers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        spec["containers"][0]["env"],
        json!([{"name": "B", "value": "2"}])
    );
    assert_eq!(spec["volumes"], json!([]));
    assert!(
        out["metadata"].get("finalizers").is_none(),
        "null deletes a field"
    );

    let out = patched(
        deployment(),
        json!({"spec": {"template": {"$patch": "delete"}}}),
    );
    assert!(out["spec"].get("template").is_none());
}

#[test]
fn patch_replace_replaces_maps_and_lists() {
    let out = patched(
        deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "replace"}, {"name": "only", "image": "x"}
        ]}}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "only", "image": "x"}])
    );
    let out = patched(
        deployment(),
        json!({"spec": {"$patch": "replace", "replicas": 5}}),
    );
    assert_eq!(out["spec"], json!({"replicas": 5}));
}

#[test]
fn set_element_order_reorders_the_merged_list() {
    let out = patched(
        deployment(),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "new"}, {"name": "app"}],
            "containers": [{"name": "new", "image": "n:1"}]
        }}}}),
    );
    let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["sidecar", "new", "app"]);
}

#[test]
fn retain_keys_clears_fields_not_listed() {
    let doc =
        json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
    let out = patched(
        doc,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn primitive_lists_merge_as_sets_and_delete_from_primitive_list() {
    let out = patched(
        deployment(),
        json!({"metadata": {"finalizers": ["b", "a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    let out = patched(
        out,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
}

#[test]
fn lists_without_a_strategy_are_replaced() {
    let doc = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}}}});
    let out = patched(
        doc,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["z"])
    );
}

#[test]
fn kubectl_three_way_patch_changes_only_what_was_edited() {
    // What kubectl apply sends after a manifest edit: changed fields plus the new annotation.
    let live = deployment();
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
        "spec": {"replicas": 3, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"name": "app", "image": "app:3"}]
        }}}
    });
    let out = patched(live, patch);
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:3"
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][1]["image"],
        "proxy:1"
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a"]));
}

#[test]
fn bad_patches_are_errors_not_panics() {
    let mut d = deployment();
    let before = d.clone();
    let err = apply(
        &mut d,
        &json!({"spec": {"template": {"spec": {"containers": [{"image": "nameless"}]}}}}),
    )
    .expect_err("no merge key");
    assert!(
        err.to_string()
            .contains("does not contain declared merge key: name"),
        "{err}"
    );
    assert_eq!(d, before, "a failed patch changes nothing");
    assert!(apply(&mut d, &json!(["not", "a", "map"])).is_err());
    assert!(apply(&mut d, &json!({"spec": {"$patch": "explode"}})).is_err());
    assert!(apply(&mut d, &json!({"spec": {"$retainKeys": "nope"}})).is_err());
}
