//! What `meshwork explain` relies on to join the proxies' access log lines of one request: the
//! `x-request-id` is the same on every hop through the ingress gateway and Bookinfo (the gateway
//! makes one up, productpage and reviews pass it on), and a caller inside the mesh keeps its
//! own. Real kubectl, real Envoy, Istio's samples unchanged.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{Env, kubectl_path};
use super::istio_env::{envoy_present, gateway_port};

const BOOKINFO: &str = "/work/shared/istio-samples/samples/bookinfo";

/// `GET path` on 127.0.0.1:port with `x-request-id: id`; the status.
async fn get(port: u16, path: &str, id: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: bookinfo.example\r\nx-request-id: {id}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The access log lines (those starting with `[`) of a pod's istio-proxy container.
async fn access_lines(env: &Env, namespace: &str, pod: &str) -> Vec<String> {
    env.ok(&["logs", "-n", namespace, pod, "-c", "istio-proxy"])
        .await
        .lines()
        .filter(|l| l.starts_with('['))
        .map(str::to_owned)
        .collect()
}

/// The `x-request-id` of an access log line in Istio's format: its fifth quoted value (after
/// the request line, the transport failure reason, x-forwarded-for and the user agent).
fn request_id(line: &str) -> Option<String> {
    line.split('"').nth(9).map(str::to_owned)
}

async fn pod_named(env: &Env, namespace: &str, selector: &str) -> String {
    env.ok(&[
        "get",
        "pods",
        "-n",
        namespace,
        "-l",
        selector,
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_id_runs_through_the_gateway_and_bookinfo() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = Env::start().await;
    let install = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/istio");
    env.ok(&["apply", "-f", install.to_str().unwrap()]).await;
    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    env.ok(&[
        "apply",
        "-f",
        &format!("{BOOKINFO}/platform/kube/bookinfo.yaml"),
    ])
    .await;
    env.ok(&[
        "apply",
        "-f",
        &format!("{BOOKINFO}/networking/bookinfo-gateway.yaml"),
    ])
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while env
        .ok(&["get", "pods", "-A", "-o", "name"])
        .await
        .lines()
        .count()
        < 9
    {
        assert!(Instant::now() < deadline, "the pods did not appear");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for ns in ["istio-system", "default"] {
        env.ok(&[
            "wait",
            "-n",
            ns,
            "--for=condition=ready",
            "pod",
            "--all",
            "--timeout=180s",
        ])
        .await;
    }
    let port = gateway_port(&env).await;
    // A client's own id at the edge is replaced: the gateway cannot trust it (Envoy's edge rule).
    let chosen = "chosen-by-the-client";
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/productpage", chosen).await != Some(200) {
        assert!(Instant::now() < deadline, "/productpage never answered 200");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gateway = pod_named(&env, "istio-system", "istio=ingressgateway").await;
    let productpage = pod_named(&env, "default", "app=productpage").await;
    let details = pod_named(&env, "default", "app=details").await;
    // The last /productpage line of the gateway is ours; its id must reach productpage's
    // inbound and outbound lines and details' inbound line.
    let mut id = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while id.is_none() {
        assert!(
            Instant::now() < deadline,
            "the gateway never logged the request"
        );
        id = access_lines(&env, "istio-system", &gateway)
            .await
            .iter()
            .rev()
            .find(|l| l.contains("\"GET /productpage "))
            .and_then(|l| request_id(l));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let id = id.unwrap();
    assert_ne!(id, chosen, "the gateway makes its own request id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pp = access_lines(&env, "default", &productpage).await;
        let mine: Vec<&String> = pp
            .iter()
            .filter(|l| request_id(l).as_deref() == Some(&id))
            .collect();
        let det = access_lines(&env, "default", &details).await;
        let inbound_details = det.iter().any(|l| request_id(l).as_deref() == Some(&id));
        let outbound_calls = mine.iter().filter(|l| l.contains("outbound|9080|")).count();
        let inbound_page = mine.iter().any(|l| l.contains("inbound|9080||"));
        if inbound_page && outbound_calls >= 2 && inbound_details {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "request id {id} did not reach every hop; productpage:\n{}\ndetails:\n{}",
            pp.join("\n"),
            det.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Inside the mesh a caller's id is kept: the sidecar trusts its own pod.
    let ratings = pod_named(&env, "default", "app=ratings").await;
    let out = env
        .kubectl(&[
            "exec",
            &ratings,
            "-c",
            "ratings",
            "--",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-H",
            "x-request-id: chosen-inside-the-mesh",
            "http://details:9080/details/0",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let det = access_lines(&env, "default", &details).await;
        if det
            .iter()
            .any(|l| request_id(l).as_deref() == Some("chosen-inside-the-mesh"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "details never logged the caller's id:\n{}",
            det.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.stop().await;
}
