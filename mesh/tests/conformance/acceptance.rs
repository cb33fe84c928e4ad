//! The acceptance of "pods that really run", step by step as a learner types it: Bookinfo from
//! Istio's samples, the title fetched from inside the mesh, all three reviews versions through a
//! NodePort, jason's `end-user` header, fortio against httpbin, logs, an interactive shell, an
//! unknown command, and a mesh restart after which the same pods serve again.

use std::time::Duration;

use super::harness::{Env, kubectl_path};

const SAMPLES: &str = "/work/shared/istio-samples/samples";

/// Runs a shell command line on the host (pipes and all) with kubectl pointed at the mesh.
async fn host_shell(env: &Env, line: &str, stdin: Option<&str>) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("bash")
        .args(["-c", line])
        .env("KUBECONFIG", env.kubeconfig())
        .env("HOME", env.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("write stdin");
    }
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the command ends within two minutes")
        .expect("bash output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// GETs a URL on 127.0.0.1 with a plain HTTP/1.1 request; returns (status, body).
async fn get(port: &str, path: &str, cookie: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connect to the node port");
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{cookie}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

fn version_of(page: &str) -> &'static str {
    if page.contains("text-red-500") || page.contains("color=\"red\"") {
        "v3"
    } else if page.contains("text-black-500") || page.contains("color=\"black\"") {
        "v2"
    } else {
        "v1"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workshop_commands_work_on_real_running_pods() {
    if kubectl_path().is_none() {
        return;
    }
    let mut env = Env::start().await;
    let bookinfo = format!("{SAMPLES}/bookinfo/platform/kube/bookinfo.yaml");
    let nodeport = format!("{SAMPLES}/bookinfo/platform/kube/productpage-nodeport.yaml");
    let httpbin = format!("{SAMPLES}/httpbin/httpbin.yaml");
    let fortio = format!("{SAMPLES}/httpbin/sample-client/fortio-deploy.yaml");
    let curl = format!("{SAMPLES}/curl/curl.yaml");
    for file in [&bookinfo, &nodeport, &httpbin, &fortio, &curl] {
        env.ok(&["apply", "-f", file]).await;
    }
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=90s",
    ])
    .await;

    // The title, fetched from inside the mesh; the grep runs on the host.
    let (code, out, err) = host_shell(
        &env,
        r#"kubectl exec deploy/ratings-v1 -c ratings -- curl -sS productpage:9080/productpage | grep -o "<title>.*</title>""#,
        None,
    )
    .await;
    assert_eq!(
        (code, out.as_str()),
        (0, "<title>Simple Bookstore App</title>\n"),
        "{err}"
    );

    // Through the NodePort, every reviews version shows up (round-robin over three pods).
    let port = env
        .ok(&[
            "get",
            "svc",
            "productpage",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let (code, page) = get(&port, "/productpage", None).await;
        assert_eq!(code, 200, "{page}");
        seen.insert(version_of(&page));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["v1", "v2", "v3"],
        "all three reviews versions answer"
    );

    // Signed in as jason, productpage's calls carry `end-user: jason` (reviews logs it).
    let (code, out, err) = host_shell(
        &env,
        "kubectl exec deploy/curl -- sh -c 'curl -s -c /tmp/jar -d username=jason -o /dev/null -w \"%{http_code}\" http://productpage:9080/login && for i in 1 2 3 4 5 6; do curl -s -b /tmp/jar http://productpage:9080/productpage -o /dev/null; done'",
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with('3') || out.starts_with('2'),
        "login answered {out}"
    );
    let mut jason = false;
    for version in ["v1", "v2", "v3"] {
        let (_, logs, _) = host_shell(
            &env,
            &format!("kubectl logs deploy/reviews-{version}"),
            None,
        )
        .await;
        jason |= logs.contains("jason");
    }
    assert!(jason, "a reviews pod logged the end-user jason");

    // A pod's connections leave from its own IP, as httpbin's /ip shows.
    let curl_ip = env
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=curl",
            "-o",
            "jsonpath={.items[0].status.podIP}",
        ])
        .await;
    let (code, out, err) = host_shell(
        &env,
        "kubectl exec deploy/curl -- curl -s http://httpbin:8000/ip",
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("\"{curl_ip}\"")),
        "origin {curl_ip}: {out}"
    );

    // fortio against httpbin.
    let (code, out, err) = host_shell(
        &env,
        "kubectl exec deploy/fortio-deploy -c fortio -- fortio load -c 2 -qps 0 -n 20 -loglevel Warning http://httpbin:8000/get",
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Code 200 : 20 (100.0 %)"), "{out}\n{err}");

    // Logs, and a shell fed on stdin.
    let (code, logs, err) = host_shell(&env, "kubectl logs deploy/productpage-v1", None).await;
    assert_eq!(code, 0, "{err}");
    assert!(logs.contains("/productpage"), "request lines: {logs}");
    let (code, out, err) = host_shell(
        &env,
        "kubectl exec -i deploy/curl -- sh",
        Some("echo hello from $(hostname)\nexit 3\n"),
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.starts_with("hello from curl-"), "{out}");
    assert!(err.contains("command terminated with exit code 3"), "{err}");

    // An unknown command fails as in a real container.
    let (code, _, err) = host_shell(&env, "kubectl exec deploy/curl -- no-such-tool", None).await;
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("no-such-tool"), "{err}");

    // Stop and start the mesh: the same pods come back and serve.
    let before = env
        .ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"])
        .await;
    env.restart().await;
    let after = env
        .ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"])
        .await;
    assert_eq!(before, after);
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=90s",
    ])
    .await;
    let mut served = false;
    for _ in 0..50 {
        if get(&port, "/productpage", None).await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served,
        "productpage serves again through its NodePort after the restart"
    );
    env.stop().await;
}
