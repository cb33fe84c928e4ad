//! The HTTP/1.1 client every built-in workload uses (Bookinfo's calls between services, curl,
//! fortio): it connects through [`Network::connect`], so traffic follows the mesh's routing.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::net::{NetError, Network, Origin};

/// A request to send.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    /// The method.
    pub method: Method,
    /// An absolute `http://host[:port]/path?query` URL.
    pub url: String,
    /// Extra headers, sent in order (a `Host` here replaces the default one).
    pub headers: Vec<(String, String)>,
    /// The body (sent with `Content-Length` when not empty).
    pub body: Bytes,
}

impl ClientRequest {
    /// A GET of `url` with no extra headers.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A response received in full.
#[derive(Clone, Debug)]
pub struct ClientResponse {
    /// The status.
    pub status: StatusCode,
    /// The protocol version of the response (`HTTP/1.1`).
    pub version: Version,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The headers that were sent, including the defaults (for `curl -v`).
    pub sent_headers: HeaderMap,
    /// Time from the start to the first response byte (headers received).
    pub time_to_headers: Duration,
    /// Time from the start to the whole body.
    pub total: Duration,
}

/// Why no complete response arrived; each maps to a curl exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an absolute `http://` URL (curl exit 3; 1 for another scheme).
    #[error("URL rejected: {0}")]
    BadUrl(String),
    /// Connecting failed (resolve 6, refused 7, timeout 28).
    #[error(transparent)]
    Net(#[from] NetError),
    /// The whole exchange took longer than allowed (curl exit 28).
    #[error("Operation timed out after {0} milliseconds")]
    Timeout(u128),
    /// The server closed the connection without answering (curl exit 52).
    #[error("Empty reply from server")]
    EmptyReply,
    /// The connection failed while receiving (curl exit 56).
    #[error("Recv failure: {0}")]
    Receive(String),
}

impl ClientError {
    /// The exit code curl ends with for this error.
    pub fn curl_exit_code(&self) -> i32 {
        match self {
            Self::BadUrl(_) => 3,
            Self::Net(NetError::Resolve(_)) => 6,
            Self::Net(NetError::Refused { .. }) => 7,
            Self::Net(NetError::Timeout(_)) | Self::Timeout(_) => 28,
            Self::EmptyReply => 52,
            Self::Receive(_) => 56,
        }
    }
}

/// The host, port and path-and-query of an `http://` URL.
pub fn split_url(url: &str) -> Result<(String, u16, String), ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| ClientError::BadUrl(format!("{url}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(ClientError::BadUrl(format!(
            "{url}: only http:// URLs are supported"
        )));
    }
    let host = uri
        .host()
        .ok_or_else(|| ClientError::BadUrl(format!("{url}: no host")))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Ok((host, port, path))
}

/// Sends one request over a new connection from `origin` and reads the whole response, giving
/// up after `timeout` (connecting included).
pub async fn send(
    network: &Network,
    origin: &Origin,
    request: ClientRequest,
    timeout: Duration,
) -> Result<ClientResponse, ClientError> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, exchange(network, origin, request, started)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout(timeout.as_millis())),
    }
}

async fn exchange(
    network: &Network,
    origin: &Origin,
    request: ClientRequest,
    started: Instant,
) -> Result<ClientResponse, ClientError> {
    let (host, port, _) = split_url(&request.url)?;
    let mut connection = Connection::open(network, origin, &host, port).await?;
    connection.send_at(request, started).await
}

/// An HTTP/1.1 connection kept open between requests (keep-alive), as fortio's workers and
/// Envoy use them. Opened through [`Network::connect`]; closed when dropped.
#[derive(Debug)]
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
    /// Requests sent on this connection so far.
    pub requests: u64,
}

impl Connection {
    /// Connects from `origin` to `host:port` (a Service name or address is routed by the
    /// network) and performs the HTTP/1.1 handshake.
    pub async fn open(
        network: &Network,
        origin: &Origin,
        host: &str,
        port: u16,
    ) -> Result<Self, ClientError> {
        let stream = network.connect(origin, host, port).await?;
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| receive_error(&e))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            driver,
            requests: 0,
        })
    }

    /// Whether the server has closed the connection (a new one is needed).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed() || self.driver.is_finished()
    }

    /// Sends one request (its URL's host and port name the `Host` header; the connection's
    /// peer is wherever it was opened to) and reads the whole response.
    pub async fn send(&mut self, request: ClientRequest) -> Result<ClientResponse, ClientError> {
        self.send_at(request, Instant::now()).await
    }

    async fn send_at(
        &mut self,
        request: ClientRequest,
        started: Instant,
    ) -> Result<ClientResponse, ClientError> {
        let (host, port, path) = split_url(&request.url)?;
        self.sender.ready().await.map_err(|e| receive_error(&e))?;
        self.requests += 1;
        let mut builder = Request::builder().method(request.method).uri(path);
        let host_header = if port == 80 {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        let mut sent = HeaderMap::new();
        let has = |name: &str| {
            request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            insert(&mut sent, "host", &host_header);
        }
        for (name, value) in &request.headers {
            insert(&mut sent, name, value);
        }
        if !request.body.is_empty() && !has("content-length") {
            insert(&mut sent, "content-length", &request.body.len().to_string());
        }
        if let Some(headers) = builder.headers_mut() {
            headers.extend(sent.clone());
        }
        let req = builder
            .body(Full::new(request.body))
            .map_err(|e| ClientError::BadUrl(e.to_string()))?;
        let response = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| receive_error(&e))?;
        let time_to_headers = started.elapsed();
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| receive_error(&e))?
            .to_bytes();
        Ok(ClientResponse {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
            sent_headers: sent,
            time_to_headers,
            total: started.elapsed(),
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// What a hyper error means for curl: a connection closed before any answer is an empty
/// reply, a reset or other failure while receiving is a receive error.
fn receive_error(e: &hyper::Error) -> ClientError {
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return ClientError::EmptyReply;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return ClientError::Receive(match io.kind() {
                std::io::ErrorKind::ConnectionReset => "Connection reset by peer".to_owned(),
                std::io::ErrorKind::BrokenPipe => "Broken pipe".to_owned(),
                _ => io.to_string(),
            });
        }
        source = err.source();
    }
    ClientError::Receive(e.to_string())
}

fn insert(map: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        if n == header::HOST {
            map.insert(n, v);
        } else {
            map.append(n, v);
        }
    }
}
