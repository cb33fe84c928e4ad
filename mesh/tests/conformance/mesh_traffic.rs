//! Traffic through the mesh with the real kubectl and the real Envoy: Istio installed from
//! `manifests/istio/`, Bookinfo injected, and Istio's own samples (unchanged) routing requests
//! through the ingress gateway's Envoy and the sidecars' Envoys, all configured by istiod's
//! pilot-lite.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::time::Duration;

use meshwork_mesh::envoy;

use super::harness::{Env, kubectl_path};
use super::istio_env::{
    self, Response, envoy_admin, envoy_present, eventually, gateway_port, istio,
};

const SAMPLES: &str = "/work/shared/istio-samples/samples/bookinfo";

fn sample(path: &str) -> String {
    format!("{SAMPLES}/{path}")
}

/// `GET path` on 127.0.0.1:port (the ingress gateway's NodePort), `Connection: close`.
async fn get(port: u16, path: &str) -> Option<Response> {
    let headers = ["Host: bookinfo.example", "User-Agent: meshwork-test"];
    istio_env::request(port, "GET", path, &headers, None).await
}

fn full_stars(page: &str) -> usize {
    page.matches("glyphicon glyphicon-star\"").count()
}

/// Waits until the Envoy at `admin` has a route configuration mentioning `cluster`.
async fn routes_to(admin: std::net::SocketAddr, cluster: &str) {
    eventually(
        &format!("a route to {cluster} at the Envoy on {admin}"),
        Duration::from_secs(30),
        || async {
            let dump = envoy::admin_get(admin, "/config_dump?resource=dynamic_route_configs")
                .await
                .ok()?;
            dump.text().contains(cluster).then_some(())
        },
    )
    .await;
}

/// `count` product pages through the gateway.
async fn pages(port: u16, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..count {
        let response = get(port, "/productpage").await.expect("a response");
        assert_eq!(response.status, 200, "{response:?}");
        out.push(response.body);
    }
    out
}

/// Every process id of an Envoy the mesh runs for `pods` (namespace, name).
fn envoy_pids(pods: &[(String, String)]) -> Vec<u32> {
    pods.iter()
        .filter_map(|(ns, pod)| envoy::registered(ns, pod).map(|r| r.pid))
        .collect()
}

