//! kubectl logs, exec and port-forward against the reference mesh.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use super::harness::{Env, free_port, kubectl_path, read_until, stop_child};

const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";

/// One HTTP/1.1 GET to `addr`; the whole response as text.
async fn get(addr: &str, path: &str) -> std::io::Result<String> {
    request(addr, "GET", path, "").await
}

/// One HTTP/1.1 request to `addr`; the whole response as text.
async fn request(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// Applies the httpbin sample, waits until its pod is ready, returns the pod's name and IP.
async fn httpbin(env: &Env) -> (String, String) {
    env.ok(&["apply", "-f", HTTPBIN]).await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "-l",
        "app=httpbin",
        "--timeout=60s",
    ])
    .await;
    let out = env
        .ok(&[
            "get",
            "pod",
            "-l",
            "app=httpbin",
            "-o",
            "jsonpath={.items[0].metadata.name} {.items[0].status.podIP}",
        ])
        .await;
    let (name, ip) = out.split_once(' ').expect("name and IP");
    (name.to_owned(), ip.to_owned())
}

fn runnable() -> bool {
    kubectl_path().is_some() && std::path::Path::new(HTTPBIN).exists()
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_show_requests_with_tail_previous_and_the_errors_of_a_real_server() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, ip) = httpbin(&env).await;
    let addr = format!("{ip}:8080");
    get(&addr, "/anything/first-request").await.expect("GET");
    get(&addr, "/anything/second-request").await.expect("GET");

    let all = env.ok(&["logs", "deploy/httpbin"]).await;
    assert!(all.contains("uri=\"/anything/first-request\""), "{all}");
    assert!(all.contains("uri=\"/anything/second-request\""), "{all}");

    let limited = env.ok(&["logs", &pod, "--limit-bytes=12"]).await;
    assert_eq!(limited.len(), 12, "{limited}");
    assert!(all.starts_with(&limited), "{limited}");

    let last = env.ok(&["logs", &pod, "--tail=1"]).await;
    assert_eq!(last.lines().count(), 1, "{last}");
    assert!(last.contains("second-request"), "{last}");

    let stamped = env
        .ok(&["logs", &pod, "-c", "httpbin", "--timestamps", "--tail=1"])
        .await;
    let (stamp, rest) = stamped.split_once(' ').expect("timestamp first");
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamped}");
    assert!(rest.contains("second-request"), "{stamped}");

    // Each line keeps the time it was written: --since-time cuts between two requests. The
    // API carries whole seconds, so the cut is the start of the next second.
    let after = jiff::Timestamp::now().as_second() + 1;
    let between = jiff::Timestamp::from_second(after).expect("time");
    while jiff::Timestamp::now() < between {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    get(&addr, "/anything/third-request").await.expect("GET");
    let since = format!("--since-time={between}");
    let recent = env.ok(&["logs", &pod, &since]).await;
    assert!(
        recent.contains("third-request") && !recent.contains("second-request"),
        "{recent}"
    );
    let stamps: Vec<String> = env
        .ok(&["logs", &pod, "--timestamps"])
        .await
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(t, _)| t.to_owned()))
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]) && stamps.first() != stamps.last(),
        "lines carry the times they were written, not the time of the request: {stamps:?}"
    );

    let previous = env.kubectl(&["logs", &pod, "--previous"]).await;
    assert_eq!(previous.code, 1, "{previous:?}");
    assert!(
        previous.stderr.contains(&format!(
            "previous terminated container \"httpbin\" in pod \"{pod}\" not found"
        )),
        "{previous:?}"
    );

    let wrong = env.kubectl(&["logs", &pod, "-c", "nope"]).await;
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(
        wrong
            .stderr
            .contains(&format!("container nope is not valid for pod {pod}")),
        "{wrong:?}"
    );

    let missing = env.kubectl(&["logs", "no-such-pod"]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing.stderr.contains("pods \"no-such-pod\" not found"),
        "{missing:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_streams_lines_written_after_it_started() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (_, ip) = httpbin(&env).await;
    let addr = format!("{ip}:8080");
    get(&addr, "/anything/before-follow").await.expect("GET");

    let mut child = env.kubectl_child(&["logs", "-f", "deploy/httpbin"]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    read_until(&mut stdout, "before-follow").await;
    // kubectl is now following: a new request must appear while it keeps running.
    get(&addr, "/anything/during-follow").await.expect("GET");
    let seen = tokio::time::timeout(
        Duration::from_secs(30),
        read_until(&mut stdout, "during-follow"),
    )
    .await
    .expect("the new line is streamed");
    assert!(seen.contains("uri=\"/anything/during-follow\""), "{seen}");
    assert!(
        child.try_wait().expect("status").is_none(),
        "kubectl logs -f is still following"
    );
    stop_child(&mut child).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_ends_when_the_pod_is_deleted() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, ip) = httpbin(&env).await;
    get(&format!("{ip}:8080"), "/anything/last-words")
        .await
        .expect("GET");
    let mut child = env.kubectl_child(&["logs", "-f", "--tail=1", &pod]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    read_until(&mut stdout, "last-words").await;
    env.ok(&["delete", "pod", &pod, "--wait=false"]).await;
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("kubectl logs -f returns once the pod is gone")
        .expect("kubectl exit status");
    assert!(status.success(), "{status:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_reports_the_exit_code_and_refuses_what_a_real_cluster_refuses() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, _) = httpbin(&env).await;

    let unknown = env
        .kubectl_exec(&["exec", "deploy/httpbin", "--", "no-such-command"])
        .await;
    assert_eq!(unknown.code, 127, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("command terminated with exit code 127"),
        "{unknown:?}"
    );

    // The same over SPDY, as older kubectls (and this switch) run it; -v=6 shows the POST.
    let spdy = env
        .kubectl_stdin_env(
            &["exec", "-v=6", "deploy/httpbin", "--", "no-such-command"],
            b"",
            &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")],
        )
        .await;
    assert_eq!(spdy.code, 127, "{spdy:?}");
    assert!(
        spdy.stderr
            .contains("command terminated with exit code 127"),
        "{spdy:?}"
    );
    assert!(
        spdy.stderr
            .lines()
            .any(|l| l.contains("POST https://") && l.contains("/exec?") && l.contains(" 101 ")),
        "{spdy:?}"
    );

    let wrong = env
        .kubectl_exec(&["exec", &pod, "-c", "nope", "--", "true"])
        .await;
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(
        wrong
            .stderr
            .contains(&format!("container nope is not valid for pod {pod}")),
        "{wrong:?}"
    );

    let missing = env
        .kubectl_exec(&["exec", "no-such-pod", "--", "true"])
        .await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing.stderr.contains("pods \"no-such-pod\" not found"),
        "{missing:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_runs_the_containers_shell_with_stdin_and_a_terminal() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, _) = httpbin(&env).await;

    let script = env
        .kubectl_exec(&[
            "exec",
            "deploy/httpbin",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ])
        .await;
    assert_eq!(script.code, 3, "{script:?}");
    assert_eq!(script.stdout, "out\n", "{script:?}");
    assert!(script.stderr.starts_with("err\n"), "{script:?}");
    assert!(
        script
            .stderr
            .contains("command terminated with exit code 3"),
        "{script:?}"
    );

    let hostname = env.kubectl_exec(&["exec", &pod, "--", "hostname"]).await;
    assert_eq!(hostname.code, 0, "{hostname:?}");
    assert_eq!(hostname.stdout.trim(), pod);

    let piped = env
        .kubectl_stdin(
            &["exec", "-i", "deploy/httpbin", "--", "cat"],
            b"piped text\n",
        )
        .await;
    assert_eq!(piped.code, 0, "{piped:?}");
    assert_eq!(piped.stdout, "piped text\n");

    let spdy = env
        .kubectl_stdin_env(
            &[
                "exec",
                "-i",
                "deploy/httpbin",
                "--",
                "sh",
                "-c",
                "cat; exit 5",
            ],
            b"over spdy\n",
            &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")],
        )
        .await;
    assert_eq!(spdy.code, 5, "{spdy:?}");
    assert_eq!(spdy.stdout, "over spdy\n");

    let terminal = env
        .kubectl_in_terminal(
            &["exec", "-it", "deploy/httpbin", "--", "sh"],
            b"echo hi-from-$((40 + 2))\nexit 4\n",
        )
        .await;
    assert_eq!(terminal.code, 4, "{terminal:?}");
    assert!(terminal.stdout.contains("hi-from-42"), "{terminal:?}");

    // The same terminal over SPDY (a resize stream instead of channel 4).
    let terminal = env
        .kubectl_in_terminal_env(
            &["exec", "-it", "deploy/httpbin", "--", "sh"],
            b"echo spdy-$((6 * 7))\nexit 2\n",
            &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")],
        )
        .await;
    assert_eq!(terminal.code, 2, "{terminal:?}");
    assert!(terminal.stdout.contains("spdy-42"), "{terminal:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_curl_from_a_pod_reaches_a_service_and_curl_errors_become_exit_codes() {
    const CURL: &str = "/work/shared/istio-samples/samples/curl/curl.yaml";
    if !runnable() || !std::path::Path::new(CURL).exists() {
        return;
    }
    let env = Env::start().await;
    httpbin(&env).await;
    env.ok(&["apply", "-f", CURL]).await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "-l",
        "app=curl",
        "--timeout=60s",
    ])
    .await;
    let teapot = env
        .kubectl_exec(&[
            "exec",
            "deploy/curl",
            "--",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://httpbin:8000/status/418",
        ])
        .await;
    assert_eq!(teapot.code, 0, "{teapot:?}");
    assert_eq!(teapot.stdout, "418");

    let unresolved = env
        .kubectl_exec(&[
            "exec",
            "deploy/curl",
            "--",
            "curl",
            "-sS",
            "http://nowhere:8000/",
        ])
        .await;
    assert_eq!(unresolved.code, 6, "{unresolved:?}");
    assert!(
        unresolved
            .stderr
            .contains("Could not resolve host: nowhere"),
        "{unresolved:?}"
    );
    assert!(
        unresolved
            .stderr
            .contains("command terminated with exit code 6"),
        "{unresolved:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_through_the_kube_client_gets_the_exit_status() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, AttachParams};
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, _) = httpbin(&env).await;
    let pods: Api<Pod> = Api::namespaced(env.kube_client().await, "default");
    let mut process = pods
        .exec(
            &pod,
            ["no-such-command", "--flag"],
            &AttachParams::default().stdout(true).stderr(true),
        )
        .await
        .expect("the exec is upgraded");
    let status = process
        .take_status()
        .expect("a status channel")
        .await
        .expect("a status at the end");
    assert_eq!(status.status.as_deref(), Some("Failure"), "{status:?}");
    assert_eq!(
        status.reason.as_deref(),
        Some("NonZeroExitCode"),
        "{status:?}"
    );
    let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason.as_deref(), Some("ExitCode"));
    assert_eq!(causes[0].message.as_deref(), Some("127"));
    process.join().await.expect("the exec ends cleanly");
    env.stop().await;
}

