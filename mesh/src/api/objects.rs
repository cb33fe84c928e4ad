//! CRUD, patch, watch and the status/scale subresources for the kinds in [`crate::kinds`].

mod defaults;
mod ownership;
mod strict;
mod validate;
mod watching;

use std::sync::Arc;

use http::{Method, Response};
use serde_json::{Value, json};

use super::protobuf;
use super::selector::{FieldSelector, LabelSelector};
use super::table::{self, IncludeObject};
use super::{ApiError, ApiState, Body, Call, Target, json_response};
use crate::controllers::gc::{self, Propagation};
use crate::kinds::Kind;
use crate::meta;
use crate::patch;
use crate::store::{Preconditions, ResourceKey, StoreError};

pub(crate) use defaults::pod_defaults;

type ApiResult<T = Response<Body>> = Result<T, ApiError>;

/// Namespaces a real cluster refuses to delete.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

pub(super) async fn handle(state: &ApiState, call: &Call, t: &Target) -> ApiResult {
    let result = dispatch(state, call, t).await;
    let crd_written = t.kind.group == "apiextensions.k8s.io"
        && t.kind.resource == "customresourcedefinitions"
        && call.method != Method::GET
        && !dry_run(call);
    if crd_written && result.is_ok() {
        // The kinds a CRD defines are servable (or gone) as soon as the write is acknowledged.
        state.kinds.refresh(&state.store);
    }
    result
}

fn is_crd(kind: &Kind) -> bool {
    kind.group == "apiextensions.k8s.io" && kind.resource == "customresourcedefinitions"
}

async fn dispatch(state: &ApiState, call: &Call, t: &Target) -> ApiResult {
    let key = t.kind.key();
    match (&call.method, t.name.as_deref(), t.subresource.as_deref()) {
        (&Method::GET, None, None) => {
            if call.param("watch").is_some_and(|w| w == "true" || w == "1") {
                watching::watch(state, call, t)
            } else {
                list(state, call, t, &key)
            }
        }
        (&Method::POST, None, None) if t.namespace.is_some() || !t.kind.namespaced => {
            create(state, call, t, &key)
        }
        (&Method::DELETE, None, None) => delete_collection(state, call, t, &key),
        (&Method::GET, Some(name), None | Some("status")) => {
            let obj = t
                .kind
                .present(state.store.get(&key, t.namespace.as_deref(), name)?);
            if call.wants_table() && t.subresource.is_none() {
                let rv = state.store.resource_version();
                let include = IncludeObject::parse(call.param("includeObject"));
                return Ok(json_response(
                    200,
                    &table::table(&t.kind, [obj.as_ref()], include, rv, true),
                ));
            }
            Ok(json_response(200, obj.as_ref()))
        }
        (&Method::PUT, Some(name), None | Some("status")) => update(state, call, t, &key, name),
        (&Method::PATCH, Some(name), None | Some("status")) => {
            patch_object(state, call, t, &key, name)
        }
        (&Method::DELETE, Some(name), None) => delete(state, call, t, &key, name),
        (&Method::GET, Some(name), Some("scale")) => {
            let obj = state.store.get(&key, t.namespace.as_deref(), name)?;
            Ok(json_response(200, &scale_of(&obj)))
        }
        (&Method::PUT | &Method::PATCH, Some(name), Some("scale")) => {
            scale(state, call, t, &key, name)
        }
        (_, Some(_), Some(sub @ ("log" | "exec" | "portforward" | "proxy" | "finalize"))) => {
            Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: format!(
                    "{}/{sub} is not available in the meshwork reference mesh yet",
                    t.kind.resource
                ),
                details: None,
            })
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn selectors(call: &Call, kind: &Kind) -> ApiResult<(LabelSelector, FieldSelector)> {
    let labels = LabelSelector::parse(call.param("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(call.param("fieldSelector").unwrap_or(""), &kind.resource)
        .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn list(state: &ApiState, call: &Call, t: &Target, key: &ResourceKey) -> ApiResult {
    let (labels, fields) = selectors(call, &t.kind)?;
    let (items, rv) = state.store.list(key, t.namespace.as_deref());
    let items: Vec<Arc<Value>> = items
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|o| t.kind.present(o))
        .collect();
    if call.wants_table() {
        let include = IncludeObject::parse(call.param("includeObject"));
        let t = table::table(&t.kind, items.iter().map(AsRef::as_ref), include, rv, true);
        return Ok(json_response(200, &t));
    }
    Ok(json_response(200, &list_body(&t.kind, rv, &items)))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: Vec<&'a Value>,
}

fn list_body<'a>(kind: &Kind, rv: u64, items: &'a [Arc<Value>]) -> ListBody<'a> {
    ListBody {
        kind: kind.list_kind(),
        api_version: kind.api_version(),
        metadata: json!({"resourceVersion": rv.to_string()}),
        items: items.iter().map(AsRef::as_ref).collect(),
    }
}

/// Decodes a JSON or Kubernetes-protobuf object body, refusing other formats with 415.
fn decode_body(call: &Call) -> ApiResult<Value> {
    let ct = call.content_type();
    if ct.starts_with("application/vnd.kubernetes.protobuf") {
        return protobuf::decode(&call.body).map_err(|e| match e {
            protobuf::ProtobufError::Unsupported(_) => ApiError {
                code: 415,
                reason: "UnsupportedMediaType",
                message: e.to_string(),
                details: None,
            },
            protobuf::ProtobufError::Malformed(_) => ApiError::bad_request(e.to_string()),
        });
    }
    if !(ct.is_empty() || ct.starts_with("application/json") || ct.starts_with("*/*")) {
        return Err(ApiError::unsupported_media_type(
            ct,
            &["application/json", "application/vnd.kubernetes.protobuf"],
        ));
    }
    parse_json(&call.body)
}

fn parse_json(body: &[u8]) -> ApiResult<Value> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Checks apiVersion/kind (filling them when absent) and the namespace of a body.
fn check_identity(obj: &mut Value, t: &Target) -> ApiResult<()> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object describing a Kubernetes resource",
        ));
    };
    let api_version = t.kind.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(t.kind.kind));
        }
        Some(k) if k == t.kind.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "{k} in version \"{}\" cannot be handled as a {}: the kind in the data does not match the resource URL",
                t.kind.version, t.kind.kind
            )));
        }
    }
    let meta = meta::metadata_mut(obj)
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    match (&t.namespace, meta.get("namespace").and_then(Value::as_str)) {
        (Some(url_ns), Some(body_ns)) if !body_ns.is_empty() && body_ns != url_ns => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        (Some(url_ns), _) => {
            meta.insert("namespace".into(), json!(url_ns));
        }
        (None, _) => {
            meta.remove("namespace");
        }
    }
    Ok(())
}

