//! productpage: Bookinfo's web front end. `/productpage` renders the book with details'
//! facts and reviews' reviews; `POST /login` (form field `username`) signs a user in with a
//! session cookie and `/logout` signs them out; the JSON API under `/api/v1/products` passes
//! details, reviews and ratings through.
//!
//! Calls carry the propagated headers of the incoming request and, for a signed-in user,
//! `end-user: <user>`. details gets one attempt of 3 s; reviews two attempts of 3 s each, so a
//! slow reviews fails the page after about 6 s, as Istio's fault-injection task expects.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::Full;
use ring::hmac;
use serde_json::{Value, json};

use super::page::{self, ProductView};
use super::server::{self, HttpRequest, Site};
use super::{PRODUCTS, PodContext};
use crate::workloads::client::{self, ClientRequest};

/// How long one call to details or reviews may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times productpage asks reviews before giving up.
pub const REVIEWS_ATTEMPTS: u32 = 2;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "session";

/// The productpage service.
#[derive(Debug)]
pub struct Productpage {
    ctx: PodContext,
    details_url: String,
    reviews_url: String,
    ratings_url: String,
}

/// The key session cookies are signed with (one per mesh process, shared by all productpage
/// replicas it runs, so a session survives being load-balanced to another replica).
fn session_key() -> &'static hmac::Key {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        hmac::Key::generate(hmac::HMAC_SHA256, &rng).unwrap_or_else(|_| {
            // No system randomness: a fixed key still separates users, just without secrecy.
            hmac::Key::new(hmac::HMAC_SHA256, b"meshwork-bookinfo-session")
        })
    })
}

