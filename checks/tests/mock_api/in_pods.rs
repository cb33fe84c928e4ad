//! The checks that run commands in pods, on a live cluster: `exec`, `http` sent `from:` a pod,
//! `envoy_stat`, `workload_identity`, `mtls_matrix`, and `istio_config` (istiod's debug
//! endpoint through the pod proxy, which a real istiod refuses, then from inside its pod).
//! The mock API server refuses what a real one refuses: an exec into a two-container pod
//! without a container named.

use crate::live::{Cluster, ExecCall, LiveApi, Ran, pod, service};
use meshwork_checks::Outcome;
use serde_json::json;
use std::sync::Arc;

/// A tiny curl: reads `-w` and the URL (the last argument), answers from `page` (URL →
/// status and body; `None`: the host does not resolve, as curl's exit 6).
fn curl(argv: &[String], page: impl Fn(&str) -> Option<(u16, String)>) -> Ran {
    let url = argv.last().cloned().unwrap_or_default();
    let write_out = argv
        .iter()
        .position(|a| a == "-w")
        .and_then(|i| argv.get(i + 1))
        .cloned()
        .unwrap_or_default();
    let fill = |code: &str| {
        write_out
            .replace("%{http_code}", code)
            .replace("%{time_total}", "0.012000")
    };
    match page(&url) {
        Some((status, body)) => {
            let body = if argv.iter().any(|a| a == "/dev/null") {
                String::new()
            } else {
                body
            };
            Ran::ok(format!("{body}{}", fill(&status.to_string())))
        }
        None => Ran {
            stdout: fill("000"),
            stderr: format!("curl: (6) Could not resolve host: {url}\n"),
            exit: 6,
        },
    }
}

fn bookinfo_pods() -> Vec<serde_json::Value> {
    vec![
        pod(
            "default",
            "ratings-v1-7d6cfb7dfd-5mc96",
            json!({"app": "ratings", "version": "v1"}),
            &["ratings", "istio-proxy"],
        ),
        pod(
            "default",
            "productpage-v1-5b9c8f7d4-x2x7q",
            json!({"app": "productpage", "version": "v1"}),
            &["productpage", "istio-proxy"],
        ),
        service("default", "productpage", "ClusterIP", 9080, None),
    ]
}

/// The product page as seen from inside the mesh.
fn productpage(url: &str) -> Option<(u16, String)> {
    (url == "http://productpage.default:9080/productpage" || url == "productpage:9080/productpage")
        .then(|| {
            (
                200,
                "<html><head><title>Simple Bookstore App</title></head></html>".to_string(),
            )
        })
}

