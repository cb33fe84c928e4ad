//! `…/pods/NAME[:PORT]/proxy/PATH`: the API server's HTTP proxy to a pod, as `kubectl get --raw
//! /api/v1/namespaces/istio-system/pods/istiod-…:15014/proxy/debug/syncz` uses it.
//!
//! As a real API server does, the pod is named `[SCHEME:]NAME[:PORT]`; without a port the first
//! container port the pod declares is used. The request (method, path below `proxy`, query,
//! body and content headers) is sent over HTTP/1.1 to `podIP:PORT`, through the pod's sidecar
//! when it has one, as traffic from the API server would be; the answer's status, content type
//! and body come back unchanged. A pod that is not running, a port nobody listens on, and a
//! scheme other than `http` give the errors a Kubernetes API server gives.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use hyper::body::Incoming;

use super::{ApiError, ApiState, Body, error_response, read_body};
use crate::net::{Network, Origin};
use crate::store::ResourceKey;

/// The largest answer relayed (an Envoy `config_dump` is a few MiB at most).
const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// How long the pod has to answer.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Headers of the client's request that reach the pod.
const FORWARDED: [header::HeaderName; 3] =
    [header::ACCEPT, header::CONTENT_TYPE, header::USER_AGENT];

/// `NAME`, `NAME:PORT`, `http:NAME:PORT` → (name, port), or why it cannot be used.
fn parse_target(text: &str) -> Result<(&str, Option<&str>), ApiError> {
    let parts: Vec<&str> = text.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, None),
        [name, port] => ("", *name, Some(*port)),
        [scheme, name, port] => (*scheme, *name, Some(*port)),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid pod proxy target {text:?}: write NAME, NAME:PORT or SCHEME:NAME:PORT"
            )));
        }
    };
    match scheme {
        "" | "http" => Ok((name, port.filter(|p| !p.is_empty()))),
        "https" => Err(ApiError::bad_request(format!(
            "{text}: the reference mesh's pod proxy speaks plain HTTP only; name the pod as \
             {name}:{}",
            port.unwrap_or("PORT")
        ))),
        other => Err(ApiError::bad_request(format!(
            "unsupported scheme {other:?} in {text:?}: use http"
        ))),
    }
}

/// The port to use: the one given (a number or a container port's name), else the pod's first
/// declared container port.
fn port_of(pod: &Value, given: Option<&str>) -> Result<u16, ApiError> {
    let ports: Vec<&Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .collect();
    let number = |p: &Value| {
        p.get("containerPort")
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
    };
    match given {
        Some(text) => match text.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => ports
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(text))
                .and_then(|p| number(p))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("no container port named {text:?} in the pod"))
                }),
        },
        None => ports.first().and_then(|p| number(p)).ok_or_else(|| {
            ApiError::bad_request(
                "the pod declares no container port: name the port (NAME:PORT/proxy/…)",
            )
        }),
    }
}

/// Answers a pod proxy request; `target` is the path segment before `proxy`, `rest` the path
/// after it. Authentication has already been checked.
pub(crate) async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    namespace: &str,
    target: &str,
    rest: &[&str],
) -> Response<Body> {
    match relay(state, req, namespace, target, rest).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

async fn relay(
    state: &ApiState,
    req: Request<Incoming>,
    namespace: &str,
    target: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let (name, port) = parse_target(target)?;
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let pod = state
        .store
        .get(&ResourceKey::new("", "v1", "pods"), Some(namespace), name)?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let ip = pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let Some(ip) = ip.filter(|_| phase == "Running") else {
        return Err(ApiError {
            code: 503,
            reason: "ServiceUnavailable",
            message: format!("pod {name} is not running (phase {phase}): try again once it is"),
            details: None,
        });
    };
    let port = port_of(&pod, port)?;
    let mut path = format!("/{}", rest.join("/"));
    if let Some(query) = parts.uri.query() {
        path.push('?');
        path.push_str(query);
    }
    let address = SocketAddr::new(ip, port);
    let unreachable = |why: String| ApiError {
        code: 503,
        reason: "ServiceUnavailable",
        message: format!("error trying to reach service: dial tcp {address}: {why}"),
        details: None,
    };
    let stream = Network::dial(&Origin::Host, &ip.to_string(), port, address)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(&path)
        .header(
            header::HOST,
            HeaderValue::from_str(&address.to_string()).unwrap_or(HeaderValue::from_static("pod")),
        );
    for name in FORWARDED {
        if let Some(v) = parts.headers.get(&name) {
            request = request.header(name, v.clone());
        }
    }
    let body = if parts.method == Method::GET || parts.method == Method::HEAD {
        Bytes::new()
    } else {
        body
    };
    let request = request
        .body(Full::new(body))
        .map_err(|e| ApiError::bad_request(format!("cannot proxy {path:?}: {e}")))?;
    let answer = async {
        let resp = sender.send_request(request).await?;
        let (parts, body) = resp.into_parts();
        let bytes = http_body_util::Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes);
        Ok::<_, hyper::Error>((parts, bytes))
    };
    let result = tokio::time::timeout(ANSWER_TIMEOUT, answer).await;
    driver.abort();
    let (answer_parts, bytes) = match result {
        Err(_) => {
            return Err(ApiError {
                code: 504,
                reason: "Timeout",
                message: format!(
                    "pod {name} did not answer {path} on port {port} within {} s",
                    ANSWER_TIMEOUT.as_secs()
                ),
                details: None,
            });
        }
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Ok(Ok(answer)) => answer,
    };
    let bytes = bytes.map_err(|e| ApiError {
        code: 502,
        reason: "BadGateway",
        message: format!("reading the answer of pod {name} failed: {e}"),
        details: None,
    })?;
    let mut resp = Response::new(Full::new(bytes).boxed());
    *resp.status_mut() = answer_parts.status;
    if let Some(ct) = answer_parts.headers.get(header::CONTENT_TYPE) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_are_name_port_and_scheme() {
        assert_eq!(parse_target("istiod-1").unwrap(), ("istiod-1", None));
        assert_eq!(
            parse_target("istiod-1:15014").unwrap(),
            ("istiod-1", Some("15014"))
        );
        assert_eq!(
            parse_target("http:istiod-1:15014").unwrap(),
            ("istiod-1", Some("15014"))
        );
        assert!(
            parse_target("https:istiod-1:15014")
                .unwrap_err()
                .message
                .contains("plain HTTP only")
        );
        assert!(parse_target("a:b:c:d").is_err());
    }

    #[test]
    fn ports_are_numbers_names_or_the_first_declared() {
        let pod = json!({"spec": {"containers": [
            {"name": "a"},
            {"name": "discovery", "ports": [{"containerPort": 8080}, {"name": "http-monitoring", "containerPort": 15014}]}
        ]}});
        assert_eq!(port_of(&pod, None).unwrap(), 8080);
        assert_eq!(port_of(&pod, Some("15014")).unwrap(), 15014);
        assert_eq!(port_of(&pod, Some("http-monitoring")).unwrap(), 15014);
        assert!(port_of(&pod, Some("nope")).is_err());
        assert!(port_of(&json!({"spec": {"containers": [{"name": "a"}]}}), None).is_err());
    }
}
