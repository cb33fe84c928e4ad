//! Sidecar injection through the real kubectl: once Istio's injector webhook configuration
//! exists, pods created in a namespace labelled `istio-injection=enabled` get Istio's sidecar;
//! opt-outs, unlabelled namespaces, pods from before the label and a mesh without Istio do not.

use std::time::Duration;

use super::harness::{Env, kubectl_path, row};

const BOOKINFO: &str = "/work/shared/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml";

/// The injector's webhook configuration as Istio's install creates it (the selectors of the
/// `namespace.sidecar-injector.istio.io` webhook; its presence is what turns injection on).
const WEBHOOK: &str = r"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector
  labels:
    app: sidecar-injector
    istio.io/rev: default
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig:
    service: {name: istiod, namespace: istio-system, path: /inject, port: 443}
  rules:
  - operations: [CREATE]
    apiGroups: ['']
    apiVersions: [v1]
    resources: [pods]
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1beta1, v1]
  namespaceSelector:
    matchExpressions:
    - {key: istio-injection, operator: In, values: [enabled]}
  objectSelector:
    matchExpressions:
    - {key: sidecar.istio.io/inject, operator: NotIn, values: ['false']}
";

/// An httpbin Deployment; `labels` are extra pod-template labels.
fn httpbin(name: &str, namespace: &str, labels: &str) -> String {
    format!(
        r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, version: v1{labels}}}
    spec:
      containers:
      - name: {name}
        image: docker.io/mccutchen/go-httpbin:v2.15.0
        ports:
        - containerPort: 8080
"
    )
}

const CONTAINERS: &str =
    "jsonpath={range .items[*]}{.metadata.name}{\" \"}{.spec.containers[*].name}{\"\\n\"}{end}";

