//! The HTTPS API server: TLS, bearer-token authentication, routing to discovery and object
//! handlers, and `kind: Status` errors.

pub mod discovery;
mod objects;
pub mod protobuf;
mod proxy;
pub mod selector;
pub mod status;
mod streams;
pub mod table;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::watch as signal;

pub(crate) use objects::{finalize_namespace, pod_defaults};
pub use status::ApiError;
pub use tls::Credentials;

use crate::kinds;
use crate::store::Store;

/// Response body type of every handler.
pub type Body = BoxBody<Bytes, Infallible>;

/// The largest request body accepted (as on a real API server: 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How much of an oversized body is read and thrown away before the 413 is sent: a client
/// still sending when the connection closes would lose the answer (hyper reports an
/// incomplete message), so the rest is drained first, up to this much.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a request body of at most [`MAX_BODY`] bytes; a larger one is drained (up to
/// [`DRAIN_LIMIT`]) and answered with 413.
async fn read_body<B>(mut body: B) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= MAX_BODY {
                bytes.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::too_large(MAX_BODY));
    }
    Ok(Bytes::from(bytes))
}

/// Everything a request handler needs.
pub struct ApiState {
    /// The object store.
    pub store: Store,
    /// CA, server certificate and token.
    pub credentials: Credentials,
    /// `host:port` clients use, reported by `/api`.
    pub server_address: String,
    /// Flips to `true` when the server shuts down; open watches end then.
    pub shutdown: signal::Receiver<bool>,
    /// Serialises ClusterIP/NodePort allocation with the create that uses it.
    pub(crate) allocation: std::sync::Mutex<()>,
    /// The kinds served now: built-ins plus those of the stored CRDs.
    pub kinds: kinds::Registry,
    /// The kubelet: container logs and exec.
    pub kubelet: crate::kubelet::Kubelet,
    /// The mesh's network (port-forward connects through it).
    pub network: crate::net::Network,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("server_address", &self.server_address)
            .finish_non_exhaustive()
    }
}

/// A request with its body read.
pub(crate) struct Call {
    pub method: Method,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Call {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub(crate) fn wants_table(&self) -> bool {
        self.headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("as=Table"))
    }
}

/// A JSON response.
pub fn json_response<T: serde::Serialize + ?Sized>(code: u16, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private"),
    );
    resp
}

fn text_response(code: u16, text: &'static str) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The error as a `kind: Status` response.
pub fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.body())
}

/// Handles one HTTP request; never panics on bad input.
pub async fn handle(state: Arc<ApiState>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let command = req
        .headers()
        .get("kubectl-command")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let resp = route(&state, req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), kubectl = %command, "request");
    resp
}

async fn route(state: &ApiState, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // Like a real API server, version and health are readable without credentials.
    match segs.as_slice() {
        ["version"] => return json_response(200, &discovery::version()),
        ["healthz" | "readyz" | "livez", ..] => return text_response(200, "ok"),
        _ => {}
    }
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !state.credentials.authorized(auth) {
        return error_response(&ApiError::unauthorized());
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    // The pod proxy relays the request, body and all, to the pod.
    if let [
        "api",
        "v1",
        "namespaces",
        namespace,
        "pods",
        target,
        "proxy",
        rest @ ..,
    ] = segs.as_slice()
    {
        return proxy::handle(state, req, namespace, target, rest).await;
    }
    // Logs, exec and port-forward stream (and may upgrade the connection): they take the
    // request before its body is read.
    if let [
        "api",
        "v1",
        "namespaces",
        namespace,
        "pods",
        pod,
        sub @ ("log" | "exec" | "attach" | "portforward"),
    ] = segs.as_slice()
    {
        return streams::handle(state, req, query, namespace, pod, sub).await;
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(e) => return error_response(&e),
    };
    let call = Call {
        method: parts.method,
        query,
        headers: parts.headers,
        body,
    };
    let get_only = |value: Option<Value>| -> Response<Body> {
        match (call.method == Method::GET, value) {
            (false, _) => error_response(&ApiError::method_not_allowed()),
            (true, Some(v)) => json_response(200, &v),
            (true, None) => error_response(&ApiError::no_such_resource()),
        }
    };
    let catalog = state.kinds.snapshot();
    let catalog = catalog.as_ref();
    match segs.as_slice() {
        ["api"] => get_only(Some(discovery::core_versions(&state.server_address))),
        ["apis"] => get_only(Some(discovery::groups(catalog))),
        ["api", "v1"] => get_only(discovery::resources(catalog, "", "v1")),
        ["apis", group] => get_only(discovery::group(catalog, group)),
        ["apis", group, version] => get_only(discovery::resources(catalog, group, version)),
        ["openapi", "v2"] if call.method == Method::GET => openapi_v2(&call),
        ["openapi", "v3"] => get_only(Some(discovery::openapi_index(catalog))),
        ["openapi", "v3", rest @ ..] => {
            get_only(discovery::openapi_document(catalog, &rest.join("/")))
        }
        ["api", "v1", rest @ ..] => resource_request(state, catalog, &call, "", "v1", rest).await,
        ["apis", group, version, rest @ ..] => {
            resource_request(state, catalog, &call, group, version, rest).await
        }
        _ => text_response(404, "404 page not found\n"),
    }
}

/// `GET /openapi/v2`: an empty Swagger document. kubectl reads it (as protobuf) to validate kinds
/// the OpenAPI v3 index does not list yet, such as a custom resource applied in the same file as
/// its CRD; with no definitions it leaves them to the server, so the mapping error a real cluster
/// gives (`ensure CRDs are installed first`) is what the learner sees.
fn openapi_v2(call: &Call) -> Response<Body> {
    let wants_protobuf = call
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("protobuf"));
    if !wants_protobuf {
        return json_response(
            200,
            &serde_json::json!({
                "swagger": "2.0",
                "info": {"title": "Kubernetes", "version": discovery::KUBERNETES_VERSION},
                "paths": {},
                "definitions": {},
            }),
        );
    }
    // An empty protobuf message is a valid, empty `openapi_v2.Document`.
    let mut resp = Response::new(Full::new(Bytes::new()).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        ),
    );
    resp
}

