//! `kind: Status` error bodies, worded exactly as a Kubernetes API server words them, so that
//! kubectl prints `Error from server (<Reason>): <message>` as it would against a real cluster.

use serde_json::{Value, json};

use crate::store::{ResourceKey, StoreError};

/// An API error that becomes an HTTP status plus a `kind: Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, …).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details` (name, group, kind, causes), when the error is about one object.
    pub details: Option<Value>,
}

/// One field problem of a 422 Invalid error.
#[derive(Debug, Clone)]
pub struct Cause {
    /// Field path (`metadata.name`).
    pub field: String,
    /// The offending value.
    pub value: String,
    /// What is wrong with it.
    pub detail: String,
}

fn details(resource: &ResourceKey, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": resource.resource});
    if !resource.group.is_empty() {
        d["group"] = json!(resource.group);
    }
    d
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404 for a named object: `pods "x" not found`.
    pub fn not_found(resource: &ResourceKey, name: &str) -> Self {
        Self {
            details: Some(details(resource, name)),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", resource.group_resource()),
            )
        }
    }

    /// 404 for a URL the server does not serve.
    pub fn no_such_resource() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 for a missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden about one object.
    pub fn forbidden(resource: &ResourceKey, name: &str, why: &str) -> Self {
        Self {
            details: Some(details(resource, name)),
            ..Self::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{name}\" is forbidden: {why}",
                    resource.group_resource()
                ),
            )
        }
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 413 for bodies over the size limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 for a body in a format the server does not read.
    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 422 Invalid with field causes.
    pub fn invalid(resource: &ResourceKey, kind: &str, name: &str, causes: &[Cause]) -> Self {
        let text: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: Invalid value: \"{}\": {}", c.field, c.value, c.detail))
            .collect();
        let message = if text.len() == 1 {
            format!("{kind} \"{name}\" is invalid: {}", text[0])
        } else {
            format!("{kind} \"{name}\" is invalid: [{}]", text.join(", "))
        };
        let mut d = json!({
            "name": name,
            "kind": kind,
            "causes": causes.iter().map(|c| json!({
                "reason": "FieldValueInvalid",
                "message": format!("Invalid value: \"{}\": {}", c.value, c.detail),
                "field": c.field,
            })).collect::<Vec<_>>(),
        });
        if !resource.group.is_empty() {
            d["group"] = json!(resource.group);
        }
        Self {
            details: Some(d),
            ..Self::new(422, "Invalid", message)
        }
    }

    /// 422 for a value that is required but missing.
    pub fn required(kind: &str, field: &str) -> Self {
        Self {
            details: Some(json!({"kind": kind, "causes": [{
                "reason": "FieldValueRequired", "message": "Required value", "field": field}]})),
            ..Self::new(
                422,
                "Invalid",
                format!(
                    "{kind} \"\" is invalid: {field}: Required value: name or generateName is required"
                ),
            )
        }
    }

    /// 500 for failures on the server's side (e.g. the state could not be saved).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `kind: Status` body.
    pub fn body(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { resource, name } => Self::not_found(resource, name),
            StoreError::AlreadyExists { resource, name } => Self {
                details: Some(details(resource, name)),
                ..Self::new(409, "AlreadyExists", e.to_string())
            },
            StoreError::Conflict { resource, name, .. } => Self {
                details: Some(details(resource, name)),
                ..Self::new(409, "Conflict", e.to_string())
            },
            StoreError::Gone { .. } => Self::new(410, "Expired", e.to_string()),
            StoreError::Invalid(m) => Self::bad_request(m.clone()),
            StoreError::Persist(p) => {
                Self::internal(format!("the mesh could not save this change: {p}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_group_qualified_resources() {
        let e = ApiError::not_found(&ResourceKey::new("apps", "v1", "deployments"), "web");
        let body = e.body();
        assert_eq!(body["message"], "deployments.apps \"web\" not found");
        assert_eq!(body["details"]["group"], "apps");
        assert_eq!(body["code"], 404);
        let e = ApiError::not_found(&ResourceKey::new("", "v1", "pods"), "x");
        assert_eq!(e.message, "pods \"x\" not found");
        assert!(e.body()["details"].get("group").is_none());
    }

    #[test]
    fn invalid_lists_every_cause() {
        let key = ResourceKey::new("", "v1", "configmaps");
        let one = ApiError::invalid(
            &key,
            "ConfigMap",
            "Bad",
            &[Cause {
                field: "metadata.name".into(),
                value: "Bad".into(),
                detail: "must be lowercase".into(),
            }],
        );
        assert_eq!(one.code, 422);
        assert_eq!(
            one.message,
            "ConfigMap \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\": must be lowercase"
        );
        assert_eq!(one.body()["details"]["causes"][0]["field"], "metadata.name");
    }

    #[test]
    fn store_conflicts_keep_the_api_wording() {
        let e: ApiError = StoreError::Conflict {
            resource: ResourceKey::new("", "v1", "configmaps"),
            name: "a".into(),
            reason: crate::store::CONFLICT_REASON.into(),
        }
        .into();
        assert_eq!(e.code, 409);
        assert_eq!(e.reason, "Conflict");
        assert!(e.message.starts_with(
            "Operation cannot be fulfilled on configmaps \"a\": the object has been modified"
        ));
    }
}