fn dry_run(call: &Call) -> bool {
    call.param("dryRun").is_some_and(|d| d == "All")
}

fn create(state: &ApiState, call: &Call, t: &Target, key: &ResourceKey) -> ApiResult {
    let directive = strict::directive(call)?;
    let mut obj = decode_body(call)?;
    check_identity(&mut obj, t)?;
    let warnings = strict::check(state, &t.kind, &mut obj, directive, strict::Source::Body)?;
    create_object(state, call, t, key, obj).map(|r| strict::with_warnings(r, &warnings))
}

fn create_object(
    state: &ApiState,
    call: &Call,
    t: &Target,
    key: &ResourceKey,
    mut obj: Value,
) -> ApiResult {
    if meta::name(&obj).is_none() {
        let prefix = meta::meta_str(&obj, "generateName").map(str::to_owned);
        match prefix {
            Some(p) => {
                if let Some(m) = meta::metadata_mut(&mut obj) {
                    m.insert(
                        "name".into(),
                        json!(format!("{p}{}", meta::random_suffix(5))),
                    );
                }
            }
            None => return Err(ApiError::required(&t.kind.kind, "metadata.name")),
        }
    }
    validate::object(&t.kind, key, &obj)?;
    if let Some(ns) = &t.namespace {
        ensure_namespace(state, ns, key, meta::name(&obj).unwrap_or_default())?;
    }
    if t.kind.has_status()
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    if let Some(m) = meta::metadata_mut(&mut obj) {
        for f in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
        ] {
            m.remove(f);
        }
    }
    let _guard = state
        .allocation
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    defaults::on_create(state, &t.kind, &mut obj)?;
    // A create owns what it sent and the defaults it got; an apply has set its own entry.
    if meta::metadata(&obj).is_none_or(|m| !m.contains_key("managedFields")) {
        ownership::record(call, t, None, &mut obj);
    }
    if dry_run(call) {
        return Ok(json_response(201, &obj));
    }
    t.kind.to_storage(&mut obj);
    let created = t.kind.present(state.store.create(key, obj)?);
    Ok(json_response(201, created.as_ref()))
}

fn ensure_namespace(state: &ApiState, ns: &str, key: &ResourceKey, name: &str) -> ApiResult<()> {
    let nss = ResourceKey::new("", "v1", "namespaces");
    match state.store.get(&nss, None, ns) {
        Ok(n) if meta::meta_str(&n, "deletionTimestamp").is_some() => Err(ApiError::forbidden(
            key,
            name,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        )),
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(ApiError::not_found(&nss, ns)),
        Err(e) => Err(e.into()),
    }
}

