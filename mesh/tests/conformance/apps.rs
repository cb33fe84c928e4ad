//! Bookinfo, nginx and the client workloads, driven through the real kubectl: Istio's Bookinfo
//! manifest applied unchanged serves its product page with all three reviews versions, carries
//! a signed-in user to reviews as `end-user`, and shows Bookinfo's own messages when ratings,
//! details or reviews are gone; nginx serves its default site.

use std::future::Future;
use std::time::Duration;

use http::{Method, StatusCode, header};
use meshwork_mesh::net::Origin;
use meshwork_mesh::workloads::bookinfo::{self, Stars};
use meshwork_mesh::workloads::client::{self, ClientRequest, ClientResponse};

use super::harness::{Env, kubectl_path};

const BOOKINFO: &str = "/work/shared/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml";

/// Bookinfo applied and every pod ready, or `None` (with a note) where kubectl or the samples
/// are missing.
async fn bookinfo_env() -> Option<Env> {
    kubectl_path()?;
    let manifest = std::env::var("MESHWORK_ISTIO_SAMPLES").map_or_else(
        |_| BOOKINFO.to_owned(),
        |root| format!("{root}/bookinfo/platform/kube/bookinfo.yaml"),
    );
    if !std::path::Path::new(&manifest).exists() {
        eprintln!("skipping: the Istio samples are not at {manifest}");
        return None;
    }
    let env = Env::start().await;
    env.ok(&["apply", "-f", &manifest]).await;
    // Pods exist once the controllers have acted on the deployments.
    for d in env.ok(&["get", "deploy", "-o", "name"]).await.lines() {
        env.ok(&["rollout", "status", d, "--timeout=60s"]).await;
    }
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=60s",
    ])
    .await;
    Some(env)
}

/// `jsonpath` of the pods labelled `app=<app>`, split on whitespace.
async fn pods(env: &Env, app: &str, path: &str) -> Vec<String> {
    env.ok(&[
        "get",
        "pods",
        "-l",
        &format!("app={app}"),
        "-o",
        &format!("jsonpath={{.items[*].{path}}}"),
    ])
    .await
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

/// Sends a request from the host to the productpage pod.
async fn send(env: &Env, productpage: &str, request: ClientRequest) -> ClientResponse {
    let request = ClientRequest {
        url: format!("http://{productpage}:9080{}", request.url),
        ..request
    };
    client::send(
        env.mesh().network(),
        &Origin::Host,
        request,
        Duration::from_secs(30),
    )
    .await
    .expect("productpage answers")
}

/// GETs a productpage path, with a cookie when given; returns the body.
async fn page(env: &Env, productpage: &str, cookie: Option<&str>) -> String {
    let mut request = ClientRequest::get("/productpage");
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    let resp = send(env, productpage, request).await;
    assert_eq!(resp.status, StatusCode::OK);
    String::from_utf8_lossy(&resp.body).into_owned()
}

/// Polls `check` until it returns `Some`, for up to a minute; the mesh's controllers act
/// asynchronously, as a cluster's do.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..120 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what} did not happen within a minute");
}

