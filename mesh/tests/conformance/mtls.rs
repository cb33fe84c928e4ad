//! Istio's mutual TLS migration task on the reference mesh, with the real kubectl and the real
//! Envoys: httpbin and curl injected (with `istioctl kube-inject`'s injection) in `foo` and `bar`,
//! curl without a sidecar in `legacy`; the request matrix before and after PeerAuthentication
//! STRICT in one namespace and mesh-wide; the identities the server side sees in
//! `X-Forwarded-Client-Cert`; plaintext from outside the mesh refused under STRICT; and the
//! ingress gateway still reaching an injected service over mutual TLS.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{Env, kubectl_path};
use super::istio_env::{
    envoy_present, eventually, gateway_port, install_dir, pod, pods_ready, ready,
};

const SAMPLES: &str = "/work/shared/istio-samples/samples";
/// Where the migration task's clients run.
const CLIENTS: [&str; 3] = ["foo", "bar", "legacy"];
/// Where its servers run.
const SERVERS: [&str; 2] = ["foo", "bar"];

/// An Istio sample manifest as `istioctl kube-inject -f` prints it.
fn kube_injected(sample: &str) -> String {
    let text = std::fs::read_to_string(format!("{SAMPLES}/{sample}")).expect("Istio's sample");
    let settings = meshwork_mesh::inject::Settings::default();
    let mut out = String::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut value = serde_json::Value::deserialize(doc).expect("YAML");
        if value.is_null() {
            continue;
        }
        meshwork_mesh::inject::inject_document(&mut value, &settings);
        out.push_str(&serde_yaml::to_string(&value).expect("YAML"));
        out.push_str("---\n");
    }
    out
}

/// Istio installed, the task's namespaces and workloads deployed and ready.
async fn migration_task(env: &Env) {
    env.ok(&["apply", "-f", install_dir().to_str().expect("path")])
        .await;
    for selector in ["app=istiod", "istio=ingressgateway"] {
        ready(env, "istio-system", selector).await;
    }
    let httpbin = env.write(
        "httpbin-injected.yaml",
        &kube_injected("httpbin/httpbin.yaml"),
    );
    let curl = env.write("curl-injected.yaml", &kube_injected("curl/curl.yaml"));
    let legacy_curl = format!("{SAMPLES}/curl/curl.yaml");
    for ns in CLIENTS {
        env.ok(&["create", "namespace", ns]).await;
    }
    for ns in SERVERS {
        env.ok(&["apply", "-n", ns, "-f", httpbin.to_str().expect("path")])
            .await;
        env.ok(&["apply", "-n", ns, "-f", curl.to_str().expect("path")])
            .await;
    }
    env.ok(&["apply", "-n", "legacy", "-f", &legacy_curl]).await;
    // Not in the task's matrix: a server without a sidecar, for sidecar → legacy traffic.
    env.ok(&[
        "apply",
        "-n",
        "legacy",
        "-f",
        &format!("{SAMPLES}/httpbin/httpbin.yaml"),
    ])
    .await;
    for ns in SERVERS {
        pods_ready(env, ns, 2).await;
    }
    pods_ready(env, "legacy", 2).await;
    let table = env.ok(&["get", "pods", "-A"]).await;
    for row in table
        .lines()
        .filter(|l| l.starts_with("foo ") || l.starts_with("bar "))
    {
        assert_eq!(
            row.split_whitespace().nth(2),
            Some("2/2"),
            "injected pods run their app and a sidecar:\n{table}"
        );
    }
}

/// One cell of the task's matrix: what `curl … -w "%{http_code}"` printed, kubectl's exit code
/// and its error output.
#[derive(Debug, PartialEq, Eq)]
struct Cell {
    from: &'static str,
    to: &'static str,
    code: String,
    exit: i32,
    stderr: String,
}

/// The task's command: from curl in each client namespace to httpbin in each server namespace.
async fn matrix(env: &Env) -> Vec<Cell> {
    let mut out = Vec::new();
    for from in CLIENTS {
        let client = pod(env, from, "curl").await;
        for to in SERVERS {
            let run = env
                .kubectl_exec(&[
                    "exec",
                    &client,
                    "-c",
                    "curl",
                    "-n",
                    from,
                    "--",
                    "curl",
                    &format!("http://httpbin.{to}:8000/ip"),
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                ])
                .await;
            out.push(Cell {
                from,
                to,
                code: run.stdout,
                exit: run.code,
                stderr: run.stderr,
            });
        }
    }
    out
}

