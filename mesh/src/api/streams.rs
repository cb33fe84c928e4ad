//! The streaming pod subresources: `log` (plain and `follow`), `exec` (WebSocket
//! `v5.channel.k8s.io`/`v4.channel.k8s.io`, or SPDY/3.1 `v4.channel.k8s.io`) and `portforward`
//! (SPDY/3.1, plain and tunnelled in a WebSocket). `attach` is refused with a message that
//! points to `logs -f` and `exec`: the built-in workloads' main processes take no input.
//!
//! Each checks the pod and container the way a real API server and kubelet do (so kubectl
//! prints the same errors), then either answers with text or takes the connection over with an
//! HTTP upgrade and speaks the streaming protocol on it.

mod exec;
mod exec_spdy;
mod logs;
mod portforward;
pub(crate) mod spdy;
pub(crate) mod websocket;

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, header};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::Value;

use super::{ApiError, ApiState, Body, Response, error_response};
use crate::store::ResourceKey;

/// Answers a streaming subresource request for `namespace/pod`; `sub` is `log`, `exec`,
/// `attach` or `portforward`. Authentication has already been checked.
pub(crate) async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    query: HashMap<String, String>,
    namespace: &str,
    pod: &str,
    sub: &str,
) -> Response<Body> {
    let params = Params {
        single: query,
        all: req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
    };
    let object = match state.store.get(&pods(), Some(namespace), pod) {
        Ok(object) => object,
        Err(e) => return error_response(&ApiError::from(e)),
    };
    let result = match sub {
        "log" => logs::handle(state, &params, &object).await,
        "exec" | "attach" => exec::handle(state, req, &params, object, sub == "attach"),
        _ => portforward::handle(state, req, object),
    };
    result.unwrap_or_else(|e| error_response(&e))
}

/// The query parameters: the last value of each, and all of them in order (`command` repeats).
#[derive(Debug, Default)]
pub(crate) struct Params {
    single: HashMap<String, String>,
    all: Vec<(String, String)>,
}

impl Params {
    /// The value of a parameter given once.
    fn get(&self, name: &str) -> Option<&str> {
        self.single
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a boolean parameter is `true` (or `1`).
    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1" | "True"))
    }

    /// Every value of a repeated parameter, in order.
    fn values(&self, name: &str) -> Vec<String> {
        self.all
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A non-negative integer parameter; a malformed one is a 400.
    fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value {v:?} for {name}: expected a non-negative integer"
                    ))
                })
            })
            .transpose()
    }
}

fn pods() -> ResourceKey {
    ResourceKey::new("", "v1", "pods")
}

fn pod_name(pod: &Value) -> &str {
    crate::meta::meta_str(pod, "name").unwrap_or("")
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

/// The names of the pod's containers (`spec.containers`), in order.
fn container_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The container a request is about: the one named (which must exist), or the only one.
fn choose_container(pod: &Value, asked: Option<&str>) -> Result<String, ApiError> {
    let names = container_names(pod);
    let init: Vec<String> = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let name = pod_name(pod);
    match asked {
        Some(c) if names.iter().chain(&init).any(|n| n == c) => Ok(c.to_owned()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => match names.as_slice() {
            [only] => Ok(only.clone()),
            _ => {
                let mut message = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                );
                if !init.is_empty() {
                    message.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                Err(ApiError::bad_request(message))
            }
        },
    }
}

/// The container's entry in `status.containerStatuses`.
fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
}

/// A `101 Switching Protocols` answer to `Upgrade: <upgrade>` (the caller adds the protocol's
/// own headers).
fn switching_protocols(upgrade: &'static str) -> Response<Body> {
    let mut resp = Response::new(http_body_util::BodyExt::boxed(http_body_util::Full::new(
        bytes::Bytes::new(),
    )));
    *resp.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    h.insert(header::UPGRADE, header::HeaderValue::from_static(upgrade));
    resp
}

/// The answer that switches a connection to SPDY/3.1 for `protocol` (`v4.channel.k8s.io`,
/// `portforward.k8s.io`), as kubelet answers exec and port-forward.
fn spdy_upgraded(protocol: &'static str) -> Response<Body> {
    let mut resp = switching_protocols("SPDY/3.1");
    resp.headers_mut().insert(
        "x-stream-protocol-version",
        header::HeaderValue::from_static(protocol),
    );
    resp
}

/// Whether the request asks to switch protocols to a WebSocket.
fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The store and shutdown handles a task that outlives the request needs.
#[derive(Clone)]
struct Handles {
    store: crate::store::Store,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Handles {
    fn new(state: &ApiState) -> Arc<Self> {
        Arc::new(Self {
            store: state.store.clone(),
            shutdown: state.shutdown.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_container_is_the_named_or_the_only_one() {
        let one = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app"}]}});
        assert_eq!(choose_container(&one, None).expect("only one"), "app");
        assert_eq!(choose_container(&one, Some("app")).expect("named"), "app");
        assert_eq!(
            choose_container(&one, Some("db"))
                .expect_err("unknown")
                .message,
            "container db is not valid for pod web"
        );
        let two = json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "setup"}],
            "containers": [{"name": "app"}, {"name": "istio-proxy"}]}});
        let e = choose_container(&two, None).expect_err("ambiguous");
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "a container name must be specified for pod web, choose one of: [app istio-proxy] \
             or one of the init containers: [setup]"
        );
        assert_eq!(
            choose_container(&two, Some("setup")).expect("init"),
            "setup"
        );
    }
}
