//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`): unknown fields and
//! wrongly typed values are found the way a real API server's strict decoder finds them.
//!
//! Built-in kinds are decoded into their k8s-openapi types through [`de`], which knows each
//! struct's declared fields, so no schema is written by hand. Custom resources are walked
//! against their CRD's structural `openAPIV3Schema` ([`schema`]). Unknown fields are removed
//! from the object (as a real server drops what its types cannot hold), and depending on the
//! directive rejected (400) or reported as `Warning` headers.

mod de;
mod schema;

use std::cell::RefCell;

use http::{HeaderValue, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use self::de::{De, DeError, Seg, Session, render};
use super::{ApiError, ApiResult, ApiState, Body, Call};
use crate::api::status::Cause;
use crate::kinds::{self, Kind};
use crate::meta;

/// What the client asked the server to do about unknown fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Directive {
    /// Reject the request.
    Strict,
    /// Accept it without the unknown fields and say so in `Warning` headers.
    Warn,
    /// Accept it without the unknown fields, silently.
    Ignore,
}

/// Reads `fieldValidation` (absent means `Warn`, as on a real server).
pub(super) fn directive(call: &Call) -> ApiResult<Directive> {
    match call.param("fieldValidation") {
        None | Some("" | "Warn") => Ok(Directive::Warn),
        Some("Strict") => Ok(Directive::Strict),
        Some("Ignore") => Ok(Directive::Ignore),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
        ))),
    }
}

/// How the object reached the server; the error wording differs by path.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// A full object in a create or update body.
    Body,
    /// The result of a JSON, merge or strategic-merge patch (the patch itself is quoted).
    Patch(&'a Value),
    /// The result of a server-side apply.
    Apply,
}

/// What decoding found.
#[derive(Default)]
struct Findings {
    unknown: Vec<Vec<Seg>>,
    type_error: Option<DeError>,
    /// Schema type mismatches of custom resources (field, found type, expected type).
    schema_errors: Vec<schema::Mismatch>,
}

fn typed<T: for<'de> Deserialize<'de>>(obj: &Value, kind: &str, package: &'static str) -> Findings {
    let session = Session {
        package,
        unknown: RefCell::new(Vec::new()),
    };
    let result = T::deserialize(De::root(obj, kind, &session));
    Findings {
        unknown: session.unknown.into_inner(),
        type_error: result.err(),
        schema_errors: Vec::new(),
    }
}