/// `pod-name container container…` lines for the pods matching `selector` in `namespace`,
/// polled until there are `count` pods that are not being deleted.
async fn pods_with_containers(
    env: &Env,
    namespace: &str,
    selector: &str,
    count: usize,
) -> Vec<Vec<String>> {
    let mut last = String::new();
    for _ in 0..150 {
        let out = env
            .kubectl(&[
                "get", "pods", "-n", namespace, "-l", selector, "-o", CONTAINERS,
            ])
            .await;
        // Pods of an old ReplicaSet may still be terminating after a restart.
        let terminating = env
            .kubectl(&[
                "get",
                "pods",
                "-n",
                namespace,
                "-l",
                selector,
                "-o",
                "jsonpath={.items[*].metadata.deletionTimestamp}",
            ])
            .await;
        let rows: Vec<Vec<String>> = out
            .stdout
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect();
        if rows.len() == count && terminating.stdout.trim().is_empty() {
            return rows;
        }
        last = out.stdout;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never saw {count} pods for {selector} in {namespace}; last:\n{last}");
}

async fn install_istio_webhook(env: &Env) {
    let file = env.write("webhook.yaml", WEBHOOK);
    env.ok(&["apply", "-f", file.to_str().unwrap()]).await;
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_in_a_labelled_namespace_runs_with_istios_sidecar() {
    if kubectl_path().is_none() || !std::path::Path::new(BOOKINFO).exists() {
        return;
    }
    let env = Env::start().await;
    install_istio_webhook(&env).await;
    let labelled = env
        .ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    assert_eq!(labelled.trim(), "namespace/default labeled");
    env.ok(&["apply", "-f", BOOKINFO]).await;

    let pods = pods_with_containers(&env, "default", "app", 6).await;
    for cells in &pods {
        assert_eq!(cells.len(), 3, "{cells:?}");
        assert_eq!(cells[2], "istio-proxy", "{cells:?}");
    }

    let list = json(&env.ok(&["get", "pods", "-o", "json"]).await);
    for pod in list["items"].as_array().unwrap() {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let app_container = pod["spec"]["containers"][0]["name"].as_str().unwrap();
        let labels = &pod["metadata"]["labels"];
        let annotations = &pod["metadata"]["annotations"];
        assert_eq!(labels["security.istio.io/tlsMode"], "istio", "{name}");
        assert_eq!(
            labels["service.istio.io/canonical-name"], labels["app"],
            "{name}"
        );
        assert_eq!(
            labels["service.istio.io/canonical-revision"], labels["version"],
            "{name}"
        );
        assert_eq!(
            annotations["kubectl.kubernetes.io/default-container"], app_container,
            "{name}"
        );
        assert_eq!(
            annotations["kubectl.kubernetes.io/default-logs-container"], app_container,
            "{name}"
        );
        let status = json(annotations["sidecar.istio.io/status"].as_str().unwrap());
        assert_eq!(status["containers"], serde_json::json!(["istio-proxy"]));
        assert_eq!(status["initContainers"], serde_json::json!(["istio-init"]));
        assert_eq!(status["revision"], "default");
        assert_eq!(pod["spec"]["initContainers"][0]["name"], "istio-init");
        assert_eq!(
            pod["spec"]["initContainers"][0]["args"][0], "istio-iptables",
            "{name}"
        );
        let proxy = &pod["spec"]["containers"][1];
        assert_eq!(proxy["image"], "docker.io/istio/proxyv2:1.24.0", "{name}");
        assert_eq!(proxy["args"][0], "proxy");
        assert_eq!(proxy["args"][1], "sidecar");
        assert_eq!(proxy["ports"][0]["name"], "http-envoy-prom");
        assert_eq!(proxy["readinessProbe"]["httpGet"]["port"], 15021);
        let volumes: Vec<&str> = pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        for v in [
            "istio-envoy",
            "istio-data",
            "istio-podinfo",
            "istio-token",
            "istiod-ca-cert",
        ] {
            assert!(volumes.contains(&v), "{name}: {volumes:?}");
        }
    }

    // kubectl shows two containers per pod, and the app's container runs and gets ready.
    let details = pods[0][0].clone();
    let ready_app = "jsonpath={.status.containerStatuses[?(@.name==\"details\")].ready}";
    let mut last = String::new();
    for _ in 0..150 {
        last = env.ok(&["get", "pod", &details, "-o", ready_app]).await;
        if last == "true" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last, "true", "the details container never became ready");
    // istio-init shows as completed, as after a kubelet ran it.
    let init = env
        .ok(&[
            "get",
            "pod",
            &details,
            "-o",
            "jsonpath={.status.initContainerStatuses[0].name} {.status.initContainerStatuses[0].state.terminated.reason}",
        ])
        .await;
    assert_eq!(init, "istio-init Completed");
    let table = env.ok(&["get", "pods"]).await;
    for cells in &pods {
        let r = row(&table, &cells[0]);
        assert!(r[1].ends_with("/2"), "{table}");
    }
    // The default-container annotation makes `kubectl logs` and `exec` pick the app container.
    let logs = env.kubectl(&["logs", &details]).await;
    assert_eq!(logs.code, 0, "{logs:?}");
    assert!(
        !logs.stderr.contains("container name must be specified"),
        "{logs:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_outs_unlabelled_namespaces_and_a_mesh_without_istio_get_no_sidecar() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    // Labelled, but Istio is not installed: nothing injects.
    let before = env.write("before.yaml", &httpbin("before", "default", ""));
    env.ok(&["apply", "-f", before.to_str().unwrap()]).await;
    let pods = pods_with_containers(&env, "default", "app=before", 1).await;
    assert_eq!(pods[0][1..], ["before"]);

    install_istio_webhook(&env).await;
    env.ok(&["create", "namespace", "plain"]).await;
    let manifests = [
        (
            "optout",
            httpbin("optout", "default", ", sidecar.istio.io/inject: \"false\""),
        ),
        ("plain", httpbin("plain", "plain", "")),
        ("injected", httpbin("injected", "default", "")),
    ];
    for (name, text) in &manifests {
        let file = env.write(&format!("{name}.yaml"), text);
        env.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    }
    let optout = pods_with_containers(&env, "default", "app=optout", 1).await;
    assert_eq!(
        optout[0][1..],
        ["optout"],
        "the opt-out label keeps one container"
    );
    let plain = pods_with_containers(&env, "plain", "app=plain", 1).await;
    assert_eq!(
        plain[0][1..],
        ["plain"],
        "an unlabelled namespace is not injected"
    );
    let injected = pods_with_containers(&env, "default", "app=injected", 1).await;
    assert_eq!(injected[0][1..], ["injected", "istio-proxy"]);

    // A pod from before Istio was installed keeps its single container until it is recreated.
    let still = pods_with_containers(&env, "default", "app=before", 1).await;
    assert_eq!(still[0][1..], ["before"]);
    env.ok(&["rollout", "restart", "deployment/before"]).await;
    let mut rows = Vec::new();
    for _ in 0..150 {
        rows = pods_with_containers(&env, "default", "app=before", 1).await;
        if rows[0][0] != still[0][0] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(rows[0][0], still[0][0], "the restart made a new pod");
    assert_eq!(rows[0][1..], ["before", "istio-proxy"]);

    // istio-injection=disabled turns it off again for new pods.
    env.ok(&[
        "label",
        "namespace",
        "default",
        "istio-injection=disabled",
        "--overwrite",
    ])
    .await;
    let late = env.write("late.yaml", &httpbin("late", "default", ""));
    env.ok(&["apply", "-f", late.to_str().unwrap()]).await;
    let late = pods_with_containers(&env, "default", "app=late", 1).await;
    assert_eq!(late[0][1..], ["late"]);
    env.stop().await;
}

/// The sidecar's readiness probe runs every 15 s; its 1 s startup probe is what makes an
/// injected pod ready soon after its proxy starts, as on a real kubelet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_probed_as_soon_as_the_startup_probe_succeeds() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    // Without the startup probe this pod would first be probed after an hour.
    let pod = r"
apiVersion: v1
kind: Pod
metadata:
  name: slow-readiness
spec:
  containers:
  - name: httpbin
    image: docker.io/mccutchen/go-httpbin:v2.15.0
    ports:
    - containerPort: 8080
    readinessProbe:
      httpGet: {path: /status/200, port: 8080}
      initialDelaySeconds: 3600
      periodSeconds: 3600
    startupProbe:
      httpGet: {path: /status/200, port: 8080}
      periodSeconds: 1
      failureThreshold: 600
";
    let file = env.write("slow.yaml", pod);
    env.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    let waited = env
        .ok(&[
            "wait",
            "--for=condition=ready",
            "pod/slow-readiness",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(waited.trim(), "pod/slow-readiness condition met");
    env.stop().await;
}

/// `istioctl kube-inject`'s output (the same injection over the manifest) is accepted by the
/// real kubectl with strict field validation and runs injected pods in a namespace without
/// the injection label, even without Istio's webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_injected_sample_applies_strictly_and_runs_injected_pods_anywhere() {
    use serde::Deserialize;
    const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";
    if kubectl_path().is_none() || !std::path::Path::new(HTTPBIN).exists() {
        return;
    }
    let settings = meshwork_mesh::inject::Settings::default();
    let mut out = String::new();
    let text = std::fs::read_to_string(HTTPBIN).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut value = serde_json::Value::deserialize(doc).unwrap();
        if value.is_null() {
            continue;
        }
        meshwork_mesh::inject::inject_document(&mut value, &settings);
        out.push_str(&serde_yaml::to_string(&value).unwrap());
        out.push_str("---\n");
    }
    let env = Env::start().await;
    let file = env.write("httpbin-injected.yaml", &out);
    let applied = env
        .kubectl(&["apply", "--validate=strict", "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(applied.code, 0, "{applied:?}");
    assert!(applied.stderr.is_empty(), "warnings: {}", applied.stderr);
    let pods = pods_with_containers(&env, "default", "app=httpbin", 1).await;
    assert_eq!(pods[0][1..], ["httpbin", "istio-proxy"]);
    env.stop().await;
}

/// With the reference install applied (not a stand-in webhook), `kubectl run` in a labelled
/// namespace gives an injected pod whose proxy image is istiod's version, while the gateways in
/// `istio-system` (not labelled) run alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_install_turns_injection_on_and_leaves_its_gateways_alone() {
    if kubectl_path().is_none() {
        return;
    }
    let install = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/istio");
    let env = Env::start().await;
    env.ok(&["apply", "-f", install.to_str().unwrap()]).await;
    let istiod_image = env
        .ok(&[
            "get",
            "deployment",
            "istiod",
            "-n",
            "istio-system",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    let tag = istiod_image.rsplit_once(':').unwrap().1.to_owned();
    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    env.ok(&[
        "run",
        "web",
        "--image=docker.io/mccutchen/go-httpbin:v2.15.0",
        "--port=8080",
    ])
    .await;
    let pods = pods_with_containers(&env, "default", "run=web", 1).await;
    assert_eq!(pods[0][1..], ["web", "istio-proxy"]);
    let image = env
        .ok(&[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.spec.containers[1].image}",
        ])
        .await;
    assert_eq!(image, format!("docker.io/istio/proxyv2:{tag}"));
    let gateway = pods_with_containers(&env, "istio-system", "istio=ingressgateway", 1).await;
    assert_eq!(
        gateway[0][1..],
        ["istio-proxy"],
        "the gateway is not injected"
    );
    env.stop().await;
}
