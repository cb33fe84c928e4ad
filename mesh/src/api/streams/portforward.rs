//! `…/pods/X/portforward`: kubectl's port-forward protocol (`portforward.k8s.io`) over SPDY/3.1,
//! either on the upgraded connection itself (`Upgrade: SPDY/3.1`) or tunnelled in a WebSocket
//! (subprotocol `SPDY/3.1+portforward.k8s.io`, SPDY frames inside binary messages).
//!
//! For every local connection kubectl opens two streams with the same `requestid` and `port`
//! headers: `streamtype: error` and `streamtype: data`. The mesh connects to `podIP:port` (as
//! the kubelet does inside the pod's network namespace, bypassing Services), relays bytes both
//! ways on the data stream, and writes a failure to connect on the error stream.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, header};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::spdy::{self, Frame, FrameReader, Out};
use super::websocket::{self, Message, Outgoing};
use super::{Handles, phase, pod_name, wants_websocket};
use crate::api::{ApiError, ApiState, Body};
use crate::meta;
use crate::net::{NetError, Network, Origin};

/// The WebSocket subprotocol that tunnels SPDY.
const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// The port-forward protocol carried over SPDY.
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";

/// How long a tunnelled client has to answer our close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How much is read from the pod at once (one data frame).
const CHUNK: usize = 32 * 1024;

/// The pod forwarded to.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    uid: String,
    ip: IpAddr,
    /// The application's address in a pod with a sidecar: port-forward enters the pod's
    /// network namespace, so it reaches the application itself, not the sidecar's inbound.
    app_ip: Option<IpAddr>,
}

/// Checks the pod, then upgrades the connection (SPDY or a WebSocket tunnel) and serves the
/// forwarded connections.
pub(super) fn handle(
    state: &ApiState,
    mut req: Request<Incoming>,
    object: Arc<Value>,
) -> Result<Response<Body>, ApiError> {
    let name = pod_name(&object).to_owned();
    let current = phase(&object);
    if current != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to forward port because pod {name} is not running. Current status={current}"
        )));
    }
    let ip = object
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} has no IP address yet; try again"))
        })?;
    let app_ip = crate::net::sidecar::has_sidecar(&object)
        .then(|| crate::net::sidecar::SidecarAddresses::of(ip))
        .flatten()
        .map(|a| a.app);
    let target = Target {
        uid: meta::meta_str(&object, "uid").unwrap_or("").to_owned(),
        name,
        ip,
        app_ip,
    };
    let handles = Handles::new(state);
    if wants_websocket(req.headers()) {
        let (_protocol, resp) = websocket::handshake(req.headers(), &[TUNNEL_PROTOCOL])?;
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => tunnel(TokioIo::new(upgraded), target, handles).await,
                Err(e) => tracing::debug!(error = %e, "port-forward upgrade failed"),
            }
        });
        return Ok(resp);
    }
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("SPDY/3.1") {
        return Err(ApiError::bad_request(
            "Upgrade request required: port-forward is served over SPDY/3.1 (Upgrade: SPDY/3.1) \
             or a WebSocket with subprotocol SPDY/3.1+portforward.k8s.io",
        ));
    }
    let offered = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PORT_FORWARD_PROTOCOL);
    if !offered {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade: no stream protocol in common; the server supports \
             {PORT_FORWARD_PROTOCOL}"
        )));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(TokioIo::new(upgraded), target, handles).await,
            Err(e) => tracing::debug!(error = %e, "port-forward upgrade failed"),
        }
    });
    Ok(super::spdy_upgraded(PORT_FORWARD_PROTOCOL))
}