fn check_name(obj: &Value, url_name: &str) -> ApiResult<()> {
    match meta::name(obj) {
        Some(n) if n != url_name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({url_name})"
        ))),
        _ => Ok(()),
    }
}

/// Carries server-owned parts of `old` into `new`: status for main-resource writes,
/// everything but status for status writes, and allocated service addresses.
fn keep_server_fields(state: &ApiState, t: &Target, old: &Value, new: &mut Value) {
    let Some(map) = new.as_object_mut() else {
        return;
    };
    match t.subresource.as_deref() {
        Some("status") => {
            let status = map.remove("status");
            let rv = meta::meta_str(new, "resourceVersion").map(str::to_owned);
            *new = old.clone();
            if let Some(obj) = new.as_object_mut() {
                match status {
                    Some(s) => obj.insert("status".into(), s),
                    None => obj.remove("status"),
                };
            }
            if let Some(m) = meta::metadata_mut(new) {
                match rv {
                    Some(rv) => m.insert("resourceVersion".into(), json!(rv)),
                    None => m.remove("resourceVersion"),
                };
            }
        }
        _ => {
            if t.kind.has_status() {
                match old.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
            defaults::keep_allocations(state, &t.kind, old, new);
        }
    }
}

fn update(state: &ApiState, call: &Call, t: &Target, key: &ResourceKey, name: &str) -> ApiResult {
    let directive = strict::directive(call)?;
    let mut obj = decode_body(call)?;
    check_identity(&mut obj, t)?;
    check_name(&obj, name)?;
    let warnings = strict::check(state, &t.kind, &mut obj, directive, strict::Source::Body)?;
    if meta::name(&obj).is_none()
        && let Some(m) = meta::metadata_mut(&mut obj)
    {
        m.insert("name".into(), json!(name));
    }
    validate::object(&t.kind, key, &obj)?;
    let old = t
        .kind
        .present(state.store.get(key, t.namespace.as_deref(), name)?);
    keep_server_fields(state, t, &old, &mut obj);
    ownership::record(call, t, Some(&old), &mut obj);
    if dry_run(call) {
        return Ok(strict::with_warnings(json_response(200, &obj), &warnings));
    }
    t.kind.to_storage(&mut obj);
    let updated = t.kind.present(state.store.update(key, obj)?);
    Ok(strict::with_warnings(
        json_response(200, updated.as_ref()),
        &warnings,
    ))
}

/// The patch formats, by Content-Type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

fn patch_kind(call: &Call, kind: &Kind) -> ApiResult<PatchKind> {
    let ct = call.content_type();
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/json-patch+json" => Ok(PatchKind::Json),
        // Custom resources have no patch strategy metadata, so a real server refuses this too.
        "application/strategic-merge-patch+json" if kind.is_custom() => {
            Err(ApiError::unsupported_media_type(
                ct,
                &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ],
            ))
        }
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchKind::Apply),
        _ => Err(ApiError::unsupported_media_type(
            ct,
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
                "application/strategic-merge-patch+json",
            ],
        )),
    }
}

/// Applies a patch; `custom` resources have no merge keys, so apply patches merge as JSON merge
/// patches (lists are replaced whole, as for an atomic list).
fn apply_patch(kind: PatchKind, custom: bool, target: &mut Value, body: &Value) -> ApiResult<()> {
    let invalid = |e: patch::PatchError| ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("the patch could not be applied: {e}"),
        details: None,
    };
    let merge = kind == PatchKind::Merge || (kind == PatchKind::Apply && custom);
    match kind {
        _ if merge => {
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            patch::merge::apply(target, body);
            Ok(())
        }
        PatchKind::Json => patch::json::apply(target, body).map_err(invalid),
        PatchKind::Merge | PatchKind::Strategic | PatchKind::Apply => {
            patch::strategic::apply(target, body).map_err(invalid)
        }
    }
}

