//! The objects every cluster has from its first start: the standard namespaces, one Ready node
//! and the `kubernetes` Service.

use serde_json::{Value, json};

use crate::meta;
use crate::store::{ResourceKey, Store, StoreError};

/// The node's name.
pub const NODE_NAME: &str = "meshwork";

fn namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

fn memory_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(8 * 1024 * 1024)
}

fn node() -> Value {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let capacity = json!({
        "cpu": cpus.to_string(),
        "memory": format!("{}Ki", memory_kib()),
        "pods": "110",
        "ephemeral-storage": "61202244Ki",
    });
    let now = meta::now_rfc3339();
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {
            "kubernetes.io/hostname": NODE_NAME,
            "kubernetes.io/os": std::env::consts::OS,
            "kubernetes.io/arch": if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" },
            "beta.kubernetes.io/os": std::env::consts::OS,
            "node-role.kubernetes.io/control-plane": "",
        }},
        "spec": {"podCIDR": "127.1.0.0/16"},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now},
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE_NAME}],
            "nodeInfo": {
                "kubeletVersion": crate::api::discovery::KUBERNETES_VERSION,
                "kubeProxyVersion": crate::api::discovery::KUBERNETES_VERSION,
                "operatingSystem": std::env::consts::OS,
                "architecture": if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" },
                "containerRuntimeVersion": "meshwork://0.1.0",
                "osImage": "meshwork reference mesh",
                "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": "",
            },
        },
    })
}

fn kubernetes_service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        },
        "status": {"loadBalancer": {}},
    })
}

fn create_missing(store: &Store, key: &ResourceKey, obj: Value) -> Result<(), StoreError> {
    let name = meta::name(&obj).unwrap_or_default().to_owned();
    if store.get(key, meta::namespace(&obj), &name).is_ok() {
        return Ok(());
    }
    match store.create(key, obj) {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates whichever of the standard objects are missing.
pub(crate) fn ensure(store: &Store) -> Result<(), StoreError> {
    let namespaces = ResourceKey::new("", "v1", "namespaces");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create_missing(store, &namespaces, namespace(ns))?;
    }
    create_missing(store, &ResourceKey::new("", "v1", "nodes"), node())?;
    create_missing(
        store,
        &ResourceKey::new("", "v1", "services"),
        kubernetes_service(),
    )?;
    Ok(())
}
