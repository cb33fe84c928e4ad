//! CustomResourceDefinitions (apiextensions.k8s.io/v1): the kinds they define, their validation
//! with the API server's field errors, their defaults and their status.

use serde_json::{Value, json};

use super::{Custom, Kind, PrinterColumn};
use crate::api::ApiError;
use crate::meta;

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn versions(crd: &Value) -> &[Value] {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The version objects are stored as (the one marked `storage: true`).
pub fn storage_version(crd: &Value) -> Option<&str> {
    versions(crd)
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
}

/// The kinds a stored CRD makes servable: one per version with `served: true`.
pub fn served_kinds(crd: &Value) -> Vec<Kind> {
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let kind = text(crd, "/spec/names/kind");
    let (Some(storage), false, false, false) = (
        storage_version(crd),
        group.is_empty(),
        plural.is_empty(),
        kind.is_empty(),
    ) else {
        return Vec::new();
    };
    let names = crd.pointer("/spec/names");
    let singular = match text(crd, "/spec/names/singular") {
        "" => kind.to_ascii_lowercase(),
        s => s.to_owned(),
    };
    let list_kind = match text(crd, "/spec/names/listKind") {
        "" => format!("{kind}List"),
        s => s.to_owned(),
    };
    versions(crd)
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| {
            let name = v.get("name").and_then(Value::as_str)?;
            let mut subresources = Vec::new();
            if v.pointer("/subresources/status").is_some() {
                subresources.push("status".to_owned());
            }
            let columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| cols.iter().filter_map(printer_column).collect())
                .unwrap_or_default();
            Some(Kind {
                group: group.to_owned(),
                version: name.to_owned(),
                resource: plural.to_owned(),
                kind: kind.to_owned(),
                singular: singular.clone(),
                namespaced: text(crd, "/spec/scope") == "Namespaced",
                short_names: meta::strings(names.and_then(|n| n.get("shortNames"))),
                categories: meta::strings(names.and_then(|n| n.get("categories"))),
                subresources,
                custom: Some(Custom {
                    crd: meta::name(crd).unwrap_or_default().to_owned(),
                    storage_version: storage.to_owned(),
                    list_kind: list_kind.clone(),
                    columns,
                }),
            })
        })
        .collect()
}

fn printer_column(c: &Value) -> Option<PrinterColumn> {
    let s = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
    let column = PrinterColumn {
        name: s("name"),
        type_: s("type"),
        format: s("format"),
        description: s("description"),
        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
        json_path: s("jsonPath"),
    };
    (!column.name.is_empty() && !column.json_path.is_empty()).then_some(column)
}

/// One field error of a 422 response.
struct Problem {
    field: String,
    reason: &'static str,
    message: String,
}

fn required(field: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        reason: "FieldValueRequired",
        message: "Required value".into(),
    }
}

fn invalid(field: impl Into<String>, value: &str, detail: &str) -> Problem {
    Problem {
        field: field.into(),
        reason: "FieldValueInvalid",
        message: format!("Invalid value: \"{value}\": {detail}"),
    }
}

const LABEL_DETAIL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_DETAIL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_kind_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn check_names(crd: &Value, problems: &mut Vec<Problem>) {
    let plural = text(crd, "/spec/names/plural");
    if plural.is_empty() {
        problems.push(required("spec.names.plural"));
    } else if !is_label(plural) {
        problems.push(invalid("spec.names.plural", plural, LABEL_DETAIL));
    }
    let singular = text(crd, "/spec/names/singular");
    if !singular.is_empty() && !is_label(singular) {
        problems.push(invalid("spec.names.singular", singular, LABEL_DETAIL));
    }
    let kind = text(crd, "/spec/names/kind");
    if kind.is_empty() {
        problems.push(required("spec.names.kind"));
    } else if !is_kind_name(kind) {
        problems.push(invalid(
            "spec.names.kind",
            kind,
            "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
        ));
    }
    let list_kind = text(crd, "/spec/names/listKind");
    if !list_kind.is_empty() && !is_kind_name(list_kind) {
        problems.push(invalid(
            "spec.names.listKind",
            list_kind,
            "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
        ));
    }
    for (i, s) in meta::strings(crd.pointer("/spec/names/shortNames"))
        .iter()
        .enumerate()
    {
        if !is_label(s) {
            problems.push(invalid(
                format!("spec.names.shortNames[{i}]"),
                s,
                LABEL_DETAIL,
            ));
        }
    }
    for (i, s) in meta::strings(crd.pointer("/spec/names/categories"))
        .iter()
        .enumerate()
    {
        if !is_label(s) {
            problems.push(invalid(
                format!("spec.names.categories[{i}]"),
                s,
                LABEL_DETAIL,
            ));
        }
    }
}