/// Decodes a built-in object into its k8s-openapi type; `None` for kinds without a typed model.
fn builtin(kind: &Kind, obj: &Value) -> Option<Findings> {
    use k8s_openapi::api::{
        admissionregistration::v1 as adm, apps::v1 as apps, autoscaling::v2 as hpa,
        batch::v1 as batch, coordination::v1 as coord, core::v1 as core, discovery::v1 as disc,
        networking::v1 as net, policy::v1 as policy, rbac::v1 as rbac, storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let k = kind.kind.as_str();
    let f = match (kind.group.as_str(), kind.version.as_str(), k) {
        ("", "v1", "Namespace") => typed::<core::Namespace>(obj, k, "v1"),
        ("", "v1", "Node") => typed::<core::Node>(obj, k, "v1"),
        ("", "v1", "Pod") => typed::<core::Pod>(obj, k, "v1"),
        ("", "v1", "Service") => typed::<core::Service>(obj, k, "v1"),
        ("", "v1", "Endpoints") => typed::<core::Endpoints>(obj, k, "v1"),
        ("", "v1", "ServiceAccount") => typed::<core::ServiceAccount>(obj, k, "v1"),
        ("", "v1", "ConfigMap") => typed::<core::ConfigMap>(obj, k, "v1"),
        ("", "v1", "Secret") => typed::<core::Secret>(obj, k, "v1"),
        ("", "v1", "Event") => typed::<core::Event>(obj, k, "v1"),
        ("", "v1", "PersistentVolumeClaim") => typed::<core::PersistentVolumeClaim>(obj, k, "v1"),
        ("", "v1", "ResourceQuota") => typed::<core::ResourceQuota>(obj, k, "v1"),
        ("", "v1", "LimitRange") => typed::<core::LimitRange>(obj, k, "v1"),
        ("apps", "v1", "Deployment") => typed::<apps::Deployment>(obj, k, "v1"),
        ("apps", "v1", "ReplicaSet") => typed::<apps::ReplicaSet>(obj, k, "v1"),
        ("apps", "v1", "StatefulSet") => typed::<apps::StatefulSet>(obj, k, "v1"),
        ("apps", "v1", "DaemonSet") => typed::<apps::DaemonSet>(obj, k, "v1"),
        ("apps", "v1", "ControllerRevision") => typed::<apps::ControllerRevision>(obj, k, "v1"),
        ("batch", "v1", "Job") => typed::<batch::Job>(obj, k, "v1"),
        ("batch", "v1", "CronJob") => typed::<batch::CronJob>(obj, k, "v1"),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            typed::<hpa::HorizontalPodAutoscaler>(obj, k, "v2")
        }
        ("policy", "v1", "PodDisruptionBudget") => {
            typed::<policy::PodDisruptionBudget>(obj, k, "v1")
        }
        ("discovery.k8s.io", "v1", "EndpointSlice") => typed::<disc::EndpointSlice>(obj, k, "v1"),
        ("networking.k8s.io", "v1", "Ingress") => typed::<net::Ingress>(obj, k, "v1"),
        ("networking.k8s.io", "v1", "IngressClass") => typed::<net::IngressClass>(obj, k, "v1"),
        ("networking.k8s.io", "v1", "NetworkPolicy") => typed::<net::NetworkPolicy>(obj, k, "v1"),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
            typed::<ext::CustomResourceDefinition>(obj, k, "v1")
        }
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            typed::<adm::MutatingWebhookConfiguration>(obj, k, "v1")
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            typed::<adm::ValidatingWebhookConfiguration>(obj, k, "v1")
        }
        ("rbac.authorization.k8s.io", "v1", "Role") => typed::<rbac::Role>(obj, k, "v1"),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => {
            typed::<rbac::RoleBinding>(obj, k, "v1")
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => {
            typed::<rbac::ClusterRole>(obj, k, "v1")
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            typed::<rbac::ClusterRoleBinding>(obj, k, "v1")
        }
        ("coordination.k8s.io", "v1", "Lease") => typed::<coord::Lease>(obj, k, "v1"),
        ("storage.k8s.io", "v1", "StorageClass") => typed::<storage::StorageClass>(obj, k, "v1"),
        _ => return None,
    };
    Some(f)
}

/// The `openAPIV3Schema` of a custom resource's version, if its CRD declares one.
fn crd_schema(state: &ApiState, kind: &Kind) -> Option<Value> {
    let custom = kind.custom.as_ref()?;
    let crd = state.store.get(&kinds::crd_key(), None, &custom.crd).ok()?;
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(kind.version.as_str()))?
        .pointer("/schema/openAPIV3Schema")
        .filter(|s| s.is_object())
        .cloned()
}

fn custom(schema_doc: &Value, obj: &Value) -> Findings {
    let mut found = Findings::default();
    // Metadata is ObjectMeta on every kind, whatever the CRD's schema says about it.
    if let Some(m) = obj.get("metadata").filter(|m| m.is_object()) {
        let session = Session {
            package: "v1",
            unknown: RefCell::new(Vec::new()),
        };
        let result = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta::deserialize(
            De::root(m, "ObjectMeta", &session),
        );
        for mut path in session.unknown.into_inner() {
            path.insert(0, Seg::Key("metadata".into()));
            found.unknown.push(path);
        }
        found.type_error = result.err();
    }
    let mut walker = schema::Walker::default();
    walker.root(schema_doc, obj);
    found.unknown.extend(walker.unknown);
    found.schema_errors = walker.mismatches;
    found
}

/// Removes the value at `path` (a no-op when it is not there).
fn remove(obj: &mut Value, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k),
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let (Seg::Key(k), Value::Object(m)) = (last, cur) {
        m.remove(k);
    }
}

fn group_version_kind(kind: &Kind) -> String {
    format!("{}/{}, Kind={}", kind.group, kind.version, kind.kind)
}

fn qualified_kind(kind: &Kind) -> String {
    if kind.group.is_empty() {
        kind.kind.clone()
    } else {
        format!("{}.{}", kind.kind, kind.group)
    }
}

fn decoding_prefix(kind: &Kind) -> String {
    format!(
        "{} in version \"{}\" cannot be handled as a {}",
        kind.kind, kind.version, kind.kind
    )
}

