//! A small Kubernetes API over real TCP for the probe tests: pods (get, list by label), Services,
//! Nodes, and `pods/exec` over WebSocket (v5.channel.k8s.io) whose "container" is a function of
//! the argv. kube's exec needs a real HTTP upgrade, which tower-test cannot give.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use meshwork_checks::target::{Target, TargetError, TargetKind};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What a command run in a fake container printed and how it ended.
pub struct Run {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code; `None` reports a failed start (as a runtime does for a missing program).
    pub exit: Option<i32>,
}

/// A fake container: argv (and the container name) → what it did.
pub type Behaviour = Arc<dyn Fn(&[String], &str) -> Run + Send + Sync>;

/// Every exec the server answered: pod, container, argv.
pub type ExecLog = Arc<Mutex<Vec<(String, String, Vec<String>)>>>;

/// A fake site for [`fake_curl`]: URL and headers → status and body (`None`: unknown host).
pub type Pages<'a> = &'a dyn Fn(&str, &BTreeMap<String, String>) -> Option<(u16, String)>;

/// The fake API server; stops when dropped.
pub struct FakeApi {
    /// Its address.
    pub url: String,
    /// Every exec: pod, container, argv.
    pub execs: ExecLog,
    task: JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Objects the server knows.
#[derive(Clone, Default)]
pub struct World {
    /// Pods (each in its `metadata.namespace`; [`pod`] makes them in `default`).
    pub pods: Vec<Value>,
    /// Services in namespace `default`.
    pub services: Vec<Value>,
    /// Nodes.
    pub nodes: Vec<Value>,
    /// Containers of one pod (by name) that behave unlike the server's common [`Behaviour`].
    pub exec_by_pod: BTreeMap<String, Behaviour>,
}

/// A running pod with labels and containers.
pub fn pod(name: &str, labels: Value, containers: &[&str], phase: &str) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "x"}))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": containers},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if phase == "Running" {"True"} else {"False"}}]}
    })
}

impl FakeApi {
    /// Starts the server.
    pub async fn start(world: World, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let execs = Arc::new(Mutex::new(Vec::new()));
        let shared = (Arc::new(world), behaviour, Arc::clone(&execs));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(req, &shared.0, &shared.1, &shared.2)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Self { url, execs, task }
    }

    /// A target whose client talks to this server (namespace `default`).
    pub fn target(&self) -> Arc<dyn Target> {
        let config = kube::Config::new(self.url.parse().unwrap());
        Arc::new(FakeTarget {
            client: Ok(kube::Client::try_from(config).unwrap()),
        })
    }
}

/// A target backed by the fake server.
pub struct FakeTarget {
    /// The client, or why there is none.
    pub client: Result<kube::Client, TargetError>,
}

impl Target for FakeTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Reference
    }
    fn describe(&self) -> String {
        "fake API".into()
    }
    fn client(&self) -> Result<&kube::Client, &TargetError> {
        self.client.as_ref()
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap()
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("{what} not found"), "reason": "NotFound", "code": 404}),
    )
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    let q = req.uri().query().unwrap_or_default();
    form_pairs(q)
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
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
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else if bytes[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `app=ratings,version=v1` against a pod's labels.
fn selects(selector: &str, pod: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap();
        pod["metadata"]["labels"][k].as_str() == Some(v)
    })
}

fn answer(
    req: Request<Incoming>,
    world: &World,
    behaviour: &Behaviour,
    execs: &ExecLog,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let by_name = |items: &[Value], name: &str| {
        items
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .cloned()
    };
    match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "pods"] => {
            let selector = query(&req)
                .into_iter()
                .find(|(k, _)| k == "labelSelector")
                .map(|(_, v)| v)
                .unwrap_or_default();
            let items = world
                .pods
                .iter()
                .filter(|p| p["metadata"]["namespace"] == *ns && selects(&selector, p))
                .cloned()
                .collect();
            json_response(StatusCode::OK, &list("PodList", items))
        }
        ["api", "v1", "namespaces", ns, "pods", name] => {
            match by_name(&world.pods, name).filter(|p| p["metadata"]["namespace"] == *ns) {
                Some(p) => json_response(StatusCode::OK, &p),
                None => not_found(&format!("pods \"{name}\"")),
            }
        }
        ["api", "v1", "namespaces", _, "pods", name, "exec"] => {
            let q = query(&req);
            let argv: Vec<String> = q
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect();
            let container = q
                .iter()
                .find(|(k, _)| k == "container")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            execs
                .lock()
                .unwrap()
                .push((name.to_string(), container.clone(), argv.clone()));
            let run = match world.exec_by_pod.get(*name) {
                Some(own) => own(&argv, &container),
                None => behaviour(&argv, &container),
            };
            upgrade(req, run)
        }
        ["api", "v1", "namespaces", "default", "services", name] => {
            match by_name(&world.services, name) {
                Some(s) => json_response(StatusCode::OK, &s),
                None => not_found(&format!("services \"{name}\"")),
            }
        }
        ["api", "v1", "nodes"] => {
            json_response(StatusCode::OK, &list("NodeList", world.nodes.clone()))
        }
        _ => not_found(&path),
    }
}

/// Answers the exec upgrade and, on the WebSocket, sends what the command printed and its status.
fn upgrade(req: Request<Incoming>, run: Run) -> Response<Full<Bytes>> {
    crate::ws_exec::upgrade(
        req,
        run.stdout,
        run.stderr,
        crate::ws_exec::exit_status(run.exit),
    )
}

/// A tiny curl for fake containers: reads `-H`, `-X`, `-d`, `-i`, `-w` and the URL, answers
/// from `pages` (URL and headers, with `-d`'s data as `:data` and `-i` as `:include` → (status,
/// body); with `-i` the page writes its own header block), and prints the `-w` line with `%{http_code}`/`%{time_total}`
/// filled in; an unknown host fails as curl does (exit 6, `000`).
pub fn fake_curl(argv: &[String], pages: Pages<'_>) -> Run {
    let mut headers = BTreeMap::new();
    let mut write_out = String::new();
    let mut url = String::new();
    let mut i = 1;
    while i < argv.len() {
        match argv[i].as_str() {
            "-H" => {
                let (k, v) = argv[i + 1].split_once(": ").unwrap();
                headers.insert(k.to_lowercase(), v.to_string());
                i += 2;
            }
            "-d" => {
                headers.insert(":data".into(), argv[i + 1].clone());
                i += 2;
            }
            "-i" => {
                headers.insert(":include".into(), String::new());
                i += 1;
            }
            "-X" => i += 2,
            "-w" => {
                write_out = argv[i + 1].clone();
                i += 2;
            }
            flag if flag.starts_with('-') => i += 1,
            other => {
                url = other.to_string();
                i += 1;
            }
        }
    }
    match pages(&url, &headers) {
        Some((status, body)) => Run {
            stdout: format!(
                "{body}{}",
                write_out
                    .replace("%{http_code}", &status.to_string())
                    .replace("%{time_total}", "0.004200")
            ),
            stderr: String::new(),
            exit: Some(0),
        },
        None => Run {
            stdout: write_out
                .replace("%{http_code}", "000")
                .replace("%{time_total}", "0.000100"),
            stderr: "curl: (6) Could not resolve host: nowhere\n".into(),
            exit: Some(6),
        },
    }
}
