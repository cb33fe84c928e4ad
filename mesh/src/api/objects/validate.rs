//! Object validation that returns 422 Invalid (or 400) with the API server's wording.

use serde_json::Value;

use super::{ApiError, ApiResult};
use crate::api::status::Cause;
use crate::kinds::Kind;
use crate::meta;
use crate::store::ResourceKey;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

fn is_dns1035(s: &str) -> bool {
    is_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The name rule of a kind, as a check and its message; `None` when any path segment is allowed.
type NameRule = (fn(&str) -> bool, &'static str);

fn name_rule(kind: &Kind) -> Option<NameRule> {
    if kind.is_custom() {
        return Some((is_subdomain, SUBDOMAIN_MSG));
    }
    match (kind.group.as_str(), kind.resource.as_str()) {
        ("", "namespaces") => Some((is_label, LABEL_MSG)),
        ("", "services") => Some((is_dns1035, DNS1035_MSG)),
        ("rbac.authorization.k8s.io", _) => None,
        _ => Some((is_subdomain, SUBDOMAIN_MSG)),
    }
}

fn string_map(obj: &Value, field: &str) -> ApiResult<()> {
    match meta::metadata(obj).and_then(|m| m.get(field)) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Ok(()),
        Some(_) => Err(ApiError::bad_request(format!(
            "metadata.{field} must be a map of strings to strings"
        ))),
    }
}

/// Validates the parts every object must get right: its name and its labels/annotations.
pub(super) fn object(kind: &Kind, key: &ResourceKey, obj: &Value) -> ApiResult<()> {
    string_map(obj, "labels")?;
    string_map(obj, "annotations")?;
    let name = meta::name(obj).unwrap_or_default();
    let bad_segment = name == "." || name == ".." || name.contains('/') || name.contains('%');
    let rule_fails = name_rule(kind).map(|(ok, msg)| (ok(name), msg));
    let detail = match rule_fails {
        Some((false, msg)) => Some(msg.to_owned()),
        _ if bad_segment => {
            Some("may not contain '/' or '%', and may not be '.' or '..'".to_owned())
        }
        _ => None,
    };
    if let Some(detail) = detail {
        return Err(ApiError::invalid(
            key,
            &kind.kind,
            name,
            &[Cause {
                field: "metadata.name".into(),
                value: name.into(),
                detail,
            }],
        ));
    }
    if let Some(labels) = meta::metadata(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
    {
        let bad: Vec<Cause> = labels
            .iter()
            .filter_map(|(k, v)| {
                let v = v.as_str().unwrap_or_default();
                let ok = v.len() <= 63
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                    && (v.is_empty() || (v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.ends_with(|c: char| c.is_ascii_alphanumeric())));
                (!ok).then(|| Cause {
                    field: "metadata.labels".to_owned(),
                    value: v.to_owned(),
                    detail: format!("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') (label {k})"),
                })
            })
            .collect();
        if !bad.is_empty() {
            return Err(ApiError::invalid(key, &kind.kind, name, &bad));
        }
    }
    if !kind.is_custom()
        && kind.group == "apiextensions.k8s.io"
        && kind.resource == "customresourcedefinitions"
    {
        crate::kinds::crd::validate(obj)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;
    use serde_json::json;

    fn check(resource: &str, group: &str, version: &str, obj: Value) -> ApiResult<()> {
        let k = kinds::find(group, version, resource).expect("kind");
        object(&k, &k.key(), &obj)
    }

    #[test]
    fn names_follow_each_kinds_rule() {
        assert!(
            check(
                "configmaps",
                "",
                "v1",
                json!({"metadata": {"name": "a.b-c"}})
            )
            .is_ok()
        );
        let err = check(
            "configmaps",
            "",
            "v1",
            json!({"metadata": {"name": "Bad_Name"}}),
        )
        .expect_err("bad");
        assert_eq!(err.code, 422);
        assert!(err.message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", err.message);
        assert!(check("namespaces", "", "v1", json!({"metadata": {"name": "a.b"}})).is_err());
        assert!(check("services", "", "v1", json!({"metadata": {"name": "1abc"}})).is_err());
        assert!(check("services", "", "v1", json!({"metadata": {"name": "abc-1"}})).is_ok());
        assert!(
            check(
                "clusterroles",
                "rbac.authorization.k8s.io",
                "v1",
                json!({"metadata": {"name": "system:aggregate-to-edit"}})
            )
            .is_ok()
        );
        assert!(
            check(
                "clusterroles",
                "rbac.authorization.k8s.io",
                "v1",
                json!({"metadata": {"name": "a/b"}})
            )
            .is_err()
        );
    }

    #[test]
    fn labels_must_be_valid_strings() {
        let err = check(
            "configmaps",
            "",
            "v1",
            json!({"metadata": {"name": "a", "labels": {"x": 1}}}),
        )
        .expect_err("bad");
        assert_eq!(err.code, 400);
        let err = check(
            "configmaps",
            "",
            "v1",
            json!({"metadata": {"name": "a", "labels": {"x": "has space"}}}),
        )
        .expect_err("bad");
        assert_eq!(err.code, 422);
        assert!(
            check(
                "configmaps",
                "",
                "v1",
                json!({"metadata": {"name": "a", "labels": {"app": "v1.2_x"}}})
            )
            .is_ok()
        );
    }
}
