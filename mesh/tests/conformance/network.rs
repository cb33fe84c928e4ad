//! Service networking: names, ClusterIP routing, NodePort and LoadBalancer ports — httpbin
//! from Istio's samples reached through a real port on 127.0.0.1 and through the network API.

use std::net::IpAddr;
use std::time::Duration;

use meshwork_mesh::net::{NetError, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{Env, kubectl_path};

const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";

/// What a connection to a port gave.
#[derive(Debug, PartialEq)]
enum Reply {
    /// An HTTP response: status and body.
    Http(u16, String),
    /// Accepted, then closed (or reset) with no response.
    Closed,
    /// Nothing listens.
    Refused,
}

/// Sends `GET path` over `stream` and reads the whole reply.
async fn exchange(mut stream: TcpStream, path: &str) -> Reply {
    let req = format!("GET {path} HTTP/1.1\r\nHost: httpbin\r\nConnection: close\r\n\r\n");
    if stream.write_all(req.as_bytes()).await.is_err() {
        return Reply::Closed;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let Some(code) = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
    else {
        return Reply::Closed;
    };
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    Reply::Http(code, body.unwrap_or_default())
}

/// `GET http://127.0.0.1:<port><path>` from the host.
async fn get(port: u16, path: &str) -> Reply {
    match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(stream) => exchange(stream, path).await,
        Err(_) => Reply::Refused,
    }
}

/// Repeats `GET` until `done` holds for the reply (kube-proxy-lite follows the Services a
/// moment after kubectl returns); at most ~30 s, then the last reply.
async fn get_until(port: u16, path: &str, done: impl Fn(&Reply) -> bool) -> Reply {
    let mut last = Reply::Refused;
    for _ in 0..150 {
        last = get(port, path).await;
        if done(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

fn ok(reply: &Reply) -> bool {
    matches!(reply, Reply::Http(200, _))
}

async fn wait_ready(env: &Env, replicas: usize) {
    for _ in 0..150 {
        let ready = env
            .ok(&[
                "get",
                "pods",
                "-l",
                "app=httpbin",
                "-o",
                "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}",
            ])
            .await;
        let states: Vec<&str> = ready.split_whitespace().collect();
        if states.len() == replicas && states.iter().all(|s| *s == "True") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("httpbin never had {replicas} ready pods");
}

async fn node_port(env: &Env, service: &str) -> u16 {
    let text = env
        .ok(&[
            "get",
            "svc",
            service,
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .await;
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{service} has no nodePort: {text:?}"))
}

/// A port of the NodePort range that is free on 127.0.0.1 now, from a random point of the
/// range (for tests that choose their nodePort).
fn free_node_port() -> u16 {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
        ^ CALLS
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_mul(7919);
    (0..2768)
        .map(|i| 30000 + u16::try_from((seed + i) % 2768).expect("fits"))
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in the NodePort range")
}

/// `kubectl patch` making httpbin a NodePort Service on `port`.
async fn make_node_port(env: &Env, port: u16) {
    let patch =
        format!(r#"{{"spec":{{"type":"NodePort","ports":[{{"port":8000,"nodePort":{port}}}]}}}}"#);
    env.ok(&["patch", "svc", "httpbin", "-p", &patch]).await;
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn usable() -> bool {
    kubectl_path().is_some() && std::path::Path::new(HTTPBIN).exists()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_port_serves_httpbin_spreads_over_its_pods_and_closes_with_the_service() {
    if !usable() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    wait_ready(&env, 1).await;
    // The server picks the nodePort; the learner reads it back.
    env.ok(&[
        "patch",
        "svc",
        "httpbin",
        "-p",
        r#"{"spec":{"type":"NodePort"}}"#,
    ])
    .await;
    let port = node_port(&env, "httpbin").await;
    assert!((30000..=32767).contains(&port), "{port}");
    let table = env.ok(&["get", "svc", "httpbin"]).await;
    assert!(table.contains(&format!("8000:{port}/TCP")), "{table}");

    let reply = get_until(port, "/get?from=host", ok).await;
    let Reply::Http(200, body) = &reply else {
        panic!("GET through the nodePort: {reply:?}");
    };
    assert!(body.contains("\"from\""), "{body}");

    // Two pods: requests through the nodePort reach both (each logs the requests it served).
    env.ok(&["scale", "deploy/httpbin", "--replicas=2"]).await;
    wait_ready(&env, 2).await;
    // The Endpoints follow the pods a moment later; wait until both take requests.
    let pods = env
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=httpbin",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .await;
    let pods: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(pods.len(), 2, "{pods:?}");
    let served = |pod: &str| {
        env.mesh()
            .kubelet()
            .logs("default", pod, Some("httpbin"), false)
            .unwrap_or_default()
            .iter()
            .filter(|l| l.contains("uri=\"/get?round="))
            .count()
    };
    let mut sent = 0;
    while sent < 200 && !pods.iter().all(|p| served(p) > 0) {
        assert!(ok(&get(port, &format!("/get?round={sent}")).await));
        sent += 1;
    }
    let counts: Vec<usize> = pods.iter().map(|p| served(p)).collect();
    assert!(
        counts.iter().all(|c| *c > 0),
        "requests per pod: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<usize>(), sent);

    // No ready endpoint: the connection is accepted and closed at once, with no response.
    env.ok(&["scale", "deploy/httpbin", "--replicas=0"]).await;
    let reply = get_until(port, "/get", |r| *r == Reply::Closed).await;
    assert_eq!(reply, Reply::Closed);

    // The Service gone, nothing listens on its port any more.
    env.ok(&["delete", "svc", "httpbin"]).await;
    let reply = get_until(port, "/get", |r| *r == Reply::Refused).await;
    assert_eq!(reply, Reply::Refused);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_node_port_moves_and_a_cluster_ip_service_has_none() {
    if !usable() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    wait_ready(&env, 1).await;
    let first = free_node_port();
    make_node_port(&env, first).await;
    assert!(ok(&get_until(first, "/get", ok).await));

    let moved = free_node_port();
    make_node_port(&env, moved).await;
    assert_eq!(node_port(&env, "httpbin").await, moved);
    assert!(ok(&get_until(moved, "/get", ok).await));
    assert_eq!(
        get_until(first, "/get", |r| *r == Reply::Refused).await,
        Reply::Refused
    );

    // Back to ClusterIP: the nodePort closes, the Service still routes inside the mesh.
    env.ok(&[
        "patch",
        "svc",
        "httpbin",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"remove","path":"/spec/ports/0/nodePort"}]"#,
    ])
    .await;
    assert_eq!(
        get_until(moved, "/get", |r| *r == Reply::Refused).await,
        Reply::Refused
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_port_serves_again_after_a_mesh_restart_and_closes_when_the_mesh_stops() {
    if !usable() {
        return;
    }
    let mut env = Env::start().await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    wait_ready(&env, 1).await;
    let port = free_node_port();
    make_node_port(&env, port).await;
    assert!(ok(&get_until(port, "/get", ok).await));

    env.restart().await;
    wait_ready(&env, 1).await;
    let reply = get_until(port, "/get?after=restart", ok).await;
    assert!(ok(&reply), "after the restart: {reply:?}");

    env.stop().await;
    // Stopping the mesh closes its ports before it returns.
    assert_eq!(get(port, "/get").await, Reply::Refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_listens_on_its_own_port_and_keeps_the_node_port_when_that_is_taken() {
    if !usable() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    wait_ready(&env, 1).await;
    let lb_port = free_port();
    let (lb_node, busy_node) = (free_node_port(), free_node_port());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let manifest = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: httpbin-lb\nspec:\n  type: LoadBalancer\n  \
         selector:\n    app: httpbin\n  ports:\n  - name: http\n    port: {lb_port}\n    targetPort: 8080\n    nodePort: {lb_node}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata:\n  name: httpbin-busy\nspec:\n  type: LoadBalancer\n  \
         selector:\n    app: httpbin\n  ports:\n  - name: http\n    port: {taken_port}\n    targetPort: 8080\n    nodePort: {busy_node}\n"
    );
    let file = env.write("lb.yaml", &manifest);
    env.ok(&["apply", "-f", file.to_str().expect("utf-8 path")])
        .await;

    let table = env.ok(&["get", "svc", "httpbin-lb"]).await;
    assert!(table.contains("127.0.0.1"), "EXTERNAL-IP: {table}");
    let reply = get_until(lb_port, "/get?via=lb", ok).await;
    assert!(ok(&reply), "the LoadBalancer's own port: {reply:?}");
    assert_eq!(node_port(&env, "httpbin-lb").await, lb_node);
    assert!(ok(&get_until(lb_node, "/get", ok).await));

    // Its port is taken by another program: the Service is still reachable on its nodePort.
    assert!(ok(&get_until(busy_node, "/get", ok).await));
    drop(taken);

    env.ok(&["delete", "svc", "httpbin-lb"]).await;
    assert_eq!(
        get_until(lb_port, "/get", |r| *r == Reply::Refused).await,
        Reply::Refused
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_reach_httpbin_by_its_cluster_names_through_the_network() {
    if !usable() {
        return;
    }
    let env = Env::start().await;
    env.ok(&["create", "namespace", "other"]).await;
    env.ok(&["apply", "-f", HTTPBIN]).await;
    wait_ready(&env, 1).await;
    let net = env.mesh().network();
    let ip: IpAddr = "127.1.250.250".parse().expect("ip");
    let pod = |ns: &str| Origin::Pod {
        namespace: ns.into(),
        name: "client".into(),
        ip,
    };
    let cluster_ip = env
        .ok(&["get", "svc", "httpbin", "-o", "jsonpath={.spec.clusterIP}"])
        .await;
    assert_eq!(
        net.resolve(&pod("default"), "httpbin.default.svc.cluster.local")
            .expect("resolves")
            .to_string(),
        cluster_ip
    );
    for (ns, name) in [
        ("default", "httpbin"),
        ("default", "httpbin.default.svc.cluster.local"),
        ("other", "httpbin.default"),
        ("other", "httpbin.default.svc"),
        ("default", cluster_ip.as_str()),
    ] {
        let stream = net
            .connect(&pod(ns), name, 8000)
            .await
            .unwrap_or_else(|e| panic!("{name} from {ns}: {e}"));
        let reply = exchange(stream, "/get").await;
        assert!(ok(&reply), "{name} from {ns}: {reply:?}");
    }
    // A short name means the pod's own namespace; the host knows no cluster names.
    assert_eq!(
        net.connect(&pod("other"), "httpbin", 8000).await.err(),
        Some(NetError::Resolve("httpbin".into()))
    );
    assert_eq!(
        net.connect(&Origin::Host, "httpbin.default.svc.cluster.local", 8000)
            .await
            .err(),
        Some(NetError::Resolve(
            "httpbin.default.svc.cluster.local".into()
        ))
    );
    // A port the Service does not expose is refused (curl exit 7).
    assert!(matches!(
        net.connect(&pod("default"), "httpbin", 9999).await,
        Err(NetError::Refused { .. })
    ));
    env.stop().await;
}
