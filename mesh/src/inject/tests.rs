use serde_json::{Value, json};

use super::*;
use crate::store::Store;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "reviews-v2", "namespace": "default", "labels": {"app": "reviews"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "reviews", "version": "v2"}},
            "template": {
                "metadata": {"labels": {"app": "reviews", "version": "v2"}},
                "spec": {
                    "serviceAccountName": "bookinfo-reviews",
                    "containers": [{
                        "name": "reviews",
                        "image": "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3",
                        "ports": [{"containerPort": 9080}],
                    }],
                },
            },
        },
    })
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == json!(name))
}

#[test]
fn a_deployments_template_gets_istios_sidecar() {
    let mut doc = deployment();
    assert_eq!(
        inject_document(&mut doc, &Settings::default()),
        DocumentOutcome::Injected
    );
    let t = &doc["spec"]["template"];
    assert_eq!(names(&t["spec"]["containers"]), ["reviews", "istio-proxy"]);
    assert_eq!(names(&t["spec"]["initContainers"]), ["istio-init"]);
    assert_eq!(
        names(&t["spec"]["volumes"]),
        [
            "workload-socket",
            "credential-socket",
            "workload-certs",
            "istio-envoy",
            "istio-data",
            "istio-podinfo",
            "istio-token",
            "istiod-ca-cert"
        ]
    );
    let proxy = &t["spec"]["containers"][1];
    assert_eq!(proxy["image"], json!("docker.io/istio/proxyv2:1.24.0"));
    assert_eq!(
        proxy["args"].as_array().unwrap()[..5],
        [
            json!("proxy"),
            json!("sidecar"),
            json!("--domain"),
            json!("$(POD_NAMESPACE).svc.cluster.local"),
            json!("--proxyLogLevel=warning")
        ]
    );
    assert_eq!(
        proxy["ports"],
        json!([{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}])
    );
    assert_eq!(
        proxy["readinessProbe"]["httpGet"]["path"],
        json!("/healthz/ready")
    );
    assert_eq!(proxy["readinessProbe"]["httpGet"]["port"], json!(15021));
    assert_eq!(proxy["securityContext"]["runAsUser"], json!(1337));
    assert_eq!(
        env(proxy, "POD_NAMESPACE").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        json!("metadata.namespace")
    );
    assert_eq!(
        env(proxy, "ISTIO_META_WORKLOAD_NAME").unwrap()["value"],
        json!("reviews-v2")
    );
    assert_eq!(
        env(proxy, "ISTIO_META_OWNER").unwrap()["value"],
        json!("kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v2")
    );
    assert_eq!(
        env(proxy, "ISTIO_META_POD_PORTS").unwrap()["value"],
        json!("[\n    {\"containerPort\":9080,\"protocol\":\"TCP\"}\n]")
    );
    assert_eq!(
        env(proxy, "ISTIO_META_APP_CONTAINERS").unwrap()["value"],
        json!("reviews")
    );
    let init = &t["spec"]["initContainers"][0];
    assert_eq!(init["args"][0], json!("istio-iptables"));
    assert!(
        init["args"]
            .as_array()
            .unwrap()
            .contains(&json!("15090,15021,15020"))
    );

    let labels = &t["metadata"]["labels"];
    assert_eq!(labels["security.istio.io/tlsMode"], json!("istio"));
    assert_eq!(labels["service.istio.io/canonical-name"], json!("reviews"));
    assert_eq!(labels["service.istio.io/canonical-revision"], json!("v2"));
    let annotations = &t["metadata"]["annotations"];
    assert_eq!(
        annotations["kubectl.kubernetes.io/default-container"],
        json!("reviews")
    );
    assert_eq!(
        annotations["kubectl.kubernetes.io/default-logs-container"],
        json!("reviews")
    );
    let status: Value =
        serde_json::from_str(annotations["sidecar.istio.io/status"].as_str().unwrap()).unwrap();
    assert_eq!(status["containers"], json!(["istio-proxy"]));
    assert_eq!(status["initContainers"], json!(["istio-init"]));
    assert_eq!(status["revision"], json!("default"));
    assert_eq!(status["volumes"].as_array().unwrap().len(), 8);
    // The Deployment's own metadata is not touched.
    assert_eq!(doc["metadata"]["labels"], json!({"app": "reviews"}));
}