/// The cells that did not answer 200, as (from, to).
fn failing(cells: &[Cell]) -> Vec<(&'static str, &'static str)> {
    cells
        .iter()
        .filter(|c| c.code != "200")
        .map(|c| (c.from, c.to))
        .collect()
}

/// Waits until the matrix fails exactly at `expected` (configuration reaches the Envoys
/// asynchronously), and returns it.
async fn matrix_failing_at(env: &Env, expected: &[(&str, &str)]) -> Vec<Cell> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cells = matrix(env).await;
        if failing(&cells) == expected {
            for c in &cells {
                println!(
                    "curl.{} to httpbin.{}: {} (exit {})",
                    c.from, c.to, c.code, c.exit
                );
            }
            return cells;
        }
        assert!(
            Instant::now() < deadline,
            "the matrix should fail at {expected:?}, it is:\n{cells:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every failing cell shows what Istio's task shows for a client without a sidecar.
fn assert_reset_like_istio(cells: &[Cell]) {
    for cell in cells.iter().filter(|c| c.code != "200") {
        assert_eq!(cell.code, "000", "{cell:?}");
        assert_eq!(cell.exit, 56, "{cell:?}");
        assert_eq!(
            cell.stderr.trim(),
            "command terminated with exit code 56",
            "{cell:?}"
        );
    }
}

fn peer_authentication(namespace: &str, mode: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: {namespace}
spec:
  mtls:
    mode: {mode}
"
    )
}

