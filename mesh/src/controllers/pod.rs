//! The scheduler (and, for transitional images, the kubelet stand-in): a new pod is bound to the
//! node and gets a unique loopback IP. Pods the kubelet runs (`crate::kubelet`) get their
//! container status from it; pods whose images are all on the transitional faked list
//! (`crate::workloads::TRANSITIONAL_FAKED_IMAGES`) are still reported as started and ready here.

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

fn container_id() -> String {
    let hex: String = meta::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("meshwork://{hex}")
}

fn containers(pod: &Value, list: &str) -> Vec<(String, String)> {
    pod.pointer(list)
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let field = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
                    (field("name"), field("image"))
                })
                .collect()
        })
        .unwrap_or_default()
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
    if crate::kubelet::runs(&pod) {
        return schedule(ctx, &pod);
    }
    let mut next = (*pod).clone();
    let now = meta::now_rfc3339();
    let newly_bound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if newly_bound {
        next["spec"]["nodeName"] = json!(NODE_NAME);
    }
    let ip = match pod.pointer("/status/podIP").and_then(Value::as_str) {
        Some(ip) => ip.to_owned(),
        None => allocate_ip(ctx)?,
    };
    let app = containers(&pod, "/spec/containers");
    let init = containers(&pod, "/spec/initContainers");
    let status_of = |(name, image): &(String, String), state: Value, ready: bool| {
        json!({
            "name": name, "image": image, "imageID": "", "containerID": container_id(),
            "ready": ready, "started": ready, "restartCount": 0, "state": state, "lastState": {},
        })
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", &now),
            condition("Initialized", &now),
            condition("Ready", &now),
            condition("ContainersReady", &now),
            condition("PodScheduled", &now),
        ],
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": pod.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(now)),
        "qosClass": pod.pointer("/status/qosClass").cloned().unwrap_or_else(|| json!("BestEffort")),
        "containerStatuses": app.iter().map(|c| status_of(c, json!({"running": {"startedAt": now}}), true)).collect::<Vec<_>>(),
    });
    if !init.is_empty() {
        status["initContainerStatuses"] = init
            .iter()
            .map(|c| {
                let done = json!({"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": now, "finishedAt": now}});
                let mut s = status_of(c, done, true);
                s["started"] = json!(false);
                s
            })
            .collect();
    }
    next["status"] = status;
    crate::patch::apply::record_status_write(&pod, &mut next, "kubelet");
    let updated = ctx.store.update(&pods(), next)?;
    if newly_bound {
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
    for (list, cs) in [("initContainers", &init), ("containers", &app)] {
        for (name, image) in cs {
            let path = format!("spec.{list}{{{name}}}");
            let say = |reason: &str, message: &str| {
                events::record(
                    &ctx.store,
                    &updated,
                    Some(&path),
                    Source::Kubelet,
                    reason,
                    message,
                );
            };
            say(
                "Pulled",
                &format!("Container image \"{image}\" already present on machine"),
            );
            say("Created", &format!("Created container: {name}"));
            say("Started", &format!("Started container {name}"));
        }
    }
    Ok(())
}
