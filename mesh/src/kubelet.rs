//! kubelet-lite: runs the containers of the pods bound to the node as built-in workloads and
//! reports their status truthfully.
//!
//! The pod controller binds a pod and gives it an IP; the kubelet then starts each container
//! whose image names a built-in workload ([`crate::workloads`]) as a task listening on the pod IP
//! and the container's ports, probes readiness (`readinessProbe.httpGet`), restarts a crashed
//! workload with back-off, and writes `status` (container states, restart counts, conditions,
//! phase). A container whose image has no workload waits in `ErrImagePull`, then
//! `ImagePullBackOff`, with a Warning Event listing the images the mesh can run. Deleting a pod
//! stops its tasks and frees its ports; stopping the mesh stops every task.
//!
//! Modules:
//! - [`container`]: a container's supervisor task and readiness probe.

mod container;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

use self::container::{ContainerState, Probe, RestartPolicy, Spec};
use crate::controllers::events::{self, Source};
use crate::controllers::pods;
use crate::meta;
use crate::net::Network;
use crate::store::{EventType, Store};
use crate::workloads::{self, ImageSupport, LogBuffer, LogLine, PodContext};

/// How long a container with an image the mesh cannot run shows `ErrImagePull` before
/// `ImagePullBackOff`.
const PULL_FAILURE_SHOWN_FOR: Duration = Duration::from_secs(2);
/// How long the kubelet gathers changes before it writes the status they lead to.
const REPORT_BATCH: Duration = Duration::from_millis(10);
/// How often the kubelet re-reports status without being told something changed.
const TICK: Duration = Duration::from_secs(1);

/// A handle on the running kubelet (cheap to clone).
#[derive(Clone, Debug)]
pub struct Kubelet {
    inner: Arc<Inner>,
}

/// Why a command cannot be run in a container (`kubectl exec`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// No running pod of that name.
    #[error("pod {0} is not running on this node")]
    NoPod(String),
    /// The pod has several containers and none was named.
    #[error("a container name must be specified for pod {pod}, choose one of: [{choices}]")]
    ContainerRequired {
        /// The pod.
        pod: String,
        /// Its containers, space-separated.
        choices: String,
    },
    /// No such container in the pod.
    #[error("container {container} is not valid for pod {pod}")]
    NoContainer {
        /// The pod.
        pod: String,
        /// The container asked for.
        container: String,
    },
    /// The container exists but is not running (image not available, crashed, waiting).
    #[error("container not found (\"{0}\")")]
    NotRunning(String),
}

#[derive(Debug)]
struct Inner {
    /// The network the workloads connect through.
    network: Network,
    /// Running pods by uid.
    pods: Mutex<HashMap<String, PodRuntime>>,
    /// Poked by container supervisors when a container's state changes.
    changed: Arc<Notify>,
}

#[derive(Debug)]
struct PodRuntime {
    namespace: String,
    name: String,
    containers: Vec<Container>,
}

#[derive(Debug)]
struct Container {
    /// What the workload runs with (also used by `kubectl exec`).
    context: PodContext,
    name: String,
    image: String,
    support: ImageSupport,
    state: Arc<Mutex<ContainerState>>,
    log: LogBuffer,
    task: Option<JoinHandle<()>>,
    created: Instant,
    /// Crashes already reported with a `BackOff` event.
    crashes_reported: u32,
}

impl Kubelet {
    /// A kubelet whose workloads connect through `network`.
    pub fn new(network: Network) -> Self {
        Self {
            inner: Arc::new(Inner {
                network,
                pods: Mutex::default(),
                changed: Arc::default(),
            }),
        }
    }

