//! `fortio server`: the echo server on the HTTP port (8080). Every path echoes the request
//! body back; query parameters shape the answer as fortio's echo handler does:
//! `status=503` (or `503:10,429:5` for percentages), `delay=250ms` (or `10ms:50`, at most
//! 1.5 s), `size=N` (a body of N bytes), `header=Name:Value`, `close=true`. `/debug` describes
//! the request. Other declared ports (grpc-ping 8079, tcp-echo 8078) accept connections: tcp-echo
//! echoes bytes, the others close them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::VERSION;
use super::flags::{log_line, parse_duration};
use crate::workloads::{LogBuffer, PodContext, Termination};

/// The longest `delay` the echo handler honours.
const MAX_DELAY: Duration = Duration::from_millis(1500);
/// The largest `size` the echo handler answers with.
const MAX_SIZE: usize = 10 * 1024 * 1024;

/// Serves until accepting fails; the HTTP echo runs on every port but 8079 and 8078.
pub(super) async fn serve(
    listeners: Vec<TcpListener>,
    ctx: &PodContext,
    _args: &[String],
) -> Termination {
    if listeners.is_empty() {
        return Termination::error("fortio server has no port to listen on");
    }
    let log = ctx.log.clone();
    log.push(log_line(
        "info",
        &format!("Starting Φορτίο {VERSION} h1:meshwork go1.24 amd64 linux"),
        &[],
    ));
    let started = Instant::now();
    let mut accepting = JoinSet::new();
    for listener in listeners {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let log = log.clone();
        let host = ctx.pod.clone();
        match port {
            8079 => {
                log.push(format!(
                    "Fortio {VERSION} grpc 'ping' server listening on tcp {}",
                    display_addr(&listener)
                ));
                accepting.spawn(close_loop(listener));
            }
            8078 => {
                log.push(format!(
                    "Fortio {VERSION} tcp-echo server listening on tcp {}",
                    display_addr(&listener)
                ));
                accepting.spawn(tcp_echo_loop(listener));
            }
            _ => {
                log.push(format!(
                    "Fortio {VERSION} echo server listening on tcp {}",
                    display_addr(&listener)
                ));
                accepting.spawn(http_loop(listener, log, host, started));
            }
        }
    }
    match accepting.join_next().await {
        Some(Ok(e)) => Termination::error(e),
        Some(Err(e)) => Termination::error(format!("fortio server stopped: {e}")),
        None => Termination::error("fortio server stopped"),
    }
}

fn display_addr(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

async fn close_loop(listener: TcpListener) -> String {
    loop {
        if let Err(e) = listener.accept().await {
            return format!("fortio could not accept a connection: {e}");
        }
    }
}

async fn tcp_echo_loop(listener: TcpListener) -> String {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (mut stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => return format!("fortio could not accept a connection: {e}"),
        };
        connections.spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
}

async fn http_loop(
    listener: TcpListener,
    log: LogBuffer,
    host: String,
    started: Instant,
) -> String {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => return format!("fortio could not accept a connection: {e}"),
        };
        let log = log.clone();
        let host = host.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let log = log.clone();
                let host = host.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, &host, started, &log).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Picks from `value` (`503` or `503:10,429:5`: percentages, the rest falls back to `default`).
fn pick<T: Copy>(value: &str, parse: impl Fn(&str) -> Option<T>, default: T) -> Option<T> {
    if !value.contains(':') {
        return parse(value);
    }
    let roll = f64::from(
        crate::meta::random_bytes::<2>()
            .iter()
            .fold(0u16, |a, b| (a << 8) | u16::from(*b)),
    ) / 65536.0
        * 100.0;
    let mut acc = 0.0;
    for entry in value.split(',') {
        let (v, pct) = entry.split_once(':')?;
        acc += pct.trim().parse::<f64>().ok()?;
        if roll < acc {
            return parse(v.trim());
        }
    }
    Some(default)
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    host: &str,
    started: Instant,
    log: &LogBuffer,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let path = parts.uri.path();
    let mut response = if path == "/debug"
        || path.starts_with("/debug/") && !path.starts_with("/debug/echo")
    {
        debug_page(&parts, &body, peer, host, started)
    } else {
        let status = param("status")
            .and_then(|s| pick(s, |v| v.parse::<u16>().ok(), 200))
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::OK);
        if let Some(d) = param("delay").and_then(|d| pick(d, parse_duration, Duration::ZERO)) {
            tokio::time::sleep(d.min(MAX_DELAY)).await;
        }
        let payload = match param("size").and_then(|s| pick(s, |v| v.parse::<usize>().ok(), 0)) {
            Some(n) => Bytes::from(vec![b'x'; n.min(MAX_SIZE)]),
            None => body.clone(),
        };
        let mut r = Response::new(Full::new(payload));
        *r.status_mut() = status;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
        if !body.is_empty() {
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
        }
        for (k, v) in &query {
            if k == "header"
                && let Some((name, value)) = v.split_once(':')
                && let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.trim().as_bytes()),
                    HeaderValue::from_str(value.trim()),
                )
            {
                r.headers_mut().append(n, v);
            }
        }
        if param("close").is_some_and(|c| c == "true" || c == "1") {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    };
    response.headers_mut().insert(
        HeaderName::from_static("x-fortio-version"),
        HeaderValue::from_static(VERSION),
    );
    log.push(log_line(
        "info",
        "Echo",
        &[
            ("method", parts.method.to_string()),
            ("url", parts.uri.to_string()),
            ("proto", "HTTP/1.1".to_owned()),
            ("remote_addr", peer.to_string()),
            (
                "user-agent",
                parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
            ),
            ("status", response.status().as_u16().to_string()),
        ],
    ));
    response
}

fn debug_page(
    parts: &http::request::Parts,
    body: &Bytes,
    peer: SocketAddr,
    host: &str,
    started: Instant,
) -> Response<Full<Bytes>> {
    let mut text = format!(
        "Φορτίο version {VERSION} h1:meshwork go1.24 amd64 linux echo debug server up for {} on {host} - request from {peer}\n\n{} {} HTTP/1.1\n\nheaders:\n\n",
        super::flags::go_duration(Duration::from_secs(started.elapsed().as_secs())),
        parts.method,
        parts.uri,
    );
    let mut names: Vec<&HeaderName> = parts.headers.keys().collect();
    names.sort_by_key(|n| n.as_str());
    if let Some(h) = parts.headers.get(header::HOST) {
        text.push_str(&format!(
            "Host: {}\n",
            String::from_utf8_lossy(h.as_bytes())
        ));
    }
    for name in names.into_iter().filter(|n| **n != header::HOST) {
        for v in parts.headers.get_all(name) {
            text.push_str(&format!(
                "{}: {}\n",
                canonical(name.as_str()),
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
    }
    text.push_str("\nbody:\n\n");
    text.push_str(&String::from_utf8_lossy(body));
    text.push('\n');
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    r
}

/// `x-request-id` → `X-Request-Id`, as Go prints header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
