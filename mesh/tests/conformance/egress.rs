//! Egress on the reference mesh, with the real kubectl and the real Envoys and no internet: an
//! "external" server on a loopback address outside the cluster stands in for the outside world.
//! Under the default `ALLOW_ANY` a pod with a sidecar reaches it directly; with the mesh config's
//! `outboundTrafficPolicy.mode: REGISTRY_ONLY` the sidecar answers 502 from `BlackHoleCluster`;
//! a ServiceEntry makes an external name reachable again (routed by the sidecar to where its
//! endpoints say); and Istio's egress gateway task sends that traffic through the egress gateway.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::harness::{Env, kubectl_path};
use super::istio_env::{apply_inline, envoy_present, eventually, istio, pod_named, ready, sample};

/// The external host the ServiceEntry names.
const EXTERNAL: &str = "external.example.com";

/// An HTTP server outside the cluster on 127.0.0.2 that answers every request with the Host it
/// was asked for; counts its requests.
async fn external_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind 127.0.0.2");
    let port = listener.local_addr().expect("addr").port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&got);
                let host = head
                    .lines()
                    .find_map(|l| {
                        l.split_once(':')
                            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
                            .map(|(_, v)| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                count.fetch_add(1, Ordering::SeqCst);
                let body = format!("the outside world, asked for host={host}\n");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, served)
}

/// `curl` in the curl pod: (stdout, exit code).
async fn curl(env: &Env, pod: &str, args: &[&str]) -> (String, i32) {
    let mut argv = vec!["exec", pod, "-c", "curl", "--", "curl"];
    argv.extend_from_slice(args);
    let out = env.kubectl(&argv).await;
    if out.code != 0 {
        eprintln!("curl {args:?}: exit {}: {}", out.code, out.stderr.trim());
    }
    (out.stdout.clone(), out.code)
}

/// Waits until curl in `pod` prints `want` somewhere in its output for `args`.
async fn until_curl(env: &Env, pod: &str, args: &[&str], want: &str) {
    let last = std::sync::Mutex::new(String::new());
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (out, code) = curl(env, pod, args).await;
            if out.contains(want) {
                return;
            }
            *last.lock().unwrap() = format!("exit {code}: {out}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "curl {args:?} never printed {want:?}; last: {}",
        last.lock().unwrap()
    );
}

async fn proxy_log(env: &Env, namespace: &str, target: &str) -> String {
    env.ok(&["logs", "-n", namespace, target, "-c", "istio-proxy"])
        .await
}

/// Waits until a line of the proxy's access log fits `line` (Envoy flushes its access log a
/// moment after the response).
async fn until_logged(
    env: &Env,
    namespace: &str,
    target: &str,
    what: &str,
    line: impl Fn(&str) -> bool,
) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let log = proxy_log(env, namespace, target).await;
            if log.lines().any(&line) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    if found.is_err() {
        let log = proxy_log(env, namespace, target).await;
        panic!("{what}: no such line in the access log of {target}:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_only_service_entries_and_the_egress_gateway() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let (port, served) = external_server().await;
    let env = istio().await;
    env.ok(&["apply", "-f", &sample("curl/curl.yaml")]).await;
    ready(&env, "default", "app=curl").await;
    let pod = pod_named(&env, "default", "curl").await;
    let direct = format!("http://127.0.0.2:{port}/");

    // ALLOW_ANY: a host outside the registry is reached directly.
    let (out, code) = curl(&env, &pod, &["-s", &direct]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the outside world"), "{out}");

    // REGISTRY_ONLY, set in the mesh config as `kubectl edit configmap istio` would.
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
    let patch = serde_json::json!({"data": {"mesh": format!(
        "{}\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n",
        mesh.trim_end()
    )}});
    env.ok(&[
        "patch",
        "configmap",
        "istio",
        "-n",
        "istio-system",
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ])
    .await;
    // Port 80 has an outbound listener (curl's own Service): its catch-all `block_all` answers
    // 502 itself.
    until_curl(
        &env,
        &pod,
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.2/",
        ],
        "502",
    )
    .await;
    let before = served.load(Ordering::SeqCst);
    let (out, code) = curl(&env, &pod, &["-s", "-w", "%{http_code}", &direct]).await;
    assert_ne!(code, 0, "blocked under REGISTRY_ONLY: {out}");
    assert_eq!(
        served.load(Ordering::SeqCst),
        before,
        "nothing reached the outside"
    );
    until_logged(
        &env,
        "default",
        &format!("pod/{pod}"),
        "the sidecar blocked it",
        |l| l.contains(" 502 ") && l.contains("direct_response") && l.ends_with("block_all"),
    )
    .await;

    // A ServiceEntry puts the external host in the registry; its endpoint is the server.
    apply_inline(
        &env,
        "external-se.yaml",
        &format!(
            r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external
spec:
  hosts:
  - {EXTERNAL}
  location: MESH_EXTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: 127.0.0.2
    ports:
      http: {port}
"#
        ),
    )
    .await;
    until_curl(
        &env,
        &pod,
        &["-s", &format!("http://{EXTERNAL}/headers")],
        &format!("host={EXTERNAL}"),
    )
    .await;
    until_logged(
        &env,
        "default",
        &format!("pod/{pod}"),
        "the sidecar routed it",
        |l| l.contains(&format!("outbound|80||{EXTERNAL}")),
    )
    .await;

    // Istio's egress gateway task: mesh traffic for the host goes to the egress gateway, which
    // sends it out.
    apply_inline(
        &env,
        "egress-gateway.yaml",
        &format!(
            r#"apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - {EXTERNAL}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-external
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: external
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-external-through-egress-gateway
spec:
  hosts:
  - {EXTERNAL}
  gateways:
  - istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: 80
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: external
        port:
          number: 80
      weight: 100
  - match:
    - gateways:
      - istio-egressgateway
      port: 80
    route:
    - destination:
        host: {EXTERNAL}
        port:
          number: 80
      weight: 100
"#
        ),
    )
    .await;
    eventually(
        "the egress gateway's access log showing the request",
        Duration::from_secs(30),
        || async {
            let (out, _) = curl(&env, &pod, &["-s", &format!("http://{EXTERNAL}/politics")]).await;
            if !out.contains(&format!("host={EXTERNAL}")) {
                return None;
            }
            let log = proxy_log(&env, "istio-system", "deployment/istio-egressgateway").await;
            log.lines()
                .any(|l| l.contains("/politics") && l.contains(&format!("outbound|80||{EXTERNAL}")))
                .then_some(())
        },
    )
    .await;
    until_logged(
        &env,
        "default",
        &format!("pod/{pod}"),
        "the sidecar sent it to the egress gateway",
        |l| {
            l.contains("/politics")
                && l.contains(
                    "outbound|80|external|istio-egressgateway.istio-system.svc.cluster.local",
                )
        },
    )
    .await;
    env.stop().await;
}
