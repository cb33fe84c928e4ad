//! Installing Istio on the reference mesh with the real kubectl: `manifests/istio/` applies to a
//! fresh mesh, the CRDs, istiod, the gateways' objects and the injector webhook look as on a real
//! cluster, and Istio's own Bookinfo networking samples apply unchanged under strict validation.

use std::path::PathBuf;

use meshwork_mesh::envoy;

use super::harness::{Env, header_line, kubectl_path, row};

/// Whether the gateways can run: their `istio/proxyv2` containers run the real Envoy, which
/// must be there unless the run turned Envoy tests off (`MESHWORK_SKIP_ENVOY=1`).
fn envoy_present() -> bool {
    if envoy::tests_skipped() {
        eprintln!("not checking the gateway pods: MESHWORK_SKIP_ENVOY is set");
        return false;
    }
    if let Err(missing) = envoy::locate() {
        panic!("{missing} (or set MESHWORK_SKIP_ENVOY=1 to turn the Envoy tests off)");
    }
    true
}

const BOOKINFO_NETWORKING: &str = "/work/shared/istio-samples/samples/bookinfo/networking";

fn install_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/istio")
}

/// Applies the whole install (the `demo` profile) and waits for istiod to be ready.
async fn installed() -> Env {
    let env = Env::start().await;
    let dir = install_dir();
    let out = env.ok(&["apply", "-f", dir.to_str().unwrap()]).await;
    for line in [
        "namespace/istio-system created",
        "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-sidecar-injector created",
        "deployment.apps/istiod created",
        "service/istio-ingressgateway created",
        "deployment.apps/istio-egressgateway created",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    env.ok(&[
        "wait",
        "-n",
        "istio-system",
        "--for=condition=ready",
        "pod",
        "-l",
        "app=istiod",
        "--timeout=90s",
    ])
    .await;
    env
}

#[tokio::test]
async fn the_install_looks_like_istio_on_a_real_cluster() {
    if kubectl_path().is_none() {
        return;
    }
    let env = installed().await;

    // Thirteen CRDs, each with Istio's short names and categories.
    let crds = env.ok(&["get", "crd"]).await;
    let istio: Vec<&str> = crds.lines().filter(|l| l.contains("istio.io")).collect();
    assert_eq!(istio.len(), 13, "{crds}");
    for name in [
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "gateways.networking.istio.io",
        "serviceentries.networking.istio.io",
        "sidecars.networking.istio.io",
        "workloadentries.networking.istio.io",
        "workloadgroups.networking.istio.io",
        "envoyfilters.networking.istio.io",
        "proxyconfigs.networking.istio.io",
        "peerauthentications.security.istio.io",
        "authorizationpolicies.security.istio.io",
        "requestauthentications.security.istio.io",
        "telemetries.telemetry.istio.io",
    ] {
        assert!(
            istio.iter().any(|l| l.starts_with(name)),
            "{name} missing:\n{crds}"
        );
    }
    let resources = env
        .ok(&["api-resources", "--api-group=networking.istio.io"])
        .await;
    for (short, plural) in [
        ("vs", "virtualservices"),
        ("dr", "destinationrules"),
        ("gw", "gateways"),
        ("se", "serviceentries"),
    ] {
        let cells = row(&resources, plural);
        assert_eq!(cells.get(1).map(String::as_str), Some(short), "{resources}");
        assert_eq!(
            cells.get(2).map(String::as_str),
            Some("networking.istio.io/v1"),
            "{resources}"
        );
    }
    let security = env
        .ok(&["api-resources", "--api-group=security.istio.io"])
        .await;
    assert_eq!(row(&security, "peerauthentications")[1], "pa", "{security}");
    assert_eq!(
        row(&security, "authorizationpolicies")[1],
        "ap",
        "{security}"
    );
    assert_eq!(
        row(&security, "requestauthentications")[1],
        "ra",
        "{security}"
    );
    // Every version Istio serves is served.
    for v in ["v1alpha3", "v1beta1", "v1"] {
        env.ok(&[
            "get",
            &format!("virtualservices.{v}.networking.istio.io"),
            "-A",
        ])
        .await;
    }
    // `kubectl get istio-io` lists nothing yet, but knows the category.
    let none = env.kubectl(&["get", "istio-io", "-A"]).await;
    assert_eq!(none.code, 0, "{none:?}");

    // istiod runs, 1/1, with its Service and Istio's ports.
    let pods = env.ok(&["get", "pods", "-n", "istio-system"]).await;
    let istiod = pods
        .lines()
        .find(|l| l.starts_with("istiod-"))
        .unwrap_or_else(|| panic!("no istiod pod:\n{pods}"));
    let cells: Vec<&str> = istiod.split_whitespace().collect();
    assert_eq!(cells[1..3], ["1/1", "Running"], "{pods}");
    assert!(pods.contains("istio-ingressgateway-"), "{pods}");
    assert!(pods.contains("istio-egressgateway-"), "{pods}");
    if envoy_present() {
        // The gateways run the real Envoy and report ready on their status port.
        env.ok(&[
            "wait",
            "-n",
            "istio-system",
            "--for=condition=ready",
            "pod",
            "-l",
            "app in (istio-ingressgateway,istio-egressgateway)",
            "--timeout=120s",
        ])
        .await;
        let pods = env.ok(&["get", "pods", "-n", "istio-system"]).await;
        for gateway in ["istio-ingressgateway-", "istio-egressgateway-"] {
            let line = pods
                .lines()
                .find(|l| l.starts_with(gateway))
                .unwrap_or_else(|| panic!("no {gateway} pod:\n{pods}"));
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells[1..3], ["1/1", "Running"], "{pods}");
        }
    }
    let svc = env
        .ok(&["get", "svc", "-n", "istio-system", "istiod"])
        .await;
    let ports = row(&svc, "istiod")[4].clone();
    assert_eq!(ports, "15010/TCP,15012/TCP,443/TCP,15014/TCP", "{svc}");

    // The ingress gateway's LoadBalancer is reachable on 127.0.0.1; egress stays inside.
    let ingress = env
        .ok(&["get", "svc", "-n", "istio-system", "istio-ingressgateway"])
        .await;
    assert_eq!(
        header_line(&ingress),
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE"
    );
    let cells = row(&ingress, "istio-ingressgateway");
    assert_eq!(cells[1], "LoadBalancer", "{ingress}");
    assert_eq!(cells[3], "127.0.0.1", "{ingress}");
    assert!(
        cells[4].starts_with("15021:") && cells[4].contains(",80:") && cells[4].contains(",443:"),
        "{ingress}"
    );
    let egress = env
        .ok(&["get", "svc", "-n", "istio-system", "istio-egressgateway"])
        .await;
    assert_eq!(
        row(&egress, "istio-egressgateway")[1],
        "ClusterIP",
        "{egress}"
    );
    let selector = env
        .ok(&[
            "get",
            "pods",
            "-n",
            "istio-system",
            "-l",
            "istio=ingressgateway",
            "-o",
            "jsonpath={.items[0].spec.containers[0].image} {.items[0].spec.containers[0].args}",
        ])
        .await;
    assert!(
        selector.starts_with("docker.io/istio/proxyv2:"),
        "{selector}"
    );
    assert!(selector.contains("\"proxy\",\"router\""), "{selector}");

    // The injector webhook, with its four webhooks.
    let hooks = env.ok(&["get", "mutatingwebhookconfigurations"]).await;
    assert_eq!(row(&hooks, "istio-sidecar-injector")[1], "4", "{hooks}");
    let selector = env
        .ok(&[
            "get", "mutatingwebhookconfiguration", "istio-sidecar-injector", "-o",
            "jsonpath={.webhooks[?(@.name==\"namespace.sidecar-injector.istio.io\")].namespaceSelector.matchExpressions[0]}",
        ])
        .await;
    assert!(
        selector.contains("\"key\":\"istio-injection\"") && selector.contains("\"enabled\""),
        "{selector}"
    );

    // The mesh config is there for istiod and the proxies.
    let mesh = env
        .ok(&[
            "get",
            "configmap",
            "istio",
            "-n",
            "istio-system",
            "-o",
            "jsonpath={.data.mesh}",
        ])
        .await;
    assert!(mesh.contains("rootNamespace: istio-system"), "{mesh}");

    // Applying the same install again changes nothing.
    let again = env
        .ok(&["apply", "-f", install_dir().to_str().unwrap()])
        .await;
    let changed: Vec<&str> = again
        .lines()
        .filter(|l| !l.ends_with(" unchanged"))
        .collect();
    assert!(changed.is_empty(), "a second apply changed: {changed:#?}");
    env.stop().await;
}