/// Starts `kubectl port-forward <what> <local>:<remote>`, waits until it listens, sends
/// `method path` with `body` through it, stops kubectl; returns the response.
async fn through_port_forward(
    env: &Env,
    what: &str,
    remote: u16,
    (method, path, body): (&str, &str, &str),
) -> String {
    through_port_forward_env(env, what, remote, (method, path, body), &[]).await
}

/// [`through_port_forward`] with extra environment variables for kubectl.
async fn through_port_forward_env(
    env: &Env,
    what: &str,
    remote: u16,
    (method, path, body): (&str, &str, &str),
    vars: &[(&str, &str)],
) -> String {
    let local = free_port();
    let mapping = format!("{local}:{remote}");
    let mut child = env.kubectl_child_env(&["port-forward", "-v=6", what, &mapping], vars);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let banner = tokio::time::timeout(
        Duration::from_secs(30),
        read_until(&mut stdout, "Forwarding from 127.0.0.1"),
    )
    .await
    .expect("kubectl port-forward listens");
    assert!(
        banner.contains(&format!("127.0.0.1:{local} -> ")),
        "{banner}"
    );
    let response = request(&format!("127.0.0.1:{local}"), method, path, body).await;
    // A second connection over the same session works too.
    let again = get(&format!("127.0.0.1:{local}"), "/status/418").await;
    stop_child(&mut child).await;
    let mut log = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .await;
    // kubectl -v=6 names the upgrade it made: GET (WebSocket tunnel) or POST (plain SPDY).
    let upgraded = log
        .lines()
        .find(|l| l.contains("/portforward 101 Switching Protocols"))
        .unwrap_or_else(|| panic!("kubectl did not upgrade the connection:\n{log}"));
    let expected = if vars.is_empty() {
        "GET https://"
    } else {
        "POST https://"
    };
    assert!(upgraded.contains(expected), "{upgraded}");
    assert!(again.expect("second GET").starts_with("HTTP/1.1 418"));
    response.expect("GET through port-forward")
}

