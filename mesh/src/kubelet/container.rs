//! One container of a built-in workload: its supervisor task (bind, run, restart with back-off)
//! and its readiness probe.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::meta;
use crate::workloads::{PodContext, Termination, Workload};

/// The first wait before restarting a crashed container; it doubles up to [`MAX_BACKOFF`].
/// (A real kubelet starts at 10 s; the reference mesh is a teaching tool and restarts sooner.)
pub(super) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between restarts (as a real kubelet: five minutes).
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the kubelet reports about a container, updated by its supervisor.
#[derive(Clone, Debug, Default)]
pub(super) struct ContainerState {
    /// `containerID` of the current (or last) run.
    pub container_id: String,
    /// When the current run started; `None` while not running.
    pub started_at: Option<String>,
    /// Whether the readiness probe (or, without one, the start) says ready.
    pub ready: bool,
    /// How many times the container was restarted.
    pub restart_count: u32,
    /// The `waiting` state while not running: (reason, message).
    pub waiting: Option<(String, String)>,
    /// The `terminated` state of the previous run, for `lastState`.
    pub last_terminated: Option<Value>,
    /// How many times the workload has crashed (for the kubelet's `BackOff` events).
    pub crashes: u32,
    /// The `terminated` state of a container that ended and will not be restarted
    /// (`restartPolicy` Never, or OnFailure after exit code 0).
    pub terminated: Option<Value>,
}

/// A pod's `restartPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RestartPolicy {
    /// Restart whenever the container ends (the default).
    Always,
    /// Restart only after a non-zero exit code.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// The pod's policy (`Always` when missing or unknown).
    pub fn of(pod: &Value) -> Self {
        match pod.pointer("/spec/restartPolicy").and_then(Value::as_str) {
            Some("OnFailure") => Self::OnFailure,
            Some("Never") => Self::Never,
            _ => Self::Always,
        }
    }

    fn restarts_after(self, exit_code: i32) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => exit_code != 0,
            Self::Never => false,
        }
    }
}

/// A container's shared state and what the supervisor needs to run it.
#[derive(Debug)]
pub(super) struct Spec {
    /// The workload to run.
    pub workload: Workload,
    /// The pod's IP.
    pub ip: IpAddr,
    /// The container's declared ports (the workload's default when none).
    pub ports: Vec<u16>,
    /// The readiness probe, when the container declares an `httpGet` one.
    pub probe: Option<Probe>,
    /// What the workload runs with.
    pub context: PodContext,
    /// Whether an ended container is started again.
    pub restart_policy: RestartPolicy,
}

/// A readiness probe's `httpGet`, resolved against the container's ports.
#[derive(Clone, Debug)]
pub(super) struct Probe {
    /// Path (with query) to GET.
    pub path: String,
    /// Port on the pod IP.
    pub port: u16,
    /// `initialDelaySeconds`.
    pub initial_delay: Duration,
    /// `periodSeconds` (default 10).
    pub period: Duration,
    /// `timeoutSeconds` (default 1).
    pub timeout: Duration,
    /// `failureThreshold` (default 3).
    pub failure_threshold: u32,
    /// The container's `startupProbe.httpGet`: readiness is probed once it has succeeded (a
    /// sidecar's 1 s startup probe makes it ready long before its 15 s readiness period).
    pub startup: Option<Box<Probe>>,
}

impl Probe {
    /// The container's `readinessProbe.httpGet` (with its `startupProbe`), `None` without one
    /// or with an unknown port name.
    pub fn of(container: &Value) -> Option<Self> {
        let mut readiness = Self::parse(container, "readinessProbe")?;
        readiness.startup = Self::parse(container, "startupProbe").map(Box::new);
        Some(readiness)
    }

    fn parse(container: &Value, field: &str) -> Option<Self> {
        let probe = container.get(field)?;
        let get = probe.get("httpGet")?;
        let port = match get.get("port")? {
            Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
            Value::String(name) => name.parse::<u16>().ok().or_else(|| {
                container
                    .get("ports")?
                    .as_array()?
                    .iter()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
                    .and_then(|p| p.get("containerPort")?.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
            })?,
            _ => return None,
        };
        let secs = |field: &str, default: u64| {
            Duration::from_secs(probe.get(field).and_then(Value::as_u64).unwrap_or(default))
        };
        Some(Self {
            path: get
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| p.starts_with('/'))
                .unwrap_or("/")
                .to_owned(),
            port,
            initial_delay: secs("initialDelaySeconds", 0),
            period: secs("periodSeconds", 10).max(Duration::from_secs(1)),
            timeout: secs("timeoutSeconds", 1).max(Duration::from_secs(1)),
            failure_threshold: probe
                .get("failureThreshold")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(3)
                .max(1),
            startup: None,
        })
    }