#[tokio::test]
async fn istiod_answers_on_its_ports_from_inside_the_mesh() {
    if kubectl_path().is_none() {
        return;
    }
    let env = installed().await;
    env.ok(&[
        "run",
        "curl",
        "--image=curlimages/curl",
        "--command",
        "--",
        "sleep",
        "infinity",
    ])
    .await;
    env.ok(&["wait", "--for=condition=ready", "pod/curl", "--timeout=60s"])
        .await;
    let metrics = env
        .kubectl_exec(&[
            "exec",
            "curl",
            "--",
            "curl",
            "-sS",
            "http://istiod.istio-system:15014/metrics",
        ])
        .await;
    assert_eq!(metrics.code, 0, "{metrics:?}");
    assert!(
        metrics
            .stdout
            .contains("istio_build{component=\"pilot\",tag=\"1.24.0\"} 1"),
        "{metrics:?}"
    );
    let version = env
        .kubectl_exec(&[
            "exec",
            "curl",
            "--",
            "curl",
            "-sS",
            "http://istiod.istio-system:15014/version",
        ])
        .await;
    assert_eq!(version.stdout.trim(), "1.24.0", "{version:?}");
    // The xDS port speaks gRPC (HTTP/2) only: a plain HTTP/1.1 request gets no HTTP answer,
    // and istiod's log says where the discovery service listens.
    let xds = env
        .kubectl_exec(&[
            "exec",
            "curl",
            "--",
            "curl",
            "-sS",
            "http://istiod.istio-system:15010/",
        ])
        .await;
    assert_ne!(xds.code, 0, "no HTTP/1.1 answer on the xDS port: {xds:?}");
    let logs = env
        .ok(&["logs", "-n", "istio-system", "deploy/istiod"])
        .await;
    assert!(
        logs.lines().any(
            |l| l.contains("\tinfo\tads\tstarting gRPC discovery service (xDS) at ")
                && l.ends_with(":15010")
        ),
        "{logs}"
    );
    assert!(
        logs.contains("\tinfo\tFLAG: --domain=\"cluster.local\""),
        "{logs}"
    );
    env.stop().await;
}

