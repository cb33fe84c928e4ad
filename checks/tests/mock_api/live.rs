//! A mock API server shaped like a live cluster's, over real TCP, for the checks that exec into
//! pods or reach the host through Services: objects answered in the JSON a real API server
//! sends (lists with `resourceVersion`, `Status` errors), `pods/exec` over WebSocket
//! (`v5.channel.k8s.io`/`v4`), refused as a real server refuses it (no container named in a
//! two-container pod, a pod that is not Running), and the pod proxy
//! (`pods/NAME:PORT/proxy/PATH`). The target is a [`ClusterTarget`] connected through a
//! kubeconfig, as a learner's would be.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use meshwork_checks::check::{self, Context, Finding};
use meshwork_checks::content::{Content, Origin};
use meshwork_checks::course::load::load;
use meshwork_checks::target::ClusterTarget;
use meshwork_checks::target::cluster::KubeconfigSearch;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One `pods/exec` the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCall {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container (always named: the server refuses an exec it would have to guess for).
    pub container: String,
    /// The command.
    pub argv: Vec<String>,
}

/// What a command printed and its exit code.
pub struct Ran {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub exit: i32,
}

impl Ran {
    /// Exit 0 with this output.
    pub fn ok(stdout: impl Into<String>) -> Self {
        Self {
            stdout: stdout.into(),
            stderr: String::new(),
            exit: 0,
        }
    }

    /// A failure with this exit code and error output.
    pub fn failed(exit: i32, stderr: impl Into<String>) -> Self {
        Self {
            stdout: String::new(),
            stderr: stderr.into(),
            exit,
        }
    }
}

/// The containers' behaviour: an exec → what it did.
pub type Exec = Arc<dyn Fn(&ExecCall) -> Ran + Send + Sync>;

/// The pod proxy: (namespace, pod, port, path) → status and body.
pub type Proxy = Arc<dyn Fn(&str, &str, u16, &str) -> (u16, String) + Send + Sync>;

/// What the cluster holds and how its containers behave.
#[derive(Clone)]
pub struct Cluster {
    /// Every object (apiVersion, kind, metadata.name and, when namespaced, namespace).
    pub objects: Vec<Value>,
    /// Containers' behaviour.
    pub exec: Exec,
    /// The pod proxy's behaviour.
    pub proxy: Proxy,
}

impl Cluster {
    /// A cluster holding `objects`, whose containers know no command and whose pods serve
    /// nothing through the proxy.
    pub fn new(objects: Vec<Value>) -> Self {
        Self {
            objects,
            exec: Arc::new(|call| {
                Ran::failed(
                    127,
                    format!("sh: {}: not found\n", call.argv.first().map_or("", |s| s)),
                )
            }),
            proxy: Arc::new(|_, _, _, _| (404, "404 page not found\n".into())),
        }
    }
}

/// The running server; stops when dropped.
pub struct LiveApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every exec it ran, in order.
    pub execs: Arc<Mutex<Vec<ExecCall>>>,
    task: JoinHandle<()>,
    kubeconfig: tempfile::TempDir,
}

impl Drop for LiveApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LiveApi {
    /// Starts serving `cluster` on a loopback port.
    pub async fn start(cluster: Cluster) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let execs = Arc::new(Mutex::new(Vec::new()));
        let shared = (Arc::new(cluster), Arc::clone(&execs));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(req, &shared.0, &shared.1)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        let kubeconfig = tempfile::tempdir().unwrap();
        Self {
            url,
            execs,
            task,
            kubeconfig,
        }
    }

    /// A live-cluster target connected through a kubeconfig naming this server, as a
    /// learner's `--target cluster` would be.
    pub async fn target(&self) -> ClusterTarget {
        let search = write_kubeconfig(self.kubeconfig.path(), &self.url);
        ClusterTarget::connect_with(&search, None).await
    }

    /// The commands run so far, as `namespace/pod/container: argv`.
    pub fn exec_log(&self) -> Vec<String> {
        self.execs
            .lock()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}/{}/{}: {}",
                    c.namespace,
                    c.pod,
                    c.container,
                    c.argv.join(" ")
                )
            })
            .collect()
    }

    /// Runs the only check of a one-step lab whose `checks:` list is `check_yaml` (indented as
    /// a list item under `checks:`), loaded as `lab.yaml` would be, against this server.
    pub async fn check(&self, check_yaml: &str) -> Finding {
        let content = lab(check_yaml);
        let course = match load(&content) {
            Ok(course) => course,
            Err(e) => panic!("the lab should load:\n{e}"),
        };
        let spec = course.labs[0].steps[0].checks[0].spec.clone();
        let ctx = Context {
            target: Arc::new(self.target().await),
            content: Arc::new(content),
        };
        check::evaluate(&ctx, &spec).await
    }
}