#[tokio::test]
async fn exec_runs_the_script_in_the_named_container_and_judges_its_output() {
    let mut cluster = Cluster::new(bookinfo_pods());
    cluster.exec = Arc::new(|call: &ExecCall| {
        // `sh -c SCRIPT`: this container pipes curl into grep the way the lab's script does.
        assert_eq!(call.argv[..2], ["sh", "-c"]);
        if call.argv[2].contains("productpage:9080") {
            Ran::ok("<title>Simple Bookstore App</title>\n")
        } else {
            Ran::failed(1, "")
        }
    });
    let api = LiveApi::start(cluster).await;
    let f = api
        .check(
            "      - id: title\n        title: Title\n        exec:\n          pod: app=ratings\n          namespace: default\n          \
             container: ratings\n          script: curl -sS productpage:9080/productpage | grep -o \"<title>.*</title>\"\n          \
             expect:\n            stdout: {contains: <title>Simple Bookstore App</title>}\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    let f = api
        .check(
            "      - id: title\n        title: Title\n        exec:\n          pod: app=ratings\n          namespace: default\n          \
             container: ratings\n          script: curl -sS reviews:9080/ | grep -o x\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(f.message.contains("exit"), "{}", f.message);
    assert_eq!(
        api.exec_log()
            .iter()
            .map(|l| l.split(": ").next().unwrap().to_string())
            .collect::<Vec<_>>(),
        [
            "default/ratings-v1-7d6cfb7dfd-5mc96/ratings",
            "default/ratings-v1-7d6cfb7dfd-5mc96/ratings"
        ]
    );
}

#[tokio::test]
async fn http_from_a_pod_uses_its_curl_and_the_services_dns_name() {
    let mut cluster = Cluster::new(bookinfo_pods());
    cluster.exec = Arc::new(|call: &ExecCall| curl(&call.argv, productpage));
    let api = LiveApi::start(cluster).await;
    let f = api
        .check(
            "      - id: page\n        title: Page\n        http:\n          service: {name: productpage, namespace: default, port: 9080, path: /productpage}\n          \
             from: {pod: app=ratings, namespace: default, container: ratings}\n          count: 3\n          \
             expect:\n            status: 200\n            body: {contains: <title>Simple Bookstore App</title>}\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    let log = api.exec_log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log[0].starts_with("default/ratings-v1-7d6cfb7dfd-5mc96/ratings: curl -sS -w")
            && log[0].ends_with("http://productpage.default:9080/productpage"),
        "{log:?}"
    );
    let f = api
        .check(
            "      - id: gone\n        title: Gone\n        http:\n          url: http://nowhere.default:9080/\n          \
             from: {pod: app=ratings, namespace: default, container: ratings}\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
}

#[tokio::test]
async fn envoy_stat_reads_the_sidecars_counters() {
    let mut cluster = Cluster::new(vec![
        pod(
            "default",
            "fortio-deploy-6d8f8b9c5-qk2xz",
            json!({"app": "fortio"}),
            &["fortio", "istio-proxy"],
        ),
        pod(
            "default",
            "legacy-5f7b9c-abcde",
            json!({"app": "legacy"}),
            &["legacy"],
        ),
    ]);
    cluster.exec = Arc::new(|call: &ExecCall| {
        if call.container == "istio-proxy"
            && call.argv == ["pilot-agent", "request", "GET", "stats"]
        {
            Ran::ok(
                "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow: 17\n\
                 cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_total: 40\n",
            )
        } else {
            Ran::failed(127, "not found")
        }
    });
    let api = LiveApi::start(cluster).await;
    let check = |pod: &str, expect: &str| {
        format!(
            "      - id: stat\n        title: Stat\n        envoy_stat:\n          pod: app={pod}\n          namespace: default\n          \
             pattern: ^cluster\\.outbound\\|8000\\|\\|httpbin\\.default\\.svc\\.cluster\\.local\\.upstream_rq_pending_overflow$\n          \
             expect: \"{expect}\"\n"
        )
    };
    let f = api.check(&check("fortio", "> 0")).await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert!(f.message.contains("17"), "{}", f.message);
    let f = api.check(&check("fortio", "> 20")).await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    let f = api.check(&check("legacy", "> 0")).await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(f.message.contains("istio-proxy"), "{}", f.message);
    assert_eq!(
        api.exec_log(),
        [
            "default/fortio-deploy-6d8f8b9c5-qk2xz/istio-proxy: pilot-agent request GET stats",
            "default/fortio-deploy-6d8f8b9c5-qk2xz/istio-proxy: pilot-agent request GET stats"
        ]
    );
}

/// Envoy's `/certs` for one workload certificate with `uri`, valid for a day from now.
fn certs(uri: &str) -> String {
    let now = jiff::Timestamp::now();
    let from = now - jiff::SignedDuration::from_hours(1);
    let until = now + jiff::SignedDuration::from_hours(23);
    let leaf = json!({"path": "<inline>", "serial_number": "7f3a", "subject_alt_names": [{"uri": uri}],
                      "days_until_expiration": "0", "valid_from": from.to_string(), "expiration_time": until.to_string()});
    json!({"certificates": [{"ca_cert": [], "cert_chain": [leaf]}]}).to_string()
}

#[tokio::test]
async fn workload_identity_reads_the_spiffe_id_of_the_sidecars_certificate() {
    let mut cluster = Cluster::new(vec![pod(
        "foo",
        "httpbin-5c5944c58c-2xk8h",
        json!({"app": "httpbin"}),
        &["httpbin", "istio-proxy"],
    )]);
    cluster.exec = Arc::new(|call: &ExecCall| {
        if call.container == "istio-proxy"
            && call.argv == ["pilot-agent", "request", "GET", "certs"]
        {
            Ran::ok(certs("spiffe://cluster.local/ns/foo/sa/httpbin"))
        } else {
            Ran::failed(127, "not found")
        }
    });
    let api = LiveApi::start(cluster).await;
    let check = |expect: &str| {
        format!(
            "      - id: id\n        title: Identity\n        workload_identity:\n          pod: app=httpbin\n          namespace: foo\n          \
             expect: {expect}\n          expires_within: 25h\n"
        )
    };
    let f = api
        .check(&check("spiffe://cluster.local/ns/foo/sa/httpbin"))
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    let f = api
        .check(&check("spiffe://cluster.local/ns/foo/sa/default"))
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(
        f.message
            .contains("spiffe://cluster.local/ns/foo/sa/httpbin"),
        "says what it found: {}",
        f.message
    );
}

#[tokio::test]
async fn mtls_matrix_curls_from_each_client_into_the_container_kubectl_would_pick() {
    let mut objects = Vec::new();
    for ns in ["foo", "bar", "legacy"] {
        let containers: &[&str] = if ns == "legacy" {
            &["curl"]
        } else {
            &["curl", "istio-proxy"]
        };
        objects.push(pod(
            ns,
            &format!("curl-6c9d8-{ns}"),
            json!({"app": "curl"}),
            containers,
        ));
    }
    let mut cluster = Cluster::new(objects);
    // foo is STRICT: only clients with a sidecar get in; the plaintext client's connection is reset.
    cluster.exec = Arc::new(|call: &ExecCall| {
        assert_eq!(call.container, "curl");
        let url = call.argv[1].clone();
        if url.contains("httpbin.foo") && call.namespace == "legacy" {
            Ran {
                stdout: "000".into(),
                stderr: "curl: (56) Recv failure: Connection reset by peer\n".into(),
                exit: 56,
            }
        } else {
            Ran::ok("200")
        }
    });
    let api = LiveApi::start(cluster).await;
    let open = "      - id: m\n        title: M\n        mtls_matrix:\n          clients: [foo, bar, legacy]\n          servers: [foo, bar]\n";
    let f = api.check(open).await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(f.message.contains("legacy"), "{}", f.message);
    let strict = format!("{open}          expect:\n            legacy to foo: 000\n");
    let f = api.check(&strict).await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert_eq!(api.exec_log().len(), 12);
}

#[tokio::test]
async fn istio_config_asks_inside_istiod_when_its_debug_port_refuses_the_proxy() {
    let istiod = pod(
        "istio-system",
        "istiod-7d4b9c8d5f-8xq2p",
        json!({"app": "istiod", "istio": "pilot"}),
        &["discovery"],
    );
    let syncz = |error: Option<&str>| {
        let mut route = json!({"sent": "n3", "acked": "n3"});
        if let Some(e) = error {
            route = json!({"sent": "n3", "acked": "n2", "lastError": e});
        }
        json!([{"proxy": "productpage-v1-5b9c8f7d4-x2x7q.default",
                "cluster_sent": "n1", "cluster_acked": "n1", "route_sent": "n3",
                "route_acked": if error.is_some() {"n2"} else {"n3"},
                "resources": {"type.googleapis.com/envoy.config.route.v3.RouteConfiguration": route}}])
        .to_string()
    };
    for (error, outcome) in [
        (None, Outcome::Pass),
        (Some("invalid route timeout"), Outcome::Fail),
    ] {
        let mut cluster = Cluster::new(vec![istiod.clone()]);
        // A real istiod answers its debug endpoints only to local or authenticated callers.
        cluster.proxy = Arc::new(|_, _, port, _| {
            assert_eq!(port, 15014);
            (401, "Unauthorized\n".into())
        });
        let body = syncz(error);
        cluster.exec = Arc::new(move |call: &ExecCall| {
            if call.container == "discovery"
                && call.argv == ["pilot-discovery", "request", "GET", "/debug/syncz"]
            {
                Ran::ok(body.clone())
            } else {
                Ran::failed(127, "not found")
            }
        });
        let api = LiveApi::start(cluster).await;
        let f = api
            .check("      - id: c\n        title: C\n        istio_config: {namespace: default}\n")
            .await;
        assert_eq!(f.outcome, outcome, "{}", f.message);
        if let Some(e) = error {
            assert!(
                f.message.contains(e),
                "quotes Envoy's rejection: {}",
                f.message
            );
        }
        assert_eq!(
            api.exec_log(),
            [
                "istio-system/istiod-7d4b9c8d5f-8xq2p/discovery: pilot-discovery request GET /debug/syncz"
            ]
        );
    }

    // No istiod at all: Istio is not installed.
    let api = LiveApi::start(Cluster::new(vec![])).await;
    let f = api
        .check("      - id: c\n        title: C\n        istio_config: {}\n")
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(
        f.message
            .starts_with("Istio's control plane is not running"),
        "{}",
        f.message
    );
}