/// SPDY inside a WebSocket: binary messages carry the SPDY byte stream in both directions.
async fn tunnel<IO>(io: IO, target: Target, handles: Arc<Handles>)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (ws_read, ws_write) = tokio::io::split(io);
    let out = websocket::spawn_writer(ws_write);
    let (spdy_side, bridge_side) = tokio::io::duplex(256 * 1024);
    let (mut from_spdy, mut to_spdy) = tokio::io::split(bridge_side);
    let pongs = out.clone();
    let inbound = tokio::spawn(async move {
        let mut reader = websocket::Reader::new(ws_read);
        while let Ok(Some(message)) = reader.next().await {
            match message {
                Message::Data(data) => {
                    if to_spdy.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Message::Ping(payload) => {
                    let _ = pongs.send(Outgoing::Pong(payload)).await;
                }
                Message::Close => break,
            }
        }
        let _ = to_spdy.shutdown().await;
    });
    let outbound = tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from_spdy.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.send(Outgoing::Binary(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping the last sender closes the WebSocket normally.
    });
    session(spdy_side, target, handles).await;
    let _ = outbound.await;
    // Let the client answer the close frame, so unread data does not reset the connection.
    let mut inbound = inbound;
    let _ = tokio::time::timeout(CLOSE_GRACE, &mut inbound).await;
    inbound.abort();
}

/// One stream the client opened.
struct StreamInfo {
    request: String,
    kind: StreamKind,
    port: u16,
    /// Bytes from the client to the pod (data streams, once the pair is complete); dropping it
    /// tells the relay that the client will send no more.
    to_pod: Option<mpsc::Sender<Bytes>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Error,
    Data,
}

/// The error and data streams of one forwarded connection.
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    relay: Option<JoinHandle<()>>,
}

/// Serves one SPDY session until the client ends it (or the mesh shuts down).
async fn session<IO>(io: IO, target: Target, handles: Arc<Handles>)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(io);
    let (tx, writer) = spdy::spawn_writer(write_half);

    let mut reader = FrameReader::new(read_half);
    let mut streams: HashMap<u32, StreamInfo> = HashMap::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut last_stream = 0u32;
    let mut shutdown = handles.shutdown.clone();
    loop {
        let frame = tokio::select! {
            frame = reader.next() => frame,
            () = async { let _ = shutdown.wait_for(|down| *down).await; } => {
                let _ = tx.send(Out::Frame(spdy::goaway(last_stream))).await;
                break;
            }
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, "port-forward session ended");
                break;
            }
        };
        match frame {
            Frame::SynStream {
                stream_id, headers, ..
            } => {
                last_stream = last_stream.max(stream_id);
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_str())
                };
                let kind = match header("streamtype") {
                    Some("error") => StreamKind::Error,
                    Some("data") => StreamKind::Data,
                    _ => {
                        let _ = tx.send(Out::Frame(spdy::rst_stream(stream_id, 1))).await;
                        continue;
                    }
                };
                let Some(port) = header("port").and_then(|p| p.parse::<u16>().ok()) else {
                    let _ = tx.send(Out::Frame(spdy::rst_stream(stream_id, 1))).await;
                    continue;
                };
                let request =
                    header("requestid").map_or_else(|| format!("port-{port}"), str::to_owned);
                let _ = tx.send(Out::Reply(stream_id)).await;
                let pair = pairs.entry(request.clone()).or_default();
                match kind {
                    StreamKind::Error => pair.error = Some(stream_id),
                    StreamKind::Data => pair.data = Some(stream_id),
                }
                let mut info = StreamInfo {
                    request,
                    kind,
                    port,
                    to_pod: None,
                };
                if let (Some(error), Some(data), None) = (pair.error, pair.data, &pair.relay) {
                    let (to_pod, from_client) = mpsc::channel::<Bytes>(32);
                    let relay = Relay {
                        target: target.clone(),
                        port,
                        error,
                        data,
                        out: tx.clone(),
                    };
                    pair.relay = Some(tokio::spawn(relay.run(from_client)));
                    if kind == StreamKind::Data {
                        info.to_pod = Some(to_pod);
                    } else if let Some(d) = streams.get_mut(&data) {
                        d.to_pod = Some(to_pod);
                    }
                }
                streams.insert(stream_id, info);
            }
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                let Some(info) = streams.get_mut(&stream_id) else {
                    continue;
                };
                if info.kind != StreamKind::Data {
                    continue;
                }
                if !data.is_empty()
                    && let Some(to_pod) = &info.to_pod
                    && to_pod.send(Bytes::from(data)).await.is_err()
                {
                    info.to_pod = None;
                }
                if fin {
                    info.to_pod = None;
                }
            }
            Frame::Headers {
                stream_id,
                fin: true,
            } => {
                if let Some(info) = streams.get_mut(&stream_id) {
                    info.to_pod = None;
                }
            }
            Frame::RstStream { stream_id, .. } => {
                if let Some(info) = streams.remove(&stream_id)
                    && let Some(pair) = pairs.get_mut(&info.request)
                {
                    if let Some(relay) = pair.relay.take() {
                        relay.abort();
                    }
                    match info.kind {
                        StreamKind::Error => pair.error = None,
                        StreamKind::Data => pair.data = None,
                    }
                    if pair.error.is_none() && pair.data.is_none() {
                        pairs.remove(&info.request);
                    }
                    tracing::debug!(port = info.port, "port-forward stream reset");
                }
            }
            Frame::Ping(id) => {
                let _ = tx.send(Out::Frame(spdy::ping(id))).await;
            }
            Frame::GoAway => break,
            Frame::SynReply { .. } | Frame::Headers { .. } | Frame::Ignored => {}
        }
    }
    for pair in pairs.into_values() {
        if let Some(relay) = pair.relay {
            relay.abort();
        }
    }
    drop(streams);
    drop(tx);
    let _ = writer.await;
}

