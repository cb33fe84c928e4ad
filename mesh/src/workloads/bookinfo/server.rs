//! The HTTP plumbing Bookinfo's services and nginx share: one hyper HTTP/1 server per listener,
//! requests read in full, one log line per request written to the container's log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body as _;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::workloads::{LogBuffer, Termination};

/// The largest request body a site reads (login forms and rating updates are tiny).
const MAX_BODY: usize = 1 << 20;

/// A request as a site sees it: read in full.
#[derive(Debug)]
pub(in crate::workloads) struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The request target.
    pub uri: Uri,
    /// The HTTP version as it appears on the request line (`HTTP/1.1`).
    pub version: &'static str,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The client's address.
    pub peer: SocketAddr,
}

impl HttpRequest {
    /// A header's value as text, when present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The path with the query, as on the request line.
    pub fn target(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }
}

/// A web site served by [`serve`].
pub(in crate::workloads) trait Site: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: &HttpRequest) -> impl Future<Output = Response<Full<Bytes>>> + Send;

    /// The log line for an answered request (`None` logs nothing).
    fn log_line(&self, req: &HttpRequest, resp: &Response<Full<Bytes>>) -> Option<String>;
}

/// Serves `site` on every listener until accepting fails; connections end with the future.
pub(in crate::workloads) async fn serve<S: Site>(
    name: &str,
    listeners: Vec<TcpListener>,
    site: Arc<S>,
    log: LogBuffer,
) -> Termination {
    if listeners.is_empty() {
        return Termination::error(format!(
            "{name} has no port to listen on: declare a containerPort"
        ));
    }
    let mut accepting = JoinSet::new();
    for listener in listeners {
        accepting.spawn(accept_loop(listener, Arc::clone(&site), log.clone()));
    }
    let message = match accepting.join_next().await {
        Some(Ok(e)) => format!("{name} stopped: {e}"),
        Some(Err(e)) => format!("{name} stopped: {e}"),
        None => format!("{name} exited"),
    };
    log.push(message.clone());
    Termination::error(message)
}

async fn accept_loop<S: Site>(listener: TcpListener, site: Arc<S>, log: LogBuffer) -> String {
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => return format!("could not accept a connection: {e}"),
        };
        let site = Arc::clone(&site);
        let log = log.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let site = Arc::clone(&site);
                let log = log.clone();
                async move { Ok::<_, Infallible>(answer(req, peer, &*site, &log).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer<S: Site>(
    req: http::Request<hyper::body::Incoming>,
    peer: SocketAddr,
    site: &S,
    log: &LogBuffer,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain; charset=utf-8",
                "request body too large\n".into(),
            );
        }
    };
    let req = HttpRequest {
        method: parts.method,
        uri: parts.uri,
        version: version_text(parts.version),
        headers: parts.headers,
        body,
        peer,
    };
    let resp = site.handle(&req).await;
    if let Some(line) = site.log_line(&req, &resp) {
        log.push(line);
    }
    resp
}

fn version_text(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// The size of a response body in bytes.
pub(in crate::workloads) fn body_size(resp: &Response<Full<Bytes>>) -> u64 {
    resp.body().size_hint().exact().unwrap_or(0)
}

/// A response with a body of the given type.
pub(in crate::workloads) fn text(
    status: StatusCode,
    content_type: &str,
    body: String,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// A JSON response (compact, as the Bookinfo services answer).
pub(in crate::workloads) fn json(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    text(status, "application/json", body.to_string())
}

/// An HTML page.
pub(in crate::workloads) fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    text(status, "text/html; charset=utf-8", body)
}

/// The current time as access logs print it (`26/Nov/2026:09:30:00 +0000`).
pub(in crate::workloads) fn log_time() -> String {
    jiff::Timestamp::now()
        .strftime("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}
