use serde_json::json;

use super::*;

fn kind(group: &str, version: &str, resource: &str) -> std::sync::Arc<Kind> {
    kinds::find(group, version, resource).expect("built-in kind")
}

fn run(
    k: &Kind,
    mut obj: Value,
    directive: Directive,
    source: Source<'_>,
) -> ApiResult<(Vec<String>, Value)> {
    let found = builtin(k, &obj).expect("typed kind");
    judge(k, &mut obj, found, directive, source).map(|w| (w, obj))
}

fn deployment(spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"free-form": "kept"}},
        "spec": spec,
    })
}

fn template(container: Value) -> Value {
    json!({
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [container]},
        },
    })
}

#[test]
fn a_valid_deployment_passes_unchanged() {
    let d = kind("apps", "v1", "deployments");
    let obj = deployment(template(json!({
        "name": "web", "image": "nginx", "imagePullPolicy": "Always",
        "ports": [{"containerPort": 80, "name": "http"}],
        "resources": {"limits": {"cpu": "100m", "memory": 1000}},
        "env": [{"name": "A", "value": "b"}, {"name": "N", "value": null}],
    })));
    let (warnings, after) = run(&d, obj.clone(), Directive::Strict, Source::Body).expect("valid");
    assert!(warnings.is_empty());
    assert_eq!(after, obj);
}

#[test]
fn unknown_fields_are_rejected_with_their_paths_when_strict() {
    let d = kind("apps", "v1", "deployments");
    let mut spec = template(json!({"name": "web", "image": "nginx", "imagePullPolicyy": "Always"}));
    spec["replica"] = json!(3);
    let err = run(&d, deployment(spec), Directive::Strict, Source::Body).expect_err("unknown");
    assert_eq!(err.code, 400);
    assert_eq!(
        err.message,
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
    );
}

#[test]
fn unknown_fields_warn_and_are_dropped_when_not_strict() {
    let d = kind("apps", "v1", "deployments");
    let mut spec = template(json!({"name": "web", "image": "nginx"}));
    spec["replica"] = json!(3);
    let (warnings, after) =
        run(&d, deployment(spec.clone()), Directive::Warn, Source::Body).expect("warn");
    assert_eq!(warnings, vec!["unknown field \"spec.replica\"".to_owned()]);
    assert!(after.pointer("/spec/replica").is_none());
    assert_eq!(after.pointer("/spec/replicas"), Some(&json!(2)));
    let (warnings, after) =
        run(&d, deployment(spec), Directive::Ignore, Source::Body).expect("ignore");
    assert!(warnings.is_empty());
    assert!(after.pointer("/spec/replica").is_none());
}

#[test]
fn wrong_types_name_the_go_struct_field_and_type() {
    let d = kind("apps", "v1", "deployments");
    let obj = deployment(template(
        json!({"name": "web", "image": "nginx", "ports": [{"containerPort": "http"}]}),
    ));
    let err = run(&d, obj, Directive::Ignore, Source::Body).expect_err("type");
    assert_eq!(err.code, 400);
    assert_eq!(
        err.message,
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
    );
    let obj = deployment(json!({"replicas": "3"}));
    let err = run(&d, obj, Directive::Strict, Source::Body).expect_err("type");
    assert!(
        err.message
            .ends_with("Go struct field DeploymentSpec.spec.replicas of type int32"),
        "{}",
        err.message
    );
    let obj = deployment(template(
        json!({"name": "web", "ports": {"containerPort": 80}}),
    ));
    let err = run(&d, obj, Directive::Strict, Source::Body).expect_err("type");
    assert!(err.message.ends_with("cannot unmarshal object into Go struct field Container.spec.template.spec.containers.ports of type []v1.ContainerPort"), "{}", err.message);
    let obj = deployment(json!({"template": "x"}));
    let err = run(&d, obj, Directive::Strict, Source::Body).expect_err("type");
    assert!(err.message.ends_with("cannot unmarshal string into Go struct field DeploymentSpec.spec.template of type v1.PodTemplateSpec"), "{}", err.message);
    let m = kind("", "v1", "configmaps");
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}});
    let err = run(&m, obj, Directive::Strict, Source::Body).expect_err("type");
    assert!(
        err.message.ends_with(
            "cannot unmarshal number into Go struct field ConfigMap.data of type string"
        ),
        "{}",
        err.message
    );
}

