//! Pods that really run: the kubelet starts built-in workloads on the pod IP, reports their
//! status, restarts crashes and refuses images it cannot run — seen through the real kubectl.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{Env, kubectl_path};

const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";

/// One HTTP/1.1 GET; the status code and body, or the connect error.
async fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: conformance\r\nX-Lab: step-1\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// Polls `kubectl args` until its output contains `want` (at most ~30 s), returning it.
async fn until(env: &Env, args: &[&str], want: &str) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        last = env.kubectl(args).await.stdout;
        if last.contains(want) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("kubectl {args:?} never showed {want:?}; last output:\n{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn httpbin_sample_serves_on_its_pod_ip_and_stops_with_its_pod() {
    if kubectl_path().is_none() || !std::path::Path::new(HTTPBIN).exists() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    let waited = env
        .ok(&[
            "wait",
            "--for=condition=ready",
            "pod",
            "-l",
            "app=httpbin",
            "--timeout=60s",
        ])
        .await;
    assert!(waited.contains("condition met"), "{waited}");
    let ip = env
        .ok(&[
            "get",
            "pod",
            "-l",
            "app=httpbin",
            "-o",
            "jsonpath={.items[0].status.podIP}",
        ])
        .await;
    assert!(ip.starts_with("127.1."), "{ip}");
    let addr = format!("{ip}:8080");

    let (code, body) = get(&addr, "/get?show_env=1")
        .await
        .expect("httpbin answers");
    assert_eq!(code, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(json["args"]["show_env"], serde_json::json!(["1"]), "{body}");
    assert_eq!(
        json["headers"]["X-Lab"],
        serde_json::json!(["step-1"]),
        "{body}"
    );
    assert_eq!(json["method"], "GET");
    assert_eq!(json["url"], format!("http://{addr}/get?show_env=1"));

    let (code, body) = get(&addr, "/status/418").await.expect("httpbin answers");
    assert_eq!(code, 418);
    assert!(body.contains("teapot"), "{body}");

    let (_, body) = get(&addr, "/ip").await.expect("httpbin answers");
    assert!(body.contains("\"origin\""), "{body}");

    // Status is the truth: running, ready, never restarted.
    let pods = env
        .ok(&["get", "pods", "-l", "app=httpbin", "--no-headers"])
        .await;
    let cells: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(cells[1..4], ["1/1", "Running", "0"], "{pods}");

    // The request log is kept per container.
    let pod_name = env
        .ok(&[
            "get",
            "pod",
            "-l",
            "app=httpbin",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    let logs = env
        .mesh()
        .kubelet()
        .logs("default", &pod_name, Some("httpbin"), false)
        .expect("the container has a log");
    assert!(
        logs.iter()
            .any(|l| l.contains("uri=\"/status/418\"") && l.contains("status=418")),
        "{logs:?}"
    );

    // Deleting the Deployment stops the workload and frees the port.
    env.ok(&["delete", "deploy", "httpbin", "--wait=true"])
        .await;
    env.ok(&[
        "wait",
        "--for=delete",
        "pod",
        "-l",
        "app=httpbin",
        "--timeout=60s",
    ])
    .await;
    let mut refused = false;
    for _ in 0..100 {
        if get(&addr, "/get").await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "{addr} still answers after its pod was deleted");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_the_mesh_cannot_run_backs_off_with_an_event_naming_what_it_can_run() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let manifest = env.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mystery\nspec:\n  containers:\n  - name: app\n    image: registry.example/no-such-app:1.0\n",
    );
    env.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;
    let pods = until(
        &env,
        &["get", "pods", "mystery", "--no-headers"],
        "ImagePullBackOff",
    )
    .await;
    let cells: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(cells[1], "0/1", "{pods}");
    let ready = env
        .ok(&[
            "get",
            "pod",
            "mystery",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ])
        .await;
    assert_eq!(ready, "False");
    let described = env.ok(&["describe", "pod", "mystery"]).await;
    assert!(described.contains("Warning"), "{described}");
    assert!(
        described.contains("Failed to pull image \"registry.example/no-such-app:1.0\""),
        "{described}"
    );
    assert!(
        described.contains("docker.io/mccutchen/go-httpbin"),
        "{described}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_container_is_restarted_and_its_restarts_counted() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    // Two httpbin containers on the same port: whichever binds second crashes (address in use).
    let manifest = env.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: clash\nspec:\n  containers:\n  - name: a\n    image: docker.io/mccutchen/go-httpbin:v2.15.0\n    ports:\n    - containerPort: 8080\n  - name: b\n    image: docker.io/mccutchen/go-httpbin:v2.15.0\n    ports:\n    - containerPort: 8080\n",
    );
    env.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;
    let restarts = "jsonpath={.status.containerStatuses[*].restartCount}";
    let mut counts = String::new();
    for _ in 0..150 {
        counts = env.ok(&["get", "pod", "clash", "-o", restarts]).await;
        if counts
            .split_whitespace()
            .any(|c| c.parse::<u32>().unwrap_or(0) >= 2)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let parsed: Vec<u32> = counts
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect();
    assert!(
        parsed.contains(&0),
        "the container that bound first keeps running: {counts}"
    );
    assert!(
        parsed.iter().any(|c| *c >= 2),
        "the clashing one restarts again and again: {counts}"
    );
    let pods = env.ok(&["get", "pods", "clash", "--no-headers"]).await;
    let cells: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(cells[1], "1/2", "{pods}");
    let last = env
        .ok(&[
            "get",
            "pod",
            "clash",
            "-o",
            "jsonpath={.status.containerStatuses[*].lastState.terminated.message}",
        ])
        .await;
    assert!(
        last.to_lowercase().contains("address already in use"),
        "the crash says why: {last}"
    );
    // The restarted container's previous run is kept apart from the current one.
    let kubelet = env.mesh().kubelet();
    let previous: Vec<String> = ["a", "b"]
        .iter()
        .filter_map(|c| kubelet.logs("default", "clash", Some(c), true))
        .flatten()
        .collect();
    assert!(
        ["a", "b"]
            .iter()
            .any(|c| kubelet.logs("default", "clash", Some(c), true).is_some()),
        "a previous run is kept for the restarted container: {previous:?}"
    );
    let described = env.ok(&["describe", "pod", "clash"]).await;
    assert!(
        described.contains("Back-off restarting failed container"),
        "{described}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_comes_from_the_pods_http_probe() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let pod = |name: &str, path: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    probe: \"yes\"\nspec:\n  containers:\n  - name: web\n    image: docker.io/mccutchen/go-httpbin:v2.15.0\n    ports:\n    - name: http\n      containerPort: 8080\n    readinessProbe:\n      httpGet:\n        path: {path}\n        port: http\n      periodSeconds: 1\n      failureThreshold: 1\n"
        )
    };
    let ok = env.write("ok.yaml", &pod("healthy", "/status/200"));
    let bad = env.write("bad.yaml", &pod("failing", "/status/503"));
    env.ok(&[
        "apply",
        "-f",
        ok.to_str().unwrap(),
        "-f",
        bad.to_str().unwrap(),
    ])
    .await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod/healthy",
        "--timeout=60s",
    ])
    .await;
    // The failing probe was tried (its GET is in the container's log) and kept the pod unready.
    let mut probed = false;
    for _ in 0..100 {
        let logs = env
            .mesh()
            .kubelet()
            .logs("default", "failing", None, false)
            .unwrap_or_default();
        if logs
            .iter()
            .any(|l| l.contains("uri=\"/status/503\"") && l.contains("kube-probe"))
        {
            probed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(probed, "the kubelet never GET the readiness path");
    let pods = env
        .ok(&["get", "pods", "-l", "probe=yes", "--no-headers"])
        .await;
    let failing = pods.lines().find(|l| l.starts_with("failing")).unwrap();
    let cells: Vec<&str> = failing.split_whitespace().collect();
    assert_eq!(cells[1..3], ["0/1", "Running"], "{pods}");
    let healthy = pods.lines().find(|l| l.starts_with("healthy")).unwrap();
    assert!(healthy.contains(" 1/1 "), "{pods}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_come_back_and_serve_after_the_mesh_restarts() {
    if kubectl_path().is_none() || !std::path::Path::new(HTTPBIN).exists() {
        return;
    }
    let mut env = Env::start().await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    let ready = [
        "wait",
        "--for=condition=ready",
        "pod",
        "-l",
        "app=httpbin",
        "--timeout=60s",
    ];
    env.ok(&ready).await;
    let ip_of = [
        "get",
        "pod",
        "-l",
        "app=httpbin",
        "-o",
        "jsonpath={.items[0].status.podIP}",
    ];
    let ip = env.ok(&ip_of).await;
    env.restart().await;
    // Stopping the mesh stopped the workload; the restarted mesh starts it again.
    env.ok(&ready).await;
    assert_eq!(env.ok(&ip_of).await, ip, "the pod keeps its IP");
    let mut answered = None;
    for _ in 0..100 {
        if let Ok(r) = get(&format!("{ip}:8080"), "/headers").await {
            answered = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, body) = answered.expect("httpbin answers after the restart");
    assert_eq!(code, 200);
    assert!(body.contains("\"X-Lab\""), "{body}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_that_must_not_restart_finish_as_succeeded_or_failed() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let ok = env
        .kubectl(&[
            "run",
            "done",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "echo finished",
        ])
        .await;
    assert_eq!(ok.code, 0, "{ok:?}");
    let broken = env
        .kubectl(&[
            "run",
            "broken",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "exit 4",
        ])
        .await;
    assert_eq!(broken.code, 0, "{broken:?}");
    let once = env.write(
        "once.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: once\nspec:\n  restartPolicy: OnFailure\n  containers:\n  - name: c\n    image: busybox\n    command: [\"true\"]\n",
    );
    env.ok(&["apply", "-f", once.to_str().unwrap()]).await;
    let phase = "jsonpath={.status.phase}";
    for (pod, want) in [
        ("done", "Succeeded"),
        ("broken", "Failed"),
        ("once", "Succeeded"),
    ] {
        let mut seen = String::new();
        for _ in 0..100 {
            seen = env.ok(&["get", "pod", pod, "-o", phase]).await;
            if seen == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(seen, want, "pod {pod}");
    }
    let pods = env.ok(&["get", "pods", "--no-headers"]).await;
    let status = |name: &str| -> Vec<String> {
        pods.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    assert_eq!(status("done")[1..4], ["0/1", "Completed", "0"], "{pods}");
    assert_eq!(status("broken")[1..4], ["0/1", "Error", "0"], "{pods}");
    let code = env
        .ok(&[
            "get",
            "pod",
            "broken",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}",
        ])
        .await;
    assert_eq!(code, "4");
    assert_eq!(env.ok(&["logs", "done"]).await, "finished\n");
    env.stop().await;
}