    /// One GET; success is a status from 200 to 399, as for a kubelet's HTTP probe.
    async fn check(&self, ip: IpAddr) -> bool {
        let attempt = async {
            let mut stream = TcpStream::connect(SocketAddr::new(ip, self.port))
                .await
                .ok()?;
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: {ip}:{}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                self.path, self.port
            );
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut head = Vec::new();
            let mut buf = [0u8; 256];
            while !head.contains(&b'\n') {
                let n = stream.read(&mut buf).await.ok()?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let line = String::from_utf8_lossy(&head);
            let code: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some((200..400).contains(&code))
        };
        matches!(
            tokio::time::timeout(self.timeout, attempt).await,
            Ok(Some(true))
        )
    }
}

/// Runs a container until the task is aborted: binds its ports, runs the workload, probes
/// readiness, and after a crash waits with back-off and starts it again.
pub(super) async fn supervise(spec: Spec, state: Arc<Mutex<ContainerState>>, changed: Arc<Notify>) {
    let log = spec.context.log.clone();
    let reporter = Reporter { state, changed };
    let update = |f: &dyn Fn(&mut ContainerState)| reporter.update(f);
    let mut backoff = FIRST_BACKOFF;
    let mut first = true;
    loop {
        if !first {
            // Counted when the container is started again, as a kubelet counts restarts.
            reporter.update(&|s| s.restart_count += 1);
            log.rotate();
        }
        first = false;
        let started = meta::now_rfc3339();
        let id = container_id();
        let outcome = match bind(spec.ip, &spec.ports).await {
            Ok(listeners) => {
                update(&|s| {
                    s.container_id.clone_from(&id);
                    s.started_at = Some(started.clone());
                    s.waiting = None;
                    s.ready = spec.probe.is_none();
                });
                tokio::select! {
                    ended = spec.workload.run(listeners, spec.context.clone()) => ended,
                    () = probe_loop(spec.probe.clone(), spec.ip, &reporter) => {
                        Termination::error("the readiness probe stopped")
                    }
                }
            }
            Err(e) => Termination::error(e),
        };
        let Termination { exit_code, message } = outcome;
        let reason = if exit_code == 0 { "Completed" } else { "Error" };
        if exit_code != 0 {
            // Not in the container's log (`kubectl logs` shows only what the program wrote):
            // the reason is the terminated state's message (`kubectl describe`) and the mesh log.
            tracing::info!(
                namespace = %spec.context.namespace,
                pod = %spec.context.pod,
                container = %spec.context.container,
                exit_code,
                "container exited: {message}"
            );
        }
        let finished = meta::now_rfc3339();
        let terminated = json!({"terminated": {
            "exitCode": exit_code, "reason": reason, "message": message,
            "startedAt": started, "finishedAt": finished, "containerID": id,
        }});
        if !spec.restart_policy.restarts_after(exit_code) {
            update(&|s| {
                s.terminated = Some(terminated.clone());
                s.started_at = None;
                s.ready = false;
                s.waiting = None;
            });
            return;
        }
        update(&|s| {
            s.last_terminated = Some(json!({"terminated": {
                "exitCode": exit_code, "reason": reason, "message": message,
                "startedAt": started, "finishedAt": finished, "containerID": id,
            }}));
            s.started_at = None;
            s.ready = false;
            s.crashes += 1;
            s.waiting = Some((
                "CrashLoopBackOff".to_owned(),
                format!(
                    "back-off {}s restarting failed container",
                    backoff.as_secs()
                ),
            ));
        });
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Writes a container's state and tells the kubelet it changed.
struct Reporter {
    state: Arc<Mutex<ContainerState>>,
    changed: Arc<Notify>,
}

impl Reporter {
    fn update(&self, f: &dyn Fn(&mut ContainerState)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_one();
    }
}

async fn bind(ip: IpAddr, ports: &[u16]) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for port in ports {
        let addr = SocketAddr::new(ip, *port);
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied && *port < 1024 {
                format!(
                    "could not listen on {addr}: {e}; ports below 1024 need meshwork to run as root \
                     (or `sysctl net.ipv4.ip_unprivileged_port_start=0`) — or use a containerPort of 1024 or more"
                )
            } else {
                format!("could not listen on {addr}: {e}")
            }
        })?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Probes forever (never returns), flipping `ready` after a success or `failureThreshold`
/// failures in a row.
async fn probe_loop(probe: Option<Probe>, ip: IpAddr, reporter: &Reporter) {
    let Some(probe) = probe else {
        return std::future::pending().await;
    };
    match &probe.startup {
        // Readiness is probed from the startup probe's first success on.
        Some(startup) => {
            tokio::time::sleep(startup.initial_delay).await;
            while !startup.check(ip).await {
                tokio::time::sleep(startup.period).await;
            }
        }
        None => tokio::time::sleep(probe.initial_delay).await,
    }
    let mut failures = 0u32;
    loop {
        if probe.check(ip).await {
            failures = 0;
            reporter.update(&|s| s.ready = true);
        } else {
            failures += 1;
            if failures >= probe.failure_threshold {
                reporter.update(&|s| s.ready = false);
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}

fn container_id() -> String {
    let hex: String = meta::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("meshwork://{hex}")
}
