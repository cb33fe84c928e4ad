//! A GET against an Envoy's admin interface (`/ready`, `/server_info`, `/stats`, …).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// How long one admin request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An admin response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl AdminResponse {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GETs `path` (with its query, `/` added when missing) from the admin interface at `admin`.
pub async fn admin_get(admin: SocketAddr, path: &str) -> Result<AdminResponse, String> {
    admin_request(admin, http::Method::GET, path).await
}

/// Sends `method path` (POST for `/logging?level=…`, `/reset_counters`, …) to the admin
/// interface at `admin`.
pub async fn admin_request(
    admin: SocketAddr,
    method: http::Method,
    path: &str,
) -> Result<AdminResponse, String> {
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(admin)
            .await
            .map_err(|e| format!("could not connect to Envoy's admin at {admin}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("Envoy's admin at {admin}: {e}"))?;
        let driver = tokio::spawn(conn);
        let request = http::Request::builder()
            .method(method)
            .uri(path.as_str())
            .header(http::header::HOST, admin.to_string())
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad admin path {path:?}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("Envoy's admin at {admin} did not answer: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("Envoy's admin at {admin} broke off its answer: {e}"))?
            .to_bytes();
        driver.abort();
        Ok(AdminResponse { status, body })
    };
    tokio::time::timeout(TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "Envoy's admin at {admin} did not answer within {}s",
                TIMEOUT.as_secs()
            ))
        })
}