#[test]
fn injecting_twice_gives_the_same_template() {
    let mut once = deployment();
    inject_document(&mut once, &Settings::default());
    let mut twice = once.clone();
    inject_document(&mut twice, &Settings::default());
    assert_eq!(once, twice);
}

#[test]
fn opted_out_and_host_network_templates_are_left_alone_with_a_reason() {
    let mut doc = deployment();
    doc["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = json!("false");
    let before = doc.clone();
    let outcome = inject_document(&mut doc, &Settings::default());
    assert_eq!(
        outcome,
        DocumentOutcome::Skipped(
            "===> Skipping injection because Deployment \"default/reviews-v2\" has sidecar injection disabled"
                .into()
        )
    );
    assert_eq!(doc, before);

    let mut doc = deployment();
    doc["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
    let DocumentOutcome::Skipped(msg) = inject_document(&mut doc, &Settings::default()) else {
        panic!("host network pods are not injected");
    };
    assert!(msg.ends_with("has host networking enabled"), "{msg}");
}

#[test]
fn kinds_without_a_pod_template_pass_through_and_lists_and_cronjobs_are_walked() {
    let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews"},
                         "spec": {"ports": [{"port": 9080}]}});
    let before = svc.clone();
    assert_eq!(
        inject_document(&mut svc, &Settings::default()),
        DocumentOutcome::Unchanged
    );
    assert_eq!(svc, before);

    let mut list =
        json!({"apiVersion": "v1", "kind": "List", "items": [before.clone(), deployment()]});
    assert_eq!(
        inject_document(&mut list, &Settings::default()),
        DocumentOutcome::Injected
    );
    assert_eq!(list["items"][0], before);
    assert_eq!(
        names(&list["items"][1]["spec"]["template"]["spec"]["containers"]),
        ["reviews", "istio-proxy"]
    );

    let mut cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "curlimages/curl"}]}}}}}});
    inject_document(&mut cron, &Settings::default());
    let t = &cron["spec"]["jobTemplate"]["spec"]["template"];
    assert_eq!(names(&t["spec"]["containers"]), ["c", "istio-proxy"]);
    // No app label: the canonical name is the workload's.
    assert_eq!(
        t["metadata"]["labels"]["service.istio.io/canonical-name"],
        json!("tick")
    );
    assert_eq!(
        t["metadata"]["labels"]["service.istio.io/canonical-revision"],
        json!("latest")
    );
}

#[test]
fn a_container_named_istio_proxy_customizes_the_injected_one() {
    let mut doc = deployment();
    doc["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "istio-proxy", "image": "example.com/my-proxy:1"}));
    inject_document(&mut doc, &Settings::default());
    let containers = &doc["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["reviews", "istio-proxy"]);
    assert_eq!(containers[1]["image"], json!("example.com/my-proxy:1"));
    assert_eq!(containers[1]["args"][0], json!("proxy"));
    // The app containers listed for the proxy do not include the proxy itself.
    assert_eq!(
        env(&containers[1], "ISTIO_META_APP_CONTAINERS").unwrap()["value"],
        json!("reviews")
    );
}

#[test]
fn annotations_change_the_template_as_istio_documents() {
    let mut doc = deployment();
    doc["spec"]["template"]["metadata"]["annotations"] = json!({
        "sidecar.istio.io/logLevel": "debug",
        "sidecar.istio.io/proxyCPU": "50m",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "3306",
        "kubectl.kubernetes.io/default-container": "mine",
    });
    inject_document(&mut doc, &Settings::default());
    let t = &doc["spec"]["template"];
    let proxy = &t["spec"]["containers"][1];
    assert!(
        proxy["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--proxyLogLevel=debug"))
    );
    assert_eq!(proxy["resources"], json!({"requests": {"cpu": "50m"}}));
    let args = t["spec"]["initContainers"][0]["args"].as_array().unwrap();
    let o = args.iter().position(|a| a == "-o").unwrap();
    assert_eq!(args[o + 1], json!("3306"));
    assert_eq!(
        t["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"],
        json!("mine")
    );
}

fn store_with_namespace(labels: Value) -> Store {
    let store = Store::in_memory();
    store
        .create(
            &ResourceKey::new("", "v1", "namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "labels": labels}}),
        )
        .unwrap();
    store
}

fn install_webhook(store: &Store) {
    store
        .create(
            &ResourceKey::new(
                "admissionregistration.k8s.io",
                "v1",
                "mutatingwebhookconfigurations",
            ),
            json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                   "metadata": {"name": WEBHOOK}, "webhooks": []}),
        )
        .unwrap();
}

