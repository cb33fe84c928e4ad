//! Connects API writes to field ownership ([`crate::patch::apply`]): who the manager of a request
//! is, recording `managedFields` on writes, and server-side apply with its errors.

use http::header;
use serde_json::{Value, json};

use super::super::{ApiError, Call, Target};
use crate::meta;
use crate::patch::apply::{self, ApplyError, Schema, Writer};

fn schema(t: &Target) -> Schema {
    Schema {
        custom: t.kind.is_custom(),
        has_status: t.kind.has_status(),
    }
}

/// The field manager of a request: `fieldManager`, else the User-Agent's program name, as a
/// Kubernetes API server derives it.
fn manager(call: &Call) -> String {
    if let Some(m) = call.param("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_owned();
    }
    call.headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("unknown")
        .chars()
        .take(128)
        .collect()
}

/// Records a create, update or non-apply patch in `new`'s `metadata.managedFields`.
pub(super) fn record(call: &Call, t: &Target, old: Option<&Value>, new: &mut Value) {
    let manager = manager(call);
    let api_version = t.kind.api_version();
    let time = meta::now_rfc3339();
    let writer = Writer {
        manager: &manager,
        api_version: &api_version,
        subresource: t.subresource.as_deref(),
        time: &time,
    };
    apply::record_update(old, new, schema(t), &writer);
}

/// Server-side apply of `body` to `live` (`None`: the object is created).
pub(super) fn server_side_apply(
    call: &Call,
    t: &Target,
    live: Option<&Value>,
    body: &Value,
) -> Result<Value, ApiError> {
    let Some(manager) = call.param("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError {
            code: 422,
            reason: "Invalid",
            message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
            details: Some(json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{
                "reason": "FieldValueRequired",
                "message": "Required value: is required for apply patch",
                "field": "fieldManager",
            }]})),
        });
    };
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be a JSON or YAML object",
        ));
    }
    let force = call.param("force").is_some_and(|f| f == "true" || f == "1");
    let api_version = t.kind.api_version();
    let time = meta::now_rfc3339();
    let writer = Writer {
        manager,
        api_version: &api_version,
        subresource: t.subresource.as_deref(),
        time: &time,
    };
    apply::apply(live, body, schema(t), &writer, force).map_err(|e| match &e {
        ApplyError::Invalid(p) => ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("the applied configuration could not be merged: {p}"),
            details: None,
        },
        ApplyError::Conflicts(list) => ApiError {
            code: 409,
            reason: "Conflict",
            message: e.message(),
            details: Some(json!({
                "name": t.name.as_deref().unwrap_or_default(),
                "kind": t.kind.resource,
                "group": t.kind.group,
                "causes": list.iter().map(|(owner, field)| json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {owner}"),
                    "field": field,
                })).collect::<Vec<_>>(),
            })),
        },
    })
}