    /// Calls `f` with a container of a running pod: the one named, or the pod's only one when
    /// `container` is `None`; the errors say which of those is missing.
    fn with_container<T>(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        f: impl FnOnce(&Container) -> T,
    ) -> Result<T, ExecError> {
        let pods = self.lock();
        let runtime = pods
            .values()
            .find(|p| p.namespace == namespace && p.name == pod)
            .ok_or_else(|| ExecError::NoPod(pod.to_owned()))?;
        let c = match container {
            Some(name) => runtime
                .containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| ExecError::NoContainer {
                    pod: pod.to_owned(),
                    container: name.to_owned(),
                })?,
            None => match runtime.containers.as_slice() {
                [only] => only,
                all => {
                    return Err(ExecError::ContainerRequired {
                        pod: pod.to_owned(),
                        choices: all
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    });
                }
            },
        };
        Ok(f(c))
    }

    /// The context `kubectl exec` runs a command in: a running container of a running pod
    /// (`container` may be omitted when the pod has exactly one).
    pub fn exec_context(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Result<PodContext, ExecError> {
        self.with_container(namespace, pod, container, |c| {
            let running = c
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .started_at
                .is_some();
            if running {
                Ok(c.context.clone())
            } else {
                Err(ExecError::NotRunning(c.name.clone()))
            }
        })?
    }

    /// The log of a container of a running pod, to follow (`kubectl logs -f`): the lines so far
    /// and a receiver of new ones. `None` as for [`Self::logs`].
    pub fn follow_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Option<(Vec<LogLine>, tokio::sync::broadcast::Receiver<LogLine>)> {
        self.with_container(namespace, pod, container, |c| c.log.follow())
            .ok()
    }

    /// The log lines of a container of a running pod (of its previous run with `previous`, when
    /// it was restarted); `container` may be omitted when the pod has exactly one. `None` when
    /// there is no such pod, container or previous run.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Option<Vec<String>> {
        self.log_entries(namespace, pod, container, previous)
            .map(|lines| lines.into_iter().map(|l| l.text).collect())
    }

    /// As [`Self::logs`], with the time each line was written.
    pub fn log_entries(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Option<Vec<LogLine>> {
        self.with_container(namespace, pod, container, |c| {
            if previous {
                c.log.previous_entries()
            } else {
                Some(c.log.entries())
            }
        })
        .ok()
        .flatten()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PodRuntime>> {
        self.inner
            .pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the pod's containers when it is bound, has an IP and is not running yet; stops
    /// them when it is being deleted.
    fn sync(&self, store: &Store, kind: EventType, pod: &Value) {
        let Some(uid) = meta::meta_str(pod, "uid") else {
            return;
        };
        let gone = kind == EventType::Deleted || meta::meta_str(pod, "deletionTimestamp").is_some();
        if gone {
            if let Some(runtime) = self.lock().remove(uid) {
                stop(runtime);
            }
            return;
        }
        if self.lock().contains_key(uid) {
            return;
        }
        let bound = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let Some(ip) = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse::<IpAddr>().ok())
        else {
            return;
        };
        if !bound {
            return;
        }
        let runtime = self.start_pod(store, pod, ip);
        self.lock().insert(uid.to_owned(), runtime);
    }

    fn start_pod(&self, store: &Store, pod: &Value, ip: IpAddr) -> PodRuntime {
        let specs = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut containers = Vec::new();
        // With a sidecar the application listens on the pod's inner address and the sidecar's
        // inbound listeners take the pod IP (see `crate::net::sidecar`).
        let sidecar = crate::net::sidecar::has_sidecar(pod)
            .then(|| crate::net::sidecar::SidecarAddresses::of(ip))
            .flatten();
        for spec in &specs {
            let bind_ip = match sidecar {
                Some(addresses) if !crate::net::sidecar::is_proxy_container(spec) => addresses.app,
                _ => ip,
            };
            let name = spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let image = spec
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let support = workloads::classify(&image);
            let path = format!("spec.containers{{{name}}}");
            let log = LogBuffer::default();
            let context = PodContext {
                namespace: meta::namespace(pod).unwrap_or("default").to_owned(),
                pod: meta::name(pod).unwrap_or("").to_owned(),
                container: name.clone(),
                ip,
                service_account: pod
                    .pointer("/spec/serviceAccountName")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_owned(),
                env: environment(pod, spec, ip),
                command: command_line(spec),
                network: self.inner.network.clone(),
                log: log.clone(),
            };
            let say = |reason: &str, message: &str| {
                events::record(store, pod, Some(&path), Source::Kubelet, reason, message);
            };
            let state = Arc::new(Mutex::new(ContainerState::default()));
            let mut task = None;
            match support {
                ImageSupport::Builtin(workload) => {
                    say(
                        "Pulled",
                        &format!("Container image \"{image}\" already present on machine"),
                    );
                    say("Created", &format!("Created container: {name}"));
                    let mut ports = declared_ports(spec);
                    if ports.is_empty() {
                        ports.extend_from_slice(workload.default_ports());
                    }
                    let spec = Spec {
                        workload,
                        ip: bind_ip,
                        ports,
                        probe: Probe::of(spec),
                        context: context.clone(),
                        restart_policy: RestartPolicy::of(pod),
                    };
                    task = Some(tokio::spawn(container::supervise(
                        spec,
                        Arc::clone(&state),
                        Arc::clone(&self.inner.changed),
                    )));
                    say("Started", &format!("Started container {name}"));
                }
                ImageSupport::Unavailable => {
                    say("Pulling", &format!("Pulling image \"{image}\""));
                    events::record_warning(
                        store,
                        pod,
                        Some(&path),
                        Source::Kubelet,
                        "Failed",
                        &format!(
                            "Failed to pull image \"{image}\": the reference mesh has no built-in workload for this image; it can run: {}",
                            workloads::runnable_images().join(", ")
                        ),
                    );
                }
            }
            containers.push(Container {
                context,
                name,
                image,
                support,
                state,
                log,
                task,
                created: Instant::now(),
                crashes_reported: 0,
            });
        }
        PodRuntime {
            namespace: meta::namespace(pod).unwrap_or("").to_owned(),
            name: meta::name(pod).unwrap_or("").to_owned(),
            containers,
        }
    }

    /// Writes the status of every running pod whose reported status differs from the truth.
    fn report(&self, store: &Store) {
        let mut crashed = Vec::new();
        for p in self.lock().values_mut() {
            for c in &mut p.containers {
                let crashes = c
                    .state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .crashes;
                if crashes > c.crashes_reported {
                    c.crashes_reported = crashes;
                    crashed.push((p.namespace.clone(), p.name.clone(), c.name.clone()));
                }
            }
        }
        for (namespace, name, container) in crashed {
            if let Ok(pod) = store.get(&pods(), Some(&namespace), &name) {
                events::record_warning(
                    store,
                    &pod,
                    Some(&format!("spec.containers{{{container}}}")),
                    Source::Kubelet,
                    "BackOff",
                    &format!(
                        "Back-off restarting failed container {container} in pod {name}_{namespace}"
                    ),
                );
            }
        }
        let wanted: Vec<(String, String, Vec<ContainerReport>)> = self
            .lock()
            .values()
            .map(|p| {
                let reports = p.containers.iter().map(ContainerReport::of).collect();
                (p.namespace.clone(), p.name.clone(), reports)
            })
            .collect();
        for (namespace, name, reports) in wanted {
            let Ok(pod) = store.get(&pods(), Some(&namespace), &name) else {
                continue;
            };
            if meta::meta_str(&pod, "deletionTimestamp").is_some() {
                continue;
            }
            let status = pod_status(&pod, &reports);
            if pod.get("status") == Some(&status) {
                continue;
            }
            let mut next = (*pod).clone();
            next["status"] = status;
            crate::patch::apply::record_status_write(&pod, &mut next, "kubelet");
            if let Err(e) = store.update(&pods(), next) {
                tracing::debug!(%namespace, %name, "kubelet status write failed, retrying: {e}");
            }
        }
    }
}

/// The container's main process: `command` and `args` as given (empty when neither is set:
/// the workload then runs the image's default).
fn command_line(container: &Value) -> Vec<String> {
    let mut line = meta::strings(container.get("command"));
    line.extend(meta::strings(container.get("args")));
    line
}

/// The environment a container's processes see: what every container has, then the
/// container's `env` (literal values and the `fieldRef`s the mesh knows; others are left out).
fn environment(pod: &Value, container: &Value, ip: IpAddr) -> Vec<(String, String)> {
    let name = meta::name(pod).unwrap_or("").to_owned();
    let mut env = vec![
        (
            "PATH".to_owned(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        ("HOSTNAME".to_owned(), name),
        ("HOME".to_owned(), "/root".to_owned()),
        ("KUBERNETES_SERVICE_HOST".to_owned(), "10.96.0.1".to_owned()),
        ("KUBERNETES_SERVICE_PORT".to_owned(), "443".to_owned()),
    ];
    for var in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(key) = var.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = if let Some(v) = var.get("value").and_then(Value::as_str) {
            Some(v.to_owned())
        } else if let Some(path) = var
            .pointer("/valueFrom/fieldRef/fieldPath")
            .and_then(Value::as_str)
        {
            match path {
                "status.podIP" => Some(ip.to_string()),
                "status.hostIP" => Some("127.0.0.1".to_owned()),
                "spec.nodeName" => Some(crate::seed::NODE_NAME.to_owned()),
                "spec.serviceAccountName" => pod
                    .pointer("/spec/serviceAccountName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                other => meta::field_text(pod, other),
            }
        } else {
            None
        };
        if let Some(value) = value {
            env.push((key.to_owned(), value));
        }
    }
    env
}

fn declared_ports(container: &Value) -> Vec<u16> {
    container
        .get("ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter(|p| {
                    p.get("protocol")
                        .and_then(Value::as_str)
                        .is_none_or(|p| p == "TCP")
                })
                .filter_map(|p| p.get("containerPort")?.as_u64())
                .filter_map(|p| u16::try_from(p).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn stop(runtime: PodRuntime) {
    for c in runtime.containers {
        if let Some(task) = c.task {
            task.abort();
        }
    }
}

/// A snapshot of one container for its status.
struct ContainerReport {
    name: String,
    image: String,
    support: ImageSupport,
    state: ContainerState,
    pulling_for: Duration,
}

impl ContainerReport {
    fn of(c: &Container) -> Self {
        Self {
            name: c.name.clone(),
            image: c.image.clone(),
            support: c.support,
            state: c
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            pulling_for: c.created.elapsed(),
        }
    }

    fn status(&self) -> Value {
        let s = &self.state;
        let state = if let Some(started) = &s.started_at {
            json!({"running": {"startedAt": started}})
        } else if let Some(terminated) = &s.terminated {
            terminated.clone()
        } else if self.support == ImageSupport::Unavailable {
            let (reason, message) = if self.pulling_for < PULL_FAILURE_SHOWN_FOR {
                (
                    "ErrImagePull",
                    format!(
                        "the reference mesh cannot run image \"{}\"; it can run: {}",
                        self.image,
                        workloads::runnable_images().join(", ")
                    ),
                )
            } else {
                (
                    "ImagePullBackOff",
                    format!("Back-off pulling image \"{}\"", self.image),
                )
            };
            json!({"waiting": {"reason": reason, "message": message}})
        } else if let Some((reason, message)) = &s.waiting {
            json!({"waiting": {"reason": reason, "message": message}})
        } else {
            json!({"waiting": {"reason": "ContainerCreating"}})
        };
        let mut out = json!({
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": s.ready && s.started_at.is_some(),
            "started": s.started_at.is_some(),
            "restartCount": s.restart_count,
            "state": state,
            "lastState": s.last_terminated.clone().unwrap_or_else(|| json!({})),
        });
        if !s.container_id.is_empty() {
            out["containerID"] = json!(s.container_id);
        }
        out
    }
}

/// The pod's status from its containers' reports, keeping what the scheduler set (IPs,
/// startTime) and the transition times of conditions that did not change.
fn pod_status(pod: &Value, reports: &[ContainerReport]) -> Value {
    let old = pod.get("status").cloned().unwrap_or_else(|| json!({}));
    let now = meta::now_rfc3339();
    let statuses: Vec<Value> = reports.iter().map(ContainerReport::status).collect();
    let all_created = reports
        .iter()
        .all(|r| r.support != ImageSupport::Unavailable && !r.state.container_id.is_empty());
    let unready: Vec<&str> = statuses
        .iter()
        .zip(reports)
        .filter(|(s, _)| s.get("ready") != Some(&json!(true)))
        .map(|(_, r)| r.name.as_str())
        .collect();
    // Every container ended for good: the pod is done.
    let finished: Option<bool> =
        (!reports.is_empty() && reports.iter().all(|r| r.state.terminated.is_some())).then(|| {
            reports.iter().all(|r| {
                r.state
                    .terminated
                    .as_ref()
                    .and_then(|t| t.pointer("/terminated/exitCode"))
                    .and_then(Value::as_i64)
                    == Some(0)
            })
        });
    let condition = |kind: &str, ok: bool| {
        let status = if ok { "True" } else { "False" };
        let previous = old
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c.get("type") == Some(&json!(kind))));
        let since = previous
            .filter(|c| c.get("status") == Some(&json!(status)))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now));
        let mut c = json!({"type": kind, "status": status, "lastProbeTime": null,
                           "lastTransitionTime": since});
        if !ok {
            c["reason"] = json!(if finished.is_some() {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            });
            c["message"] = json!(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            ));
        }
        c
    };
    let ready = unready.is_empty();
    let mut status = old.clone();
    status["phase"] = json!(match finished {
        Some(true) => "Succeeded",
        Some(false) => "Failed",
        None if all_created => "Running",
        None => "Pending",
    });
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", true),
        condition("Initialized", true),
        condition("Ready", ready),
        condition("ContainersReady", ready),
        condition("PodScheduled", true),
    ]);
    status["containerStatuses"] = json!(statuses);
    if let Some(inits) = init_statuses(pod, &old) {
        status["initContainerStatuses"] = inits;
    }
    status
}