fn check_versions(crd: &Value, problems: &mut Vec<Problem>) {
    let list = versions(crd);
    if list.is_empty() {
        problems.push(required("spec.versions"));
        return;
    }
    let storage = list
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        problems.push(invalid(
            "spec.versions",
            &format!("{storage} storage versions"),
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let field = format!("spec.versions[{i}]");
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        let dns1035 = is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase());
        if name.is_empty() {
            problems.push(required(format!("{field}.name")));
        } else if !dns1035 {
            problems.push(invalid(format!("{field}.name"), name, DNS1035_DETAIL));
        } else if seen.contains(&name) {
            problems.push(Problem {
                field: "spec.versions".into(),
                reason: "FieldValueDuplicate",
                message: format!("Duplicate value: \"{name}\""),
            });
        }
        seen.push(name);
        if v.get("served").and_then(Value::as_bool).is_none() {
            problems.push(required(format!("{field}.served")));
        }
        if v.get("storage").and_then(Value::as_bool).is_none() {
            problems.push(required(format!("{field}.storage")));
        }
        if !v
            .pointer("/schema/openAPIV3Schema")
            .is_some_and(Value::is_object)
        {
            problems.push(Problem {
                field: format!("{field}.schema.openAPIV3Schema"),
                reason: "FieldValueRequired",
                message: "Required value: schemas are required".into(),
            });
        }
        if let Some(cols) = v.get("additionalPrinterColumns").and_then(Value::as_array) {
            for (j, c) in cols.iter().enumerate() {
                let cf = format!("{field}.additionalPrinterColumns[{j}]");
                if text(c, "/name").is_empty() {
                    problems.push(required(format!("{cf}.name")));
                }
                let ty = text(c, "/type");
                if !["string", "integer", "number", "boolean", "date"].contains(&ty) {
                    problems.push(Problem {
                        field: format!("{cf}.type"),
                        reason: "FieldValueNotSupported",
                        message: format!("Unsupported value: \"{ty}\": supported values: \"boolean\", \"date\", \"integer\", \"number\", \"string\""),
                    });
                }
                let path = text(c, "/jsonPath");
                if path.is_empty() {
                    problems.push(required(format!("{cf}.jsonPath")));
                } else if crate::api::table::JsonPath::parse(path).is_none() {
                    problems.push(invalid(
                        format!("{cf}.jsonPath"),
                        path,
                        "must be a simple json path",
                    ));
                }
            }
        }
    }
}

