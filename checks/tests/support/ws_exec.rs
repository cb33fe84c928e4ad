//! The API server's side of `pods/exec` for the mock API servers of the checks' tests: accept
//! the WebSocket upgrade (channel protocol v5 or v4, as offered) and send what the command
//! printed on channels 1 and 2 and its status on channel 3, as a Kubernetes API server does.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The status an exec ends with: success, a non-zero exit code, or (`None`) a command that
/// could not be started.
pub fn exit_status(code: Option<i32>) -> Value {
    match code {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        Some(code) => json!({"metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [..], exit code {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}}),
        None => json!({"metadata": {}, "status": "Failure",
            "message": "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown"}),
    }
}

/// Answers the exec's upgrade (400 without one) and, on the WebSocket, sends `stdout`,
/// `stderr` and `status`, then waits for the client to close.
pub fn upgrade(
    req: Request<Incoming>,
    stdout: String,
    stderr: String,
    status: Value,
) -> Response<Full<Bytes>> {
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "exec needs a WebSocket upgrade", "reason": "BadRequest", "code": 400});
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
    };
    let offered = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let protocol = if offered.contains("v5.channel.k8s.io") {
        "v5.channel.k8s.io"
    } else {
        "v4.channel.k8s.io"
    };
    tokio::spawn(async move {
        let upgraded = hyper::upgrade::on(req).await.unwrap();
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let frame = |channel: u8, data: &[u8]| {
            let mut v = vec![channel];
            v.extend_from_slice(data);
            Message::binary(v)
        };
        if !stdout.is_empty() {
            let _ = ws.send(frame(1, stdout.as_bytes())).await;
        }
        if !stderr.is_empty() {
            let _ = ws.send(frame(2, stderr.as_bytes())).await;
        }
        let _ = ws
            .send(frame(3, &serde_json::to_vec(&status).unwrap()))
            .await;
        let _ = ws.close(None).await;
        // Drain until the client closes too.
        while let Some(Ok(_)) = ws.next().await {}
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .header("sec-websocket-protocol", protocol)
        .body(Full::new(Bytes::new()))
        .unwrap()
}