/// `422 Invalid` about the patch itself, as a real server reports strict errors of a patch.
fn invalid_patch(patch: &Value, detail: String) -> ApiError {
    let value = go_format(patch);
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!(" \"\" is invalid: patch: Invalid value: \"{value}\": {detail}"),
        details: Some(json!({
            "causes": [{
                "reason": "FieldValueInvalid",
                "message": format!("Invalid value: \"{value}\": {detail}"),
                "field": "patch",
            }]
        })),
    }
}

/// Validates the fields of `obj` (a full object of `kind`), drops unknown fields and returns
/// the warnings to send; errors as a real API server words them.
pub(super) fn check(
    state: &ApiState,
    kind: &Kind,
    obj: &mut Value,
    directive: Directive,
    source: Source<'_>,
) -> ApiResult<Vec<String>> {
    let found = if kind.is_custom() {
        match crd_schema(state, kind) {
            Some(s) => custom(&s, obj),
            None => return Ok(Vec::new()),
        }
    } else {
        match builtin(kind, obj) {
            Some(f) => f,
            None => return Ok(Vec::new()),
        }
    };
    judge(kind, obj, found, directive, source)
}

/// Turns what decoding found into an error, or drops the unknown fields and returns warnings.
fn judge(
    kind: &Kind,
    obj: &mut Value,
    found: Findings,
    directive: Directive,
    source: Source<'_>,
) -> ApiResult<Vec<String>> {
    if let Some(e) = found.type_error {
        return Err(match source {
            Source::Apply => ApiError::bad_request(format!(
                "failed to create typed patch object ({}): {}",
                group_version_kind(kind),
                e.go_message()
            )),
            Source::Body | Source::Patch(_) => {
                ApiError::bad_request(format!("{}: {}", decoding_prefix(kind), e.go_message()))
            }
        });
    }
    if !found.unknown.is_empty() && directive == Directive::Strict {
        let paths: Vec<String> = found.unknown.iter().map(|p| render(p)).collect();
        let strict = || {
            let list: Vec<String> = paths
                .iter()
                .map(|p| format!("unknown field \"{p}\""))
                .collect();
            format!("strict decoding error: {}", list.join(", "))
        };
        return Err(match source {
            Source::Body => {
                ApiError::bad_request(format!("{}: {}", decoding_prefix(kind), strict()))
            }
            Source::Patch(patch) => invalid_patch(patch, strict()),
            Source::Apply => {
                let errs: Vec<String> = paths
                    .iter()
                    .map(|p| format!(".{p}: field not declared in schema"))
                    .collect();
                let text = if errs.len() == 1 {
                    errs.join("")
                } else {
                    format!("errors:\n  {}", errs.join("\n  "))
                };
                ApiError::bad_request(format!(
                    "failed to create typed patch object ({}): {text}",
                    group_version_kind(kind)
                ))
            }
        });
    }
    for path in &found.unknown {
        remove(obj, path);
    }
    if !found.schema_errors.is_empty() {
        let causes: Vec<Cause> = found
            .schema_errors
            .iter()
            .map(|m| Cause {
                field: m.field.clone(),
                value: m.found.to_owned(),
                detail: format!(
                    "{} in body must be of type {}: \"{}\"",
                    m.field, m.expected, m.found
                ),
            })
            .collect();
        let name = meta::name(obj).unwrap_or_default().to_owned();
        return Err(ApiError::invalid(
            &kind.key(),
            &qualified_kind(kind),
            &name,
            &causes,
        ));
    }
    if directive == Directive::Warn {
        return Ok(found
            .unknown
            .iter()
            .map(|p| format!("unknown field \"{}\"", render(p)))
            .collect());
    }
    Ok(Vec::new())
}

/// Adds one `Warning: 299 - "<text>"` header per warning (kubectl prints `Warning: <text>`).
pub(super) fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

/// Formats JSON the way Go's `%v` prints the `map[string]interface{}` it decodes to.
fn go_format(v: &Value) -> String {
    let mut out = String::new();
    go_format_into(v, &mut out);
    out
}

fn go_format_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or_default())),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_format_into(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(val) = m.get(k) {
                    go_format_into(val, out);
                }
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6 up.
fn go_float(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor();
    if (-4.0..6.0).contains(&exp) {
        format!("{x}")
    } else {
        go_exponent(x)
    }
}

fn go_exponent(x: f64) -> String {
    let s = format!("{x:e}");
    match s.split_once('e') {
        Some((mantissa, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests;
