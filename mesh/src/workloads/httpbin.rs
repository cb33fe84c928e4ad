//! httpbin: the HTTP request-echo service of Istio's samples, answering as
//! `mccutchen/go-httpbin` does for the paths the tasks use.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::LogBuffer;

/// The longest `/delay/<s>` go-httpbin accepts.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Serves httpbin on every listener until accepting fails; connections end with the future.
pub(super) async fn serve(listeners: Vec<TcpListener>, log: LogBuffer) -> Result<(), String> {
    if listeners.is_empty() {
        return Err("httpbin has no port to listen on".into());
    }
    let mut accepting = JoinSet::new();
    for listener in listeners {
        let log = log.clone();
        accepting.spawn(accept_loop(listener, log));
    }
    match accepting.join_next().await {
        Some(Ok(e)) => Err(e),
        Some(Err(e)) => Err(format!("httpbin stopped: {e}")),
        None => Ok(()),
    }
}

async fn accept_loop(listener: TcpListener, log: LogBuffer) -> String {
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => return format!("httpbin could not accept a connection: {e}"),
        };
        let host = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let log = log.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let log = log.clone();
                let host = host.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, &host, &log).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    local: &str,
    log: &LogBuffer,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let info = RequestInfo::new(&parts, peer, local);
    let resp = route(&parts.method, parts.uri.path(), &info, &body).await;
    let size = resp
        .body()
        .clone()
        .collect()
        .await
        .map_or(0, |b| b.to_bytes().len());
    log.push(format!(
        "time=\"{}\" status={} method=\"{}\" uri=\"{}\" size_bytes={} duration_ms={:.2} user_agent=\"{}\" client_ip={}",
        crate::meta::now_rfc3339(),
        resp.status().as_u16(),
        method,
        uri,
        size,
        started.elapsed().as_secs_f64() * 1000.0,
        info.user_agent,
        info.origin,
    ));
    resp
}

/// What every echo response is built from.
struct RequestInfo {
    args: Value,
    headers: Value,
    origin: String,
    url: String,
    method: String,
    user_agent: String,
    content_type: String,
}

impl RequestInfo {
    fn new(parts: &http::request::Parts, peer: SocketAddr, local: &str) -> Self {
        let mut args = Map::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            push_multi(&mut args, &k, &v);
        }
        let mut headers = Map::new();
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(local)
            .to_owned();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            push_multi(&mut headers, &canonical_header(name.as_str()), &value);
        }
        let header = |name: &header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let forwarded = header(&header::HeaderName::from_static("x-forwarded-for"));
        let origin = forwarded
            .split(',')
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map_or_else(|| peer.ip().to_string(), str::to_owned);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        Self {
            args: Value::Object(args),
            headers: Value::Object(headers),
            origin,
            url: format!("http://{host}{path_and_query}"),
            method: parts.method.to_string(),
            user_agent: header(&header::USER_AGENT),
            content_type: header(&header::CONTENT_TYPE),
        }
    }

    /// The `/get` body: args, headers, method, origin and url.
    fn get_body(&self) -> Value {
        json!({
            "args": self.args,
            "headers": self.headers,
            "method": self.method,
            "origin": self.origin,
            "url": self.url,
        })
    }
}

fn push_multi(map: &mut Map<String, Value>, key: &str, value: &str) {
    let entry = map.entry(key.to_owned()).or_insert_with(|| json!([]));
    if let Value::Array(values) = entry {
        values.push(json!(value));
    }
}

/// `x-forwarded-client-cert` → `X-Forwarded-Client-Cert`, as Go spells header names.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    respond(status, "application/json; charset=utf-8", text)
}