#[test]
fn free_form_maps_and_int_or_string_are_not_unknown_fields() {
    let s = kind("", "v1", "services");
    let obj = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "labels": {"any-key": "v"}},
        "spec": {"selector": {"whatever": "x"}, "ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}]},
    });
    let (warnings, after) = run(&s, obj.clone(), Directive::Strict, Source::Body).expect("valid");
    assert!(warnings.is_empty());
    assert_eq!(after, obj);
    let m = kind("", "v1", "configmaps");
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x.yaml": "a: b"}});
    assert!(run(&m, obj, Directive::Strict, Source::Body).is_ok());
}

#[test]
fn patches_quote_the_patch_and_apply_names_the_schema() {
    let d = kind("apps", "v1", "deployments");
    let patch =
        json!({"spec": {"replica": 3, "template": {"spec": {"x": [1, "a", true, null, 1000000]}}}});
    let mut spec = template(json!({"name": "web"}));
    spec["replica"] = json!(3);
    let err = run(
        &d,
        deployment(spec.clone()),
        Directive::Strict,
        Source::Patch(&patch),
    )
    .expect_err("patch");
    assert_eq!(err.code, 422);
    let body = err.body();
    assert_eq!(body["details"]["causes"][0]["field"], "patch");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "Invalid value: \"map[spec:map[replica:3 template:map[spec:map[x:[1 a true <nil> 1e+06]]]]]\": strict decoding error: unknown field \"spec.replica\""
    );
    let err = run(&d, deployment(spec), Directive::Strict, Source::Apply).expect_err("apply");
    assert_eq!(
        err.message,
        "failed to create typed patch object (apps/v1, Kind=Deployment): .spec.replica: field not declared in schema"
    );
}

#[test]
fn custom_resources_follow_their_schema() {
    let schema = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "hosts": {"type": "array", "items": {"type": "string"}},
                    "port": {"x-kubernetes-int-or-string": true},
                    "http": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        },
    });
    let obj = json!({
        "apiVersion": "example.com/v1", "kind": "Route", "metadata": {"name": "r", "labels": {"a": "b"}},
        "spec": {"hosts": ["a"], "port": "http", "http": [{"name": "x", "nmae": "typo"}],
                 "extra": {"anything": {"goes": 1}}, "labels": {"k": "v"}, "timeoutt": "1s"},
        "status": {"free": true},
    });
    let found = custom(&schema, &obj);
    let paths: Vec<String> = found.unknown.iter().map(|p| render(p)).collect();
    assert_eq!(
        paths,
        vec!["spec.http[0].nmae".to_owned(), "spec.timeoutt".to_owned()]
    );
    assert!(found.schema_errors.is_empty());
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Route", "metadata": {"name": "r", "nmae": "x"},
                     "spec": {"hosts": "a", "port": true}});
    let found = custom(&schema, &obj);
    let paths: Vec<String> = found.unknown.iter().map(|p| render(p)).collect();
    assert_eq!(paths, vec!["metadata.nmae".to_owned()]);
    let fields: Vec<(&str, &str)> = found
        .schema_errors
        .iter()
        .map(|m| (m.field.as_str(), m.found))
        .collect();
    assert_eq!(
        fields,
        vec![("spec.hosts", "string"), ("spec.port", "boolean")]
    );
}

#[test]
fn hostile_values_never_panic() {
    let d = kind("apps", "v1", "deployments");
    let mut deep = json!({"a": 1});
    for _ in 0..100 {
        deep = json!({"template": deep, "x": [{"y": 1}]});
    }
    for spec in [
        deep,
        json!([]),
        json!(-1),
        json!({"replicas": 1e300}),
        json!({"replicas": -99999999999i64}),
        json!({"template": {"spec": {"containers": [null, 1, "x"]}}}),
    ] {
        let _ = run(&d, deployment(spec), Directive::Strict, Source::Body);
    }
}
