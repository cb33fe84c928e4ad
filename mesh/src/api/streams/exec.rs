//! `…/pods/X/exec` over a WebSocket (`v5.channel.k8s.io`, also `v4.channel.k8s.io`): every
//! message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 the final status, 4
//! terminal resizes, 255 "this channel is closed" (v5) — and the command runs in the built-in
//! shell of the container.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::exec_spdy;
use super::websocket::{self, Message, Outgoing};
use super::{Handles, Params, choose_container, phase, pod_name, wants_websocket};
use crate::api::{ApiError, ApiState, Body};
use crate::kubelet::ExecError;
use crate::meta;
use crate::workloads::PodContext;
use crate::workloads::shell::{self, Stdio};

/// The subprotocols offered to clients, preferred first.
const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// How long the client has to answer our close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// Which streams the client attached.
#[derive(Debug, Clone, Copy)]
pub(super) struct Streams {
    pub(super) stdin: bool,
    pub(super) stdout: bool,
    pub(super) stderr: bool,
    pub(super) tty: bool,
}

/// Checks the request as the API server and kubelet do, then upgrades to a WebSocket and runs
/// the command.
pub(super) fn handle(
    state: &ApiState,
    mut req: Request<Incoming>,
    params: &Params,
    object: std::sync::Arc<Value>,
    attach: bool,
) -> Result<Response<Body>, ApiError> {
    let name = pod_name(&object).to_owned();
    let namespace = meta::meta_str(&object, "namespace")
        .unwrap_or("default")
        .to_owned();
    if attach {
        return Err(ApiError::bad_request(format!(
            "kubectl attach is not available in the reference mesh (pod {name} runs built-in \
             workloads); use `kubectl logs -f {name}` to follow its output or `kubectl exec` to \
             run a command in it"
        )));
    }
    let current = phase(&object);
    if matches!(current, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {current}"
        )));
    }
    let container = choose_container(&object, params.get("container"))?;
    let argv = params.values("command");
    if argv.is_empty() {
        return Err(ApiError::bad_request(
            "you must specify at least one command for the container",
        ));
    }
    let streams = Streams {
        stdin: params.flag("stdin"),
        stdout: params.flag("stdout"),
        stderr: params.flag("stderr"),
        tty: params.flag("tty"),
    };
    if !(streams.stdin || streams.stdout || streams.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let ctx = match state
        .kubelet
        .exec_context(&namespace, &name, Some(&container))
    {
        Ok(ctx) => ctx,
        // The kubelet answers in plain text, which kubectl prints as
        // `error: unable to upgrade connection: container not found ("c")`.
        Err(ExecError::NoPod(_) | ExecError::NotRunning(_)) => {
            return Ok(plain_error(format!(
                "container not found (\"{container}\")"
            )));
        }
        Err(other) => return Err(ApiError::bad_request(other.to_string())),
    };
    if !wants_websocket(req.headers()) {
        return exec_spdy::upgrade(req, ctx, argv, streams, Handles::new(state));
    }
    let (_protocol, resp) = websocket::handshake(req.headers(), PROTOCOLS)?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let handles = Handles::new(state);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(TokioIo::new(upgraded), ctx, argv, streams, handles).await,
            Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
        }
    });
    Ok(resp)
}

/// A kubelet error passed through by the API server: plain text, not a `Status`.
fn plain_error(message: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(message)).boxed());
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Runs the command over an upgraded connection until it exits (or the client goes away).
async fn session<IO>(
    io: IO,
    ctx: PodContext,
    argv: Vec<String>,
    streams: Streams,
    handles: std::sync::Arc<Handles>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(io);
    let out = websocket::spawn_writer(write_half);

    let (stdin_tx, stdin_rx) = if streams.stdin {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let mut reader = tokio::spawn(read_client(read_half, stdin_tx, out.clone()));

    let (stdout_tx, stdout_rx) = mpsc::channel::<Bytes>(16);
    let (stderr_tx, stderr_rx) = mpsc::channel::<Bytes>(16);
    let forward_out = tokio::spawn(forward(stdout_rx, STDOUT, streams.stdout, out.clone()));
    // With a terminal there is no separate stderr: it shows on the terminal (stdout).
    let forward_err = tokio::spawn(forward(
        stderr_rx,
        if streams.tty { STDOUT } else { STDERR },
        streams.stderr || streams.tty,
        out.clone(),
    ));
    let io = Stdio {
        stdin: stdin_rx,
        stdout: stdout_tx,
        stderr: stderr_tx,
        tty: streams.tty,
    };
    let mut shutdown = handles.shutdown.clone();
    let code = tokio::select! {
        code = shell::exec(&ctx, &argv, io) => Some(code),
        _ = &mut reader => None,
        () = async { let _ = shutdown.wait_for(|down| *down).await; } => None,
    };
    let _ = forward_out.await;
    let _ = forward_err.await;
    if let Some(code) = code {
        let mut status = status_message(code, &argv);
        status.insert(0, STATUS);
        let _ = out.send(Outgoing::Binary(status)).await;
        let _ = out.send(Outgoing::Close(1000)).await;
        // The closing handshake: read on until the client's close frame (or hang-up). Closing
        // with its last messages unread would reset the connection, and the client could lose
        // the output and status still in flight.
        let _ = tokio::time::timeout(CLOSE_GRACE, &mut reader).await;
    }
    reader.abort();
}

/// Reads the client's messages: stdin goes to the command, pings are answered; returns when
/// the client closes the connection.
async fn read_client<R>(
    read_half: R,
    mut stdin: Option<mpsc::Sender<Bytes>>,
    out: mpsc::Sender<Outgoing>,
) where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut reader = websocket::Reader::new(read_half);
    loop {
        match reader.next().await {
            Ok(Some(Message::Data(data))) => match data.split_first() {
                Some((&STDIN, rest)) if !rest.is_empty() => {
                    if let Some(tx) = &stdin
                        && tx.send(Bytes::copy_from_slice(rest)).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Some((&CLOSE, [STDIN, ..])) => stdin = None,
                Some((&RESIZE, _)) => {}
                _ => {}
            },
            Ok(Some(Message::Ping(payload))) => {
                let _ = out.send(Outgoing::Pong(payload)).await;
            }
            Ok(Some(Message::Close) | None) | Err(_) => return,
        }
    }
}

/// Sends what the command writes on one stream to the client on `channel` (dropped when the
/// client did not ask for that stream).
async fn forward(
    mut rx: mpsc::Receiver<Bytes>,
    channel: u8,
    wanted: bool,
    out: mpsc::Sender<Outgoing>,
) {
    while let Some(chunk) = rx.recv().await {
        if !wanted || chunk.is_empty() {
            continue;
        }
        let mut message = Vec::with_capacity(chunk.len() + 1);
        message.push(channel);
        message.extend_from_slice(&chunk);
        if out.send(Outgoing::Binary(message)).await.is_err() {
            // The client is gone; keep draining so the command is not blocked.
            continue;
        }
    }
}

/// The `Status` sent on the status channel when the command exits.
pub(super) fn status_message(code: i32, argv: &[String]) -> Vec<u8> {
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
                argv.join(" ")
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        })
    };
    serde_json::to_vec(&status).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_become_the_status_kubectl_reads() {
        let ok: Value = serde_json::from_slice(&status_message(0, &[])).expect("json");
        assert_eq!(ok["status"], "Success");
        let failed: Value =
            serde_json::from_slice(&status_message(3, &["sh".into()])).expect("json");
        assert_eq!(failed["status"], "Failure");
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
    }
}
