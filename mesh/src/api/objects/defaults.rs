//! What the API server fills in on create: namespace labels and phase, Service ClusterIPs and
//! NodePorts, Deployment replicas, Pod phase, Secret type.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{ApiError, ApiResult};
use crate::api::ApiState;
use crate::kinds::{Kind, crd};
use crate::meta;
use crate::store::ResourceKey;

/// The first address handed out from the service range 10.96.0.0/12 (10.96.0.1 is `kubernetes`).
const FIRST_CLUSTER_IP: u32 = u32::from_be_bytes([10, 96, 0, 10]);
const LAST_CLUSTER_IP: u32 = u32::from_be_bytes([10, 111, 255, 254]);
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

fn set_default(obj: &mut Value, pointer_parent: &str, field: &str, value: Value) {
    if let Some(parent) = obj
        .pointer_mut(pointer_parent)
        .and_then(Value::as_object_mut)
    {
        parent.entry(field.to_owned()).or_insert(value);
    }
}

fn ensure_object(obj: &mut Value, field: &str) {
    if let Some(m) = obj.as_object_mut() {
        let entry = m.entry(field.to_owned()).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
    }
}

/// Fills in server defaults on create (the caller holds the allocation lock).
pub(super) fn on_create(state: &ApiState, kind: &Kind, obj: &mut Value) -> ApiResult<()> {
    if kind.is_custom() {
        return Ok(());
    }
    match (kind.group.as_str(), kind.resource.as_str()) {
        ("apiextensions.k8s.io", "customresourcedefinitions") => crd::on_write(obj, None),
        ("", "namespaces") => {
            let name = meta::name(obj).unwrap_or_default().to_owned();
            if let Some(m) = meta::metadata_mut(obj) {
                let labels = m.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
            }
            ensure_object(obj, "spec");
            set_default(obj, "/spec", "finalizers", json!(["kubernetes"]));
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "services") => {
            ensure_object(obj, "spec");
            service_defaults(obj);
            allocate_service(state, obj)?;
            obj["status"] = json!({"loadBalancer": {}});
        }
        ("", "pods") => {
            crate::inject::admit(&state.store, obj);
            pod_defaults(obj);
        }
        ("apps", "deployments") => {
            ensure_object(obj, "spec");
            set_default(obj, "/spec", "replicas", json!(1));
            set_default(obj, "/spec", "revisionHistoryLimit", json!(10));
            set_default(obj, "/spec", "progressDeadlineSeconds", json!(600));
            // `kubectl create deployment` sends `strategy: {}`, which defaults like a missing one;
            // a `rollingUpdate` without a type (istiod's Deployment) keeps the values it gives.
            if obj
                .pointer("/spec/strategy/type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                let given = obj.pointer("/spec/strategy/rollingUpdate").cloned();
                let mut rolling = given.filter(Value::is_object).unwrap_or_else(|| json!({}));
                set_default(&mut rolling, "", "maxUnavailable", json!("25%"));
                set_default(&mut rolling, "", "maxSurge", json!("25%"));
                obj["spec"]["strategy"] =
                    json!({"type": "RollingUpdate", "rollingUpdate": rolling});
            }
        }
        ("apps", "replicasets" | "statefulsets") => {
            ensure_object(obj, "spec");
            set_default(obj, "/spec", "replicas", json!(1));
        }
        ("", "secrets") => {
            if let Some(m) = obj.as_object_mut() {
                m.entry("type").or_insert_with(|| json!("Opaque"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The defaults a Pod gets on create, whether a client or a controller creates it.
pub(crate) fn pod_defaults(obj: &mut Value) {
    ensure_object(obj, "spec");
    for (field, value) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("serviceAccountName", json!("default")),
        ("terminationGracePeriodSeconds", json!(30)),
    ] {
        set_default(obj, "/spec", field, value);
    }
    for list in ["/spec/containers", "/spec/initContainers"] {
        if let Some(containers) = obj.pointer_mut(list).and_then(Value::as_array_mut) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                let latest = !image.rsplit('/').next().unwrap_or("").contains(':')
                    || image.ends_with(":latest");
                let policy = if latest { "Always" } else { "IfNotPresent" };
                c.entry("imagePullPolicy").or_insert_with(|| json!(policy));
                c.entry("terminationMessagePath")
                    .or_insert_with(|| json!("/dev/termination-log"));
                c.entry("terminationMessagePolicy")
                    .or_insert_with(|| json!("File"));
            }
        }
    }
    obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
}

fn service_defaults(obj: &mut Value) {
    set_default(obj, "/spec", "type", json!("ClusterIP"));
    set_default(obj, "/spec", "sessionAffinity", json!("None"));
    let kind = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind != "ExternalName" {
        set_default(obj, "/spec", "ipFamilies", json!(["IPv4"]));
        set_default(obj, "/spec", "ipFamilyPolicy", json!("SingleStack"));
        set_default(obj, "/spec", "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        set_default(obj, "/spec", "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert_with(|| json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                p.entry("targetPort").or_insert(port);
            }
        }
    }
}

fn ip_text(n: u32) -> String {
    let b = n.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn allocate_service(state: &ApiState, obj: &mut Value) -> ApiResult<()> {
    let services = ResourceKey::new("", "v1", "services");
    let (all, _) = state.store.list(&services, None);
    let kind = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind != "ExternalName" {
        let given = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("");
        if given.is_empty() {
            let used: HashSet<String> = all
                .iter()
                .filter_map(|s| {
                    s.pointer("/spec/clusterIP")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            let ip = (FIRST_CLUSTER_IP..=LAST_CLUSTER_IP)
                .map(ip_text)
                .find(|ip| !used.contains(ip))
                .ok_or_else(|| {
                    ApiError::internal(
                        "the service IP range 10.96.0.0/12 is exhausted; delete unused Services",
                    )
                })?;
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
        } else {
            let given = given.to_owned();
            set_default(obj, "/spec", "clusterIPs", json!([given]));
        }
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        let mut used: HashSet<i64> = all
            .iter()
            .flat_map(|s| {
                s.pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
            .collect();
        if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                if p.get("nodePort")
                    .and_then(Value::as_i64)
                    .is_some_and(|n| n > 0)
                {
                    continue;
                }
                // From a random point of the range, as a real API server allocates: two meshes
                // on one machine (each listening on its nodePorts) rarely pick the same one.
                let size = NODE_PORTS.end() - NODE_PORTS.start() + 1;
                let start = i64::from(u16::from_be_bytes(crate::meta::random_bytes::<2>())) % size;
                let port = (0..size)
                    .map(|i| NODE_PORTS.start() + (start + i) % size)
                    .find(|n| !used.contains(n))
                    .ok_or_else(|| {
                        ApiError::internal(
                            "no NodePort is free in 30000-32767; delete unused NodePort Services",
                        )
                    })?;
                used.insert(port);
                p.insert("nodePort".into(), json!(port));
            }
        }
    }
    Ok(())
}

/// On update, keeps what the server allocated when the client did not send it (kubectl replace),
/// allocates nodePorts for a Service that became NodePort or LoadBalancer and releases them
/// when it no longer is one.
pub(super) fn keep_allocations(state: &ApiState, kind: &Kind, old: &Value, new: &mut Value) {
    if kind.is_custom() {
        return;
    }
    if (kind.group.as_str(), kind.resource.as_str())
        == ("apiextensions.k8s.io", "customresourcedefinitions")
    {
        crd::on_write(new, Some(old));
        return;
    }
    if (kind.group.as_str(), kind.resource.as_str()) != ("", "services")
        || !new.get("spec").is_some_and(Value::is_object)
    {
        return;
    }
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if new.pointer(&format!("/spec/{field}")).is_none()
            && let Some(v) = old.pointer(&format!("/spec/{field}"))
        {
            new["spec"][field] = v.clone();
        }
    }
    service_defaults(new);
    let old_ports = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            if p.contains_key("nodePort") {
                continue;
            }
            if let Some(n) = old_ports
                .iter()
                .find(|o| o.get("port") == p.get("port"))
                .and_then(|o| o.get("nodePort"))
            {
                p.insert("nodePort".into(), n.clone());
            }
        }
    }
    let kind = new
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        let _serialised = state
            .allocation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = allocate_service(state, new) {
            tracing::warn!("could not allocate a nodePort on update: {}", e.message);
        }
    } else if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.remove("nodePort");
        }
    }
}