fn lab(checks: &str) -> Content {
    let yaml = format!(
        "format_version: 1\nid: live\ntitle: Live\nsummary: On a live cluster.\nsteps:\n  - id: one\n    \
         title: One\n    body: 01-one.md\n    checks:\n{checks}    solution:\n      commands: [{{run: \"true\"}}]\n"
    );
    Content::from_files(
        Origin::Embedded,
        [
            ("labs/01-live/lab.yaml".to_string(), yaml.into_bytes()),
            ("labs/01-live/01-one.md".to_string(), b"# One\n".to_vec()),
        ],
    )
}

fn write_kubeconfig(dir: &Path, server: &str) -> KubeconfigSearch {
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-istio\n\
         clusters:\n- name: kind-istio\n  cluster:\n    server: {server}\n\
         users:\n- name: learner\n  user:\n    token: not-a-real-token\n\
         contexts:\n- name: kind-istio\n  context:\n    cluster: kind-istio\n    user: learner\n    namespace: default\n"
    );
    let path = dir.join("config");
    std::fs::write(&path, text).unwrap();
    KubeconfigSearch {
        kubeconfig_env: Some(path.into_os_string()),
        home: None,
    }
}

/// A Running pod as a real API server returns it: containers, labels, Ready condition, podIP.
pub fn pod(namespace: &str, name: &str, labels: Value, containers: &[&str]) -> Value {
    let specs: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "image": format!("docker.io/example/{c}:1.0")}))
        .collect();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "ready": true, "restartCount": 0, "image": format!("docker.io/example/{c}:1.0"),
                        "imageID": "", "started": true, "state": {"running": {"startedAt": "2026-11-26T10:00:00Z"}}}))
        .collect();
    let mut annotations = json!({});
    if containers.contains(&"istio-proxy") {
        annotations = json!({"kubectl.kubernetes.io/default-container": containers[0],
                             "sidecar.istio.io/status": "{\"containers\":[\"istio-proxy\"]}"});
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations,
                     "uid": format!("uid-{name}"), "resourceVersion": "1001",
                     "creationTimestamp": "2026-11-26T10:00:00Z"},
        "spec": {"containers": specs, "nodeName": "kind-control-plane", "serviceAccountName": "default"},
        "status": {"phase": "Running", "podIP": "10.244.0.17", "hostIP": "172.18.0.2",
                   "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                   "containerStatuses": statuses}
    })
}

/// A Ready node whose InternalIP is `address` (what kind's nodes show a Linux host).
pub fn node(name: &str, address: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}, "resourceVersion": "900"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1"}
        }
    })
}

/// A Service of `kind` with one port (and its nodePort when given).
pub fn service(
    namespace: &str,
    name: &str,
    kind: &str,
    port: u16,
    node_port: Option<u16>,
) -> Value {
    let mut entry = json!({"name": "http", "port": port, "protocol": "TCP", "targetPort": port});
    if let Some(n) = node_port {
        entry["nodePort"] = json!(n);
    }
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1200"},
        "spec": {"type": kind, "clusterIP": "10.96.120.7", "ports": [entry], "selector": {"app": name}},
        "status": {"loadBalancer": {}}
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap()
}

fn status_error(code: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::from_u16(code).unwrap(),
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// `app=ratings,version=v1` (equality terms only, as the checks send) against labels.
fn selects(selector: &str, object: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap();
        object["metadata"]["labels"][k].as_str() == Some(v)
    })
}

/// `Pod` → `pods`, `VirtualService` → `virtualservices`.
fn plural(kind: &str) -> String {
    format!("{}s", kind.to_lowercase())
}

/// The objects of a collection: `(group/version, namespace, plural)`.
fn collection<'a>(
    cluster: &'a Cluster,
    group_version: &'a str,
    namespace: Option<&'a str>,
    resource: &'a str,
) -> impl Iterator<Item = &'a Value> + 'a {
    cluster.objects.iter().filter(move |o| {
        o["apiVersion"] == group_version
            && plural(o["kind"].as_str().unwrap_or_default()) == resource
            && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
    })
}

