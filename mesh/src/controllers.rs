//! In-process controllers in the kube-rs reconcile style, driven by the store's watch.
//!
//! One task follows every change in the store ([`Store::watch_all`]), maps each change to the
//! objects whose desired state it may affect ([`Work`]), and reconciles those once the burst of
//! changes has been read. A reconcile reads the current state, writes what differs and returns;
//! its own writes come back as changes and trigger the next round until nothing changes. Failed
//! reconciles (typically a conflict with a concurrent API write) are retried shortly after.
//!
//! Modules:
//! - [`workloads`]: Deployment → ReplicaSet → Pods, StatefulSet and DaemonSet pods.
//! - [`pod`]: the scheduler and kubelet stand-in: binds pods to the node, gives them an IP and
//!   reports their containers as running.
//! - [`service`]: LoadBalancer status, Endpoints and EndpointSlices.
//! - [`namespace`]: the `default` ServiceAccount in every namespace.
//! - [`gc`]: ownerReference garbage collection and the propagation policies of deletes.
//! - [`events`]: recording v1 Events.

pub(crate) mod events;
pub(crate) mod gc;
mod namespace;
mod pod;
mod service;
mod workloads;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use serde_json::{Value, json};
use tokio::sync::watch as signal;

use crate::meta;
use crate::store::{EventType, ResourceKey, Store, StoreError, WatchEvent};

/// How long a failed reconcile waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// A namespaced object's address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjRef {
    pub namespace: String,
    pub name: String,
}

impl ObjRef {
    fn of(obj: &Value) -> Self {
        Self {
            namespace: meta::namespace(obj).unwrap_or("").to_owned(),
            name: meta::name(obj).unwrap_or("").to_owned(),
        }
    }

    fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// One unit of reconcile work.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Work {
    /// Bind and start a pod.
    Pod(ObjRef),
    /// Keep a ReplicaSet's pods at its replica count.
    ReplicaSet(ObjRef),
    /// Keep a Deployment's ReplicaSets at its template and replica count.
    Deployment(ObjRef),
    /// Keep a StatefulSet's ordinal pods.
    StatefulSet(ObjRef),
    /// Keep a DaemonSet's pod on the node.
    DaemonSet(ObjRef),
    /// Keep a Service's status, Endpoints and EndpointSlices.
    Service(ObjRef),
    /// Every Service in a namespace (a pod there changed).
    ServicesIn(String),
    /// Keep a namespace's default ServiceAccount.
    Namespace(String),
    /// Delete the dependents of the object with this uid that have no owner left.
    Collect(String),
}

/// The kinds a controller acts on, by resource.
fn key(group: &str, resource: &str) -> ResourceKey {
    let version = "v1";
    ResourceKey::new(group, version, resource)
}

pub(crate) fn pods() -> ResourceKey {
    key("", "pods")
}

/// The controlling owner (`controller: true`) of an object, as (kind, name).
fn controller_of(obj: &Value) -> Option<(&str, &str)> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| Some((r.get("kind")?.as_str()?, r.get("name")?.as_str()?)))
}

/// Whether `obj` is controlled by the object with `uid`.
pub(crate) fn controlled_by(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("uid").and_then(Value::as_str) == Some(uid)
                    && r.get("controller").and_then(Value::as_bool) == Some(true)
            })
        })
}

/// An ownerReference naming `owner` as the controller.
pub(crate) fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": meta::name(owner).unwrap_or_default(),
        "uid": meta::meta_str(owner, "uid").unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn deleting(obj: &Value) -> bool {
    meta::meta_str(obj, "deletionTimestamp").is_some()
}

/// The work one change implies.
fn work_for(resource: &ResourceKey, obj: &Value, kind: EventType, out: &mut BTreeSet<Work>) {
    let me = ObjRef::of(obj);
    let owner = controller_of(obj).map(|(k, n)| (k, ObjRef::new(&me.namespace, n)));
    match (resource.group.as_str(), resource.resource.as_str()) {
        ("", "pods") => {
            if kind != EventType::Deleted {
                out.insert(Work::Pod(me.clone()));
            }
            match owner {
                Some(("ReplicaSet", o)) => {
                    out.insert(Work::ReplicaSet(o));
                }
                Some(("StatefulSet", o)) => {
                    out.insert(Work::StatefulSet(o));
                }
                Some(("DaemonSet", o)) => {
                    out.insert(Work::DaemonSet(o));
                }
                _ => {}
            }
            out.insert(Work::ServicesIn(me.namespace));
        }
        ("apps", "replicasets") => {
            out.insert(Work::ReplicaSet(me));
            if let Some(("Deployment", o)) = owner {
                out.insert(Work::Deployment(o));
            }
        }
        ("apps", "deployments") => {
            out.insert(Work::Deployment(me));
        }
        ("apps", "statefulsets") => {
            out.insert(Work::StatefulSet(me));
        }
        ("apps", "daemonsets") => {
            out.insert(Work::DaemonSet(me));
        }
        ("", "services") => {
            out.insert(Work::Service(me));
        }
        ("", "endpoints") => {
            out.insert(Work::Service(me));
        }
        ("discovery.k8s.io", "endpointslices") => {
            if let Some(svc) = meta::labels(obj)
                .find(|(k, _)| *k == service::SERVICE_NAME_LABEL)
                .map(|(_, v)| v.to_owned())
            {
                out.insert(Work::Service(ObjRef::new(&me.namespace, &svc)));
            }
        }
        ("", "namespaces") => {
            out.insert(Work::Namespace(me.name));
        }
        ("", "serviceaccounts") => {
            out.insert(Work::Namespace(me.namespace));
        }
        _ => {}
    }
    if kind == EventType::Deleted
        && let Some(uid) = meta::meta_str(obj, "uid")
    {
        out.insert(Work::Collect(uid.to_owned()));
    }
}

