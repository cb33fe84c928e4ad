//! The real Envoy in the reference mesh: an `istio/proxyv2` container runs an Envoy process
//! whose admin answers, whose log is the container's log, which is restarted when it dies and
//! ends with its pod; `pilot-agent request` reads its admin from inside the container.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::future::Future;
use std::time::{Duration, Instant};

use meshwork_mesh::envoy::{self, Registered};

use super::harness::{Env, kubectl_path};

/// Whether to run: Envoy must be there unless the run turned Envoy tests off.
fn envoy_present() -> bool {
    if envoy::tests_skipped() {
        eprintln!("skipping: MESHWORK_SKIP_ENVOY is set");
        return false;
    }
    if let Err(missing) = envoy::locate() {
        panic!("{missing} (or set MESHWORK_SKIP_ENVOY=1 to turn the Envoy tests off)");
    }
    true
}

/// Polls `check` until it gives a value; fails after a minute with `what`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn proxy_pod(name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  containers:
  - name: app
    image: docker.io/curlimages/curl:8.16.0
    command: ["sleep", "infinity"]
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.28.0
    args: ["proxy", "sidecar", "--proxyLogLevel=info"]
    ports:
    - containerPort: 15090
      name: http-envoy-prom
"#
    )
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn running_envoy(namespace: &str, pod: &str, not_pid: Option<u32>) -> Registered {
    eventually(&format!("an Envoy for {namespace}/{pod}"), || async {
        envoy::registered(namespace, pod).filter(|r| Some(r.pid) != not_pid)
    })
    .await
}

