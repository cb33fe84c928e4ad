//! nginx's default site: `Welcome to nginx!` on `/` and `/index.html`, nginx's own error
//! pages otherwise, a `Server: nginx/<version>` header on every answer and one access log line
//! per request in nginx's `combined` format.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::Full;
use tokio::net::TcpListener;

use super::bookinfo::server::{self, HttpRequest, Site};
use super::{PodContext, Termination};

/// The nginx version the site reports.
pub const VERSION: &str = "1.27.5";

/// The default page.
const INDEX: &str = "<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto; font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>The web server is up and answering. This is the page a fresh installation shows
until the site's own content is put in place.</p>

<p>Reference material lives at <a href=\"http://nginx.org/\">nginx.org</a>;
commercial support is offered at <a href=\"http://nginx.com/\">nginx.com</a>.</p>

<p><em>Served by meshwork's reference mesh.</em></p>
</body>
</html>
";

/// The page nginx's default configuration serves for server errors (and at `/50x.html`).
const FIFTY_X: &str = "<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
<p>The page you are looking for is temporarily unavailable. Please try again later.</p>
</body>
</html>
";

/// One of nginx's built-in error pages.
fn error_page(status: StatusCode) -> String {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n\
         <hr><center>nginx/{VERSION}</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// The default site.
#[derive(Debug, Default)]
struct Nginx;

fn route(req: &HttpRequest) -> Response<Full<Bytes>> {
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let page = match req.path() {
        "/" | "/index.html" => Some(INDEX),
        "/50x.html" => Some(FIFTY_X),
        _ => None,
    };
    match page {
        // nginx's static handler answers 405 to other methods on files that exist.
        Some(_) if !get => server::html(
            StatusCode::METHOD_NOT_ALLOWED,
            error_page(StatusCode::METHOD_NOT_ALLOWED),
        ),
        Some(body) => server::text(StatusCode::OK, "text/html", body.to_owned()),
        None => server::html(StatusCode::NOT_FOUND, error_page(StatusCode::NOT_FOUND)),
    }
}

/// nginx's `combined` format: `$remote_addr - $remote_user [$time_local] "$request" $status
/// $body_bytes_sent "$http_referer" "$http_user_agent"`.
fn combined(req: &HttpRequest, resp: &Response<Full<Bytes>>) -> String {
    let quoted = |name: &str| {
        req.header(name)
            .filter(|v| !v.is_empty())
            .unwrap_or("-")
            .replace('"', "\\x22")
    };
    let sent = if req.method == Method::HEAD {
        0
    } else {
        server::body_size(resp)
    };
    format!(
        "{} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        req.peer.ip(),
        server::log_time(),
        req.method,
        req.target(),
        req.version,
        resp.status().as_u16(),
        sent,
        quoted("referer"),
        quoted("user-agent"),
    )
}

impl Site for Nginx {
    async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        let mut resp = route(req);
        if let Ok(v) = header::HeaderValue::from_str(&format!("nginx/{VERSION}")) {
            resp.headers_mut().insert(header::SERVER, v);
        }
        resp
    }

    fn log_line(&self, req: &HttpRequest, resp: &Response<Full<Bytes>>) -> Option<String> {
        Some(combined(req, resp))
    }
}

/// Serves the default site on `listeners` until accepting fails.
pub async fn serve(listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let log = ctx.log.clone();
    log.push(format!(
        "{} [notice] 1#1: nginx/{VERSION}",
        jiff::Timestamp::now().strftime("%Y/%m/%d %H:%M:%S")
    ));
    log.push(format!(
        "{} [notice] 1#1: start worker processes",
        jiff::Timestamp::now().strftime("%Y/%m/%d %H:%M:%S")
    ));
    server::serve("nginx", listeners, Arc::new(Nginx), log).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, target: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                header::HeaderValue::from_str(v).unwrap(),
            );
        }
        HttpRequest {
            method,
            uri: target.parse().unwrap(),
            version: "HTTP/1.1",
            headers: map,
            body: Bytes::new(),
            peer: "127.1.2.3:40000".parse().unwrap(),
        }
    }

    fn body(resp: &Response<Full<Bytes>>) -> String {
        use http_body_util::BodyExt as _;
        let full = resp.body().clone();
        let bytes = futures::executor::block_on(full.collect())
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_default_page_and_the_404_page_name_nginx() {
        let index = Nginx
            .handle(&request(Method::GET, "/index.html?x=1", &[]))
            .await;
        assert_eq!(index.status(), StatusCode::OK);
        assert!(body(&index).contains("<title>Welcome to nginx!</title>"));
        assert_eq!(index.headers()[header::SERVER], "nginx/1.27.5");
        let missing = Nginx.handle(&request(Method::GET, "/nope", &[])).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(body(&missing).contains("<center>nginx/1.27.5</center>"));
        assert_eq!(missing.headers()[header::SERVER], "nginx/1.27.5");
        let post = Nginx.handle(&request(Method::POST, "/", &[])).await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn access_lines_use_the_combined_format() {
        let req = request(Method::GET, "/?a=b", &[("user-agent", "curl/8.5.0")]);
        let resp = route(&req);
        let line = combined(&req, &resp);
        let size = server::body_size(&resp);
        assert!(line.starts_with("127.1.2.3 - - ["), "{line}");
        assert!(
            line.ends_with(&format!(
                "] \"GET /?a=b HTTP/1.1\" 200 {size} \"-\" \"curl/8.5.0\""
            )),
            "{line}"
        );
    }
}
