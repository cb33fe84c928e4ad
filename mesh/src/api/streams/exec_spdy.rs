//! `kubectl exec` over SPDY/3.1 (`POST` + `Upgrade: SPDY/3.1`), what kubectl uses when the
//! WebSocket is unavailable (older kubectls, `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`): the
//! client opens one stream per standard stream (`streamtype` `error`, `stdin`, `stdout`,
//! `stderr`, `resize`); the exit status is a `Status` written on the error stream
//! (`v4.channel.k8s.io`).

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, header};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Handles;
use super::exec::{Streams, status_message};
use super::spdy::{self, Frame, FrameReader, Out};
use crate::api::{ApiError, Body};
use crate::workloads::PodContext;
use crate::workloads::shell::{self, Stdio};

/// The stream protocols served over SPDY, preferred first.
const PROTOCOLS: &[&str] = &["v4.channel.k8s.io"];

/// Answers the SPDY upgrade and runs the command on the upgraded connection.
pub(super) fn upgrade(
    mut req: Request<Incoming>,
    ctx: PodContext,
    argv: Vec<String>,
    streams: Streams,
    handles: Arc<Handles>,
) -> Result<Response<Body>, ApiError> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("SPDY/3.1") {
        return Err(ApiError::bad_request(
            "Upgrade request required: exec is served over a WebSocket (v5.channel.k8s.io) or \
             SPDY/3.1 (v4.channel.k8s.io)",
        ));
    }
    let offered: Vec<String> = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .collect();
    let Some(protocol) = PROTOCOLS
        .iter()
        .find(|p| offered.iter().any(|o| o == *p))
        .copied()
    else {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade: none of the offered stream protocols ({}) is supported; \
             supported: {}",
            offered.join(", "),
            PROTOCOLS.join(", ")
        )));
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(TokioIo::new(upgraded), ctx, argv, streams, handles).await,
            Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
        }
    });
    Ok(super::spdy_upgraded(protocol))
}

/// The stream ids the client opened, by `streamtype`.
#[derive(Debug, Default, Clone, Copy)]
struct Ids {
    error: Option<u32>,
    stdin: Option<u32>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    resize: Option<u32>,
}

impl Ids {
    /// Whether every stream the request asked for is open.
    fn complete(&self, streams: Streams) -> bool {
        self.error.is_some()
            && (!streams.stdin || self.stdin.is_some())
            && (!streams.stdout || self.stdout.is_some())
            && (!streams.stderr || streams.tty || self.stderr.is_some())
            && (!streams.tty || self.resize.is_some())
    }
}

