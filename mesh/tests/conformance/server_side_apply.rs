//! Server-side apply with the real kubectl: `apply --server-side` creates and updates, fields the
//! manifest stops setting are removed, a field another manager owns is a conflict kubectl
//! explains, `--force-conflicts` takes it over, and `--show-managed-fields` shows who owns what.

use super::harness::{Env, kubectl_path};

fn deployment(replicas: u32, labels: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
{labels}spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
"
    )
}

const BOTH_LABELS: &str = "    app: web\n    tier: front\n";
const ONE_LABEL: &str = "    app: web\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_owns_fields_removes_dropped_ones_and_reports_conflicts() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let first = env.write("web.yaml", &deployment(2, BOTH_LABELS));
    let first = first.to_str().expect("utf8");

    let out = env.ok(&["apply", "--server-side", "-f", first]).await;
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");

    // Re-applying the same file changes nothing, not even the resourceVersion.
    let rv = || {
        env.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
    };
    let before = rv().await;
    let out = env.ok(&["apply", "--server-side", "-f", first]).await;
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    assert_eq!(rv().await, before, "an unchanged apply is a no-op");

    // A label removed from the manifest is removed from the object.
    let second = env.write("web2.yaml", &deployment(2, ONE_LABEL));
    let second = second.to_str().expect("utf8");
    env.ok(&["apply", "--server-side", "-f", second]).await;
    let labels = env
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.labels}"])
        .await;
    assert_eq!(labels, r#"{"app":"web"}"#);

    // Someone else scales it; applying a different replica count is a conflict kubectl explains.
    env.ok(&["scale", "deploy", "web", "--replicas=5"]).await;
    let third = env.write("web3.yaml", &deployment(3, ONE_LABEL));
    let third = third.to_str().expect("utf8");
    let out = env.kubectl(&["apply", "--server-side", "-f", third]).await;
    assert_ne!(out.code, 0, "{out:?}");
    let first_line = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first_line.starts_with("error: Apply failed with 1 conflict: conflict with \"")
            && first_line.ends_with(" using apps/v1: .spec.replicas"),
        "{out:?}"
    );
    assert!(out.stderr.contains("--force-conflicts"), "{out:?}");
    let replicas = || env.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas().await, "5", "a refused apply changes nothing");

    // Applying the value the other manager set is shared ownership, not a conflict.
    let same = env.write("web5.yaml", &deployment(5, ONE_LABEL));
    env.ok(&["apply", "--server-side", "-f", same.to_str().expect("utf8")])
        .await;

    // kubectl label is another manager (an Update); both show with --show-managed-fields.
    env.ok(&["label", "deploy", "web", "owner=ops"]).await;
    let yaml = env.ok(&["get", "deploy", "web", "-o", "yaml"]).await;
    assert!(!yaml.contains("managedFields"), "hidden by default: {yaml}");
    let yaml = env
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "yaml",
            "--show-managed-fields",
        ])
        .await;
    let doc: serde_json::Value = serde_yaml::from_str(&yaml).expect("yaml");
    let entries = doc["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields");
    let entry = |manager: &str| {
        entries
            .iter()
            .find(|e| e["manager"] == manager)
            .unwrap_or_else(|| panic!("no {manager} entry in {yaml}"))
    };
    let applier = entry("kubectl");
    assert_eq!(applier["operation"], "Apply");
    assert_eq!(applier["fieldsType"], "FieldsV1");
    assert_eq!(applier["apiVersion"], "apps/v1");
    let container = &applier["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert!(container.get(".").is_some(), "{yaml}");
    assert!(container.get("f:image").is_some(), "{yaml}");
    assert!(
        applier["fieldsV1"]["f:metadata"]["f:labels"]
            .get("f:tier")
            .is_none(),
        "tier is no longer applied: {yaml}"
    );
    let labeler = entry("kubectl-label");
    assert_eq!(labeler["operation"], "Update");
    assert_eq!(
        labeler["fieldsV1"],
        serde_json::json!({"f:metadata": {"f:labels": {"f:owner": {}}}})
    );

    // --force-conflicts takes the field over.
    let out = env
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", third])
        .await;
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    assert_eq!(replicas().await, "3");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_after_client_side_apply_conflicts_with_its_manager() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let csa = env.write("web.yaml", &deployment(1, ONE_LABEL));
    let out = env.ok(&["apply", "-f", csa.to_str().expect("utf8")]).await;
    assert_eq!(out.trim(), "deployment.apps/web created");
    // The create owns what kubectl sent and the defaults the server filled in.
    let yaml = env
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "yaml",
            "--show-managed-fields",
        ])
        .await;
    let doc: serde_json::Value = serde_yaml::from_str(&yaml).expect("yaml");
    let entry = &doc["metadata"]["managedFields"][0];
    assert_eq!(entry["manager"], "kubectl-client-side-apply", "{yaml}");
    assert_eq!(entry["operation"], "Update", "{yaml}");
    let fields = &entry["fieldsV1"];
    assert!(
        fields["f:metadata"]["f:annotations"]
            .get("f:kubectl.kubernetes.io/last-applied-configuration")
            .is_some(),
        "{yaml}"
    );
    assert!(
        fields["f:spec"].get("f:revisionHistoryLimit").is_some(),
        "{yaml}"
    );
    let ssa = env.write("web2.yaml", &deployment(2, ONE_LABEL));
    let ssa = ssa.to_str().expect("utf8");
    let out = env.kubectl(&["apply", "--server-side", "-f", ssa]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr.lines().next().unwrap_or_default(),
        "error: Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas",
        "{out:?}"
    );
    let out = env
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", ssa])
        .await;
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let replicas = env
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(replicas, "2");
    env.stop().await;
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: virtualservices.networking.istio.io
spec:
  group: networking.istio.io
  names:
    kind: VirtualService
    listKind: VirtualServiceList
    plural: virtualservices
    singular: virtualservice
    shortNames:
    - vs
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

