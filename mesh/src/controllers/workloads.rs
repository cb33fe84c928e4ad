//! Workload controllers: Deployment → ReplicaSets (one per pod template, older ones scaled to
//! zero), ReplicaSet → Pods, StatefulSet → ordinal Pods, DaemonSet → one Pod on the node.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::events::{self, Source};
use super::{Ctx, ObjRef, controlled_by, deleting, key, owner_ref, pods, template_hash};
use crate::meta;
use crate::store::{Preconditions, ResourceKey, StoreError};

const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HASH_LABEL: &str = "controller-revision-hash";

fn deployments() -> ResourceKey {
    key("apps", "deployments")
}

fn replicasets() -> ResourceKey {
    key("apps", "replicasets")
}

fn statefulsets() -> ResourceKey {
    key("apps", "statefulsets")
}

fn daemonsets() -> ResourceKey {
    key("apps", "daemonsets")
}

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn uid(v: &Value) -> &str {
    meta::meta_str(v, "uid").unwrap_or_default()
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// Live objects of `resource` in `ns` controlled by `owner`.
fn owned(ctx: &Ctx, resource: &ResourceKey, ns: &str, owner: &Value) -> Vec<Arc<Value>> {
    let (items, _) = ctx.store.list(resource, Some(ns));
    items
        .into_iter()
        .filter(|o| controlled_by(o, uid(owner)) && !deleting(o))
        .collect()
}

/// Writes `status` (and nothing else) when it differs from the stored one.
fn write_status(
    ctx: &Ctx,
    resource: &ResourceKey,
    obj: &Value,
    status: Value,
) -> Result<(), StoreError> {
    if obj.get("status") == Some(&status) {
        return Ok(());
    }
    let mut next = obj.clone();
    next["status"] = status;
    crate::patch::apply::record_status_write(obj, &mut next, "kube-controller-manager");
    ctx.store.update(resource, next)?;
    Ok(())
}

/// A pod from a template, owned by `owner`.
fn pod_from_template(
    ctx: &Ctx,
    owner: &Value,
    name: &str,
    extra_labels: &[(&str, String)],
) -> Value {
    let template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut labels = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in extra_labels {
        labels.insert((*k).to_owned(), json!(v));
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    metadata.insert(
        "namespace".into(),
        json!(meta::namespace(owner).unwrap_or_default()),
    );
    metadata.insert("labels".into(), Value::Object(labels));
    if let Some(a) = template.pointer("/metadata/annotations") {
        metadata.insert("annotations".into(), a.clone());
    }
    metadata.insert("ownerReferences".into(), json!([owner_ref(owner)]));
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({"containers": []})),
    });
    crate::inject::admit(&ctx.store, &mut pod);
    crate::api::pod_defaults(&mut pod);
    pod
}