/// The cookie value that signs `user` in: the name and its signature.
pub fn session_value(user: &str) -> String {
    let tag = hmac::sign(session_key(), user.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(user.as_bytes()),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// The user a session cookie value signs in, when its signature holds.
pub fn session_user(value: &str) -> Option<String> {
    let (user, tag) = value.split_once('.')?;
    let user = URL_SAFE_NO_PAD.decode(user).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    hmac::verify(session_key(), &user, &tag).ok()?;
    String::from_utf8(user).ok().filter(|u| !u.is_empty())
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The headers of an outbound call: the propagated ones, with `end-user` set to the signed-in
/// user when there is one.
fn outbound_headers(req: &HttpRequest, user: Option<&str>) -> Vec<(String, String)> {
    let mut headers = super::propagated(req);
    if let Some(user) = user {
        headers.retain(|(name, _)| name != "end-user");
        headers.push(("end-user".into(), user.to_owned()));
    }
    headers
}

/// A redirect after login or logout: back where the browser came from, else the product page.
fn redirect(req: &HttpRequest, set_cookie: &str) -> Response<Full<Bytes>> {
    let location = req
        .header("referer")
        .filter(|r| !r.trim().is_empty())
        .unwrap_or("/productpage")
        .to_owned();
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n\
         <p>Continue to <a href=\"{0}\">{0}</a>.</p>\n",
        page::escape(&location)
    );
    let mut resp = server::html(StatusCode::FOUND, body);
    for (name, value) in [
        (header::LOCATION, location.as_str()),
        (header::SET_COOKIE, set_cookie),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

fn not_found(path: &str) -> Response<Full<Bytes>> {
    server::html(
        StatusCode::NOT_FOUND,
        format!(
            "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n\
             <p>Nothing is served at {}. Try <a href=\"/productpage\">/productpage</a>.</p>\n",
            page::escape(path)
        ),
    )
}

fn method_not_allowed(allowed: &str) -> Response<Full<Bytes>> {
    let mut resp = server::html(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n\
             <h1>Method Not Allowed</h1>\n<p>This URL accepts {allowed} only.</p>\n"
        ),
    );
    if let Ok(v) = header::HeaderValue::from_str(allowed) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

impl Productpage {
    /// productpage running in `ctx`, finding its services as the environment says.
    pub fn new(ctx: PodContext) -> Self {
        Self {
            details_url: super::service_url(&ctx, "details"),
            reviews_url: super::service_url(&ctx, "reviews"),
            ratings_url: super::service_url(&ctx, "ratings"),
            ctx,
        }
    }

    /// GETs `url` up to `attempts` times; the JSON of a 200 answer, else the status of the last
    /// answer (`None` when none arrived).
    async fn fetch(
        &self,
        url: String,
        headers: &[(String, String)],
        attempts: u32,
    ) -> Result<Value, Option<StatusCode>> {
        let mut last = None;
        for _ in 0..attempts {
            let mut request = ClientRequest::get(url.clone());
            request.headers = headers.to_vec();
            match client::send(&self.ctx.network, &self.ctx.origin(), request, CALL_TIMEOUT).await {
                Ok(resp) if resp.status == StatusCode::OK => {
                    match serde_json::from_slice(&resp.body) {
                        Ok(v) => return Ok(v),
                        Err(_) => last = Some(StatusCode::BAD_GATEWAY),
                    }
                }
                Ok(resp) => last = Some(resp.status),
                Err(_) => last = None,
            }
        }
        Err(last)
    }

    async fn details(
        &self,
        id: &str,
        headers: &[(String, String)],
    ) -> Result<Value, Option<StatusCode>> {
        self.fetch(format!("{}/details/{id}", self.details_url), headers, 1)
            .await
    }

    async fn reviews(
        &self,
        id: &str,
        headers: &[(String, String)],
    ) -> Result<Value, Option<StatusCode>> {
        self.fetch(
            format!("{}/reviews/{id}", self.reviews_url),
            headers,
            REVIEWS_ATTEMPTS,
        )
        .await
    }

    async fn ratings(
        &self,
        id: &str,
        headers: &[(String, String)],
    ) -> Result<Value, Option<StatusCode>> {
        self.fetch(format!("{}/ratings/{id}", self.ratings_url), headers, 1)
            .await
    }

    async fn product_page(&self, req: &HttpRequest, user: Option<&str>) -> Response<Full<Bytes>> {
        let headers = outbound_headers(req, user);
        let product = &PRODUCTS[0];
        let id = product.id.to_string();
        // One after the other, as Bookinfo's productpage does: a slow details delays reviews.
        let details = self.details(&id, &headers).await;
        let reviews = self.reviews(&id, &headers).await;
        let html = page::product_page(&ProductView {
            user,
            product,
            details: details.as_ref().ok(),
            reviews: reviews.as_ref().ok(),
        });
        server::html(StatusCode::OK, html)
    }

    fn login(req: &HttpRequest) -> Response<Full<Bytes>> {
        let form = form_urlencoded::parse(&req.body);
        let query = form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes());
        let user = form
            .chain(query)
            .find(|(k, _)| k == "username")
            .map(|(_, v)| v.trim().to_owned())
            .filter(|u| !u.is_empty());
        match user {
            Some(user) => redirect(
                req,
                &format!(
                    "{SESSION_COOKIE}={}; HttpOnly; Path=/",
                    session_value(&user)
                ),
            ),
            None => Self::logout(req),
        }
    }

    fn logout(req: &HttpRequest) -> Response<Full<Bytes>> {
        redirect(
            req,
            &format!(
                "{SESSION_COOKIE}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/"
            ),
        )
    }

    /// `/api/v1/products/<id>[/reviews|/ratings]`.
    async fn api(
        &self,
        rest: &str,
        req: &HttpRequest,
        user: Option<&str>,
    ) -> Response<Full<Bytes>> {
        let headers = outbound_headers(req, user);
        let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
        let (result, default_status, message) = match what {
            "" => (
                self.details(id, &headers).await,
                StatusCode::BAD_GATEWAY,
                page::DETAILS_ERROR,
            ),
            "reviews" => (
                self.reviews(id, &headers).await,
                StatusCode::INTERNAL_SERVER_ERROR,
                page::REVIEWS_ERROR,
            ),
            "ratings" => (
                self.ratings(id, &headers).await,
                StatusCode::INTERNAL_SERVER_ERROR,
                page::RATINGS_ERROR,
            ),
            _ => return not_found(req.path()),
        };
        match result {
            Ok(v) => server::json(StatusCode::OK, &v),
            Err(status) => {
                server::json(status.unwrap_or(default_status), &json!({"error": message}))
            }
        }
    }

    async fn route(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        let path = req.path();
        let get = req.method == Method::GET || req.method == Method::HEAD;
        let user = cookie(req, SESSION_COOKIE).and_then(session_user);
        let user = user.as_deref();
        match path {
            "/login" if req.method == Method::POST => Self::login(req),
            "/login" => method_not_allowed("POST"),
            "/logout" => Self::logout(req),
            _ if !get => method_not_allowed("GET, HEAD"),
            "/" | "/index.html" => server::html(StatusCode::OK, page::index_page()),
            "/health" => server::text(
                StatusCode::OK,
                "text/html; charset=utf-8",
                "Product page is healthy".into(),
            ),
            "/productpage" => self.product_page(req, user).await,
            "/static/bookinfo.css" => server::text(
                StatusCode::OK,
                "text/css; charset=utf-8",
                page::STYLESHEET.into(),
            ),
            "/api/v1/products" => {
                let products: Vec<Value> = PRODUCTS
                    .iter()
                    .map(|p| json!({"id": p.id, "title": p.title, "descriptionHtml": p.description_html}))
                    .collect();
                server::json(StatusCode::OK, &Value::Array(products))
            }
            _ => match path.strip_prefix("/api/v1/products/") {
                Some(rest) if !rest.is_empty() => self.api(rest, req, user).await,
                _ => not_found(path),
            },
        }
    }
}

impl Site for Productpage {
    async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        self.route(req).await
    }

    fn log_line(&self, req: &HttpRequest, resp: &Response<Full<Bytes>>) -> Option<String> {
        Some(super::access_line(req, resp))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::net::{Network, Origin};
    use crate::store::Store;
    use crate::workloads::LogBuffer;
    use crate::workloads::bookinfo::{self as bookinfo, App, Stars};

    fn ctx(name: &str, env: Vec<(String, String)>) -> PodContext {
        PodContext {
            namespace: "default".into(),
            pod: name.into(),
            container: name.into(),
            ip: "127.0.0.1".parse().unwrap(),
            service_account: "default".into(),
            env,
            command: Vec::new(),
            network: Network::new(Store::in_memory()),
            log: LogBuffer::default(),
        }
    }

    /// Starts `app` on a free port of 127.0.0.1 with `env`; returns its address and log.
    async fn start(app: App, env: Vec<(String, String)>) -> (SocketAddr, LogBuffer) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ctx = ctx(app.service(), env);
        let log = ctx.log.clone();
        tokio::spawn(bookinfo::serve(app, vec![listener], ctx));
        (addr, log)
    }

    /// Environment pointing a service's calls for `service` at `addr`.
    fn point(service: &str, addr: SocketAddr) -> Vec<(String, String)> {
        let upper = service.to_ascii_uppercase();
        vec![
            (format!("{upper}_HOSTNAME"), addr.ip().to_string()),
            (format!("{upper}_SERVICE_PORT"), addr.port().to_string()),
        ]
    }

    /// A port nothing listens on.
    async fn closed_port() -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    }

    async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> client::ClientResponse {
        let mut req = ClientRequest::get(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let network = Network::new(Store::in_memory());
        client::send(&network, &Origin::Host, req, Duration::from_secs(20))
            .await
            .unwrap()
    }

    fn text(resp: &client::ClientResponse) -> String {
        String::from_utf8_lossy(&resp.body).into_owned()
    }

    /// A stand-in service that answers with a fixed status and records the headers it got.
    struct Recorder {
        status: StatusCode,
        seen: std::sync::Mutex<Vec<http::HeaderMap>>,
    }

    impl Site for Recorder {
        async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
            self.seen.lock().unwrap().push(req.headers.clone());
            server::json(
                self.status,
                &json!({"id": 0, "ratings": {"Reviewer1": 1, "Reviewer2": 2}}),
            )
        }

        fn log_line(&self, _: &HttpRequest, _: &Response<Full<Bytes>>) -> Option<String> {
            None
        }
    }

    async fn recorder(status: StatusCode) -> (SocketAddr, std::sync::Arc<Recorder>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rec = std::sync::Arc::new(Recorder {
            status,
            seen: std::sync::Mutex::default(),
        });
        tokio::spawn(server::serve(
            "recorder",
            vec![listener],
            std::sync::Arc::clone(&rec),
            LogBuffer::default(),
        ));
        (addr, rec)
    }

    #[tokio::test]
    async fn tracing_headers_and_the_user_travel_through_productpage_and_reviews() {
        let (ratings, seen) = recorder(StatusCode::OK).await;
        let (reviews, _) = start(App::ReviewsV3, point("ratings", ratings)).await;
        let (details, _) = start(App::Details, Vec::new()).await;
        let mut env = point("reviews", reviews);
        env.extend(point("details", details));
        let (productpage, _) = start(App::Productpage, env).await;
        let cookie = format!("theme=dark; session={}", session_value("jason"));
        let html = text(
            &get(
                productpage,
                "/productpage",
                &[
                    ("x-request-id", "4f1c"),
                    ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
                    (
                        "traceparent",
                        "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
                    ),
                    ("user-agent", "Mozilla/5.0"),
                    ("x-internal-secret", "do-not-forward"),
                    ("cookie", &cookie),
                ],
            )
            .await,
        );
        assert_eq!(bookinfo::stars(&html), Stars::Red, "{html}");
        assert_eq!(html.matches("id=\"glyphicon glyphicon-star\"").count(), 3);
        let seen = seen.seen.lock().unwrap();
        let [headers] = seen.as_slice() else {
            panic!("ratings was called once: {seen:?}")
        };
        assert_eq!(headers["x-request-id"], "4f1c");
        assert_eq!(headers["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(
            headers["traceparent"],
            "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01"
        );
        assert_eq!(headers["user-agent"], "Mozilla/5.0");
        assert_eq!(headers["end-user"], "jason");
        assert!(headers.get("x-internal-secret").is_none());
        assert!(headers.get("cookie").is_none());
    }

    #[tokio::test]
    async fn reviews_gets_two_attempts_and_details_one() {
        let (reviews, reviews_seen) = recorder(StatusCode::SERVICE_UNAVAILABLE).await;
        let (details, details_seen) = recorder(StatusCode::SERVICE_UNAVAILABLE).await;
        let mut env = point("reviews", reviews);
        env.extend(point("details", details));
        let (productpage, _) = start(App::Productpage, env).await;
        let html = text(&get(productpage, "/productpage", &[]).await);
        assert!(html.contains("Error fetching product reviews"));
        assert!(html.contains("Error fetching product details"));
        assert_eq!(reviews_seen.seen.lock().unwrap().len(), 2);
        assert_eq!(details_seen.seen.lock().unwrap().len(), 1);
        let api = get(productpage, "/api/v1/products/0/reviews", &[]).await;
        assert_eq!(
            api.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "the last status passes through"
        );
    }

    #[test]
    fn sessions_sign_the_user_and_reject_tampering() {
        let value = session_value("jason");
        assert_eq!(session_user(&value).as_deref(), Some("jason"));
        let (_, tag) = value.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("admin"));
        assert_eq!(session_user(&forged), None);
        assert_eq!(session_user("not a cookie"), None);
        assert_eq!(session_user(""), None);
    }

    #[tokio::test]
    async fn a_full_page_with_v2_reviews_and_a_signed_in_user() {
        let (ratings, ratings_log) = start(App::Ratings, Vec::new()).await;
        let (reviews, reviews_log) = start(App::ReviewsV2, point("ratings", ratings)).await;
        let (details, _) = start(App::Details, Vec::new()).await;
        let mut env = point("reviews", reviews);
        env.extend(point("details", details));
        let (productpage, _) = start(App::Productpage, env).await;

        let anonymous = get(productpage, "/productpage", &[("x-request-id", "req-1")]).await;
        let html = text(&anonymous);
        assert_eq!(anonymous.status, StatusCode::OK);
        assert!(html.contains("<title>Simple Bookstore App</title>"));
        assert_eq!(bookinfo::stars(&html), Stars::Black);
        assert_eq!(html.matches("id=\"glyphicon glyphicon-star\"").count(), 9);
        assert!(html.contains("<dd>PublisherA</dd>"), "{html}");
        assert!(!reviews_log.lines().iter().any(|l| l.contains("end-user")));
        assert!(
            ratings_log
                .lines()
                .iter()
                .any(|l| l.contains("GET /ratings/0"))
        );

        let login = {
            let mut req = ClientRequest::get(format!("http://{productpage}/login"));
            req.method = Method::POST;
            req = req.header("content-type", "application/x-www-form-urlencoded");
            req.body = Bytes::from_static(b"username=jason&passwd=secret");
            let network = Network::new(Store::in_memory());
            client::send(&network, &Origin::Host, req, Duration::from_secs(20))
                .await
                .unwrap()
        };
        assert_eq!(login.status, StatusCode::FOUND);
        assert_eq!(login.headers[header::LOCATION], "/productpage");
        let set_cookie = login.headers[header::SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap();
        assert!(cookie.starts_with("session="), "{set_cookie}");

        let signed_in = get(productpage, "/productpage", &[("cookie", cookie)]).await;
        assert!(text(&signed_in).contains("Signed in as <strong>jason</strong>"));
        assert!(
            reviews_log
                .lines()
                .iter()
                .any(|l| l.contains("GET /reviews/0") && l.ends_with("end-user: jason")),
            "{:?}",
            reviews_log.lines()
        );
        assert!(
            ratings_log
                .lines()
                .iter()
                .any(|l| l.ends_with("end-user: jason"))
        );

        let logout = get(productpage, "/logout", &[("cookie", cookie)]).await;
        assert_eq!(logout.status, StatusCode::FOUND);
        assert!(
            logout.headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }

    #[tokio::test]
    async fn failures_of_ratings_details_and_reviews_show_their_messages() {
        let nothing = closed_port().await;
        let (reviews, _) = start(App::ReviewsV3, point("ratings", nothing)).await;
        let mut env = point("reviews", reviews);
        env.extend(point("details", nothing));
        let (productpage, _) = start(App::Productpage, env).await;
        let html = text(&get(productpage, "/productpage", &[]).await);
        assert_eq!(
            html.matches("Ratings service is currently unavailable")
                .count(),
            2
        );
        assert_eq!(bookinfo::stars(&html), Stars::Absent);
        assert!(html.contains("Error fetching product details"));

        let mut env = point("reviews", nothing);
        env.extend(point("details", nothing));
        env.extend(point("ratings", nothing));
        let (broken, _) = start(App::Productpage, env).await;
        let html = text(&get(broken, "/productpage", &[]).await);
        assert!(html.contains("Error fetching product reviews"));
        assert!(html.contains("Sorry, product reviews are currently unavailable for this book."));
        let api = get(broken, "/api/v1/products/0/ratings", &[]).await;
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(text(&api).contains("Sorry, product ratings are currently unavailable"));
        let api = get(broken, "/api/v1/products/0", &[]).await;
        assert_eq!(api.status, StatusCode::BAD_GATEWAY);
    }

    #[tokio::test]
    async fn the_api_passes_the_services_answers_through() {
        let (ratings, _) = start(App::Ratings, Vec::new()).await;
        let (reviews, _) = start(App::ReviewsV1, point("ratings", ratings)).await;
        let (details, _) = start(App::Details, Vec::new()).await;
        let mut env = point("reviews", reviews);
        env.extend(point("details", details));
        env.extend(point("ratings", ratings));
        let (productpage, _) = start(App::Productpage, env).await;

        let products: Value =
            serde_json::from_slice(&get(productpage, "/api/v1/products", &[]).await.body).unwrap();
        assert_eq!(products[0]["title"], "The Comedy of Errors");
        let details: Value =
            serde_json::from_slice(&get(productpage, "/api/v1/products/0", &[]).await.body)
                .unwrap();
        assert_eq!(details["ISBN-10"], "1234567890");
        assert_eq!(details["year"], 1595);
        let reviews: Value = serde_json::from_slice(
            &get(productpage, "/api/v1/products/0/reviews", &[])
                .await
                .body,
        )
        .unwrap();
        assert_eq!(reviews["reviews"][0]["reviewer"], "Reviewer1");
        assert!(
            reviews["reviews"][0].get("rating").is_none(),
            "v1 has no ratings: {reviews}"
        );
        let ratings: Value = serde_json::from_slice(
            &get(productpage, "/api/v1/products/0/ratings", &[])
                .await
                .body,
        )
        .unwrap();
        assert_eq!(
            ratings,
            json!({"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}})
        );
        let bad = get(productpage, "/api/v1/products/x", &[]).await;
        assert_eq!(
            bad.status,
            StatusCode::BAD_REQUEST,
            "details' 400 passes through"
        );

        let health = get(productpage, "/health", &[]).await;
        assert_eq!(text(&health), "Product page is healthy");
        let css = get(productpage, "/static/bookinfo.css", &[]).await;
        assert_eq!(css.status, StatusCode::OK);
        assert_eq!(
            get(productpage, "/static/nope.js", &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(text(&get(productpage, "/", &[]).await).contains("href=\"productpage?u=normal\""));
    }
}
