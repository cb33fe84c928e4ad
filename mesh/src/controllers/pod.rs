//! The scheduler: a new pod is bound to the node and gets a unique loopback IP; the kubelet
//! (`crate::kubelet`) then runs its containers and reports their status.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::{Ctx, ObjRef, deleting, pods};
use crate::meta;
use crate::seed::NODE_NAME;
use crate::store::StoreError;

/// Pod IPs come from the node's podCIDR, 127.1.0.0/16 (all of 127.0.0.0/8 is loopback).
const FIRST_POD_IP: u32 = u32::from_be_bytes([127, 1, 0, 1]);
const LAST_POD_IP: u32 = u32::from_be_bytes([127, 1, 255, 254]);

fn ip_text(n: u32) -> String {
    let b = n.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// A pod IP no other pod holds, searched from a random point of the range (wrapping around),
/// so that meshes sharing one machine (tests, a second state dir) rarely pick the same address
/// and a deleted pod's address is not handed out again at once.
fn allocate_ip(ctx: &Ctx) -> Result<String, StoreError> {
    let (all, _) = ctx.store.list(&pods(), None);
    let used: HashSet<&str> = all
        .iter()
        .filter_map(|p| p.pointer("/status/podIP").and_then(Value::as_str))
        .collect();
    let size = LAST_POD_IP - FIRST_POD_IP + 1;
    let start = u32::from_be_bytes(meta::random_bytes::<4>()) % size;
    (0..size)
        .map(|i| FIRST_POD_IP + (start + i) % size)
        .map(ip_text)
        .find(|ip| !used.contains(ip.as_str()))
        .ok_or_else(|| {
            StoreError::Invalid("the pod IP range 127.1.0.0/16 is exhausted; delete pods".into())
        })
}

fn condition(kind: &str, now: &str) -> Value {
    json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": now})
}

/// Binds a pod the kubelet runs and gives it an IP; the kubelet reports its containers.
fn schedule(ctx: &Ctx, pod: &Value) -> Result<(), StoreError> {
    let bound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if bound && pod.pointer("/status/podIP").is_some() {
        return Ok(());
    }
    let mut next = pod.clone();
    let now = meta::now_rfc3339();
    next["spec"]["nodeName"] = json!(NODE_NAME);
    let ip = match pod.pointer("/status/podIP").and_then(Value::as_str) {
        Some(ip) => ip.to_owned(),
        None => allocate_ip(ctx)?,
    };
    let old = pod.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut status = old.clone();
    status["phase"] = old
        .get("phase")
        .cloned()
        .unwrap_or_else(|| json!("Pending"));
    if old.get("conditions").is_none() {
        status["conditions"] = json!([condition("PodScheduled", &now)]);
    }
    status["hostIP"] = json!("127.0.0.1");
    status["hostIPs"] = json!([{"ip": "127.0.0.1"}]);
    status["podIP"] = json!(ip);
    status["podIPs"] = json!([{"ip": ip}]);
    status["startTime"] = old.get("startTime").cloned().unwrap_or_else(|| json!(now));
    status["qosClass"] = old
        .get("qosClass")
        .cloned()
        .unwrap_or_else(|| json!("BestEffort"));
    next["status"] = status;
    crate::patch::apply::record_status_write(pod, &mut next, "kubelet");
    let updated = ctx.store.update(&pods(), next)?;
    if !bound {
        let ns = meta::namespace(&updated).unwrap_or_default();
        let name = meta::name(&updated).unwrap_or_default();
        events::record(
            &ctx.store,
            &updated,
            None,
            Source::Scheduler,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {NODE_NAME}"),
        );
    }
    Ok(())
}

/// Binds and starts a pod that is not running yet.
pub(super) fn reconcile(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let Some(pod) = ctx.get(&pods(), r) else {
        return Ok(());
    };
    let running = pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
        && pod.pointer("/status/podIP").is_some();
    if deleting(&pod) || running {
        return Ok(());
    }
    schedule(ctx, &pod)
}