async fn restart_count(env: &Env, pod: &str) -> String {
    env.ok(&[
        "get",
        "pod",
        pod,
        "-o",
        r#"jsonpath={.status.containerStatuses[?(@.name=="istio-proxy")].restartCount}"#,
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_container_runs_envoy_that_restarts_and_ends_with_its_pod() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = Env::start().await;
    let manifest = env.write(
        "web.yaml",
        &(proxy_pod("web") + "---\n" + &proxy_pod("api")),
    );
    env.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;

    let first = running_envoy("default", "web", None).await;
    assert_eq!(first.container, "istio-proxy");
    assert!(process_exists(first.pid), "Envoy's process {}", first.pid);
    let other = running_envoy("default", "api", None).await;
    assert_ne!(first.base_id, other.base_id, "two Envoys share a base id");
    assert_ne!(first.admin, other.admin);

    // The admin is the real Envoy 1.40.
    let info = envoy::admin_get(first.admin, "/server_info").await.unwrap();
    assert_eq!(info.status, 200);
    let info: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    let version = info["version"].as_str().unwrap();
    assert!(version.contains("/1.40."), "{version}");
    // Started as a sidecar should be: one worker thread, Istio's node id.
    assert_eq!(info["command_line_options"]["concurrency"], 1);
    let node = info["node"]["id"].as_str().unwrap();
    assert!(
        node.starts_with("sidecar~127.1.")
            && node.ends_with("~web.default~default.svc.cluster.local"),
        "{node}"
    );

    // Envoy's own lines are the container's log, next to the agent's.
    let logs = eventually("Envoy's start-up lines in the istio-proxy log", || async {
        let out = env.ok(&["logs", "web", "-c", "istio-proxy"]).await;
        (out.contains("initializing epoch 0") && out.contains("Envoy 1.40")).then_some(out)
    })
    .await;
    assert!(
        logs.lines().any(|l| l.contains("\tinfo\tenvoy main ")),
        "{logs}"
    );

    // pilot-agent inside the container reads the same admin.
    let out = env
        .ok(&[
            "exec",
            "web",
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "server_info",
        ])
        .await;
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["node"]["id"].as_str(), Some(node));
    let stats = env
        .ok(&[
            "exec",
            "web",
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "stats?filter=server.concurrency",
        ])
        .await;
    assert_eq!(stats.trim(), "server.concurrency: 1");
    // ... and is not in the app's container.
    let out = env
        .kubectl(&[
            "exec",
            "web",
            "-c",
            "app",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "stats",
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("-c istio-proxy"), "{}", out.stderr);

    // Envoy killed: the kubelet starts the container again, with a new Envoy.
    assert_eq!(restart_count(&env, "web").await, "0");
    let pid = rustix::process::Pid::from_raw(i32::try_from(first.pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    let second = running_envoy("default", "web", Some(first.pid)).await;
    assert_eq!(restart_count(&env, "web").await, "1");
    eventually("the killed Envoy to be reaped", || async {
        (!process_exists(first.pid)).then_some(())
    })
    .await;
    let previous = env
        .ok(&["logs", "web", "-c", "istio-proxy", "--previous"])
        .await;
    assert!(
        previous.contains("Envoy exited: killed by SIGKILL"),
        "{previous}"
    );
    let info = envoy::admin_get(second.admin, "/server_info")
        .await
        .unwrap();
    assert_eq!(info.status, 200);

    // Deleting the pod ends its Envoy.
    env.ok(&["delete", "pod", "web", "--wait=false"]).await;
    eventually("the deleted pod's Envoy to end", || async {
        (!process_exists(second.pid)).then_some(())
    })
    .await;
    assert!(envoy::registered("default", "web").is_none());
    assert!(
        process_exists(other.pid),
        "the other pod's Envoy must keep running"
    );

    env.stop().await;
    eventually("the mesh's Envoys to end with it", || async {
        (!process_exists(other.pid)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readiness_port_answers_from_envoys_admin() {
    use envoy::bootstrap::Bootstrap;
    use envoy::process::{StartOptions, WorkDir};
    if !envoy_present() {
        return;
    }
    let binary = envoy::locate().unwrap();
    let dir = WorkDir::create().unwrap();
    let ip: std::net::IpAddr = "127.1.250.7".parse().unwrap();
    let log = meshwork_mesh::workloads::LogBuffer::default();
    let options = StartOptions {
        // Static only: nothing to wait for, so Envoy is LIVE at once.
        bootstrap: Bootstrap {
            node_id: "sidecar~127.1.250.7~probe.default~default.svc.cluster.local".into(),
            cluster: "probe.default".into(),
            metadata: serde_json::Map::new(),
            xds: None,
            pod_ip: Some(ip),
        },
        log_level: "warning".into(),
        component_log_level: None,
        log: log.clone(),
        owner: None,
    };
    let process = envoy::EnvoyProcess::start(&binary, dir.path(), &options)
        .await
        .unwrap();
    let pid = process.pid();
    let body = eventually("/healthz/ready to say LIVE", || async {
        let mut stream = tokio::net::TcpStream::connect((ip, 15021)).await.ok()?;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /healthz/ready HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        text.starts_with("HTTP/1.1 200").then_some(text)
    })
    .await;
    assert!(body.contains("\nLIVE"), "{body}");
    let exit = process.stop().await;
    assert_eq!(
        exit.signal, None,
        "Envoy should exit by itself on SIGTERM: {exit}"
    );
    assert!(!process_exists(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoys_xds_connection_waits_for_istiod_and_then_reaches_its_pod() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = Env::start().await;
    let manifest = env.write("xds.yaml", &proxy_pod("xds"));
    env.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;
    running_envoy("default", "xds", None).await;
    // No Istio yet: the agent holds Envoy's xDS connection and says what it waits for.
    eventually("the agent to wait for istiod", || async {
        let out = env.ok(&["logs", "xds", "-c", "istio-proxy"]).await;
        out.contains("xDS: waiting for istiod.istio-system.svc:15010")
            .then_some(())
    })
    .await;
    // Something listening as istiod's pod on 15010 (a stand-in: only the connection matters).
    let istiod = env.write(
        "istiod.yaml",
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: Service
metadata:
  name: istiod
  namespace: istio-system
spec:
  selector:
    app: istiod
  ports:
  - name: grpc-xds
    port: 15010
---
apiVersion: v1
kind: Pod
metadata:
  name: istiod-standin
  namespace: istio-system
  labels:
    app: istiod
spec:
  containers:
  - name: discovery
    image: docker.io/library/nginx:1.27
    ports:
    - containerPort: 15010
"#,
    );
    env.ok(&["apply", "-f", istiod.to_str().unwrap()]).await;
    eventually("the agent to reach istiod's pod", || async {
        let out = env.ok(&["logs", "xds", "-c", "istio-proxy"]).await;
        out.contains("xDS: connected to istiod.istio-system.svc:15010")
            .then_some(())
    })
    .await;
    env.stop().await;
}
