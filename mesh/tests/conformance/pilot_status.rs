//! Pilot's problems reach the learner through istiod's debug endpoints, read the way a learner
//! (or istioctl, or meshwork's checks) reads them: `kubectl get --raw` through the API server's
//! pod proxy. Real kubectl, real Envoy sidecars, Istio's httpbin sample unchanged.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{Env, kubectl_path};
use super::istio_env::{envoy_present, install_dir};

const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";

/// A VirtualService istiod cannot read: a port number no TCP port can have (the CRD's schema
/// only says "integer", as Istio's does).
const MALFORMED: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin-bad
spec:
  hosts:
  - httpbin
  http:
  - route:
    - destination:
        host: httpbin
        port:
          number: 80000
";

/// A route to a subset no DestinationRule defines.
const MISSING_SUBSET: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin-v9
spec:
  hosts:
  - httpbin
  http:
  - route:
    - destination:
        host: httpbin
        subset: v9
";

/// The DestinationRule that defines it.
const SUBSET_V9: &str = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  subsets:
  - name: v9
    labels:
      version: v1
";

async fn ready(env: &Env, namespace: &str, selector: &str) {
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "-n",
        namespace,
        "-l",
        selector,
        "--timeout=180s",
    ])
    .await;
}

/// Istio installed, `default` injected, httpbin (with its sidecar) ready; istiod's pod name.
async fn istio_with_httpbin() -> (Env, String) {
    let env = Env::start().await;
    env.ok(&["apply", "-f", install_dir().to_str().unwrap()])
        .await;
    ready(&env, "istio-system", "app=istiod").await;
    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    ready(&env, "default", "app=httpbin").await;
    let istiod = env
        .ok(&[
            "get",
            "pods",
            "-n",
            "istio-system",
            "-l",
            "app=istiod",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    (env, istiod)
}

/// `kubectl get --raw` of a path of istiod's port, through the pod proxy, as JSON.
async fn istiod_json(env: &Env, istiod: &str, port: u16, path: &str) -> Value {
    let raw = format!("/api/v1/namespaces/istio-system/pods/{istiod}:{port}/proxy{path}");
    let text = env.ok(&["get", "--raw", &raw]).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{raw} is not JSON ({e}): {text}"))
}

/// Polls istiod's `/debug/problemz` until `done` holds; fails with the last document.
async fn problemz_until(
    env: &Env,
    istiod: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let doc = istiod_json(env, istiod, 15014, "/debug/problemz").await;
        if done(&doc) {
            return doc;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what}; istiod said:\n{doc:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn problems(doc: &Value) -> &Vec<Value> {
    doc["problems"].as_array().expect("a problems list")
}

fn find<'a>(doc: &'a Value, resource: &str) -> Option<&'a Value> {
    problems(doc).iter().find(|p| p["resource"] == resource)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_dangling_routes_are_named_by_istiod_until_fixed() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let (env, istiod) = istio_with_httpbin().await;

    // All is well: httpbin's sidecar is connected and in sync, nothing to report.
    problemz_until(&env, &istiod, "httpbin's sidecar in sync", |doc| {
        doc["serving"] == true
            && doc["proxies"]["connected"].as_u64() >= Some(1)
            && doc["proxies"]["synced"] == doc["proxies"]["connected"]
            && problems(doc).is_empty()
    })
    .await;

    // Istio's /debug/syncz, on the monitoring port and on the debug port alike.
    for port in [15014, 8080] {
        let syncz = istiod_json(&env, &istiod, port, "/debug/syncz?namespace=default").await;
        let proxies = syncz.as_array().expect("syncz is a list");
        let httpbin = proxies
            .iter()
            .find(|p| {
                p["proxy"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("httpbin-"))
            })
            .unwrap_or_else(|| panic!("httpbin's sidecar in syncz: {syncz:#}"));
        assert!(
            httpbin["proxy"].as_str().unwrap().ends_with(".default"),
            "Istio's POD.NAMESPACE id: {httpbin:#}"
        );
        assert_eq!(httpbin["proxy_type"], "sidecar");
        assert_eq!(httpbin["cluster_id"], "Kubernetes");
        assert!(httpbin["cluster_sent"].is_string(), "{httpbin:#}");
        assert_eq!(
            httpbin["cluster_sent"], httpbin["cluster_acked"],
            "{httpbin:#}"
        );
        assert_eq!(
            httpbin["listener_sent"], httpbin["listener_acked"],
            "{httpbin:#}"
        );
        let clusters = &httpbin["resources"]["type.googleapis.com/envoy.config.cluster.v3.Cluster"];
        assert_eq!(clusters["sent"], httpbin["cluster_sent"], "{httpbin:#}");
        assert!(
            clusters.get("lastError").is_none(),
            "no rejection: {httpbin:#}"
        );
    }
    let elsewhere = istiod_json(&env, &istiod, 15014, "/debug/syncz?namespace=nowhere").await;
    assert_eq!(elsewhere, serde_json::json!([]));

    // A malformed VirtualService and a route to a subset nobody defines.
    env.ok(&[
        "apply",
        "-f",
        env.write("bad.yaml", MALFORMED).to_str().unwrap(),
    ])
    .await;
    env.ok(&[
        "apply",
        "-f",
        env.write("v9.yaml", MISSING_SUBSET).to_str().unwrap(),
    ])
    .await;
    let doc = problemz_until(&env, &istiod, "both VirtualServices named", |doc| {
        find(doc, "VirtualService default/httpbin-bad").is_some()
            && find(doc, "VirtualService default/httpbin-v9").is_some()
    })
    .await;
    let bad = find(&doc, "VirtualService default/httpbin-bad").unwrap();
    assert_eq!(bad["kind"], "invalid", "{bad:#}");
    assert_eq!(bad["namespace"], "default");
    let message = bad["message"].as_str().unwrap();
    assert!(
        message.starts_with("field `spec.http[0].route[0].destination.port"),
        "the field is named: {message}"
    );
    assert!(
        bad["fix"].as_str().unwrap().contains("apply it again"),
        "{bad:#}"
    );
    let v9 = find(&doc, "VirtualService default/httpbin-v9").unwrap();
    assert_eq!(v9["kind"], "warning", "{v9:#}");
    let message = v9["message"].as_str().unwrap();
    assert!(
        message.contains("subset \"v9\"") && message.contains("not defined by any DestinationRule"),
        "{message}"
    );
    assert!(
        v9["fix"].as_str().unwrap().contains("DestinationRule"),
        "{v9:#}"
    );
    let pods = v9["proxies"].as_array().unwrap();
    assert!(
        pods.iter().any(|p| p
            .as_str()
            .is_some_and(|p| p.starts_with("default/httpbin-"))),
        "the proxies concerned: {v9:#}"
    );

    // Fixed: the malformed one deleted, the subset defined. Nothing left to report.
    env.ok(&["delete", "virtualservice", "httpbin-bad"]).await;
    env.ok(&[
        "apply",
        "-f",
        env.write("dr.yaml", SUBSET_V9).to_str().unwrap(),
    ])
    .await;
    problemz_until(&env, &istiod, "a clean report once fixed", |doc| {
        problems(doc).is_empty() && doc["proxies"]["synced"] == doc["proxies"]["connected"]
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn the_pod_proxy_reports_what_a_real_api_server_reports() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["run", "web", "--image=nginx", "--port=80"]).await;
    ready(&env, "default", "run=web").await;
    // The pod's first declared port, and a port by number; the path and query reach the pod.
    let page = env
        .ok(&["get", "--raw", "/api/v1/namespaces/default/pods/web/proxy/"])
        .await;
    assert!(page.contains("Welcome to nginx"), "{page}");
    let again = env
        .ok(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/web:80/proxy/?x=1",
        ])
        .await;
    assert_eq!(again, page);
    // Nobody listens on that port: 503 with the dial error.
    let refused = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/web:9999/proxy/",
        ])
        .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("error trying to reach service"),
        "{refused:?}"
    );
    // No such pod: NotFound.
    let missing = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/nope:80/proxy/",
        ])
        .await;
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("not found"), "{missing:?}");
    env.stop().await;
}
