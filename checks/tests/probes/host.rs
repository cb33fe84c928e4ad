//! `http` checks from the learner's host against a local HTTP server on 127.0.0.1: a URL, or a
//! Service whose nodePort the target resolves (through the fake API).

use super::fake_api::{FakeApi, World};
use super::run;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use meshwork_checks::engine::Outcome;
use meshwork_checks::target::{ReferenceTarget, Target, TargetError};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const V1: &str = include_str!("../fixtures/bookinfo/new-v1.html");
const V3: &str = include_str!("../fixtures/bookinfo/old-v3.html");

/// A Bookinfo-ish server: `/productpage` alternates reviews v1 and v3 (v1 first),
/// `/status/CODE` answers CODE, `/headers` echoes the request headers, `POST /login` with
/// `username=NAME` sets the cookies `theme` and `session=NAME-token` (no name: clears the session), and `/whoami`
/// says who the session cookie signs in. Stops when dropped.
struct Server {
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counter = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let counter = Arc::clone(&counter);
                        async move {
                            let path = req.uri().path().to_string();
                            if path == "/login" {
                                return Ok(login(req).await);
                            }
                            let (status, body) = if path == "/whoami" {
                                let cookie = req
                                    .headers()
                                    .get("cookie")
                                    .map(|v| v.to_str().unwrap().to_string())
                                    .unwrap_or_default();
                                let user = cookie
                                    .split("; ")
                                    .find_map(|c| c.strip_prefix("session="))
                                    .and_then(|v| v.strip_suffix("-token"));
                                match user {
                                    Some(user) => (200, format!("signed in as {user}")),
                                    None => (200, "anonymous visitor".to_string()),
                                }
                            } else if path == "/productpage" {
                                let n = counter.fetch_add(1, Ordering::SeqCst);
                                (200, if n.is_multiple_of(2) { V1 } else { V3 }.to_string())
                            } else if let Some(code) = path.strip_prefix("/status/") {
                                (code.parse().unwrap(), String::new())
                            } else if path == "/headers" {
                                let mut text = format!("{} {}\n", req.method(), path);
                                for (k, v) in req.headers() {
                                    text.push_str(&format!("{k}: {}\n", v.to_str().unwrap()));
                                }
                                (200, text)
                            } else {
                                (404, "not found".to_string())
                            };
                            Ok::<_, Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server { port, task }
}

/// `POST /login`: a form with `username` sets the session cookie, without one clears it.
async fn login(req: http::Request<hyper::body::Incoming>) -> http::Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    if req.method() != http::Method::POST {
        return http::Response::builder()
            .status(405)
            .body(Full::new(Bytes::from("Method Not Allowed")))
            .unwrap();
    }
    let form_type = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/x-www-form-urlencoded");
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let user = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("username="))
        .filter(|u| !u.is_empty() && form_type);
    let mut response = http::Response::builder()
        .status(302)
        .header("location", "/productpage");
    response = match user {
        Some(user) => response.header("set-cookie", "theme=light").header(
            "set-cookie",
            format!("session={user}-token; HttpOnly; Path=/"),
        ),
        None => response.header("set-cookie", "session=; Max-Age=0; Path=/"),
    };
    response
        .body(Full::new(Bytes::from("Redirecting...")))
        .unwrap()
}

/// A target with no API at all: requests to a URL from the host do not need one.
fn no_api() -> Arc<dyn Target> {
    Arc::new(ReferenceTarget::from_error(TargetError::MeshUnavailable(
        "not started in this test".into(),
    )))
}

fn http_check(body: &str) -> String {
    format!("      - id: probe\n        title: Probe\n        http:\n{body}")
}

#[tokio::test]
async fn a_page_from_the_host_passes_with_what_was_seen() {
    let s = server().await;
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: http://127.0.0.1:{}/productpage\n          expect:\n            body: {{contains: Simple Bookstore App}}\n            bookinfo: {{reviews: v1}}\n",
            s.port
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    let prefix = format!(
        "GET http://127.0.0.1:{}/productpage: status 200; the body is as expected; no stars (reviews v1) on the page; in ",
        s.port
    );
    assert!(r.message.starts_with(&prefix), "{}", r.message);
    assert!(
        r.message.ends_with(" ms") || r.message.ends_with(" s"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_distribution_over_many_requests() {
    let s = server().await;
    let url = format!("http://127.0.0.1:{}/productpage", s.port);
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: {url}\n          count: 20\n          expect:\n            bookinfo: {{reviews: {{v1: 50%, v3: 50%, tolerance: 5%}}}}\n"
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.starts_with(&format!(
            "20 × GET {url}: status 200 on all 20; no stars (reviews v1) on 10 of 20, red stars (reviews v3) on 10 of 20; median "
        )),
        "{}",
        r.message
    );
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: {url}\n          count: 10\n          expect:\n            bookinfo: {{reviews: {{v3: 100%}}}}\n"
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        format!(
            "10 × GET {url}: no stars (reviews v1) on 5 of 10 pages (50 %), expected 0 % ± 10; \
             red stars (reviews v3) on 5 of 10 pages (50 %), expected 100 % ± 10"
        )
    );
}

#[tokio::test]
async fn wrong_statuses_and_refused_connections_fail_with_what_happened() {
    let s = server().await;
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: http://127.0.0.1:{}/status/503\n          count: 3\n",
            s.port
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        format!(
            "3 × GET http://127.0.0.1:{}/status/503: status 503 on 3 of 3 requests, expected 200",
            s.port
        )
    );
    // Nothing listens on a port just freed.
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let r = run(
        no_api(),
        &http_check(&format!("          url: http://127.0.0.1:{port}/\n")),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        format!(
            "GET http://127.0.0.1:{port}/: no response (connection refused: nothing listens on 127.0.0.1:{port}), expected 200"
        )
    );
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let s = server().await;
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: http://127.0.0.1:{}/headers\n          method: PUT\n          headers: {{end-user: jason}}\n          body: hello\n          expect:\n            body: {{contains: [\"PUT /headers\", \"end-user: jason\", \"content-length: 5\"]}}\n",
            s.port
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
}

