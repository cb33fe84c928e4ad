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
//! Pods whose containers all use [`crate::workloads::TRANSITIONAL_FAKED_IMAGES`] are left to the
//! pod controller, which still reports them as running (see that switch).
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

use self::container::{ContainerState, Probe, Spec};
use crate::controllers::events::{self, Source};
use crate::controllers::pods;
use crate::meta;
use crate::store::{EventType, Store};
use crate::workloads::{self, ImageSupport, LogBuffer};

/// How long a container with an image the mesh cannot run shows `ErrImagePull` before
/// `ImagePullBackOff`.
const PULL_FAILURE_SHOWN_FOR: Duration = Duration::from_secs(2);
/// How often the kubelet re-reports status without being told something changed.
const TICK: Duration = Duration::from_secs(1);

/// Whether the kubelet runs this pod (any container not on the transitional faked list).
pub(crate) fn runs(pod: &Value) -> bool {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                workloads::classify(image) != ImageSupport::Transitional
            })
        })
}

/// A handle on the running kubelet (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Kubelet {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
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
        let pods = self.lock();
        let runtime = pods
            .values()
            .find(|p| p.namespace == namespace && p.name == pod)?;
        let c = match container {
            Some(name) => runtime.containers.iter().find(|c| c.name == name)?,
            None if runtime.containers.len() == 1 => runtime.containers.first()?,
            None => return None,
        };
        if previous {
            c.log.previous()
        } else {
            Some(c.log.lines())
        }
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
        if self.lock().contains_key(uid) || !runs(pod) {
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
        for spec in &specs {
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
            let say = |reason: &str, message: &str| {
                events::record(store, pod, Some(&path), Source::Kubelet, reason, message);
            };
            let state = Arc::new(Mutex::new(ContainerState::default()));
            let log = LogBuffer::default();
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
                        ports.push(workload.default_port());
                    }
                    let spec = Spec {
                        workload,
                        ip,
                        ports,
                        probe: Probe::of(spec),
                    };
                    task = Some(tokio::spawn(container::supervise(
                        spec,
                        Arc::clone(&state),
                        log.clone(),
                        Arc::clone(&self.inner.changed),
                    )));
                    say("Started", &format!("Started container {name}"));
                }
                ImageSupport::Transitional => {
                    if let Ok(mut s) = state.lock() {
                        s.started_at = Some(meta::now_rfc3339());
                        s.ready = true;
                        s.container_id = format!("meshwork://transitional-{name}");
                    }
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
            c["reason"] = json!("ContainersNotReady");
            c["message"] = json!(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            ));
        }
        c
    };
    let ready = unready.is_empty();
    let mut status = old.clone();
    status["phase"] = json!(if all_created { "Running" } else { "Pending" });
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", true),
        condition("Initialized", true),
        condition("Ready", ready),
        condition("ContainersReady", ready),
        condition("PodScheduled", true),
    ]);
    status["containerStatuses"] = json!(statuses);
    status
}

/// Starts the kubelet; it runs until `shutdown` flips to true, then stops every container.
pub(crate) fn start(store: Store, shutdown: signal::Receiver<bool>) -> (Kubelet, JoinHandle<()>) {
    let kubelet = Kubelet::default();
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
    loop {
        tokio::select! {
            event = watch.next() => match event {
                Some(Ok(e)) => kubelet.sync(&store, e.kind, &e.object),
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
            () = changed.notified() => {}
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
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