/// What a plaintext HTTP `GET path` from the host straight to `addr` gets back: the bytes of
/// an answer, or the error that ended the exchange.
async fn plaintext_from_host(addr: &str, path: &str) -> Result<Vec<u8>, std::io::ErrorKind> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.kind())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: httpbin\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.kind())?;
    let mut answer = Vec::new();
    match tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await {
        Ok(Ok(_)) => Ok(answer),
        Ok(Err(e)) => Err(e.kind()),
        Err(_) => Err(std::io::ErrorKind::TimedOut),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istios_mutual_tls_migration_task() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = Env::start().await;
    migration_task(&env).await;

    // Before any policy: every client reaches every server (PERMISSIVE takes both).
    let cells = matrix_failing_at(&env, &[]).await;
    assert!(cells.iter().all(|c| c.exit == 0), "{cells:#?}");

    // Sidecar to sidecar is mutual TLS: httpbin sees curl's identity, signed by its own.
    let client = pod(&env, "foo", "curl").await;
    let headers = env
        .ok(&[
            "exec",
            &client,
            "-c",
            "curl",
            "-n",
            "foo",
            "--",
            "curl",
            "-s",
            "http://httpbin.foo:8000/headers",
        ])
        .await;
    let body: serde_json::Value = serde_json::from_str(&headers).expect("httpbin's JSON");
    let xfcc = body["headers"]["X-Forwarded-Client-Cert"]
        .as_array()
        .and_then(|values| values.first())
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("no X-Forwarded-Client-Cert: {headers}"));
    println!("X-Forwarded-Client-Cert: {xfcc}");
    let fields: Vec<&str> = xfcc.split(';').collect();
    assert_eq!(
        fields[0], "By=spiffe://cluster.local/ns/foo/sa/httpbin",
        "{xfcc}"
    );
    let hash = fields[1].strip_prefix("Hash=").expect("Hash=");
    assert!(
        hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{xfcc}"
    );
    assert_eq!(
        fields[2..],
        ["Subject=\"\"", "URI=spiffe://cluster.local/ns/foo/sa/curl"],
        "{xfcc}"
    );
    // Without a sidecar there is no client certificate, so no XFCC.
    let legacy = pod(&env, "legacy", "curl").await;
    let headers = env
        .ok(&[
            "exec",
            &legacy,
            "-c",
            "curl",
            "-n",
            "legacy",
            "--",
            "curl",
            "-s",
            "http://httpbin.foo:8000/headers",
        ])
        .await;
    assert!(!headers.contains("X-Forwarded-Client-Cert"), "{headers}");
    // httpbin's sidecar logs the mTLS request with the SNI curl's sidecar sent.
    eventually(
        "httpbin's access log line with the SNI",
        Duration::from_secs(30),
        || async {
            let logs = env
                .ok(&["logs", "-n", "foo", "deploy/httpbin", "-c", "istio-proxy"])
                .await;
            logs.lines()
                .any(|l| {
                    l.contains("\"GET /headers HTTP/1.1\" 200")
                        && l.contains("outbound_.8000_._.httpbin.foo.svc.cluster.local")
                })
                .then_some(())
        },
    )
    .await;

    // STRICT in foo: only the client without a sidecar loses foo, as curl 8 reports a reset.
    let foo_strict = env.write("foo-strict.yaml", &peer_authentication("foo", "STRICT"));
    env.ok(&["apply", "-f", foo_strict.to_str().expect("path")])
        .await;
    let cells = matrix_failing_at(&env, &[("legacy", "foo")]).await;
    assert_reset_like_istio(&cells);

    // A DestinationRule that turns TLS off towards httpbin.foo is honoured: curl.foo's sidecar
    // then speaks plaintext, which httpbin's STRICT sidecar refuses (503 from the client side).
    let client = pod(&env, "foo", "curl").await;
    let status_from_foo = |url: &'static str| {
        let client = client.clone();
        let env = &env;
        async move {
            env.kubectl_exec(&[
                "exec",
                &client,
                "-c",
                "curl",
                "-n",
                "foo",
                "--",
                "curl",
                url,
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .await
            .stdout
        }
    };
    let plaintext_rule = env.write(
        "httpbin-plaintext.yaml",
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin-plaintext
  namespace: foo
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy:
    tls:
      mode: DISABLE
",
    );
    env.ok(&["apply", "-f", plaintext_rule.to_str().expect("path")])
        .await;
    eventually(
        "curl.foo refused by STRICT httpbin.foo with TLS off",
        Duration::from_secs(60),
        || async { (status_from_foo("http://httpbin.foo:8000/ip").await == "503").then_some(()) },
    )
    .await;
    env.ok(&["delete", "-f", plaintext_rule.to_str().expect("path")])
        .await;
    eventually(
        "curl.foo back on mutual TLS to httpbin.foo",
        Duration::from_secs(60),
        || async { (status_from_foo("http://httpbin.foo:8000/ip").await == "200").then_some(()) },
    )
    .await;

    // A plaintext request from the host straight to httpbin's pod IP is refused as well.
    let ip = env
        .ok(&[
            "get",
            "pod",
            "-n",
            "foo",
            "-l",
            "app=httpbin",
            "-o",
            "jsonpath={.items[0].status.podIP}",
        ])
        .await;
    match plaintext_from_host(&format!("{}:8080", ip.trim()), "/ip").await {
        Err(std::io::ErrorKind::ConnectionReset) => {}
        Ok(bytes) if bytes.is_empty() => {}
        other => panic!(
            "plaintext to an injected pod under STRICT gets no HTTP answer, not {:?}",
            other.map(|b| String::from_utf8_lossy(&b).into_owned())
        ),
    }

    // STRICT mesh-wide: legacy loses bar too; sidecars keep talking.
    let mesh_strict = env.write(
        "mesh-strict.yaml",
        &peer_authentication("istio-system", "STRICT"),
    );
    env.ok(&["apply", "-f", mesh_strict.to_str().expect("path")])
        .await;
    let cells = matrix_failing_at(&env, &[("legacy", "foo"), ("legacy", "bar")]).await;
    assert_reset_like_istio(&cells);
    // Auto mTLS still speaks plaintext to a server without a sidecar.
    assert_eq!(
        status_from_foo("http://httpbin.legacy:8000/ip").await,
        "200"
    );

    // The ingress gateway is in the mesh: it reaches httpbin in foo over mutual TLS.
    env.ok(&[
        "apply",
        "-n",
        "foo",
        "-f",
        &format!("{SAMPLES}/httpbin/httpbin-gateway.yaml"),
    ])
    .await;
    let port = gateway_port(&env).await;
    let through_gateway = eventually(
        "httpbin's /headers through the ingress gateway",
        Duration::from_secs(60),
        || async {
            let answer = plaintext_from_host(&format!("127.0.0.1:{port}"), "/headers")
                .await
                .ok()?;
            let text = String::from_utf8_lossy(&answer).into_owned();
            text.starts_with("HTTP/1.1 200").then_some(text)
        },
    )
    .await;
    println!("{through_gateway}");
    assert!(
        through_gateway.contains(
            "URI=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
        ),
        "{through_gateway}"
    );

    // Removing the policies restores plaintext for the legacy client.
    env.ok(&[
        "delete",
        "peerauthentication",
        "-n",
        "istio-system",
        "default",
    ])
    .await;
    env.ok(&["delete", "peerauthentication", "-n", "foo", "default"])
        .await;
    let cells = matrix_failing_at(&env, &[]).await;
    assert!(cells.iter().all(|c| c.exit == 0), "{cells:#?}");
    env.stop().await;
}
