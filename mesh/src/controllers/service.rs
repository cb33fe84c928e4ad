//! Service controller: LoadBalancer status, and the Endpoints and EndpointSlices of every
//! Service with a selector, built from the pods it selects (named targetPorts resolved per pod).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Ctx, ObjRef, deleting, key, owner_ref, pods};
use crate::meta;
use crate::seed::NODE_NAME;
use crate::store::{Preconditions, ResourceKey, StoreError};

/// The label that ties an EndpointSlice to its Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// The store key of v1 Services.
pub(crate) fn services() -> ResourceKey {
    key("", "services")
}

fn endpoints() -> ResourceKey {
    key("", "endpoints")
}

fn slices() -> ResourceKey {
    key("discovery.k8s.io", "endpointslices")
}

/// One resolved service port: (name, port number on the pod, protocol).
type Port = (String, i64, String);

/// The pod's port for a service port: a number as is, a name looked up in the pod's containers.
fn resolve(pod: &Value, target: Option<&Value>, port: i64) -> Option<i64> {
    match target {
        None => Some(port),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => pod
                .pointer("/spec/containers")?
                .as_array()?
                .iter()
                .filter_map(|c| c.get("ports")?.as_array())
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(s.as_str()))?
                .get("containerPort")?
                .as_i64(),
        },
        Some(_) => None,
    }
}

fn selects(selector: &Map<String, Value>, pod: &Value) -> bool {
    let labels: BTreeMap<&str, &str> = meta::labels(pod).collect();
    selector.iter().all(|(k, v)| {
        v.as_str()
            .is_some_and(|v| labels.get(k.as_str()) == Some(&v))
    })
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True"))
            })
        })
}

fn target_ref(pod: &Value) -> Value {
    json!({
        "kind": "Pod",
        "namespace": meta::namespace(pod).unwrap_or_default(),
        "name": meta::name(pod).unwrap_or_default(),
        "uid": meta::meta_str(pod, "uid").unwrap_or_default(),
    })
}

/// Pods grouped by the ports they resolve to, ready or not, sorted by IP.
fn groups(svc: &Value, selected: &[Arc<Value>]) -> BTreeMap<Vec<Port>, Vec<(Arc<Value>, bool)>> {
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out: BTreeMap<Vec<Port>, Vec<(Arc<Value>, bool)>> = BTreeMap::new();
    for pod in selected {
        let resolved: Vec<Port> = ports
            .iter()
            .filter_map(|p| {
                let port = p.get("port").and_then(Value::as_i64)?;
                let number = resolve(pod, p.get("targetPort"), port)?;
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                Some((name.to_owned(), number, proto.to_owned()))
            })
            .collect();
        if resolved.is_empty() && !ports.is_empty() {
            continue;
        }
        out.entry(resolved)
            .or_default()
            .push((Arc::clone(pod), is_ready(pod)));
    }
    for pods in out.values_mut() {
        pods.sort_by(|a, b| ip(&a.0).cmp(ip(&b.0)));
    }
    out
}