fn replicaset_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "reviews-v2-5d8f7c9b4-abcde", "namespace": "default",
            "labels": {"app": "reviews", "version": "v2", "pod-template-hash": "5d8f7c9b4"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "reviews-v2-5d8f7c9b4", "controller": true, "uid": "u"}],
        },
        "spec": {"containers": [{"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3"}]},
    })
}

#[test]
fn admission_injects_only_once_istio_is_installed_and_the_namespace_asks() {
    let store = store_with_namespace(json!({"istio-injection": "enabled"}));
    let mut pod = replicaset_pod();
    assert!(!admit(&store, &mut pod), "no webhook, no injection");
    assert_eq!(pod, replicaset_pod());

    install_webhook(&store);
    assert!(admit(&store, &mut pod));
    assert_eq!(
        names(&pod["spec"]["containers"]),
        ["reviews", "istio-proxy"]
    );
    let proxy = &pod["spec"]["containers"][1];
    assert_eq!(
        env(proxy, "ISTIO_META_OWNER").unwrap()["value"],
        json!("kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v2")
    );

    let plain = store_with_namespace(json!({}));
    install_webhook(&plain);
    let mut pod = replicaset_pod();
    assert!(!admit(&plain, &mut pod));
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = json!("true");
    assert!(admit(&plain, &mut pod));
}

#[test]
fn the_proxy_image_follows_istiods_image() {
    let store = Store::in_memory();
    assert_eq!(Settings::from_store(&store), Settings::default());
    store
        .create(
            &ResourceKey::new("apps", "v1", "deployments"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "istiod", "namespace": "istio-system"},
                   "spec": {"template": {"spec": {"containers": [
                       {"name": "discovery", "image": "registry.example:5000/istio/pilot:1.27.3"}]}}}}),
        )
        .unwrap();
    let s = Settings::from_store(&store);
    assert_eq!(
        s.proxy_image(),
        "registry.example:5000/istio/proxyv2:1.27.3"
    );
}

#[test]
fn a_pod_without_a_controller_is_its_own_workload() {
    let pod = json!({"metadata": {"generateName": "web-", "namespace": "ns"}});
    assert_eq!(
        Owner::of_pod(&pod),
        Owner {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: "web".into(),
            namespace: "ns".into()
        }
    );
}

#[test]
fn interception_mode_none_adds_no_init_container() {
    let mut doc = deployment();
    doc["spec"]["template"]["metadata"]["annotations"] =
        json!({"sidecar.istio.io/interceptionMode": "NONE"});
    inject_document(&mut doc, &Settings::default());
    let t = &doc["spec"]["template"];
    assert!(t["spec"].get("initContainers").is_none());
    let status: Value = serde_json::from_str(
        t["metadata"]["annotations"]["sidecar.istio.io/status"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(status["initContainers"], json!([]));
    assert_eq!(
        env(&t["spec"]["containers"][1], "ISTIO_META_INTERCEPTION_MODE").unwrap()["value"],
        json!("NONE")
    );
}

#[test]
fn the_injectors_values_choose_the_proxy_image_first() {
    let store = Store::in_memory();
    store
        .create(
            &ResourceKey::new("", "v1", "configmaps"),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": WEBHOOK, "namespace": "istio-system"},
                   "data": {"values": "{\"global\": {\"hub\": \"gcr.io/istio-release\", \"tag\": \"1.24.2\", \"proxy\": {\"clusterDomain\": \"corp.local\"}}}"}}),
        )
        .unwrap();
    let s = Settings::from_store(&store);
    assert_eq!(s.proxy_image(), "gcr.io/istio-release/proxyv2:1.24.2");
    assert_eq!(s.cluster_domain, "corp.local");
}