#[tokio::test]
async fn istios_bookinfo_networking_samples_apply_unchanged_after_the_install() {
    if kubectl_path().is_none() {
        return;
    }
    let env = installed().await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(BOOKINFO_NETWORKING)
        .expect("Istio's samples are in /work/shared/istio-samples")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    for file in &files {
        let out = env.kubectl(&["apply", "-f", file.to_str().unwrap()]).await;
        assert_eq!(out.code, 0, "{}: {out:?}", file.display());
        assert!(
            out.stderr.is_empty(),
            "{}: warnings {out:?}",
            file.display()
        );
    }
    let tables = env.ok(&["get", "vs,dr,gw"]).await;
    let headers: Vec<String> = tables.split("\n\n").map(header_line).collect();
    assert_eq!(
        headers,
        ["NAME GATEWAYS HOSTS AGE", "NAME HOST AGE", "NAME AGE"],
        "{tables}"
    );
    let bookinfo = row(&tables, "virtualservice.networking.istio.io/bookinfo");
    assert_eq!(
        bookinfo[1..3],
        ["[\"bookinfo-gateway\"]", "[\"*\"]"],
        "{tables}"
    );
    let reviews = row(&tables, "destinationrule.networking.istio.io/reviews");
    assert_eq!(reviews[1], "reviews", "{tables}");
    assert!(
        !row(&tables, "gateway.networking.istio.io/bookinfo-gateway").is_empty(),
        "{tables}"
    );
    // The certmanager sample lives in istio-system.
    env.ok(&["get", "gw", "-n", "istio-system", "cert-manager-gateway"])
        .await;
    // The schemas are not open: a misspelt field is refused as on a real cluster.
    let typo = env.write(
        "typo.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: typo\nspec:\n  hosts: [reviews]\n  http:\n  - rout:\n    - destination:\n        host: reviews\n",
    );
    let out = env.kubectl(&["apply", "-f", typo.to_str().unwrap()]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("unknown field \"spec.http[0].rout\""),
        "{out:?}"
    );
    let wrong_type = env.write(
        "type.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: bad\nspec:\n  host: reviews\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: lots\n",
    );
    let out = env
        .kubectl(&["apply", "-f", wrong_type.to_str().unwrap()])
        .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("spec.trafficPolicy.connectionPool.tcp.maxConnections"),
        "{out:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_rolling_update_without_a_type_keeps_its_values_as_istios_chart_writes_it() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    // Istio's Helm chart gives istiod `rollingUpdate` values but no strategy type.
    let file = env.write(
        "strategy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: surge\nspec:\n  selector:\n    matchLabels: {app: surge}\n  strategy:\n    rollingUpdate:\n      maxSurge: 100%\n  template:\n    metadata:\n      labels: {app: surge}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n",
    );
    env.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    let strategy = env
        .ok(&["get", "deploy", "surge", "-o", "jsonpath={.spec.strategy}"])
        .await;
    let strategy: serde_json::Value = serde_json::from_str(&strategy).unwrap();
    assert_eq!(
        strategy,
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}})
    );
    env.stop().await;
}