fn virtual_service(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
{spec}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_of_a_custom_resource_replaces_lists_and_drops_fields() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let crd = env.write("crd.yaml", CRD);
    let out = env
        .ok(&["apply", "--server-side", "-f", crd.to_str().expect("utf8")])
        .await;
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io serverside-applied"
    );
    let first = env.write(
        "vs.yaml",
        &virtual_service("  hosts:\n  - reviews\n  gateways:\n  - bookinfo-gateway\n"),
    );
    let out = env
        .ok(&[
            "apply",
            "--server-side",
            "-f",
            first.to_str().expect("utf8"),
        ])
        .await;
    assert_eq!(
        out.trim(),
        "virtualservice.networking.istio.io/reviews serverside-applied"
    );
    let second = env.write(
        "vs2.yaml",
        &virtual_service("  hosts:\n  - ratings\n  - reviews\n"),
    );
    env.ok(&[
        "apply",
        "--server-side",
        "-f",
        second.to_str().expect("utf8"),
    ])
    .await;
    let spec = env
        .ok(&["get", "vs", "reviews", "-o", "jsonpath={.spec}"])
        .await;
    assert_eq!(spec, r#"{"hosts":["ratings","reviews"]}"#);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_without_field_manager_is_refused_as_a_real_server_refuses_it() {
    let env = Env::start().await;
    let client = env.kube_client().await;
    let body =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#;
    let req = http::Request::builder()
        .method("PATCH")
        .uri("/api/v1/namespaces/default/configmaps/c")
        .header("content-type", "application/apply-patch+yaml")
        .body(body.to_vec())
        .expect("request");
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 422);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let status: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    // Nothing was created.
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client, "default");
    assert!(api.get_opt("c").await.expect("get").is_none());
    env.stop().await;
}