fn respond(status: StatusCode, content_type: &str, text: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_response(
        status,
        &json!({"status_code": status.as_u16(), "error": message}),
    )
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

async fn route(
    method: &Method,
    path: &str,
    info: &RequestInfo,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let get_like = *method == Method::GET || *method == Method::HEAD;
    match path {
        "/" => respond(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "httpbin (meshwork reference mesh): /get /headers /ip /status/<code> /delay/<seconds> /anything\n".into(),
        ),
        "/get" if get_like => json_response(StatusCode::OK, &info.get_body()),
        "/headers" if get_like => json_response(StatusCode::OK, &json!({"headers": info.headers})),
        "/ip" if get_like => json_response(StatusCode::OK, &json!({"origin": info.origin})),
        "/get" | "/headers" | "/ip" => method_not_allowed(),
        _ if path == "/anything" || path.starts_with("/anything/") => {
            json_response(StatusCode::OK, &anything(info, body))
        }
        _ if path.starts_with("/status/") => status(&path["/status/".len()..]),
        _ if path.starts_with("/delay/") => delay(&path["/delay/".len()..], info).await,
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn anything(info: &RequestInfo, body: &Bytes) -> Value {
    let text = String::from_utf8_lossy(body).into_owned();
    let mut form = Map::new();
    if info
        .content_type
        .starts_with("application/x-www-form-urlencoded")
    {
        for (k, v) in form_urlencoded::parse(body) {
            push_multi(&mut form, &k, &v);
        }
    }
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut out = info.get_body();
    out["data"] = json!(text);
    out["files"] = json!({});
    out["form"] = Value::Object(form);
    out["json"] = parsed;
    out
}

fn status(code: &str) -> Response<Full<Bytes>> {
    let Some(status) = code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| (100..600).contains(&s.as_u16()))
    else {
        return error(StatusCode::BAD_REQUEST, "invalid status code");
    };
    if status == StatusCode::IM_A_TEAPOT {
        return respond(status, "text/plain; charset=utf-8", "I'm a teapot!".into());
    }
    respond(status, "text/plain; charset=utf-8", String::new())
}

async fn delay(seconds: &str, info: &RequestInfo) -> Response<Full<Bytes>> {
    let Some(wait) = seconds
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s).min(MAX_DELAY))
    else {
        return error(StatusCode::BAD_REQUEST, "invalid delay duration");
    };
    tokio::time::sleep(wait).await;
    json_response(StatusCode::OK, &info.get_body())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Starts httpbin on a free port; the task ends with the test's runtime.
    async fn start() -> (SocketAddr, LogBuffer) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = LogBuffer::default();
        tokio::spawn(serve(vec![listener], log.clone()));
        (addr, log)
    }

    /// Sends a raw request; returns the status code and body.
    async fn send(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{head}\r\nHost: httpbin:8000\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let code = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, raw.split_once("\r\n\r\n").unwrap().1.to_owned())
    }

    #[tokio::test]
    async fn anything_echoes_method_form_and_json() {
        let (addr, log) = start().await;
        let (code, body) = send(
            addr,
            "POST /anything/login?x=1&x=2 HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
            "username=jason",
        )
        .await;
        assert_eq!(code, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["method"], "POST");
        assert_eq!(v["args"]["x"], json!(["1", "2"]));
        assert_eq!(v["form"]["username"], json!(["jason"]));
        assert_eq!(v["data"], "username=jason");
        assert_eq!(v["url"], "http://httpbin:8000/anything/login?x=1&x=2");

        let (_, body) = send(
            addr,
            "PUT /anything HTTP/1.1\r\nContent-Type: application/json",
            r#"{"a":1}"#,
        )
        .await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["json"], json!({"a": 1}));
        assert!(log.lines().iter().any(|l| l.contains("method=\"PUT\"")));
    }

    #[tokio::test]
    async fn headers_delay_and_errors() {
        let (addr, _) = start().await;
        let (code, body) = send(
            addr,
            "GET /headers HTTP/1.1\r\nx-forwarded-client-cert: By=spiffe://cluster.local/ns/default/sa/httpbin",
            "",
        )
        .await;
        assert_eq!(code, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["headers"]["X-Forwarded-Client-Cert"],
            json!(["By=spiffe://cluster.local/ns/default/sa/httpbin"])
        );
        let (code, body) = send(addr, "GET /delay/0 HTTP/1.1", "").await;
        assert_eq!(code, 200);
        assert!(body.contains("\"url\""), "{body}");
        assert_eq!(send(addr, "GET /delay/soon HTTP/1.1", "").await.0, 400);
        assert_eq!(send(addr, "POST /get HTTP/1.1", "").await.0, 405);
        assert_eq!(send(addr, "GET /nowhere HTTP/1.1", "").await.0, 404);
    }

    #[test]
    fn header_names_are_spelled_as_go_does() {
        assert_eq!(
            canonical_header("x-forwarded-client-cert"),
            "X-Forwarded-Client-Cert"
        );
        assert_eq!(canonical_header("user-agent"), "User-Agent");
        assert_eq!(canonical_header("end-user"), "End-User");
    }

    #[test]
    fn status_codes_outside_http_are_rejected() {
        assert_eq!(status("418").status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(status("503").status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status("abc").status(), StatusCode::BAD_REQUEST);
        assert_eq!(status("99").status(), StatusCode::BAD_REQUEST);
    }
}
