//! What the Istio conformance tests share: Envoy present (or Envoy tests explicitly off), Istio's
//! samples, a mesh with Istio installed from `manifests/istio/`, waiting for pods and for
//! conditions, the ingress gateway's port, a sidecar's Envoy admin address and a plain HTTP/1.1
//! client for requests from the learner's machine.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use meshwork_mesh::envoy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::Env;

/// Istio's sample manifests (test data, read unchanged).
pub const SAMPLES: &str = "/work/shared/istio-samples/samples";

/// Whether the Envoy tests run: Envoy found, or `MESHWORK_SKIP_ENVOY` set (then they are
/// skipped, loudly). A missing Envoy otherwise fails the test.
pub fn envoy_present() -> bool {
    if envoy::tests_skipped() {
        eprintln!("skipping: MESHWORK_SKIP_ENVOY is set");
        return false;
    }
    if let Err(missing) = envoy::locate() {
        panic!("{missing} (or set MESHWORK_SKIP_ENVOY=1 to turn the Envoy tests off)");
    }
    true
}

/// The path of one of Istio's samples, e.g. `bookinfo/platform/kube/bookinfo.yaml`.
pub fn sample(path: &str) -> String {
    format!("{SAMPLES}/{path}")
}

/// meshwork's Istio install manifests.
pub fn install_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/istio")
}

/// Polls `check` until it gives a value; fails after `limit` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Applies `yaml`, written to a file called `name`.
pub async fn apply_inline(env: &Env, name: &str, yaml: &str) {
    let path = env.write(name, yaml);
    env.ok(&["apply", "-f", path.to_str().expect("path")]).await;
}

/// Waits for at least one pod matching `selector` in `namespace`, then for all to be ready.
pub async fn ready(env: &Env, namespace: &str, selector: &str) {
    // `kubectl wait` fails when no pod matches yet: wait for the Deployment's pod first.
    eventually(
        &format!("a pod {selector} in {namespace}"),
        Duration::from_secs(60),
        || async {
            let pods = env
                .ok(&["get", "pods", "-n", namespace, "-l", selector, "-o", "name"])
                .await;
            (!pods.trim().is_empty()).then_some(())
        },
    )
    .await;
    env.ok(&[
        "wait",
        "-n",
        namespace,
        "--for=condition=ready",
        "pod",
        "-l",
        selector,
        "--timeout=180s",
    ])
    .await;
}

/// A mesh with Istio installed from `manifests/istio/` (istiod and both gateways ready) and
/// `default` labelled for injection.
pub async fn istio() -> Env {
    let env = Env::start().await;
    env.ok(&["apply", "-f", install_dir().to_str().expect("path")])
        .await;
    for selector in ["app=istiod", "istio=ingressgateway", "istio=egressgateway"] {
        ready(&env, "istio-system", selector).await;
    }
    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    env
}

/// The ingress gateway's NodePort for its `http2` port.
pub async fn gateway_port(env: &Env) -> u16 {
    env.ok(&[
        "get",
        "svc",
        "-n",
        "istio-system",
        "istio-ingressgateway",
        "-o",
        r#"jsonpath={.spec.ports[?(@.name=="http2")].nodePort}"#,
    ])
    .await
    .trim()
    .parse()
    .expect("the gateway's http2 nodePort")
}

/// The name of the first pod in `namespace` whose name starts with `prefix`.
pub async fn pod_named(env: &Env, namespace: &str, prefix: &str) -> String {
    let pods = env
        .ok(&["get", "pods", "-n", namespace, "-o", "name"])
        .await;
    pods.lines()
        .map(|l| l.trim_start_matches("pod/"))
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no pod {prefix}* in {namespace}: {pods}"))
        .to_owned()
}

/// The admin address of the Envoy in the first pod whose name starts with `prefix`.
pub async fn envoy_admin(env: &Env, namespace: &str, prefix: &str) -> SocketAddr {
    let pod = pod_named(env, namespace, prefix).await;
    eventually(
        &format!("an Envoy for {namespace}/{pod}"),
        Duration::from_secs(60),
        || async { envoy::registered(namespace, &pod).map(|r| r.admin) },
    )
    .await
}

/// One HTTP/1.1 response: status, lower-cased headers, body and how long it took.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: String,
    /// From connecting to the end of the body.
    pub took: Duration,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request to `127.0.0.1:port` with `Connection: close`, extra header lines (`Name: value`)
/// and an optional body; `None` when the connection or the response failed.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: Option<&str>,
) -> Option<Response> {
    let start = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        head.push_str("Host: meshwork.test\r\n");
    }
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some(Response {
        status,
        headers,
        body,
        took,
    })
}

/// The body of a chunked transfer.
pub fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Waits for `count` pods in `namespace` and for all of them to be ready.
pub async fn pods_ready(env: &Env, namespace: &str, count: usize) {
    eventually(
        &format!("{count} pods in {namespace}"),
        Duration::from_secs(60),
        || async {
            let pods = env
                .ok(&["get", "pods", "-n", namespace, "-o", "name"])
                .await;
            (pods.lines().count() == count).then_some(())
        },
    )
    .await;
    env.ok(&[
        "wait",
        "-n",
        namespace,
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=180s",
    ])
    .await;
}

/// The name of the pod labelled `app=<app>` in `namespace` (the newest, when several).
pub async fn pod(env: &Env, namespace: &str, app: &str) -> String {
    let names = env
        .ok(&[
            "get",
            "pod",
            "-l",
            &format!("app={app}"),
            "-n",
            namespace,
            "--sort-by=.metadata.creationTimestamp",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .await;
    names
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned()
}
