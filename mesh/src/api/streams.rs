//! The streaming pod subresources: `log` (plain and `follow`), `exec` and `attach` (WebSocket
//! `v5.channel.k8s.io`, SPDY fallback) and `portforward` (SPDY/3.1, plain and tunnelled in a
//! WebSocket).

use std::collections::HashMap;

use hyper::Request;
use hyper::body::Incoming;

use super::{ApiError, ApiState, Body, Response, error_response};

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
    let _ = (state, req, query, namespace, pod);
    error_response(&ApiError {
        code: 405,
        reason: "MethodNotAllowed",
        message: format!("pods/{sub} is being written"),
        details: None,
    })
}