/// Relays one forwarded connection between the client's streams and the pod.
struct Relay {
    target: Target,
    port: u16,
    error: u32,
    data: u32,
    out: mpsc::Sender<Out>,
}

impl Relay {
    async fn run(self, mut from_client: mpsc::Receiver<Bytes>) {
        let Self {
            target,
            port,
            error,
            data,
            out,
        } = self;
        let mut address = SocketAddr::new(target.ip, port);
        // The application first (a sidecar pod's app address), then the pod IP (the sidecar's
        // own ports, or a pod without one).
        let mut dialled = Err(NetError::Timeout(0));
        for ip in target.app_ip.into_iter().chain([target.ip]) {
            address = SocketAddr::new(ip, port);
            dialled = Network::dial(&Origin::Host, &ip.to_string(), port, address).await;
            if dialled.is_ok() {
                break;
            }
        }
        let stream = match dialled {
            Ok(stream) => stream,
            Err(e) => {
                let reason = match e {
                    NetError::Refused { reason, .. } if reason == "Connection refused" => {
                        format!("dial tcp4 {address}: connect: connection refused")
                    }
                    other => other.to_string(),
                };
                let message = format!(
                    "error forwarding port {port} to pod {}, uid {}: failed to connect to \
                     localhost:{port} inside the pod's network namespace: {reason}",
                    target.name, target.uid
                );
                let _ = out
                    .send(Out::Frame(spdy::data(error, true, message.as_bytes())))
                    .await;
                let _ = out.send(Out::Frame(spdy::data(data, true, b""))).await;
                return;
            }
        };
        let (mut pod_read, mut pod_write) = stream.into_split();
        let upload = async move {
            while let Some(chunk) = from_client.recv().await {
                if pod_write.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let _ = pod_write.shutdown().await;
        };
        let download_out = out.clone();
        let download = async move {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match pod_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if download_out
                            .send(Out::Frame(spdy::data(data, false, &buf[..n])))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            // The pod closed: end the data stream, then the error stream with no error.
            let _ = download_out
                .send(Out::Frame(spdy::data(data, true, b"")))
                .await;
            let _ = download_out
                .send(Out::Frame(spdy::data(error, true, b"")))
                .await;
        };
        tokio::join!(upload, download);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A client side of a session: writes frames, reads the server's.
    struct Client {
        frames: spdy::FrameWriter,
        reader: FrameReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
        writer: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    }

    impl Client {
        async fn send(&mut self, bytes: Vec<u8>) {
            self.writer.write_all(&bytes).await.expect("write");
        }

        async fn open(&mut self, id: u32, kind: &str, port: u16, request: &str) {
            let port = port.to_string();
            let frame = self
                .frames
                .syn_stream(
                    id,
                    false,
                    &[
                        ("streamtype", kind),
                        ("port", &port),
                        ("requestid", request),
                    ],
                )
                .expect("syn");
            self.send(frame).await;
        }

        async fn next(&mut self) -> Frame {
            self.reader
                .next()
                .await
                .expect("a frame")
                .expect("not closed")
        }
    }

    fn start(port_target: IpAddr) -> (Client, JoinHandle<()>, tokio::sync::watch::Sender<bool>) {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let handles = Arc::new(Handles {
            store: Store::in_memory(),
            shutdown,
        });
        let target = Target {
            name: "web".into(),
            uid: "u-1".into(),
            ip: port_target,
            app_ip: None,
        };
        let server = tokio::spawn(session(theirs, target, handles));
        let (r, w) = tokio::io::split(ours);
        let client = Client {
            frames: spdy::FrameWriter::new().expect("writer"),
            reader: FrameReader::new(r),
            writer: w,
        };
        (client, server, stop)
    }

    #[tokio::test]
    async fn relays_a_connection_answers_pings_and_reports_refused_ports() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let echo = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.expect("read");
            s.write_all(&buf.to_ascii_uppercase()).await.expect("write");
        });
        let (mut client, server, stop) = start(IpAddr::from([127, 0, 0, 1]));