/// All lines of the containers of the pods labelled `app=<app>`.
async fn app_logs(env: &Env, app: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for pod in pods(env, app, "metadata.name").await {
        lines.extend(
            env.mesh()
                .kubelet()
                .logs("default", &pod, None, false)
                .unwrap_or_default(),
        );
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_shows_every_reviews_version_and_carries_the_signed_in_user() {
    let Some(env) = bookinfo_env().await else {
        return;
    };
    let productpage = pods(&env, "productpage", "status.podIP").await;
    let productpage = productpage.first().expect("a productpage pod");

    let mut seen = Vec::new();
    for _ in 0..30 {
        let html = page(&env, productpage, None).await;
        assert!(
            html.contains("<title>Simple Bookstore App</title>"),
            "{html}"
        );
        assert!(html.contains("Book Details"), "{html}");
        let version = bookinfo::stars(&html);
        if version != Stars::Absent {
            assert_eq!(
                html.matches("id=\"glyphicon glyphicon-star\"").count(),
                9,
                "ratings 5 and 4 make nine full stars: {html}"
            );
        }
        if !seen.contains(&version) {
            seen.push(version);
        }
    }
    seen.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(seen, [Stars::Absent, Stars::Black, Stars::Red]);
    assert!(
        !app_logs(&env, "reviews")
            .await
            .iter()
            .any(|l| l.contains("end-user")),
        "anonymous requests carry no end-user"
    );

    let mut login = ClientRequest::get("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("referer", "/productpage");
    login.method = Method::POST;
    login.body = bytes::Bytes::from_static(b"username=jason&passwd=jason");
    let resp = send(&env, productpage, login).await;
    assert_eq!(resp.status, StatusCode::FOUND);
    assert_eq!(resp.headers[header::LOCATION], "/productpage");
    let set_cookie = resp.headers[header::SET_COOKIE].to_str().expect("text");
    let cookie = set_cookie.split(';').next().expect("a cookie").to_owned();

    let html = page(&env, productpage, Some(&cookie)).await;
    assert!(html.contains("<strong>jason</strong>"), "{html}");
    let reviews = app_logs(&env, "reviews").await;
    assert!(
        reviews
            .iter()
            .any(|l| l.contains("\"GET /reviews/0 HTTP/1.1\" 200") && l.contains("end-user: jason")),
        "{reviews:#?}"
    );
    // The details service saw the same header on the same page view.
    assert!(
        app_logs(&env, "details")
            .await
            .iter()
            .any(|l| l.contains("end-user: jason"))
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_shows_its_messages_when_ratings_details_or_reviews_are_gone() {
    let Some(env) = bookinfo_env().await else {
        return;
    };
    let productpage = pods(&env, "productpage", "status.podIP").await;
    let productpage = productpage.first().expect("a productpage pod").clone();

    env.ok(&["scale", "deploy/ratings-v1", "--replicas=0"])
        .await;
    eventually("the ratings pod leaving", || async {
        pods(&env, "ratings", "metadata.name")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    // Over three page views every reviews version answers once; v2 and v3 report ratings
    // as unavailable (once per review), v1 never asked.
    let unavailable = eventually("pages without ratings", || async {
        let mut unavailable = 0;
        for _ in 0..3 {
            let html = page(&env, &productpage, None).await;
            assert_eq!(bookinfo::stars(&html), Stars::Absent, "{html}");
            match html
                .matches("Ratings service is currently unavailable")
                .count()
            {
                0 => {}
                2 => unavailable += 1,
                n => panic!("{n} ratings errors on one page: {html}"),
            }
        }
        (unavailable == 2).then_some(unavailable)
    })
    .await;
    assert_eq!(unavailable, 2);

    env.ok(&["scale", "deploy/details-v1", "--replicas=0"])
        .await;
    let html = eventually("a page without details", || async {
        let html = page(&env, &productpage, None).await;
        html.contains("Error fetching product details")
            .then_some(html)
    })
    .await;
    assert!(html.contains("Sorry, product details are currently unavailable for this book."));
    assert!(
        html.contains("Book Reviews"),
        "reviews still answer: {html}"
    );

    for version in ["v1", "v2", "v3"] {
        env.ok(&[
            "scale",
            &format!("deploy/reviews-{version}"),
            "--replicas=0",
        ])
        .await;
    }
    let html = eventually("a page without reviews", || async {
        let html = page(&env, &productpage, None).await;
        html.contains("Error fetching product reviews")
            .then_some(html)
    })
    .await;
    assert!(html.contains("Sorry, product reviews are currently unavailable for this book."));
    assert!(html.contains("<title>Simple Bookstore App</title>"));
    env.stop().await;
}

const NGINX: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 8080
    targetPort: 80
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_its_default_site_through_its_service() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let manifest = env.write("nginx.yaml", NGINX);
    env.ok(&["apply", "-f", manifest.to_str().expect("utf-8 path")])
        .await;
    env.ok(&["rollout", "status", "deploy/web", "--timeout=60s"])
        .await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "-l",
        "app=web",
        "--timeout=60s",
    ])
    .await;
    let cluster_ip = env
        .ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])
        .await;
    let base = format!("http://{}:8080", cluster_ip.trim());
    let index = eventually("nginx answering through its Service", || {
        nginx_get(&env, format!("{base}/"))
    })
    .await;
    assert_eq!(index.status, StatusCode::OK);
    let server = index.headers[header::SERVER].to_str().expect("text");
    assert!(server.starts_with("nginx/1.27."), "{server}");
    assert!(String::from_utf8_lossy(&index.body).contains("<title>Welcome to nginx!</title>"));
    let missing = nginx_get(&env, format!("{base}/missing.html"))
        .await
        .expect("nginx answers");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&missing.body).contains("404 Not Found"));

    let log = app_logs(&env, "web").await;
    assert!(
        log.iter()
            .any(|l| l.contains("\"GET /missing.html HTTP/1.1\" 404 ")
                && l.ends_with("\"-\" \"curl/8.5.0\"")),
        "{log:#?}"
    );
    env.stop().await;
}

/// GETs `url` from inside the mesh, as the nginx pod itself (a ClusterIP is reachable only
/// there); `None` while nothing answers.
async fn nginx_get(env: &Env, url: String) -> Option<ClientResponse> {
    let name = pods(env, "web", "metadata.name").await;
    let ip = pods(env, "web", "status.podIP").await;
    let origin = Origin::Pod {
        namespace: "default".into(),
        name: name.first()?.clone(),
        ip: ip.first()?.parse().ok()?,
    };
    client::send(
        env.mesh().network(),
        &origin,
        ClientRequest::get(url).header("user-agent", "curl/8.5.0"),
        Duration::from_secs(30),
    )
    .await
    .ok()
}
