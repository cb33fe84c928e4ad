//! Namespace controller: every active namespace has a `default` ServiceAccount.

use serde_json::json;

use super::{Ctx, ObjRef, deleting, key};
use crate::store::StoreError;

/// Creates the namespace's `default` ServiceAccount when it is missing.
pub(super) fn reconcile(ctx: &Ctx, namespace: &str) -> Result<(), StoreError> {
    let Some(ns) = ctx.get(&key("", "namespaces"), &ObjRef::new("", namespace)) else {
        return Ok(());
    };
    if deleting(&ns) {
        return Ok(());
    }
    let accounts = key("", "serviceaccounts");
    if ctx
        .get(&accounts, &ObjRef::new(namespace, "default"))
        .is_some()
    {
        return Ok(());
    }
    let sa = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    });
    match ctx.store.create(&accounts, sa) {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
