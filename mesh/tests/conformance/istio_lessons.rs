//! Istio's traffic-management lessons on the reference mesh, as a learner does them: request
//! routing by user identity, weighted shifting, fault injection (delay and abort), request
//! timeouts and circuit breaking. Real kubectl, real Envoy configured by istiod's pilot-lite,
//! Istio's own samples unchanged (the VirtualServices the tasks write inline are written inline
//! here too).
//!
//! The durations checked below are the lessons' behaviour (productpage's 3 s × 2 attempts to
//! reviews, a 0.5 s route timeout), with wide bands; they are not performance targets.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::net::SocketAddr;
use std::time::Duration;

use meshwork_mesh::envoy;

use super::harness::{Env, kubectl_path};
use super::istio_env::{
    self, Response, apply_inline, envoy_admin, envoy_present, eventually, gateway_port, istio,
    ready, sample,
};

/// What productpage shows when reviews did not answer in time.
const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
/// What reviews shows when ratings answered with an error.
const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

fn bookinfo(path: &str) -> String {
    sample(&format!("bookinfo/{path}"))
}

/// A request to 127.0.0.1:port (the ingress gateway's NodePort), `Connection: close`, with
/// an optional session cookie and form body.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Option<Response> {
    let cookie = cookie.map(|c| format!("Cookie: {c}"));
    let mut headers = vec!["Host: bookinfo.example", "User-Agent: meshwork-test"];
    headers.extend(cookie.as_deref());
    if form.is_some() {
        headers.push("Content-Type: application/x-www-form-urlencoded");
    }
    istio_env::request(port, method, path, &headers, form).await
}

/// `/productpage` through the gateway, as `user` (a session cookie) or anonymously; 200 required.
async fn page(port: u16, cookie: Option<&str>) -> Response {
    let response = request(port, "GET", "/productpage", cookie, None)
        .await
        .expect("a response from the ingress gateway");
    assert_eq!(response.status, 200, "{response:?}");
    response
}

fn full_stars(page: &str) -> usize {
    page.matches("glyphicon glyphicon-star\"").count()
}

fn black(page: &str) -> bool {
    full_stars(page) > 0 && page.contains("text-black-500") && !page.contains("text-red-500")
}

fn red(page: &str) -> bool {
    full_stars(page) > 0 && page.contains("text-red-500") && !page.contains("text-black-500")
}

fn no_stars(page: &str) -> bool {
    full_stars(page) == 0 && page.contains("Book Reviews") && !page.contains(REVIEWS_ERROR)
}

/// Signs `user` in through the gateway (`POST /login`, as the page's form does) and returns
/// the session cookie (`name=value`) a browser would keep.
async fn login(port: u16, user: &str) -> String {
    let response = request(
        port,
        "POST",
        "/login",
        None,
        Some(&format!("username={user}&passwd=password")),
    )
    .await
    .expect("a response to POST /login");
    assert!(
        (300..400).contains(&response.status),
        "login redirects back to the page: {response:?}"
    );
    let set_cookie = response
        .header("set-cookie")
        .unwrap_or_else(|| panic!("login sets a session cookie: {response:?}"));
    let cookie = set_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        cookie.contains('=') && !cookie.ends_with('='),
        "{set_cookie}"
    );
    cookie
}

/// Waits until the Envoy at `admin` has a route configuration containing every one of `texts`.
async fn routes_with(admin: SocketAddr, texts: &[&str]) {
    eventually(
        &format!("routes with {texts:?} at the Envoy on {admin}"),
        Duration::from_secs(30),
        || async {
            let dump = envoy::admin_get(admin, "/config_dump?resource=dynamic_route_configs")
                .await
                .ok()?
                .text();
            texts.iter().all(|t| dump.contains(t)).then_some(())
        },
    )
    .await;
}