fn delete_pod(ctx: &Ctx, pod: &Value) -> Result<(), StoreError> {
    match ctx.store.delete(
        &pods(),
        meta::namespace(pod),
        meta::name(pod).unwrap_or_default(),
        &Preconditions {
            uid: Some(uid(pod).to_owned()),
            resource_version: None,
        },
    ) {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Keeps a ReplicaSet's pods at `spec.replicas` and reports them in its status.
pub(super) fn reconcile_replicaset(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let Some(rs) = ctx.get(&replicasets(), r) else {
        return Ok(());
    };
    if deleting(&rs) {
        return Ok(());
    }
    let desired = usize::try_from(int(&rs, "/spec/replicas")).unwrap_or(0);
    let mut current = owned(ctx, &pods(), &r.namespace, &rs);
    if current.len() < desired {
        for _ in current.len()..desired {
            let name = format!("{}-{}", r.name, meta::random_suffix(5));
            let mut pod = pod_from_template(ctx, &rs, &name, &[]);
            if let Some(m) = meta::metadata_mut(&mut pod) {
                m.insert("generateName".into(), json!(format!("{}-", r.name)));
            }
            let created = ctx.store.create(&pods(), pod)?;
            events::record(
                &ctx.store,
                &rs,
                None,
                Source::ReplicaSet,
                "SuccessfulCreate",
                &format!("Created pod: {name}"),
            );
            current.push(created);
        }
    } else if current.len() > desired {
        // Not-ready pods go first, then the youngest.
        current.sort_by_key(|p| {
            (
                ready(p),
                std::cmp::Reverse(meta::meta_str(p, "creationTimestamp").map(str::to_owned)),
            )
        });
        let extra = current.len() - desired;
        for pod in current.drain(..extra) {
            delete_pod(ctx, &pod)?;
            events::record(
                &ctx.store,
                &rs,
                None,
                Source::ReplicaSet,
                "SuccessfulDelete",
                &format!("Deleted pod: {}", meta::name(&pod).unwrap_or_default()),
            );
        }
    }
    let ready_count = current.iter().filter(|p| ready(p)).count();
    let status = json!({
        "replicas": current.len(),
        "fullyLabeledReplicas": current.len(),
        "readyReplicas": ready_count,
        "availableReplicas": ready_count,
        "observedGeneration": int(&rs, "/metadata/generation"),
    });
    write_status(ctx, &replicasets(), &rs, status)
}

fn with_label(v: Option<&Value>, label: &str, value: &str) -> Value {
    let mut m = v.and_then(Value::as_object).cloned().unwrap_or_default();
    m.insert(label.to_owned(), json!(value));
    Value::Object(m)
}

fn revision(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn scaled_message(rs: &str, from: i64, to: i64) -> String {
    let dir = if to > from { "up" } else { "down" };
    format!("Scaled {dir} replica set {rs} from {from} to {to}")
}

/// Keeps one ReplicaSet per Deployment template: the current one at `spec.replicas`, older ones
/// at zero (a simple rolling replacement), and reports the rollout in the Deployment's status.
pub(super) fn reconcile_deployment(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let Some(d) = ctx.get(&deployments(), r) else {
        return Ok(());
    };
    if deleting(&d) {
        return Ok(());
    }
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    // Only objects are usable here; anything else (which validation should have refused) is
    // treated as missing rather than allowed to panic the controller.
    let template = d
        .pointer("/spec/template")
        .filter(|t| t.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let hash = template_hash(&template);
    let new_name = format!("{}-{hash}", r.name);
    let all = owned(ctx, &replicasets(), &r.namespace, &d);
    let max_revision = all.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let new_rs = match all
        .iter()
        .find(|rs| meta::name(rs) == Some(new_name.as_str()))
    {
        None => {
            let mut t = template.clone();
            t["metadata"] = json!({});
            if let Some(m) = template.get("metadata").and_then(Value::as_object) {
                t["metadata"] = Value::Object(m.clone());
            }
            t["metadata"]["labels"] =
                with_label(template.pointer("/metadata/labels"), HASH_LABEL, &hash);
            let mut selector = d
                .pointer("/spec/selector")
                .filter(|s| s.is_object())
                .cloned()
                .unwrap_or_else(|| json!({}));
            selector["matchLabels"] = with_label(selector.get("matchLabels"), HASH_LABEL, &hash);
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": new_name,
                    "namespace": r.namespace,
                    "labels": with_label(template.pointer("/metadata/labels"), HASH_LABEL, &hash),
                    "annotations": {
                        "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                        "deployment.kubernetes.io/max-replicas": desired.to_string(),
                        REVISION: (max_revision + 1).to_string(),
                    },
                    "ownerReferences": [owner_ref(&d)],
                },
                "spec": {
                    "replicas": desired,
                    "minReadySeconds": int(&d, "/spec/minReadySeconds"),
                    "selector": selector,
                    "template": t,
                },
            });
            let created = ctx.store.create(&replicasets(), rs)?;
            events::record(
                &ctx.store,
                &d,
                None,
                Source::Deployment,
                "ScalingReplicaSet",
                &scaled_message(&new_name, 0, desired),
            );
            created
        }
        Some(rs) => {
            let current = int(rs, "/spec/replicas");
            let rollback = revision(rs) < max_revision;
            if current != desired || rollback {
                let mut next = (**rs).clone();
                next["spec"]["replicas"] = json!(desired);
                let annotations = next["metadata"]
                    .as_object_mut()
                    .map(|m| m.entry("annotations").or_insert_with(|| json!({})));
                if let Some(Value::Object(a)) = annotations {
                    a.insert(
                        "deployment.kubernetes.io/desired-replicas".into(),
                        json!(desired.to_string()),
                    );
                    if rollback {
                        a.insert(REVISION.into(), json!((max_revision + 1).to_string()));
                    }
                }
                let updated = ctx.store.update(&replicasets(), next)?;
                if current != desired {
                    events::record(
                        &ctx.store,
                        &d,
                        None,
                        Source::Deployment,
                        "ScalingReplicaSet",
                        &scaled_message(&new_name, current, desired),
                    );
                }
                updated
            } else {
                Arc::clone(rs)
            }
        }
    };
    for old in all
        .iter()
        .filter(|rs| meta::name(rs) != Some(new_name.as_str()))
    {
        let n = int(old, "/spec/replicas");
        if n != 0 {
            let mut next = (**old).clone();
            next["spec"]["replicas"] = json!(0);
            ctx.store.update(&replicasets(), next)?;
            events::record(
                &ctx.store,
                &d,
                None,
                Source::Deployment,
                "ScalingReplicaSet",
                &scaled_message(meta::name(old).unwrap_or_default(), n, 0),
            );
        }
    }
    prune_history(ctx, &d, &new_name)?;
    deployment_status(ctx, &d, &new_rs, desired)
}

/// Deletes the oldest scaled-down ReplicaSets beyond `spec.revisionHistoryLimit`.
fn prune_history(ctx: &Ctx, d: &Value, current: &str) -> Result<(), StoreError> {
    let limit = d
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10);
    let ns = meta::namespace(d).unwrap_or_default();
    let mut old: Vec<Arc<Value>> = owned(ctx, &replicasets(), ns, d)
        .into_iter()
        .filter(|rs| {
            meta::name(rs) != Some(current)
                && int(rs, "/spec/replicas") == 0
                && int(rs, "/status/replicas") == 0
        })
        .collect();
    old.sort_by_key(|rs| revision(rs));
    let excess = old
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    for rs in old.iter().take(excess) {
        match ctx.store.delete(
            &replicasets(),
            Some(ns),
            meta::name(rs).unwrap_or_default(),
            &Preconditions::default(),
        ) {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A deployment condition, keeping its timestamps while it does not change.
fn condition(old: &Value, kind: &str, status: &str, reason: &str, message: &str) -> Value {
    let now = meta::now_rfc3339();
    let previous = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("type") == Some(&json!(kind))));
    let same =
        |f: &str, v: &str| previous.and_then(|p| p.get(f)).and_then(Value::as_str) == Some(v);
    let stamp = |f: &str, keep: bool| {
        previous
            .filter(|_| keep)
            .and_then(|p| p.get(f).cloned())
            .unwrap_or_else(|| json!(now))
    };
    let unchanged_status = same("status", status);
    let unchanged = unchanged_status && same("reason", reason) && same("message", message);
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp("lastUpdateTime", unchanged),
        "lastTransitionTime": stamp("lastTransitionTime", unchanged_status),
        "reason": reason,
        "message": message,
    })
}