#[tokio::test]
async fn latency_bands_fail_with_the_median_seen() {
    let s = server().await;
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: http://127.0.0.1:{}/status/200\n          count: 3\n          expect:\n            latency: {{min: 20s}}\n",
            s.port
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(r.message.contains(": median latency "), "{}", r.message);
    assert!(
        r.message
            .ends_with(" over 3 answers, expected at least 20 s"),
        "{}",
        r.message
    );
}

fn service(kind: &str, node_port: Option<u16>) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "productpage", "namespace": "default"},
        "spec": {"type": kind, "ports": [{"port": 9080, "nodePort": node_port}]}
    })
}

fn node() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "meshwork"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}
    })
}

#[tokio::test]
async fn a_service_is_reached_through_its_node_port() {
    let s = server().await;
    let api = FakeApi::start(
        World {
            services: vec![service("NodePort", Some(s.port))],
            nodes: vec![node()],
            ..World::default()
        },
        Arc::new(|_, _| unreachable!("no exec from the host")),
    )
    .await;
    let r = run(
        api.target(),
        &http_check(
            "          service: {name: productpage, port: 9080, path: /productpage}\n          count: 2\n          expect: {bookinfo: {reviews: mix}}\n",
        ),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.starts_with(&format!(
            "2 × GET http://127.0.0.1:{}/productpage: status 200 on all 2",
            s.port
        )),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_cluster_ip_service_cannot_be_reached_from_the_host() {
    let api = FakeApi::start(
        World {
            services: vec![service("ClusterIP", None)],
            nodes: vec![node()],
            ..World::default()
        },
        Arc::new(|_, _| unreachable!("no exec from the host")),
    )
    .await;
    let yaml = http_check("          service: {name: productpage, port: 9080}\n");
    let r = run(api.target(), &yaml).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        "service productpage in namespace default is of type ClusterIP, so port 9080 has no nodePort the \
         host can reach; make it a NodePort or LoadBalancer service"
    );
    let r = run(
        api.target(),
        &yaml.replace("name: productpage", "name: reviews"),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        "there is no service reviews in namespace default"
    );
}

#[tokio::test]
async fn a_login_signs_in_every_request_with_its_cookies() {
    let s = server().await;
    let check = |form: &str| {
        http_check(&format!(
            "          url: http://127.0.0.1:{}/whoami\n          count: 3\n          login: {{path: /login, form: {form}}}\n          expect:\n            body: {{contains: signed in as jason}}\n",
            s.port
        ))
    };
    let r = run(no_api(), &check("{username: jason}")).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.starts_with(&format!(
            "3 × GET http://127.0.0.1:{}/whoami, signed in with POST /login: status 200 on all 3; the body is as expected",
            s.port
        )),
        "{}",
        r.message
    );
    // Without the login, the same requests are anonymous.
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: http://127.0.0.1:{}/whoami\n          expect:\n            body: {{contains: signed in as jason}}\n",
            s.port
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message.contains("(it starts: \"anonymous visitor\")"),
        "{}",
        r.message
    );
    // A form without the field the server wants: it clears the session, and the check says so.
    let r = run(no_api(), &check("{user: jason}")).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        format!(
            "3 × GET http://127.0.0.1:{0}/whoami, signed in with POST /login: the login (POST \
             http://127.0.0.1:{0}/login) answered status 302 but set no cookie (it cleared \
             session), so the requests would not be signed in; check the form's fields (user=jason)",
            s.port
        )
    );
}

#[tokio::test]
async fn a_refused_login_says_what_came_back() {
    let s = server().await;
    let r = run(
        no_api(),
        &http_check(&format!(
            "          url: http://127.0.0.1:{}/whoami\n          login: {{path: /signin, form: {{username: jason}}}}\n",
            s.port
        )),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message.ends_with(&format!(
            ": the login (POST http://127.0.0.1:{}/signin) answered status 404 (\"not found\"); \
             is /signin the form's path, and is the service up?",
            s.port
        )),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn status_counts_are_judged_over_all_responses() {
    let s = server().await;
    let check = |want: &str| {
        http_check(&format!(
            "          url: http://127.0.0.1:{}/status/429\n          count: 4\n          expect:\n            status: [200, 429]\n            status_count: {{\"429\": \"{want}\"}}\n",
            s.port
        ))
    };
    let r = run(no_api(), &check(">= 4")).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.contains("429 on 4 of 4 responses (>= 4)"),
        "{}",
        r.message
    );
    let r = run(no_api(), &check("== 0")).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message
            .ends_with(": 429 on 4 of 4 responses, expected == 0"),
        "{}",
        r.message
    );
}