/// Init containers are not run (`istio-init`'s traffic redirection is what the network seam
/// does): they are reported as having completed before the pod started, as a kubelet reports
/// them once they ran.
fn init_statuses(pod: &Value, old: &Value) -> Option<Value> {
    let inits = pod.pointer("/spec/initContainers")?.as_array()?;
    let at = old
        .get("startTime")
        .cloned()
        .unwrap_or_else(|| json!(meta::now_rfc3339()));
    let statuses = inits.iter().filter_map(|c| {
        Some(json!({
            "name": c.get("name")?.as_str()?,
            "image": c.get("image").and_then(Value::as_str).unwrap_or(""),
            "imageID": "",
            "ready": true,
            "started": false,
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                     "startedAt": at, "finishedAt": at}},
            "lastState": {},
        }))
    });
    Some(Value::Array(statuses.collect()))
}

/// Starts the kubelet; it runs until `shutdown` flips to true, then stops every container.
pub(crate) fn start(
    store: Store,
    network: Network,
    shutdown: signal::Receiver<bool>,
) -> (Kubelet, JoinHandle<()>) {
    let kubelet = Kubelet::new(network);
    let task = tokio::spawn(run(kubelet.clone(), store, shutdown));
    (kubelet, task)
}

async fn run(kubelet: Kubelet, store: Store, mut shutdown: signal::Receiver<bool>) {
    let changed = Arc::clone(&kubelet.inner.changed);
    let mut watch = match store.watch(&pods(), None, None) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("the kubelet could not watch pods and runs no containers: {e}");
            return;
        }
    };
    let mut tick = tokio::time::interval(TICK);
    // Status is written once per burst of changes, not once per change: a thousand pods
    // created at once would otherwise cost a thousand passes over a thousand pods.
    let mut report_at: Option<tokio::time::Instant> = None;
    let soon = || Some(tokio::time::Instant::now() + REPORT_BATCH);
    loop {
        let due = async {
            match report_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = watch.next() => match event {
                Some(Ok(e)) => {
                    kubelet.sync(&store, e.kind, &e.object);
                    report_at = report_at.or_else(soon);
                    continue;
                }
                Some(Err(_)) => {
                    // Fell behind: start over from the current pods.
                    let Ok(w) = store.watch(&pods(), None, None) else { break };
                    watch = w;
                    let (all, _) = store.list(&pods(), None);
                    let live: std::collections::HashSet<&str> =
                        all.iter().filter_map(|p| meta::meta_str(p, "uid")).collect();
                    let stale: Vec<String> =
                        kubelet.lock().keys().filter(|u| !live.contains(u.as_str())).cloned().collect();
                    for uid in stale {
                        if let Some(r) = kubelet.lock().remove(&uid) {
                            stop(r);
                        }
                    }
                }
                None => break,
            },
            () = changed.notified() => {
                report_at = report_at.or_else(soon);
                continue;
            }
            () = due => {}
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        report_at = None;
        kubelet.report(&store);
    }
    let all: Vec<PodRuntime> = kubelet.lock().drain().map(|(_, r)| r).collect();
    let mut tasks = Vec::new();
    for runtime in all {
        for c in runtime.containers {
            if let Some(t) = c.task {
                t.abort();
                tasks.push(t);
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}