fn ip(pod: &Value) -> &str {
    pod.pointer("/status/podIP")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn ports_json(ports: &[Port], with_empty_name: bool) -> Vec<Value> {
    ports
        .iter()
        .map(|(name, port, proto)| {
            let mut p = json!({"port": port, "protocol": proto});
            if !name.is_empty() || with_empty_name {
                p["name"] = json!(name);
            }
            p
        })
        .collect()
}

/// Creates or updates an object so that the fields in `desired` match; leaves it alone when they do.
fn upsert(
    ctx: &Ctx,
    resource: &ResourceKey,
    existing: Option<&Value>,
    desired: Value,
) -> Result<(), StoreError> {
    match existing {
        None => {
            ctx.store.create(resource, desired)?;
        }
        Some(old) => {
            let mut next = old.clone();
            if let (Some(n), Some(d)) = (next.as_object_mut(), desired.as_object()) {
                for (k, v) in d {
                    if k == "metadata" {
                        continue;
                    }
                    n.insert(k.clone(), v.clone());
                }
                // Fields the new state no longer has (e.g. `subsets` once every pod is gone).
                n.retain(|k, _| {
                    d.contains_key(k) || matches!(k.as_str(), "metadata" | "apiVersion" | "kind")
                });
            }
            if let Some(labels) = desired.pointer("/metadata/labels")
                && let Some(m) = meta::metadata_mut(&mut next)
            {
                m.insert("labels".into(), labels.clone());
            }
            if next != *old {
                ctx.store.update(resource, next)?;
            }
        }
    }
    Ok(())
}

fn remove_endpoints(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let ns = Some(r.namespace.as_str());
    match ctx
        .store
        .delete(&endpoints(), ns, &r.name, &Preconditions::default())
    {
        Ok(_) | Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let (all, _) = ctx.store.list(&slices(), ns);
    for s in all.iter().filter(|s| managed_slice_of(s, &r.name)) {
        match ctx.store.delete(
            &slices(),
            ns,
            meta::name(s).unwrap_or_default(),
            &Preconditions::default(),
        ) {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn managed_slice_of(slice: &Value, service: &str) -> bool {
    let labels: BTreeMap<&str, &str> = meta::labels(slice).collect();
    labels.get(SERVICE_NAME_LABEL) == Some(&service)
        && labels.get(MANAGED_BY_LABEL) == Some(&MANAGED_BY)
}

/// Reconciles one Service: status for LoadBalancers, Endpoints and EndpointSlices when it has a selector.
pub(super) fn reconcile(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let Some(svc) = ctx.get(&services(), r) else {
        return remove_endpoints(ctx, r);
    };
    if deleting(&svc) {
        return Ok(());
    }
    let lb = svc.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
    let status = if lb {
        json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}})
    } else {
        json!({"loadBalancer": {}})
    };
    let svc = if svc.get("status") == Some(&status) {
        svc
    } else {
        let mut next = (*svc).clone();
        next["status"] = status;
        ctx.store.update(&services(), next)?
    };
    let Some(selector) = svc
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
    else {
        // Without a selector the user manages the Endpoints.
        return Ok(());
    };
    let (candidates, _) = ctx.store.list(&pods(), Some(&r.namespace));
    let selected: Vec<Arc<Value>> = candidates
        .into_iter()
        .filter(|p| selects(selector, p) && !deleting(p) && !ip(p).is_empty())
        .collect();
    let groups = groups(&svc, &selected);
    let mut labels = meta::labels(&svc)
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect::<Map<String, Value>>();

    let subsets: Vec<Value> = groups
        .iter()
        .map(|(ports, pods)| {
            let address = |p: &Arc<Value>| json!({"ip": ip(p), "nodeName": NODE_NAME, "targetRef": target_ref(p)});
            let mut s = json!({"ports": ports_json(ports, false)});
            let ready: Vec<Value> = pods.iter().filter(|(_, r)| *r).map(|(p, _)| address(p)).collect();
            let not_ready: Vec<Value> = pods.iter().filter(|(_, r)| !*r).map(|(p, _)| address(p)).collect();
            if !ready.is_empty() {
                s["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                s["notReadyAddresses"] = json!(not_ready);
            }
            s
        })
        .collect();
    let mut ep = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": r.name, "namespace": r.namespace, "labels": labels.clone()},
    });
    if !subsets.is_empty() {
        ep["subsets"] = json!(subsets);
    }
    let existing = ctx.get(&endpoints(), r);
    upsert(ctx, &endpoints(), existing.as_deref(), ep)?;

    labels.insert(SERVICE_NAME_LABEL.into(), json!(r.name));
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
    let mut wanted: Vec<Value> = groups
        .iter()
        .map(|(ports, pods)| {
            json!({
                "addressType": "IPv4",
                "ports": ports_json(ports, true),
                "endpoints": pods.iter().map(|(p, ready)| json!({
                    "addresses": [ip(p)],
                    "conditions": {"ready": ready, "serving": ready, "terminating": false},
                    "nodeName": NODE_NAME,
                    "targetRef": target_ref(p),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    if wanted.is_empty() {
        wanted.push(json!({"addressType": "IPv4", "ports": Value::Null, "endpoints": []}));
    }
    let (all, _) = ctx.store.list(&slices(), Some(&r.namespace));
    let mut existing: Vec<Arc<Value>> = all
        .into_iter()
        .filter(|s| managed_slice_of(s, &r.name))
        .collect();
    for body in wanted {
        let mut slice = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "namespace": r.namespace,
                "labels": labels.clone(),
                "ownerReferences": [owner_ref(&svc)],
            },
        });
        if let (Some(s), Some(b)) = (slice.as_object_mut(), body.as_object()) {
            s.extend(b.clone());
        }
        match existing.pop() {
            Some(old) => upsert(ctx, &slices(), Some(&old), slice)?,
            None => {
                slice["metadata"]["generateName"] = json!(format!("{}-", r.name));
                slice["metadata"]["name"] = json!(format!("{}-{}", r.name, meta::random_suffix(5)));
                ctx.store.create(&slices(), slice)?;
            }
        }
    }
    for extra in existing {
        match ctx.store.delete(
            &slices(),
            Some(&r.namespace),
            meta::name(&extra).unwrap_or_default(),
            &Preconditions::default(),
        ) {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
