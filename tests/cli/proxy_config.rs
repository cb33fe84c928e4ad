//! `meshwork istioctl proxy-config …` and `proxy-status` on the reference mesh with Istio and
//! Bookinfo injected: each pod's real Envoy, read through `pilot-agent` over `kubectl exec`'s
//! API, shown in istioctl's tables.

use crate::util::mesh::{COMMAND_TIMEOUT, Sandbox, sample};
use crate::util::{Env, stderr, stdout};

/// Rows of a table as their whitespace-separated words.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn has_row(table: &str, words: &[&str]) -> bool {
    rows(table).iter().any(|r| r == words)
}

#[test]
fn proxy_config_and_status_show_bookinfos_envoys() {
    let Some(sb) = Sandbox::with_envoy_and_kubectl("applies Bookinfo") else {
        return;
    };
    sb.ok(&["istioctl", "install", "-y"]);
    let file = |rel: &str| sample(&format!("bookinfo/{rel}"));
    sb.kubectl(&["label", "namespace", "default", "istio-injection=enabled"]);
    sb.kubectl(&["apply", "-f", &file("platform/kube/bookinfo.yaml")]);
    sb.kubectl(&[
        "run",
        "plain",
        "--image=curlimages/curl",
        "--labels=sidecar.istio.io/inject=false",
        "--",
        "sleep",
        "3600",
    ]);
    // Six Bookinfo pods and the plain one, all created before waiting for them.
    sb.wait_for_pods(7);
    let productpage = sb.pod("default", "app=productpage");
    let pod = productpage.as_str();

    // Clusters: one per Service port, with istioctl's columns; no subsets before a rule.
    let clusters = sb.ok(&["istioctl", "proxy-config", "clusters", pod]);
    let header = clusters.lines().next().unwrap_or_default();
    for column in [
        "SERVICE FQDN",
        "PORT",
        "SUBSET",
        "DIRECTION",
        "TYPE",
        "DESTINATION RULE",
    ] {
        assert!(header.contains(column), "{clusters}");
    }
    assert!(
        has_row(
            &clusters,
            &[
                "reviews.default.svc.cluster.local",
                "9080",
                "-",
                "outbound",
                "EDS"
            ]
        ),
        "{clusters}"
    );
    assert!(
        has_row(&clusters, &["9080", "-", "inbound", "STATIC"]),
        "{clusters}"
    );
    assert!(
        !clusters.contains("reviews.default.svc.cluster.local   9080   v1"),
        "{clusters}"
    );

    // A DestinationRule adds the subsets, named in the DESTINATION RULE column.
    sb.kubectl(&["apply", "-f", &file("networking/destination-rule-all.yaml")]);
    let pc = [
        "istioctl",
        "pc",
        "clusters",
        &format!("{pod}.default"),
        "--fqdn",
        "reviews",
    ];
    let clusters = sb.until(&pc, |t| t.contains(" v3 "));
    for subset in ["-", "v1", "v2", "v3"] {
        let row = [
            "reviews.default.svc.cluster.local",
            "9080",
            subset,
            "outbound",
            "EDS",
            "reviews.default",
        ];
        assert!(has_row(&clusters, &row), "{subset}:\n{clusters}");
    }
    // --fqdn kept only reviews.
    assert_eq!(rows(&clusters).len(), 5, "{clusters}");
    let v2 = sb.ok(&[
        "istioctl",
        "pc",
        "cluster",
        pod,
        "--fqdn",
        "reviews",
        "--subset",
        "v2",
        "--direction",
        "outbound",
    ]);
    assert_eq!(rows(&v2).len(), 2, "{v2}");
    assert!(rows(&v2)[1].contains(&"v2".to_owned()), "{v2}");

    // Routes: the 9080 route configuration names the VirtualService once Envoy routes to v1.
    sb.kubectl(&[
        "apply",
        "-f",
        &file("networking/virtual-service-all-v1.yaml"),
    ]);
    sb.until(
        &[
            "istioctl", "pc", "routes", pod, "--name", "9080", "-o", "json",
        ],
        |t| t.contains("outbound|9080|v1|reviews.default.svc.cluster.local"),
    );
    let routes = sb.ok(&["istioctl", "proxy-config", "routes", pod, "--name", "9080"]);
    assert!(
        rows(&routes)[0]
            == [
                "NAME", "VHOST", "NAME", "DOMAINS", "MATCH", "VIRTUAL", "SERVICE"
            ],
        "{routes}"
    );
    let reviews = rows(&routes)
        .into_iter()
        .find(|r| r.get(1).map(String::as_str) == Some("reviews.default.svc.cluster.local:9080"))
        .unwrap_or_else(|| panic!("no reviews route:\n{routes}"));
    assert_eq!(reviews[0], "9080", "{routes}");
    assert_eq!(reviews[2], "reviews", "{routes}");
    assert_eq!(
        reviews.last().map(String::as_str),
        Some("reviews.default"),
        "{routes}"
    );
    assert!(reviews.contains(&"/*".to_owned()), "{routes}");

    // Listeners: the outbound 9080 listener goes to the 9080 routes; the inbound one is the pod's.
    let ip = sb.kubectl(&["get", "pod", pod, "-o", "jsonpath={.status.podIP}"]);
    let listeners = sb.ok(&["istioctl", "pc", "listeners", pod, "--port", "9080"]);
    assert_eq!(
        rows(&listeners)[0],
        ["ADDRESSES", "PORT", "MATCH", "DESTINATION"]
    );
    assert!(
        rows(&listeners)
            .iter()
            .any(|r| r[1] == "9080" && r[2] == "ALL" && r[3..] == ["Route:", "9080"]),
        "{listeners}"
    );
    assert!(
        rows(&listeners)
            .iter()
            .any(|r| r[0] == ip && r[1] == "9080"),
        "{ip}:\n{listeners}"
    );

    // Endpoints: the three reviews pods, healthy.
    let cluster = "outbound|9080||reviews.default.svc.cluster.local";
    let endpoints = sb.ok(&["istioctl", "pc", "endpoints", pod, "--cluster", cluster]);
    let ips = sb.kubectl(&[
        "get",
        "pods",
        "-l",
        "app=reviews",
        "-o",
        "jsonpath={.items[*].status.podIP}",
    ]);
    assert_eq!(ips.split_whitespace().count(), 3, "{ips}");
    for ip in ips.split_whitespace() {
        let endpoint = format!("{ip}:9080");
        assert!(
            has_row(&endpoints, &[&endpoint, "HEALTHY", "OK", cluster]),
            "{endpoint}:\n{endpoints}"
        );
    }
    assert_eq!(rows(&endpoints).len(), 4, "{endpoints}");

    // -o json is Envoy's own JSON.
    let json = sb.ok(&["istioctl", "pc", "clusters", pod, "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"outbound|9080|v3|reviews.default.svc.cluster.local"),
        "{names:?}"
    );
    let bootstrap = sb.ok(&["istioctl", "pc", "bootstrap", pod]);
    let doc: serde_json::Value = serde_json::from_str(&bootstrap).unwrap();
    assert_eq!(
        doc["bootstrap"]["node"]["metadata"]["NAME"].as_str(),
        Some(pod),
        "{bootstrap}"
    );

    // istioctl's other ways to name the workload: deployment/NAME (its running pod), pod/NAME.
    let by_deployment = sb.ok(&[
        "istioctl",
        "pc",
        "bootstrap",
        "deployment/productpage-v1",
        "-o",
        "json",
    ]);
    assert!(by_deployment.contains(pod), "{by_deployment}");
    let by_pod = sb.ok(&[
        "istioctl",
        "pc",
        "bootstrap",
        &format!("pod/{pod}"),
        "-o",
        "json",
    ]);
    assert!(by_pod.contains(pod), "{by_pod}");
    let out = sb.meshwork(&["istioctl", "pc", "clusters", "deploy/no-such-app"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("deployments.apps \"no-such-app\" not found"),
        "{}",
        stderr(&out)
    );

    // A pod outside the mesh has no Envoy to ask.
    let out = sb.meshwork(&["istioctl", "pc", "clusters", "plain"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("plain.default does not have an istio-proxy container"),
        "{}",
        stderr(&out)
    );
    let out = sb.meshwork(&["istioctl", "pc", "clusters", "no-such-pod", "-n", "default"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"no-such-pod\" not found"),
        "{}",
        stderr(&out)
    );

    // proxy-status: every sidecar and the gateway (serving Bookinfo's Gateway), synced.
    sb.kubectl(&["apply", "-f", &file("networking/bookinfo-gateway.yaml")]);
    let gateway = sb.pod("istio-system", "app=istio-ingressgateway");
    let gateway = format!("{gateway}.istio-system");
    let routes = sb.until(&["istioctl", "pc", "routes", &gateway], |t| {
        t.contains("http.8080")
    });
    let row = rows(&routes)
        .into_iter()
        .find(|r| r[0] == "http.8080")
        .unwrap_or_default();
    assert_eq!(
        row.last().map(String::as_str),
        Some("bookinfo.default"),
        "{routes}"
    );
    let status = sb.ok(&["istioctl", "proxy-status"]);
    let table = rows(&status);
    assert_eq!(
        table[0],
        [
            "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"
        ]
    );
    assert_eq!(table.len(), 1 + 6 + 1, "{status}");
    assert!(!status.contains("plain."), "{status}");
    for prefix in ["productpage-v1-", "reviews-v3-", "istio-ingressgateway-"] {
        let row = table
            .iter()
            .find(|r| r[0].starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} row:\n{status}"));
        // CDS, LDS, EDS and RDS synced; no extension configuration (ECDS) is used.
        assert_eq!(
            row[1..8],
            [
                "Kubernetes",
                "SYNCED",
                "SYNCED",
                "SYNCED",
                "SYNCED",
                "NOT",
                "SENT"
            ],
            "{status}"
        );
        assert!(row[row.len() - 2].starts_with("istiod-"), "{status}");
        assert_eq!(row.last().map(String::as_str), Some("1.24.0"), "{status}");
    }
}

#[test]
fn without_a_running_mesh_there_is_no_proxy_to_ask() {
    let env = Env::new();
    for args in [
        &["istioctl", "proxy-status"][..],
        &["istioctl", "proxy-config", "clusters", "productpage-v1-abc"][..],
    ] {
        let out = env
            .cmd_default_target()
            .args(args)
            .timeout(COMMAND_TIMEOUT)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("the reference mesh is not running"), "{err}");
        assert!(err.contains("meshwork mesh up"), "{err}");
        // Nothing was started.
        assert!(!env.path("state/meshwork/server.json").exists());
    }
}
