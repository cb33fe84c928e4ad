//! Garbage collection by ownerReferences, and the propagation policies of a delete.
//!
//! An object whose owners are all gone is deleted (`Background`, the default: after the owner).
//! `Foreground` deletes the dependents first, then the owner; `Orphan` removes the owner from the
//! dependents' ownerReferences and leaves them.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use crate::meta;
use crate::store::{Preconditions, ResourceKey, Store, StoreError};

/// How a delete treats the objects the deleted one owns (`DeleteOptions.propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now and its dependents right after.
    Background,
    /// Delete the dependents, then the owner.
    Foreground,
    /// Keep the dependents, without the owner reference.
    Orphan,
}

impl Propagation {
    /// Parses the API's spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

fn owner_uids(obj: &Value) -> Vec<&str> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// Objects that name `uid` among their owners.
pub(crate) fn dependents(store: &Store, uid: &str) -> Vec<(ResourceKey, Arc<Value>)> {
    store
        .all()
        .into_iter()
        .filter(|(_, o)| owner_uids(o).contains(&uid))
        .collect()
}

/// Owner uids named by some object that no longer exist (work for [`collect`] after a restart).
pub(crate) fn orphaned_owner_uids(snapshot: &[(ResourceKey, Arc<Value>)]) -> Vec<String> {
    let live: HashSet<&str> = snapshot
        .iter()
        .filter_map(|(_, o)| meta::meta_str(o, "uid"))
        .collect();
    let mut missing: Vec<String> = snapshot
        .iter()
        .flat_map(|(_, o)| owner_uids(o))
        .filter(|u| !live.contains(u))
        .map(str::to_owned)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

fn delete_one(store: &Store, key: &ResourceKey, obj: &Value) -> Result<(), StoreError> {
    let pre = Preconditions {
        uid: meta::meta_str(obj, "uid").map(str::to_owned),
        resource_version: None,
    };
    match store.delete(
        key,
        meta::namespace(obj),
        meta::name(obj).unwrap_or_default(),
        &pre,
    ) {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the dependents of the (deleted) object `uid` that have no live owner left.
pub(crate) fn collect(store: &Store, uid: &str) -> Result<(), StoreError> {
    let deps = dependents(store, uid);
    if deps.is_empty() {
        return Ok(());
    }
    let all = store.all();
    let live: HashSet<&str> = all
        .iter()
        .filter_map(|(_, o)| meta::meta_str(o, "uid"))
        .collect();
    for (key, obj) in deps {
        if owner_uids(&obj).iter().all(|u| !live.contains(u)) {
            delete_one(store, &key, &obj)?;
        }
    }
    Ok(())
}

/// Applies a delete's propagation policy to the dependents of `owner` before it is deleted.
pub(crate) fn before_delete(
    store: &Store,
    owner: &Value,
    policy: Propagation,
) -> Result<(), StoreError> {
    let Some(uid) = meta::meta_str(owner, "uid") else {
        return Ok(());
    };
    match policy {
        Propagation::Background => Ok(()),
        Propagation::Orphan => {
            for (key, dep) in dependents(store, uid) {
                let mut next = (*dep).clone();
                if let Some(refs) = next
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                    if refs.is_empty()
                        && let Some(m) = meta::metadata_mut(&mut next)
                    {
                        m.remove("ownerReferences");
                    }
                }
                store.update(&key, next)?;
            }
            Ok(())
        }
        Propagation::Foreground => {
            for (key, dep) in dependents(store, uid) {
                before_delete(store, &dep, Propagation::Foreground)?;
                delete_one(store, &key, &dep)?;
            }
            Ok(())
        }
    }
}