fn deployment_status(ctx: &Ctx, d: &Value, new_rs: &Value, desired: i64) -> Result<(), StoreError> {
    let ns = meta::namespace(d).unwrap_or_default();
    let all = owned(ctx, &replicasets(), ns, d);
    let sum = |p: &str| all.iter().map(|rs| int(rs, p)).sum::<i64>();
    let replicas = sum("/status/replicas");
    let ready_replicas = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let new_name = meta::name(new_rs).unwrap_or_default();
    let updated = all
        .iter()
        .find(|rs| meta::name(rs) == Some(new_name))
        .map_or(0, |rs| int(rs, "/status/replicas"));
    let available_cond = if available >= desired {
        condition(
            d,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        condition(
            d,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let complete = updated == desired && replicas == desired && available == desired;
    let progressing = if complete {
        condition(
            d,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
        )
    } else {
        condition(
            d,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{new_name}\" is progressing."),
        )
    };
    let mut status = json!({
        "observedGeneration": int(d, "/metadata/generation"),
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready_replicas,
        "availableReplicas": available,
        "conditions": [available_cond, progressing],
    });
    let unavailable = (desired - available).max(0);
    if unavailable > 0 {
        status["unavailableReplicas"] = json!(unavailable);
    }
    write_status(ctx, &deployments(), d, status)
}

/// Keeps pods `<name>-0 … <name>-(n-1)`; pods of an older template are replaced one round later.
pub(super) fn reconcile_statefulset(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let Some(sts) = ctx.get(&statefulsets(), r) else {
        return Ok(());
    };
    if deleting(&sts) {
        return Ok(());
    }
    let desired = int(&sts, "/spec/replicas");
    let revision = format!(
        "{}-{}",
        r.name,
        template_hash(sts.pointer("/spec/template").unwrap_or(&Value::Null))
    );
    let current = owned(ctx, &pods(), &r.namespace, &sts);
    let mut kept = Vec::new();
    for pod in current {
        let name = meta::name(&pod).unwrap_or_default();
        let ordinal = name
            .strip_prefix(&format!("{}-", r.name))
            .and_then(|n| n.parse::<i64>().ok());
        let stale = meta::labels(&pod)
            .find(|(k, _)| *k == REVISION_HASH_LABEL)
            .is_none_or(|(_, v)| v != revision);
        if ordinal.is_none_or(|o| o >= desired) || stale {
            delete_pod(ctx, &pod)?;
        } else {
            kept.push(pod);
        }
    }
    for i in 0..desired {
        let name = format!("{}-{i}", r.name);
        if kept.iter().any(|p| meta::name(p) == Some(name.as_str())) {
            continue;
        }
        if ctx
            .get(&pods(), &ObjRef::new(&r.namespace, &name))
            .is_some()
        {
            // The old pod of this ordinal is still going away.
            continue;
        }
        let pod = pod_from_template(
            ctx,
            &sts,
            &name,
            &[
                (REVISION_HASH_LABEL, revision.clone()),
                ("statefulset.kubernetes.io/pod-name", name.clone()),
                ("apps.kubernetes.io/pod-index", i.to_string()),
            ],
        );
        kept.push(ctx.store.create(&pods(), pod)?);
        events::record(
            &ctx.store,
            &sts,
            None,
            Source::StatefulSet,
            "SuccessfulCreate",
            &format!("create Pod {name} in StatefulSet {} successful", r.name),
        );
    }
    let ready_count = kept.iter().filter(|p| ready(p)).count();
    let status = json!({
        "observedGeneration": int(&sts, "/metadata/generation"),
        "replicas": kept.len(),
        "readyReplicas": ready_count,
        "currentReplicas": kept.len(),
        "updatedReplicas": kept.len(),
        "availableReplicas": ready_count,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    write_status(ctx, &statefulsets(), &sts, status)
}

/// Keeps one pod of the DaemonSet on the node (the mesh has one node).
pub(super) fn reconcile_daemonset(ctx: &Ctx, r: &ObjRef) -> Result<(), StoreError> {
    let Some(ds) = ctx.get(&daemonsets(), r) else {
        return Ok(());
    };
    if deleting(&ds) {
        return Ok(());
    }
    let hash = template_hash(ds.pointer("/spec/template").unwrap_or(&Value::Null));
    let mut kept = Vec::new();
    for pod in owned(ctx, &pods(), &r.namespace, &ds) {
        let current = meta::labels(&pod).any(|(k, v)| k == REVISION_HASH_LABEL && v == hash);
        if current && kept.is_empty() {
            kept.push(pod);
        } else {
            delete_pod(ctx, &pod)?;
        }
    }
    if kept.is_empty() {
        let name = format!("{}-{}", r.name, meta::random_suffix(5));
        let pod = pod_from_template(ctx, &ds, &name, &[(REVISION_HASH_LABEL, hash.clone())]);
        kept.push(ctx.store.create(&pods(), pod)?);
        events::record(
            &ctx.store,
            &ds,
            None,
            Source::DaemonSet,
            "SuccessfulCreate",
            &format!("Created pod: {name}"),
        );
    }
    let ready_count = kept.iter().filter(|p| ready(p)).count();
    let status = json!({
        "observedGeneration": int(&ds, "/metadata/generation"),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": kept.len(),
        "updatedNumberScheduled": kept.len(),
        "numberMisscheduled": 0,
        "numberReady": ready_count,
        "numberAvailable": ready_count,
    });
    write_status(ctx, &daemonsets(), &ds, status)
}