/// Where a resource request points.
pub(crate) struct Target {
    pub kind: Arc<kinds::Kind>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

fn parse_target(
    catalog: &kinds::Catalog,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Option<Target> {
    let (namespace, rest): (Option<String>, Vec<&str>) = match rest {
        ["namespaces", _, "status" | "finalize"] => (None, rest.to_vec()),
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => {
            (Some((*ns).to_owned()), tail.to_vec())
        }
        _ => (None, rest.to_vec()),
    };
    let (resource, name, sub) = match rest.as_slice() {
        [r] => (*r, None, None),
        [r, n] => (*r, Some((*n).to_owned()), None),
        [r, n, s] => (*r, Some((*n).to_owned()), Some((*s).to_owned())),
        _ => return None,
    };
    let kind = catalog.find(group, version, resource)?;
    let cluster_wide_read_of_namespaced = kind.namespaced && namespace.is_none() && name.is_none();
    if kind.namespaced != namespace.is_some() && !cluster_wide_read_of_namespaced {
        return None;
    }
    if let Some(s) = &sub
        && !kind.has_subresource(s)
    {
        return None;
    }
    Some(Target {
        kind,
        namespace,
        name,
        subresource: sub,
    })
}

async fn resource_request(
    state: &ApiState,
    catalog: &kinds::Catalog,
    call: &Call,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Response<Body> {
    let Some(target) = parse_target(catalog, group, version, rest) else {
        return error_response(&ApiError::no_such_resource());
    };
    match objects::handle(state, call, &target).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (String, Option<String>, Option<String>, Option<String>);

    fn target(group: &str, version: &str, path: &str) -> Option<Parsed> {
        let rest: Vec<&str> = path.split('/').collect();
        parse_target(&kinds::Catalog::builtin(), group, version, &rest)
            .map(|t| (t.kind.resource.clone(), t.namespace, t.name, t.subresource))
    }

    #[test]
    fn paths_map_to_resources_namespaces_names_and_subresources() {
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            target("", "v1", "pods"),
            Some(("pods".into(), None, None, None))
        );
        assert_eq!(
            target("", "v1", "namespaces/default/pods"),
            Some(("pods".into(), s("default"), None, None))
        );
        assert_eq!(
            target("", "v1", "namespaces/default/pods/web/log"),
            Some(("pods".into(), s("default"), s("web"), s("log")))
        );
        assert_eq!(
            target("", "v1", "namespaces/default"),
            Some(("namespaces".into(), None, s("default"), None))
        );
        assert_eq!(
            target("", "v1", "namespaces/default/status"),
            Some(("namespaces".into(), None, s("default"), s("status")))
        );
        assert_eq!(
            target("apps", "v1", "namespaces/x/deployments/d/scale"),
            Some(("deployments".into(), s("x"), s("d"), s("scale")))
        );
        // A namespaced kind by name without a namespace, a cluster kind inside one, unknown subresources.
        assert_eq!(target("", "v1", "pods/web"), None);
        assert_eq!(target("", "v1", "namespaces/x/nodes"), None);
        assert_eq!(target("", "v1", "namespaces/x/pods/web/nope"), None);
        assert_eq!(target("", "v1", "widgets"), None);
    }
}