        client.send(spdy::ping(9)).await;
        assert_eq!(client.next().await, Frame::Ping(9));

        client.open(1, "error", port, "0").await;
        client.open(3, "data", port, "0").await;
        assert_eq!(
            client.next().await,
            Frame::SynReply {
                stream_id: 1,
                fin: false
            }
        );
        assert_eq!(
            client.next().await,
            Frame::SynReply {
                stream_id: 3,
                fin: false
            }
        );
        client.send(spdy::data(3, false, b"hello")).await;
        let mut got = Vec::new();
        loop {
            match client.next().await {
                Frame::Data {
                    stream_id: 3,
                    fin: false,
                    data,
                } => got.extend(data),
                Frame::Data {
                    stream_id: 3,
                    fin: true,
                    ..
                } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, b"HELLO");
        assert_eq!(
            client.next().await,
            Frame::Data {
                stream_id: 1,
                fin: true,
                data: vec![]
            },
            "the error stream ends empty"
        );
        echo.await.expect("echo server");
        client.send(spdy::rst_stream(1, 5)).await;
        client.send(spdy::rst_stream(3, 5)).await;

        // Nothing listens on the port now: the error stream says so, as the kubelet does.
        client.open(5, "error", port, "1").await;
        client.open(7, "data", port, "1").await;
        assert_eq!(
            client.next().await,
            Frame::SynReply {
                stream_id: 5,
                fin: false
            }
        );
        assert_eq!(
            client.next().await,
            Frame::SynReply {
                stream_id: 7,
                fin: false
            }
        );
        let Frame::Data {
            stream_id: 5,
            fin: true,
            data,
        } = client.next().await
        else {
            panic!("an error on the error stream");
        };
        let message = String::from_utf8(data).expect("text");
        assert!(
            message.starts_with(&format!(
                "error forwarding port {port} to pod web, uid u-1:"
            )),
            "{message}"
        );
        assert!(message.contains("connection refused"), "{message}");

        // Shutting the mesh down ends the session with a GOAWAY.
        stop.send(true).expect("signal");
        loop {
            match client.reader.next().await {
                Ok(Some(Frame::GoAway)) => break,
                Ok(Some(_)) => {}
                other => panic!("expected GOAWAY, got {other:?}"),
            }
        }
        server.await.expect("session ends");
    }

    #[tokio::test]
    async fn garbage_ends_the_session_without_a_panic() {
        let (mut client, server, _stop) = start(IpAddr::from([127, 0, 0, 1]));
        client
            .send(vec![
                0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0C, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                12,
            ])
            .await;
        server.await.expect("session ends");
    }
}