async fn all_pods(env: &Env) -> Vec<(String, String)> {
    env.ok(&[
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
    ])
    .await
    .lines()
    .filter_map(|l| l.split_once('/'))
    .map(|(ns, p)| (ns.to_owned(), p.to_owned()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_is_served_and_routed_by_envoy_through_the_ingress_gateway() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    // Istio installed, its pods ready, `default` labelled for injection.
    let env = istio().await;
    env.ok(&["apply", "-f", &sample("platform/kube/bookinfo.yaml")])
        .await;
    eventually("the six Bookinfo pods", Duration::from_secs(60), || async {
        let pods = env.ok(&["get", "pods", "-o", "name"]).await;
        (pods.lines().count() == 6).then_some(())
    })
    .await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=180s",
    ])
    .await;
    let table = env.ok(&["get", "pods"]).await;
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{table}");
    for row in &rows {
        assert_eq!(
            row.split_whitespace().nth(1),
            Some("2/2"),
            "every Bookinfo pod runs its app and a sidecar:\n{table}"
        );
    }
    env.ok(&["apply", "-f", &sample("networking/bookinfo-gateway.yaml")])
        .await;
    let port = gateway_port(&env).await;

    // The gateway's Envoy gets the Gateway's listener and the VirtualService's routes.
    let page = eventually(
        "/productpage through the ingress gateway",
        Duration::from_secs(60),
        || async { get(port, "/productpage").await.filter(|r| r.status == 200) },
    )
    .await;
    assert!(
        page.body.contains("<title>Simple Bookstore App</title>"),
        "{}",
        page.body
    );
    assert_eq!(page.header("server"), Some("istio-envoy"), "{page:?}");
    assert!(
        page.body.contains("Book Details") && page.body.contains("Book Reviews"),
        "productpage reached details and reviews through its sidecar: {}",
        page.body
    );
    let unrouted = get(port, "/no-such-page").await.expect("a response");
    assert_eq!(unrouted.status, 404, "{unrouted:?}");
    assert_eq!(
        unrouted.header("server"),
        Some("istio-envoy"),
        "{unrouted:?}"
    );

    // Every review from v1: no stars at all.
    env.ok(&[
        "apply",
        "-f",
        &sample("networking/destination-rule-all.yaml"),
    ])
    .await;
    env.ok(&[
        "apply",
        "-f",
        &sample("networking/virtual-service-all-v1.yaml"),
    ])
    .await;
    let productpage = envoy_admin(&env, "default", "productpage-v1-").await;
    routes_to(
        productpage,
        "outbound|9080|v1|reviews.default.svc.cluster.local",
    )
    .await;
    let v1 = pages(port, 30).await;
    let starred = v1.iter().filter(|p| full_stars(p) > 0).count();
    assert_eq!(starred, 0, "0 of 30 pages may show stars with reviews v1");
    assert!(v1.iter().all(|p| p.contains("Book Reviews")));

    // reviews v3: red stars on every page.
    env.ok(&[
        "apply",
        "-f",
        &sample("networking/virtual-service-reviews-v3.yaml"),
    ])
    .await;
    routes_to(
        productpage,
        "outbound|9080|v3|reviews.default.svc.cluster.local",
    )
    .await;
    let v3 = pages(port, 30).await;
    let red = v3
        .iter()
        .filter(|p| {
            full_stars(p) > 0 && p.contains("text-red-500") && !p.contains("text-black-500")
        })
        .count();
    assert_eq!(red, 30, "every page shows red stars with reviews v3");

    // From inside the mesh: ratings' app → its sidecar → productpage's sidecar → productpage.
    let inside = env
        .kubectl(&[
            "exec",
            "deploy/ratings-v1",
            "-c",
            "ratings",
            "--",
            "curl",
            "-sS",
            "productpage:9080/productpage",
        ])
        .await;
    assert_eq!(inside.code, 0, "{inside:?}");
    assert!(
        inside
            .stdout
            .contains("<title>Simple Bookstore App</title>"),
        "{inside:?}"
    );
    let stats = envoy::admin_get(productpage, "/stats?filter=inbound")
        .await
        .expect("productpage's Envoy admin")
        .text();
    assert!(
        stats
            .lines()
            .any(|l| l.contains("upstream_rq_completed") && !l.ends_with(": 0")),
        "productpage's sidecar counted inbound requests:\n{stats}"
    );

    // istiod's log tells which proxies connected.
    let log = env
        .ok(&["logs", "-n", "istio-system", "deploy/istiod"])
        .await;
    assert!(
        log.contains("ADS: new connection for node:sidecar~")
            && log.contains("ADS: new connection for node:router~"),
        "{log}"
    );

    // A mistake in a VirtualService is explained in istiod's log, naming the resource.
    let typo = env.write(
        "ratings-typo.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings, subset: v9}
",
    );
    env.ok(&["apply", "-f", typo.to_str().unwrap()]).await;
    let warning = eventually(
        "istiod's warning about subset v9",
        Duration::from_secs(30),
        || async {
            let log = env
                .ok(&["logs", "-n", "istio-system", "deploy/istiod"])
                .await;
            log.lines()
                .find(|l| l.contains("VirtualService default/ratings:"))
                .map(str::to_owned)
        },
    )
    .await;
    assert!(
        warning.contains("\twarn\t")
            && warning.contains("subset \"v9\"")
            && warning.contains("not defined by any DestinationRule"),
        "{warning}"
    );
    env.ok(&[
        "apply",
        "-f",
        &sample("networking/virtual-service-all-v1.yaml"),
    ])
    .await;
    env.ok(&[
        "apply",
        "-f",
        &sample("networking/virtual-service-reviews-v3.yaml"),
    ])
    .await;

    // The mesh restarted mid-lab resumes with the same configuration.
    let mut env = env;
    env.restart().await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "-A",
        "--timeout=180s",
    ])
    .await;
    let productpage = envoy_admin(&env, "default", "productpage-v1-").await;
    routes_to(
        productpage,
        "outbound|9080|v3|reviews.default.svc.cluster.local",
    )
    .await;
    let page = eventually(
        "/productpage through the ingress gateway after a restart",
        Duration::from_secs(60),
        || async { get(port, "/productpage").await.filter(|r| r.status == 200) },
    )
    .await;
    assert!(
        full_stars(&page.body) > 0 && page.body.contains("text-red-500"),
        "reviews v3 after the restart: {}",
        page.body
    );

    let pods = all_pods(&env).await;
    let pids = envoy_pids(&pods);
    assert!(pids.len() >= 8, "6 sidecars and 2 gateways: {pids:?}");
    env.stop().await;
    // Stopped containers' Envoys get SIGTERM (SIGKILL after a grace period) as the mesh stops.
    for pid in pids {
        eventually(
            &format!("Envoy {pid} to exit after the mesh stopped"),
            Duration::from_secs(15),
            || async { (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(()) },
        )
        .await;
    }
}