fn patch_object(
    state: &ApiState,
    call: &Call,
    t: &Target,
    key: &ResourceKey,
    name: &str,
) -> ApiResult {
    let kind = patch_kind(call, &t.kind)?;
    let directive = strict::directive(call)?;
    let body = parse_json(&call.body)?;
    // The applied configuration itself is validated before any ownership question arises.
    let (body, applied_warnings) = if kind == PatchKind::Apply && t.subresource.is_none() {
        let mut applied = body;
        let w = strict::check(
            state,
            &t.kind,
            &mut applied,
            directive,
            strict::Source::Apply,
        )?;
        (applied, w)
    } else {
        (body, Vec::new())
    };
    let source = if kind == PatchKind::Apply {
        strict::Source::Apply
    } else {
        strict::Source::Patch(&body)
    };
    for _attempt in 0..5 {
        let current = match state.store.get(key, t.namespace.as_deref(), name) {
            Ok(c) => c,
            Err(StoreError::NotFound { .. })
                if kind == PatchKind::Apply && t.subresource.is_none() =>
            {
                // Server-side apply creates what does not exist yet.
                let mut obj = ownership::server_side_apply(call, t, None, &body)?;
                check_identity(&mut obj, t)?;
                check_name(&obj, name)?;
                let mut warnings = strict::check(state, &t.kind, &mut obj, directive, source)?;
                warnings.extend(applied_warnings.iter().cloned());
                return create_object(state, call, t, key, obj).map(|mut r| {
                    *r.status_mut() = http::StatusCode::CREATED;
                    strict::with_warnings(r, &warnings)
                });
            }
            Err(e) => return Err(e.into()),
        };
        let current = t.kind.present(current);
        let mut obj = (*current).clone();
        let server_side_apply = kind == PatchKind::Apply && t.subresource.is_none();
        if server_side_apply {
            obj = ownership::server_side_apply(call, t, Some(&current), &body)?;
        } else {
            apply_patch(kind, t.kind.is_custom(), &mut obj, &body)?;
        }
        check_name(&obj, name)?;
        check_identity(&mut obj, t)?;
        if let Some(m) = meta::metadata_mut(&mut obj) {
            m.insert("name".into(), json!(name));
        }
        let explicit_rv = body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !explicit_rv && let Some(m) = meta::metadata_mut(&mut obj) {
            m.insert(
                "resourceVersion".into(),
                json!(meta::meta_str(&current, "resourceVersion").unwrap_or("")),
            );
        }
        let mut warnings = strict::check(state, &t.kind, &mut obj, directive, source)?;
        warnings.extend(applied_warnings.iter().cloned());
        validate::object(&t.kind, key, &obj)?;
        keep_server_fields(state, t, &current, &mut obj);
        if !server_side_apply {
            ownership::record(call, t, Some(&current), &mut obj);
        }
        if dry_run(call) {
            return Ok(strict::with_warnings(json_response(200, &obj), &warnings));
        }
        t.kind.to_storage(&mut obj);
        match state.store.update(key, obj) {
            Ok(updated) => {
                let resp = json_response(200, t.kind.present(updated).as_ref());
                return Ok(strict::with_warnings(resp, &warnings));
            }
            Err(StoreError::Conflict { .. }) if !explicit_rv => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        "the object kept changing while the patch was applied; try again",
    ))
}

fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            let mut p: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            p.sort();
            p.join(",")
        })
        .unwrap_or_default();
    let metadata = meta::metadata(obj).cloned().unwrap_or_default();
    let keep = [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ];
    let metadata: serde_json::Map<String, Value> = metadata
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

fn scale(state: &ApiState, call: &Call, t: &Target, key: &ResourceKey, name: &str) -> ApiResult {
    let body = parse_json(&call.body)?;
    let current = state.store.get(key, t.namespace.as_deref(), name)?;
    let mut s = scale_of(&current);
    if call.method == Method::PATCH {
        apply_patch(patch_kind(call, &t.kind)?, false, &mut s, &body)?;
    } else {
        s = body;
    }
    let replicas = s
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                key,
                "Scale",
                name,
                &[super::status::Cause {
                    field: "spec.replicas".into(),
                    value: s
                        .pointer("/spec/replicas")
                        .map(Value::to_string)
                        .unwrap_or_default(),
                    detail: "must be greater than or equal to 0".into(),
                }],
            )
        })?;
    let mut obj = (*current).clone();
    obj["spec"]["replicas"] = json!(replicas);
    ownership::record(call, t, Some(&current), &mut obj);
    if let Some(rv) = s
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && let Some(m) = meta::metadata_mut(&mut obj)
    {
        m.insert("resourceVersion".into(), json!(rv));
    }
    let updated = state.store.update(key, obj)?;
    Ok(json_response(200, &scale_of(&updated)))
}