#[tokio::test(flavor = "multi_thread")]
async fn port_forward_to_a_pod_and_to_a_service_reaches_httpbin() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, _) = httpbin(&env).await;

    let direct = through_port_forward(
        &env,
        &format!("pod/{pod}"),
        8080,
        ("GET", "/get?via=pod", ""),
    )
    .await;
    assert!(direct.starts_with("HTTP/1.1 200"), "{direct}");
    assert!(direct.contains("\"pod\""), "{direct}");

    let service =
        through_port_forward(&env, "svc/httpbin", 8000, ("GET", "/get?via=svc", "")).await;
    assert!(service.starts_with("HTTP/1.1 200"), "{service}");
    assert!(service.contains("\"svc\""), "{service}");

    // A large body crosses the SPDY session intact, both ways (httpbin echoes it).
    let payload = "0123456789abcdef".repeat(20_000);
    let big = through_port_forward(
        &env,
        "deploy/httpbin",
        8080,
        ("POST", "/anything/big", &payload),
    )
    .await;
    assert!(
        big.starts_with("HTTP/1.1 200"),
        "{}",
        &big[..big.len().min(500)]
    );
    assert!(big.contains(&payload), "the echoed body is complete");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn open_streams_end_when_the_mesh_shuts_down() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, ip) = httpbin(&env).await;
    get(&format!("{ip}:8080"), "/anything/before-shutdown")
        .await
        .expect("GET");

    let local = free_port();
    let mapping = format!("{local}:8080");
    let mut forward = env.kubectl_child(&["port-forward", &format!("pod/{pod}"), &mapping]);
    let mut forward_out = BufReader::new(forward.stdout.take().expect("stdout"));
    read_until(&mut forward_out, "Forwarding from 127.0.0.1").await;
    let through = get(&format!("127.0.0.1:{local}"), "/status/418")
        .await
        .expect("GET through port-forward");
    assert!(through.starts_with("HTTP/1.1 418"), "{through}");

    let mut follow = env.kubectl_child(&["logs", "-f", &pod]);
    let mut follow_out = BufReader::new(follow.stdout.take().expect("stdout"));
    read_until(&mut follow_out, "before-shutdown").await;

    env.stop().await;
    // Both kubectls see their connection end and exit on their own.
    for child in [&mut forward, &mut follow] {
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("kubectl exits once the mesh is down")
            .expect("exit status");
        assert!(status.code().is_some(), "{status:?}");
    }
    stop_child(&mut forward).await;
    stop_child(&mut follow).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn port_forward_over_plain_spdy_works_when_kubectl_does_not_tunnel() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, _) = httpbin(&env).await;
    // Older kubectls (and this switch) upgrade the HTTP connection to SPDY/3.1 directly.
    let plain = [("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];
    let payload = "spdy".repeat(50_000);
    let response = through_port_forward_env(
        &env,
        &format!("pod/{pod}"),
        8080,
        ("POST", "/anything/plain-spdy", &payload),
        &plain,
    )
    .await;
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{}",
        &response[..response.len().min(500)]
    );
    assert!(response.contains(&payload), "the echoed body is complete");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_a_container_that_cannot_pull_its_image_say_so() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["run", "ghost", "--image=example.invalid/no-such-image:1"])
        .await;
    let mut last = None;
    for _ in 0..150 {
        let out = env.kubectl(&["logs", "ghost"]).await;
        if out.stderr.contains("trying and failing to pull image") {
            last = Some(out);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = last.expect("kubectl logs reports the image pull failure");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "container \"ghost\" in pod \"ghost\" is waiting to start: trying and failing to pull image"
        ),
        "{out:?}"
    );
    let exec = env.kubectl_exec(&["exec", "ghost", "--", "true"]).await;
    assert_ne!(exec.code, 0, "{exec:?}");
    assert!(
        exec.stderr
            .contains("error: unable to upgrade connection: container not found (\"ghost\")"),
        "{exec:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn port_forward_to_a_closed_port_reports_the_kubelet_error() {
    if !runnable() {
        return;
    }
    let env = Env::start().await;
    let (pod, _) = httpbin(&env).await;
    let local = free_port();
    let mapping = format!("{local}:9999");
    let mut child = env.kubectl_child(&["port-forward", &format!("pod/{pod}"), &mapping]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    read_until(&mut stdout, "Forwarding from 127.0.0.1").await;
    let _ = get(&format!("127.0.0.1:{local}"), "/get").await;
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let said = tokio::time::timeout(
        Duration::from_secs(30),
        read_until(&mut stderr, "an error occurred forwarding"),
    )
    .await
    .expect("kubectl reports the error");
    assert!(said.contains(&format!("{local} -> 9999")), "{said}");
    assert!(said.contains("connection refused"), "{said}");
    stop_child(&mut child).await;
    env.stop().await;
}