/// Serves one exec over SPDY: gathers the streams, runs the command, sends its status.
async fn session<IO>(
    io: IO,
    ctx: PodContext,
    argv: Vec<String>,
    streams: Streams,
    handles: Arc<Handles>,
) where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(io);
    let (tx, writer) = spdy::spawn_writer(write_half);
    let mut reader = FrameReader::new(read_half);
    let mut ids = Ids::default();
    let mut stdin: Option<mpsc::Sender<Bytes>> = None;
    let mut run: Option<JoinHandle<()>> = None;
    // Stdin that arrived before every stream was open.
    let mut early_stdin: Vec<Bytes> = Vec::new();
    let mut early_fin = false;
    let mut shutdown = handles.shutdown.clone();
    loop {
        let frame = tokio::select! {
            frame = reader.next() => frame,
            () = async { let _ = shutdown.wait_for(|down| *down).await; } => break,
        };
        let Ok(Some(frame)) = frame else { break };
        match frame {
            Frame::SynStream {
                stream_id, headers, ..
            } => {
                let kind = headers
                    .iter()
                    .find(|(n, _)| n == "streamtype")
                    .map(|(_, v)| v.as_str());
                let slot = match kind {
                    Some("error") => &mut ids.error,
                    Some("stdin") => &mut ids.stdin,
                    Some("stdout") => &mut ids.stdout,
                    Some("stderr") => &mut ids.stderr,
                    Some("resize") => &mut ids.resize,
                    _ => {
                        let _ = tx.send(Out::Frame(spdy::rst_stream(stream_id, 1))).await;
                        continue;
                    }
                };
                *slot = Some(stream_id);
                let _ = tx.send(Out::Reply(stream_id)).await;
                if run.is_none() && ids.complete(streams) {
                    let (stdin_tx, stdin_rx) = if streams.stdin {
                        let (t, r) = mpsc::channel::<Bytes>(16);
                        (Some(t), Some(r))
                    } else {
                        (None, None)
                    };
                    if let Some(t) = &stdin_tx {
                        for chunk in early_stdin.drain(..) {
                            let _ = t.send(chunk).await;
                        }
                    }
                    stdin = if early_fin { None } else { stdin_tx };
                    run = Some(tokio::spawn(execute(
                        ctx.clone(),
                        argv.clone(),
                        streams,
                        ids,
                        stdin_rx,
                        tx.clone(),
                    )));
                }
            }
            Frame::Data {
                stream_id,
                fin,
                data,
            } if Some(stream_id) == ids.stdin => {
                if !data.is_empty() {
                    let data = Bytes::from(data);
                    if let Some(t) = &stdin {
                        if t.send(data).await.is_err() {
                            stdin = None;
                        }
                    } else if run.is_none() {
                        early_stdin.push(data);
                    }
                }
                if fin {
                    stdin = None;
                    early_fin = run.is_none();
                }
            }
            Frame::Ping(id) => {
                let _ = tx.send(Out::Frame(spdy::ping(id))).await;
            }
            Frame::GoAway => break,
            _ => {}
        }
    }
    if let Some(run) = run {
        run.abort();
    }
    drop(tx);
    let _ = writer.await;
}

/// Runs the command with its streams wired to the SPDY streams; ends with the status.
async fn execute(
    ctx: PodContext,
    argv: Vec<String>,
    streams: Streams,
    ids: Ids,
    stdin: Option<mpsc::Receiver<Bytes>>,
    out: mpsc::Sender<Out>,
) {
    let (stdout_tx, stdout_rx) = mpsc::channel::<Bytes>(16);
    let (stderr_tx, stderr_rx) = mpsc::channel::<Bytes>(16);
    // With a terminal, stderr shows on the terminal (stdout).
    let stderr_id = if streams.tty { ids.stdout } else { ids.stderr };
    let forward_out = tokio::spawn(forward(stdout_rx, ids.stdout, out.clone()));
    let forward_err = tokio::spawn(forward(stderr_rx, stderr_id, out.clone()));
    let io = Stdio {
        stdin,
        stdout: stdout_tx,
        stderr: stderr_tx,
        tty: streams.tty,
    };
    let code = shell::exec(&ctx, &argv, io).await;
    let _ = forward_out.await;
    let _ = forward_err.await;
    let mut ends: Vec<u32> = [ids.stdout, ids.stderr].into_iter().flatten().collect();
    ends.dedup();
    for id in ends {
        let _ = out.send(Out::Frame(spdy::data(id, true, b""))).await;
    }
    if let Some(error) = ids.error {
        let status = status_message(code, &argv);
        let _ = out
            .send(Out::Frame(spdy::data(error, false, &status)))
            .await;
        let _ = out.send(Out::Frame(spdy::data(error, true, b""))).await;
    }
}

/// Sends a command's output stream on a SPDY stream (dropped when the client opened none).
async fn forward(mut rx: mpsc::Receiver<Bytes>, stream: Option<u32>, out: mpsc::Sender<Out>) {
    while let Some(chunk) = rx.recv().await {
        if let Some(id) = stream
            && !chunk.is_empty()
        {
            let _ = out.send(Out::Frame(spdy::data(id, false, &chunk))).await;
        }
    }
}