/// The preconditions and propagation policy of a delete (body `DeleteOptions` or query).
fn delete_options(call: &Call) -> ApiResult<(Preconditions, Propagation)> {
    let opts = if call.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(&call.body)?
    };
    let pre = opts.get("preconditions");
    let field = |f: &str| {
        pre.and_then(|p| p.get(f))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let orphan = opts.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        || call.param("orphanDependents") == Some("true");
    let policy = match opts
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or_else(|| call.param("propagationPolicy"))
    {
        None | Some("") if orphan => Propagation::Orphan,
        None | Some("") => Propagation::Background,
        Some(p) => Propagation::parse(p).ok_or_else(|| {
            ApiError::bad_request(format!(
                "propagationPolicy {p:?} is not supported; use Background, Foreground or Orphan"
            ))
        })?,
    };
    Ok((
        Preconditions {
            uid: field("uid"),
            resource_version: field("resourceVersion"),
        },
        policy,
    ))
}

fn delete(state: &ApiState, call: &Call, t: &Target, key: &ResourceKey, name: &str) -> ApiResult {
    let (pre, policy) = delete_options(call)?;
    if t.kind.resource == "namespaces" && t.kind.group.is_empty() {
        if PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(
                key,
                name,
                "this namespace may not be deleted",
            ));
        }
        if dry_run(call) {
            let ns = state.store.get(key, None, name)?;
            return Ok(json_response(200, ns.as_ref()));
        }
        // As on a real cluster the namespace is Terminating first; its contents and then the
        // namespace itself go shortly after (see `finalize_namespace`).
        let marked = state.store.begin_deletion(key, None, name, |ns| {
            ns["status"] = json!({"phase": "Terminating"});
        })?;
        tokio::spawn(finalize_namespace(state.store.clone(), name.to_owned()));
        return Ok(json_response(200, marked.as_ref()));
    }
    if dry_run(call) {
        let obj = t
            .kind
            .present(state.store.get(key, t.namespace.as_deref(), name)?);
        return Ok(json_response(200, obj.as_ref()));
    }
    let current = state.store.get(key, t.namespace.as_deref(), name)?;
    gc::before_delete(&state.store, &current, policy)?;
    let deleted = state
        .store
        .delete(key, t.namespace.as_deref(), name, &pre)?;
    if is_crd(&t.kind) {
        state.kinds.refresh(&state.store);
        delete_custom_objects(state, &deleted)?;
    }
    Ok(json_response(200, t.kind.present(deleted).as_ref()))
}

/// How long a deleted namespace stays Terminating before its contents are removed; long enough
/// for `kubectl delete -f` to delete the objects listed after the namespace itself.
const NAMESPACE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Removes a Terminating namespace's contents, then the namespace.
pub(crate) async fn finalize_namespace(store: crate::store::Store, name: String) {
    tokio::time::sleep(NAMESPACE_GRACE).await;
    let result = store
        .delete_matching(|resource, obj| {
            resource.resource != "namespaces" && meta::namespace(obj) == Some(name.as_str())
        })
        .and_then(|_| {
            store.delete(
                &ResourceKey::new("", "v1", "namespaces"),
                None,
                &name,
                &Preconditions::default(),
            )
        });
    match result {
        Ok(_) | Err(StoreError::NotFound { .. }) => {}
        Err(e) => tracing::warn!("could not finish deleting namespace {name}: {e}"),
    }
}

fn delete_collection(state: &ApiState, call: &Call, t: &Target, key: &ResourceKey) -> ApiResult {
    if t.kind.resource == "namespaces" && t.kind.group.is_empty() {
        return Err(ApiError::method_not_allowed());
    }
    let (labels, fields) = selectors(call, &t.kind)?;
    let ns = t.namespace.clone();
    let deleted = state.store.delete_matching(|resource, obj| {
        resource == key
            && ns
                .as_deref()
                .is_none_or(|n| meta::namespace(obj) == Some(n))
            && labels.matches(obj)
            && fields.matches(obj)
    })?;
    let items: Vec<Arc<Value>> = deleted
        .into_iter()
        .map(|(_, o)| t.kind.present(o))
        .collect();
    if is_crd(&t.kind) {
        state.kinds.refresh(&state.store);
        for crd in &items {
            delete_custom_objects(state, crd)?;
        }
    }
    let rv = state.store.resource_version();
    Ok(json_response(200, &list_body(&t.kind, rv, &items)))
}

/// Deletes every object of a deleted CRD's group and resource, whichever version stored it
/// (a real server's `customresourcecleanup` finalizer does this before the CRD goes).
fn delete_custom_objects(state: &ApiState, crd: &Value) -> ApiResult<()> {
    let group = crd.pointer("/spec/group").and_then(Value::as_str);
    let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str);
    let (Some(group), Some(plural)) = (group, plural) else {
        return Ok(());
    };
    state
        .store
        .delete_matching(|resource, _| resource.group == group && resource.resource == plural)?;
    Ok(())
}