/// What every reconcile reads and writes through.
pub(crate) struct Ctx {
    pub store: Store,
}

impl Ctx {
    fn reconcile(&self, work: &Work) -> Result<(), StoreError> {
        match work {
            Work::Pod(r) => pod::reconcile(self, r),
            Work::ReplicaSet(r) => workloads::reconcile_replicaset(self, r),
            Work::Deployment(r) => workloads::reconcile_deployment(self, r),
            Work::StatefulSet(r) => workloads::reconcile_statefulset(self, r),
            Work::DaemonSet(r) => workloads::reconcile_daemonset(self, r),
            Work::Service(r) => service::reconcile(self, r),
            Work::ServicesIn(ns) => {
                let (svcs, _) = self.store.list(&service::services(), Some(ns));
                for s in svcs {
                    service::reconcile(self, &ObjRef::of(&s))?;
                }
                Ok(())
            }
            Work::Namespace(ns) => namespace::reconcile(self, ns),
            Work::Collect(uid) => gc::collect(&self.store, uid),
        }
    }

    /// Reads an object, `None` when it does not exist.
    fn get(&self, key: &ResourceKey, r: &ObjRef) -> Option<Arc<Value>> {
        let ns = (!r.namespace.is_empty()).then_some(r.namespace.as_str());
        self.store.get(key, ns, &r.name).ok()
    }
}

/// Queues every object of a snapshot for reconciling (at start and after falling behind).
fn resync(snapshot: &[(ResourceKey, Arc<Value>)], dirty: &mut BTreeSet<Work>) {
    for (resource, obj) in snapshot {
        work_for(resource, obj, EventType::Added, dirty);
    }
    // Dependents whose owners vanished while the mesh was down.
    for uid in gc::orphaned_owner_uids(snapshot) {
        dirty.insert(Work::Collect(uid));
    }
}

/// Runs the controllers until `shutdown` flips to true.
pub(crate) async fn run(store: Store, mut shutdown: signal::Receiver<bool>) {
    let ctx = Ctx {
        store: store.clone(),
    };
    let (mut watch, snapshot) = store.watch_all();
    let mut dirty = BTreeSet::new();
    let mut retry: BTreeSet<Work> = BTreeSet::new();
    resync(&snapshot, &mut dirty);
    drop(snapshot);
    loop {
        for work in std::mem::take(&mut dirty) {
            // A reconcile that panics on a malformed object must not stop every controller.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.reconcile(&work)));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(?work, "reconcile failed, retrying: {e}");
                    retry.insert(work);
                }
                Err(_) => tracing::error!(?work, "reconcile panicked; skipping this object"),
            }
        }
        let has_retry = !retry.is_empty();
        let mut flow = tokio::select! {
            event = watch.next() => observe(event, &mut dirty),
            () = tokio::time::sleep(RETRY_AFTER), if has_retry => {
                dirty.append(&mut retry);
                Flow::Continue
            }
            _ = shutdown.changed() => Flow::Stop,
        };
        // Read the rest of the burst before reconciling, so one reconcile covers it all.
        while flow == Flow::Continue
            && let Some(event) = watch.next().now_or_never()
        {
            flow = observe(event, &mut dirty);
        }
        match flow {
            Flow::Continue => {}
            Flow::Stop => return,
            Flow::Resync => {
                // Fell behind the store: start over from a fresh snapshot.
                let (w, snapshot) = store.watch_all();
                watch = w;
                resync(&snapshot, &mut dirty);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Resync,
    Stop,
}

fn observe(event: Option<Result<WatchEvent, StoreError>>, dirty: &mut BTreeSet<Work>) -> Flow {
    match event {
        Some(Ok(e)) => {
            work_for(&e.resource, &e.object, e.kind, dirty);
            Flow::Continue
        }
        Some(Err(_)) => Flow::Resync,
        None => Flow::Stop,
    }
}

/// The canonical JSON text of a value (object keys sorted), for hashing.
pub(crate) fn canonical(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// A short, stable hash of a pod template, spelled as Kubernetes spells `pod-template-hash`
/// (FNV-1a 32, its decimal digits mapped onto the consonant/digit alphabet).
pub(crate) fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    for b in canonical(template).bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests;