fn answer(
    req: Request<Incoming>,
    cluster: &Cluster,
    execs: &Mutex<Vec<ExecCall>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // (group/version, namespace, resource, name, subresource…)
    let (gv, rest): (String, &[&str]) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        ["version"] => {
            return json_response(
                StatusCode::OK,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "platform": "linux/amd64"}),
            );
        }
        _ => {
            return status_error(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        _ => (None, rest),
    };
    match rest {
        [resource] => {
            let selector = query(&req)
                .into_iter()
                .find(|(k, _)| k == "labelSelector")
                .map(|(_, v)| v)
                .unwrap_or_default();
            let items: Vec<Value> = collection(cluster, &gv, namespace, resource)
                .filter(|o| selects(&selector, o))
                .cloned()
                .collect();
            let kind = items
                .first()
                .and_then(|o| o["kind"].as_str())
                .map_or_else(|| "List".to_string(), |k| format!("{k}List"));
            json_response(
                StatusCode::OK,
                &json!({"apiVersion": gv, "kind": kind, "metadata": {"resourceVersion": "5000"}, "items": items}),
            )
        }
        [resource, name] => {
            match collection(cluster, &gv, namespace, resource)
                .find(|o| o["metadata"]["name"] == *name)
            {
                Some(o) => json_response(StatusCode::OK, o),
                None => status_error(404, "NotFound", &format!("{resource} \"{name}\" not found")),
            }
        }
        ["pods", target, "proxy", path @ ..] => {
            let (name, port) = target.split_once(':').unwrap_or((target, "80"));
            let (code, body) = (cluster.proxy)(
                namespace.unwrap_or_default(),
                name,
                port.parse().unwrap_or(80),
                &format!("/{}", path.join("/")),
            );
            Response::builder()
                .status(code)
                .header("content-type", "text/plain; charset=utf-8")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        }
        ["pods", name, "exec"] => {
            let ns = namespace.unwrap_or_default();
            let Some(found) = collection(cluster, "v1", Some(ns), "pods")
                .find(|o| o["metadata"]["name"] == *name)
            else {
                return status_error(404, "NotFound", &format!("pods \"{name}\" not found"));
            };
            let containers: Vec<String> = found["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect();
            let q = query(&req);
            let argv: Vec<String> = q
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect();
            let container = match q.iter().find(|(k, _)| k == "container") {
                Some((_, c)) => c.clone(),
                None if containers.len() == 1 => containers[0].clone(),
                None => {
                    return status_error(
                        400,
                        "BadRequest",
                        &format!(
                            "a container name must be specified for pod {name}, choose one of: [{}]",
                            containers.join(" ")
                        ),
                    );
                }
            };
            if !containers.contains(&container) {
                return status_error(
                    400,
                    "BadRequest",
                    &format!("container {container} is not valid for pod {name}"),
                );
            }
            if found["status"]["phase"] != "Running" {
                return status_error(
                    400,
                    "BadRequest",
                    "cannot exec into a container in a completed pod; current phase is Succeeded",
                );
            }
            let call = ExecCall {
                namespace: ns.to_string(),
                pod: name.to_string(),
                container,
                argv,
            };
            let ran = (cluster.exec)(&call);
            execs.lock().unwrap().push(call);
            upgrade(req, ran)
        }
        _ => status_error(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

/// Accepts the exec's WebSocket upgrade and sends the output and status on their channels.
fn upgrade(req: Request<Incoming>, ran: Ran) -> Response<Full<Bytes>> {
    crate::ws_exec::upgrade(
        req,
        ran.stdout,
        ran.stderr,
        crate::ws_exec::exit_status(Some(ran.exit)),
    )
}

/// A plain HTTP server standing in for an app or Istio's ingress gateway: `pages` maps a
/// path to status and body (404 otherwise); it records each request's `Host` and path.
pub struct Site {
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// `host path` of every request.
    pub seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    /// Serves `pages` on `listener`.
    pub fn serve(listener: TcpListener, pages: Vec<(&'static str, u16, &'static str)>) -> Self {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let pages = Arc::new(pages);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let pages = Arc::clone(&pages);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let pages = Arc::clone(&pages);
                        let log = Arc::clone(&log);
                        async move {
                            let host = req
                                .headers()
                                .get("host")
                                .and_then(|h| h.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            log.lock()
                                .unwrap()
                                .push(format!("{host} {}", req.uri().path()));
                            let (status, body) = pages
                                .iter()
                                .find(|(p, _, _)| *p == req.uri().path())
                                .map_or((404, ""), |(_, s, b)| (*s, *b));
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("server", "istio-envoy")
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen, task }
    }

    /// Serves `pages` on a free loopback port.
    pub async fn start(pages: Vec<(&'static str, u16, &'static str)>) -> Self {
        Self::serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), pages)
    }

    /// What it was asked, as `host path`.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}