/// Validates a CRD as the API server does on create and update; 422 with causes when it is not
/// acceptable.
pub fn validate(crd: &Value) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    let name = meta::name(crd).unwrap_or_default();
    let group = text(crd, "/spec/group");
    if group.is_empty() {
        problems.push(required("spec.group"));
    } else if !group.contains('.') {
        problems.push(invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    } else if !group.split('.').all(is_label) {
        problems.push(invalid("spec.group", group, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
    }
    check_names(crd, &mut problems);
    let plural = text(crd, "/spec/names/plural");
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        problems.push(invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match text(crd, "/spec/scope") {
        "Namespaced" | "Cluster" => {}
        "" => problems.push(required("spec.scope")),
        other => problems.push(Problem {
            field: "spec.scope".into(),
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: \"{other}\": supported values: \"Cluster\", \"Namespaced\""
            ),
        }),
    }
    check_versions(crd, &mut problems);
    if problems.is_empty() {
        return Ok(());
    }
    let text: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    let joined = if text.len() == 1 {
        text[0].clone()
    } else {
        format!("[{}]", text.join(", "))
    };
    Err(ApiError {
        code: 422,
        reason: "Invalid",
        message: format!(
            "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: {joined}"
        ),
        details: Some(json!({
            "name": name,
            "group": "apiextensions.k8s.io",
            "kind": "CustomResourceDefinition",
            "causes": problems.iter().map(|p| json!({
                "reason": p.reason, "message": p.message, "field": p.field,
            })).collect::<Vec<_>>(),
        })),
    })
}

/// Fills the defaults a real server adds (singular and list kind names, conversion `None`) and
/// sets the status: names accepted, established, stored versions. `old` is the stored CRD on
/// updates.
pub fn on_write(crd: &mut Value, old: Option<&Value>) {
    let kind = text(crd, "/spec/names/kind").to_owned();
    if let Some(names) = crd
        .pointer_mut("/spec/names")
        .and_then(Value::as_object_mut)
    {
        names
            .entry("singular")
            .or_insert_with(|| json!(kind.to_ascii_lowercase()));
        names
            .entry("listKind")
            .or_insert_with(|| json!(format!("{kind}List")));
    }
    if let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) {
        spec.entry("conversion")
            .or_insert_with(|| json!({"strategy": "None"}));
    }
    let accepted = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let old_status = old.and_then(|o| o.get("status"));
    let since = |ty: &str| {
        old_status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
            })
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(meta::now_rfc3339()))
    };
    let mut stored = meta::strings(old_status.and_then(|s| s.get("storedVersions")));
    if let Some(v) = storage_version(crd)
        && !stored.iter().any(|s| s == v)
    {
        stored.push(v.to_owned());
    }
    let status = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": since("NamesAccepted")},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": since("Established")},
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    });
    if let Some(m) = crd.as_object_mut() {
        m.insert("status".into(), status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vs_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "virtualservices.networking.istio.io"},
            "spec": {
                "group": "networking.istio.io",
                "names": {"kind": "VirtualService", "plural": "virtualservices",
                          "shortNames": ["vs"], "categories": ["istio-io"]},
                "scope": "Namespaced",
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}},
                     "additionalPrinterColumns": [
                        {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts"}]},
                    {"name": "v1beta1", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1alpha1", "served": false, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                ],
            },
        })
    }

    #[test]
    fn served_versions_become_kinds_stored_as_the_storage_version() {
        let kinds = served_kinds(&vs_crd());
        let versions: Vec<&str> = kinds.iter().map(|k| k.version.as_str()).collect();
        assert_eq!(versions, ["v1", "v1beta1"]);
        let beta = &kinds[1];
        assert_eq!(beta.key().version, "v1");
        assert_eq!(beta.singular, "virtualservice");
        assert_eq!(beta.short_names, ["vs"]);
        assert!(beta.namespaced && !beta.has_status() && kinds[0].has_status());
        assert_eq!(
            kinds[0].custom.as_ref().expect("custom").columns[0].json_path,
            ".spec.hosts"
        );
        assert_eq!(beta.list_kind(), "VirtualServiceList");
    }

    #[test]
    fn invalid_crds_are_refused_with_one_cause_per_field() {
        assert!(validate(&vs_crd()).is_ok());
        let mut bad = vs_crd();
        bad["spec"]["group"] = json!("istio");
        bad["spec"]["names"]
            .as_object_mut()
            .expect("names")
            .remove("kind");
        bad["spec"]["scope"] = json!("Global");
        bad["spec"]["versions"][0]["storage"] = json!(false);
        let err = validate(&bad).expect_err("invalid");
        assert_eq!(err.code, 422);
        let fields: Vec<&str> = err.details.as_ref().expect("details")["causes"]
            .as_array()
            .expect("causes")
            .iter()
            .filter_map(|c| c["field"].as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "spec.group",
                "spec.names.kind",
                "metadata.name",
                "spec.scope",
                "spec.versions"
            ]
        );
        assert!(
            err.message.contains(
                "spec.group: Invalid value: \"istio\": should be a domain with at least one dot"
            ),
            "{}",
            err.message
        );
        let mut nameless = vs_crd();
        nameless["metadata"]["name"] = json!("vs");
        assert!(validate(&nameless).is_err());
    }

    #[test]
    fn status_accepts_the_names_and_remembers_stored_versions() {
        let mut crd = vs_crd();
        on_write(&mut crd, None);
        assert_eq!(crd["spec"]["names"]["listKind"], "VirtualServiceList");
        assert_eq!(crd["status"]["acceptedNames"]["singular"], "virtualservice");
        assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        let old = crd.clone();
        crd["spec"]["versions"][0]["storage"] = json!(false);
        crd["spec"]["versions"][1]["storage"] = json!(true);
        on_write(&mut crd, Some(&old));
        assert_eq!(crd["status"]["storedVersions"], json!(["v1", "v1beta1"]));
    }
}