async fn apply(env: &Env, file: &str) {
    env.ok(&["apply", "-f", file]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_lessons_routing_fault_injection_and_timeouts() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = istio().await;
    apply(&env, &bookinfo("platform/kube/bookinfo.yaml")).await;
    eventually("the six Bookinfo pods", Duration::from_secs(60), || async {
        let pods = env.ok(&["get", "pods", "-o", "name"]).await;
        (pods.lines().count() == 6).then_some(())
    })
    .await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=180s",
    ])
    .await;
    apply(&env, &bookinfo("networking/bookinfo-gateway.yaml")).await;
    let port = gateway_port(&env).await;
    eventually(
        "/productpage through the ingress gateway",
        Duration::from_secs(60),
        || async {
            request(port, "GET", "/productpage", None, None)
                .await
                .filter(|r| r.status == 200)
        },
    )
    .await;
    apply(&env, &bookinfo("networking/destination-rule-all.yaml")).await;
    apply(&env, &bookinfo("networking/virtual-service-all-v1.yaml")).await;
    let productpage = envoy_admin(&env, "default", "productpage-v1-").await;
    let reviews_v2 = envoy_admin(&env, "default", "reviews-v2-").await;
    routes_with(
        productpage,
        &["outbound|9080|v1|reviews.default.svc.cluster.local"],
    )
    .await;

    // Request routing: jason, signed in through the gateway, is sent to reviews v2.
    apply(
        &env,
        &bookinfo("networking/virtual-service-reviews-test-v2.yaml"),
    )
    .await;
    routes_with(
        productpage,
        &[
            "outbound|9080|v2|reviews.default.svc.cluster.local",
            "jason",
        ],
    )
    .await;
    let jason = login(port, "jason").await;
    let signed_in = page(port, Some(&jason)).await;
    assert!(
        signed_in.body.contains("jason"),
        "the page greets the signed-in user: {}",
        signed_in.body
    );
    for _ in 0..10 {
        let p = page(port, Some(&jason)).await;
        assert!(black(&p.body), "jason sees black stars (v2): {}", p.body);
        let anonymous = page(port, None).await;
        assert!(
            no_stars(&anonymous.body),
            "anonymous users stay on v1: {}",
            anonymous.body
        );
    }

    // Traffic shifting: half of the requests to v3.
    apply(
        &env,
        &bookinfo("networking/virtual-service-reviews-50-v3.yaml"),
    )
    .await;
    routes_with(
        productpage,
        &["outbound|9080|v3|reviews.default.svc.cluster.local"],
    )
    .await;
    let mut reds = 0;
    for _ in 0..100 {
        let p = page(port, None).await;
        if red(&p.body) {
            reds += 1;
        } else {
            assert!(no_stars(&p.body), "v1 or v3, nothing else: {}", p.body);
        }
    }
    println!("reviews-50-v3: {reds} of 100 pages with red stars");
    assert!(
        (35..=65).contains(&reds),
        "about half of 100 pages red with reviews-50-v3, got {reds}"
    );

    // Fault injection, delay: ratings holds jason's requests 7 s; productpage gives reviews
    // 3 s twice, so the page shows the reviews error after about 6 s.
    apply(
        &env,
        &bookinfo("networking/virtual-service-reviews-test-v2.yaml"),
    )
    .await;
    apply(
        &env,
        &bookinfo("networking/virtual-service-ratings-test-delay.yaml"),
    )
    .await;
    routes_with(productpage, &["jason"]).await;
    routes_with(reviews_v2, &["jason", "\"fixed_delay\": \"7s\""]).await;
    let delayed = page(port, Some(&jason)).await;
    println!("ratings-test-delay: jason's page took {:?}", delayed.took);
    assert!(
        delayed.body.contains(REVIEWS_ERROR),
        "jason's page shows the reviews error: {}",
        delayed.body
    );
    assert!(
        delayed.took >= Duration::from_millis(5500) && delayed.took < Duration::from_millis(6900),
        "the error appears after productpage's two 3 s attempts (about 6 s), not after ratings' 7 s: {:?}",
        delayed.took
    );
    let anonymous = page(port, None).await;
    assert!(no_stars(&anonymous.body), "{}", anonymous.body);

    // Fault injection, abort: ratings answers jason with 500 at once.
    apply(
        &env,
        &bookinfo("networking/virtual-service-ratings-test-abort.yaml"),
    )
    .await;
    routes_with(reviews_v2, &["jason", "http_status"]).await;
    let aborted = page(port, Some(&jason)).await;
    println!("ratings-test-abort: jason's page took {:?}", aborted.took);
    assert!(
        aborted.body.contains(RATINGS_UNAVAILABLE) && !aborted.body.contains(REVIEWS_ERROR),
        "jason's page shows the ratings error: {}",
        aborted.body
    );
    assert!(
        aborted.took < Duration::from_secs(2),
        "an abort answers at once: {:?}",
        aborted.took
    );
    for _ in 0..5 {
        let anonymous = page(port, None).await;
        assert!(
            no_stars(&anonymous.body) && !anonymous.body.contains(RATINGS_UNAVAILABLE),
            "anonymous users are unaffected: {}",
            anonymous.body
        );
    }

    // Request timeouts: reviews v2 for everyone, ratings delayed 2 s → stars after about 2 s.
    apply(&env, &bookinfo("networking/virtual-service-all-v1.yaml")).await;
    apply_inline(
        &env,
        "reviews-v2.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
    - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v2
",
    )
    .await;
    apply_inline(
        &env,
        "ratings-delay.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - fault:
      delay:
        percentage:
          value: 100
        fixedDelay: 2s
    route:
    - destination:
        host: ratings
        subset: v1
",
    )
    .await;
    routes_with(reviews_v2, &["\"fixed_delay\": \"2s\""]).await;
    routes_with(
        productpage,
        &["outbound|9080|v2|reviews.default.svc.cluster.local"],
    )
    .await;
    let slow = eventually(
        "anonymous stars from reviews v2",
        Duration::from_secs(30),
        || async {
            let p = page(port, None).await;
            black(&p.body).then_some(p)
        },
    )
    .await;
    let slow = if slow.took >= Duration::from_millis(1800) {
        slow
    } else {
        page(port, None).await
    };
    println!("2 s ratings delay: the page took {:?}", slow.took);
    assert!(black(&slow.body), "stars despite the delay: {}", slow.body);
    assert!(
        slow.took >= Duration::from_millis(1800) && slow.took < Duration::from_secs(4),
        "the page waits for ratings' 2 s delay: {:?}",
        slow.took
    );

    // A 0.5 s timeout on the reviews route: productpage's two attempts fail after about 1 s.
    apply_inline(
        &env,
        "reviews-timeout.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v2
    timeout: 0.5s
",
    )
    .await;
    routes_with(productpage, &["\"timeout\": \"0.500s\""]).await;
    let timed_out = page(port, None).await;
    println!("reviews timeout 0.5s: the page took {:?}", timed_out.took);
    assert!(
        timed_out.body.contains(REVIEWS_ERROR),
        "the reviews error once reviews times out: {}",
        timed_out.body
    );
    assert!(
        timed_out.took >= Duration::from_millis(800)
            && timed_out.took < Duration::from_millis(2500),
        "two 0.5 s attempts, about 1 s: {:?}",
        timed_out.took
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaking_trips_under_concurrent_load() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = istio().await;
    apply(&env, &sample("httpbin/httpbin.yaml")).await;
    apply(&env, &sample("httpbin/sample-client/fortio-deploy.yaml")).await;
    ready(&env, "default", "app=httpbin").await;
    ready(&env, "default", "app=fortio").await;
    apply_inline(
        &env,
        "httpbin-circuit-breaker.yaml",
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
",
    )
    .await;
    let fortio = envoy_admin(&env, "default", "fortio-deploy-").await;
    eventually(
        "the circuit breaker in fortio's sidecar",
        Duration::from_secs(30),
        || async {
            let dump = envoy::admin_get(fortio, "/config_dump?resource=dynamic_active_clusters")
                .await
                .ok()?
                .text();
            (dump.contains("outbound|8000||httpbin.default.svc.cluster.local")
                && dump.contains("max_pending_requests"))
            .then_some(())
        },
    )
    .await;

    // One request goes through.
    let one = env
        .ok(&[
            "exec",
            "deploy/fortio-deploy",
            "-c",
            "fortio",
            "--",
            "/usr/bin/fortio",
            "curl",
            "-quiet",
            "http://httpbin:8000/get",
        ])
        .await;
    assert!(one.contains("\"url\""), "{one}");

    let load = env
        .kubectl(&[
            "exec",
            "deploy/fortio-deploy",
            "-c",
            "fortio",
            "--",
            "fortio",
            "load",
            "-c",
            "3",
            "-qps",
            "0",
            "-n",
            "30",
            "-loglevel",
            "Warning",
            "http://httpbin:8000/get",
        ])
        .await;
    assert_eq!(load.code, 0, "{load:?}");
    let report = format!("{}{}", load.stdout, load.stderr);
    let codes: Vec<&str> = report.lines().filter(|l| l.contains("Code ")).collect();
    println!("fortio: {codes:?}");
    assert!(
        report.lines().any(|l| l.starts_with("Code 200")),
        "some requests pass the breaker:\n{report}"
    );
    assert!(
        report.lines().any(|l| l.starts_with("Code 503")),
        "some requests are refused by the breaker:\n{report}"
    );

    let stats = env
        .ok(&[
            "exec",
            "deploy/fortio-deploy",
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "stats",
        ])
        .await;
    let overflow: Vec<&str> = stats
        .lines()
        .filter(|l| l.contains("httpbin") && l.contains("pending"))
        .collect();
    println!("fortio's sidecar: {overflow:#?}");
    let count = overflow
        .iter()
        .find(|l| l.contains("upstream_rq_pending_overflow"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no upstream_rq_pending_overflow for httpbin:\n{stats}"));
    assert!(count > 0, "the breaker overflowed: {overflow:#?}");
    env.stop().await;
}
