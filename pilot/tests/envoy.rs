//! pilot-lite driving the real Envoy 1.40: routing, splits, faults, timeouts, circuit breaking,
//! pushes and NACKs, checked with real traffic through the sidecar's outbound listener.
//!
//! Envoy is found at `$MESHWORK_ENVOY`, on PATH or under /tmp/meshwork-envoy; without it these
//! tests fail with what to do, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

// Test helpers fail loudly: a panic there is a test failure with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "envoy/support.rs"]
mod support;

use std::net::SocketAddr;

use meshwork_pilot::model::Model;
use meshwork_pilot::server::PilotEvent;
use support::{Backend, Envoy, Net, Pilot, endpoint, envoy_binary, get, istio, service, sidecar};

const PORT: u16 = 9080;
const REVIEWS: &str = "reviews.default.svc.cluster.local";

/// reviews (v1 at .10, v2 at .11) and ratings (.12) in `default`, all on 9080.
fn bookinfo_model(net: Net) -> Model {
    let mut model = Model::new();
    model
        .services
        .push(service("reviews", PORT, Some(net.ip(100))));
    model.services.push(service("ratings", PORT, None));
    model.endpoints.push(endpoint(
        "reviews",
        "reviews-v1",
        net.ip(10),
        PORT,
        &[("app", "reviews"), ("version", "v1")],
    ));
    model.endpoints.push(endpoint(
        "reviews",
        "reviews-v2",
        net.ip(11),
        PORT,
        &[("app", "reviews"), ("version", "v2")],
    ));
    model.endpoints.push(endpoint(
        "ratings",
        "ratings-v1",
        net.ip(12),
        PORT,
        &[("app", "ratings"), ("version", "v1")],
    ));
    model
}

const SUBSETS: &str = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
";

struct Rig {
    _backends: Vec<Backend>,
    pilot: Pilot,
    proxy: meshwork_pilot::Proxy,
    envoy: Envoy,
    node: String,
    outbound: SocketAddr,
}

impl Rig {
    /// Backends, pilot with `model`, and a synced sidecar Envoy; `None` when Envoy tests are off.
    async fn start(net: Net, model: Model) -> Option<Rig> {
        let binary = envoy_binary()?;
        let backends = vec![
            Backend::start("reviews-v1", SocketAddr::new(net.ip(10), PORT)).await,
            Backend::start("reviews-v2", SocketAddr::new(net.ip(11), PORT)).await,
            Backend::start("ratings-v1", SocketAddr::new(net.ip(12), PORT)).await,
            Backend::start("productpage-app", SocketAddr::new(net.ip(2), PORT)).await,
        ];
        let pilot = Pilot::start(model).await;
        let proxy = sidecar(net, &[PORT]);
        let node = proxy.node_id();
        let envoy = Envoy::start(&binary, &pilot, &proxy).await;
        pilot.wait_synced(&node).await;
        let proxy = proxy.clone();
        Some(Rig {
            _backends: backends,
            pilot,
            proxy,
            envoy,
            node,
            outbound: SocketAddr::new(net.ip(3), PORT),
        })
    }

    async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> support::Reply {
        get(self.outbound, host, path, headers).await
    }
}

#[tokio::test]
async fn routes_by_host_to_the_right_service_with_istio_names_in_the_access_log() {
    let net = Net(1);
    let Some(rig) = Rig::start(net, bookinfo_model(net)).await else {
        return;
    };
    for host in [
        "ratings",
        "ratings.default",
        "ratings.default.svc.cluster.local:9080",
    ] {
        let reply = rig
            .get(host, "/ratings/0", &[("x-request-id", "rid-ratings")])
            .await;
        assert_eq!(reply.status, 200, "{host}: {reply:?}");
        assert!(
            reply.body.starts_with("ratings-v1"),
            "{host} reached {}",
            reply.body
        );
        assert_eq!(reply.header("server"), Some("istio-envoy"));
    }
    // The cluster IP is a domain of reviews too.
    let reply = rig.get(&format!("{}:9080", net.ip(100)), "/", &[]).await;
    assert!(reply.body.starts_with("reviews-v"), "{reply:?}");
    // An unknown host goes nowhere.
    let reply = rig.get("unknown.example.com", "/", &[]).await;
    assert!(reply.status >= 500, "{reply:?}");
    let line = rig
        .envoy
        .log_line(&[
            "rid-ratings",
            "outbound|9080||ratings.default.svc.cluster.local",
        ])
        .await;
    assert!(line.contains(" default"), "route name in {line}");
    // The inbound listener on the pod IP forwards to the application address.
    let reply = get(SocketAddr::new(net.ip(1), PORT), "productpage", "/", &[]).await;
    assert!(reply.body.starts_with("productpage-app"), "{reply:?}");
    rig.envoy.log_line(&["inbound|9080||"]).await;
}

#[tokio::test]
async fn weighted_split_header_match_and_a_pushed_change() {
    let net = Net(2);
    let mut model = bookinfo_model(net);
    istio(&mut model, SUBSETS);
    let base = model.clone();
    istio(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: 25}
",
    );
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let mut v1 = 0;
    for _ in 0..100 {
        let reply = rig.get("reviews:9080", "/reviews/0", &[]).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        if reply.body.starts_with("reviews-v1") {
            v1 += 1;
        }
    }
    assert!(
        (60..=90).contains(&v1),
        "75/25 split gave {v1} of 100 to v1"
    );
    for _ in 0..10 {
        let reply = rig.get("reviews", "/", &[("end-user", "jason")]).await;
        assert!(
            reply.body.starts_with("reviews-v2"),
            "jason must see v2: {reply:?}"
        );
    }
    let line = rig
        .envoy
        .log_line(&["outbound|9080|v2|reviews.default.svc.cluster.local"])
        .await;
    assert!(line.contains(" 200 "), "{line}");

    // Everything to v1: the very next request obeys.
    let mut all_v1 = base.clone();
    istio(
        &mut all_v1,
        "
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
",
    );
    rig.pilot.update(&rig.node, all_v1).await;
    for _ in 0..10 {
        let reply = rig.get("reviews", "/", &[("end-user", "jason")]).await;
        assert!(
            reply.body.starts_with("reviews-v1"),
            "after the push: {reply:?}"
        );
    }
}

#[tokio::test]
async fn fault_abort_and_delay_and_route_timeout() {
    let net = Net(3);
    let mut model = bookinfo_model(net);
    istio(
        &mut model,
        "
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /delayed}}]
    fault: {delay: {fixedDelay: 0.2s, percentage: {value: 100.0}}}
    route: [{destination: {host: ratings}}]
  - name: ratings-slow
    match: [{uri: {prefix: /slow}}]
    timeout: 0.5s
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /status}}]
    retries: {attempts: 2, retryOn: 5xx}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
",
    );
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let reply = rig
        .get(
            "ratings",
            "/ratings/0",
            &[("end-user", "jason"), ("x-request-id", "rid-abort")],
        )
        .await;
    assert_eq!(reply.status, 500, "{reply:?}");
    let line = rig.envoy.log_line(&["rid-abort"]).await;
    assert!(line.contains(" FI "), "abort flag in {line}");

    let reply = rig.get("ratings", "/ratings/0", &[]).await;
    assert_eq!(reply.status, 200, "anonymous is not aborted: {reply:?}");

    let reply = rig
        .get("ratings", "/delayed", &[("x-request-id", "rid-delay")])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let line = rig.envoy.log_line(&["rid-delay"]).await;
    assert!(line.contains(" DI "), "delay flag in {line}");

    let reply = rig
        .get("ratings", "/slow", &[("x-request-id", "rid-timeout")])
        .await;
    assert_eq!(reply.status, 504, "{reply:?}");
    let line = rig.envoy.log_line(&["rid-timeout"]).await;
    assert!(line.contains(" UT "), "timeout flag in {line}");
    assert!(line.contains("ratings-slow"), "route name in {line}");

    // An upstream that keeps failing: retried, then given up with URX.
    let reply = rig
        .get("ratings", "/status/503", &[("x-request-id", "rid-retry")])
        .await;
    assert_eq!(reply.status, 503, "{reply:?}");
    let line = rig.envoy.log_line(&["rid-retry"]).await;
    assert!(line.contains(" URX "), "retries-exhausted flag in {line}");
}

#[tokio::test]
async fn circuit_breaker_overflows_with_503_and_x_envoy_overloaded() {
    let net = Net(4);
    let mut model = bookinfo_model(net);
    istio(
        &mut model,
        "
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
",
    );
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let outbound = rig.outbound;
    let requests: Vec<_> = (0..8)
        .map(|_| tokio::spawn(async move { get(outbound, "ratings", "/slow", &[]).await }))
        .collect();
    let mut ok = 0;
    let mut overflow = 0;
    for r in requests {
        let reply = r.await.expect("request task");
        match reply.status {
            200 => ok += 1,
            503 => {
                assert_eq!(
                    reply.header("x-envoy-overloaded"),
                    Some("true"),
                    "{reply:?}"
                );
                overflow += 1;
            }
            other => panic!("unexpected {other}: {reply:?}"),
        }
    }
    assert!(
        ok >= 1 && overflow >= 1,
        "{ok} passed, {overflow} overflowed"
    );
    let line = rig.envoy.log_line(&[" UO "]).await;
    assert!(line.contains("outbound|9080||ratings"), "{line}");
}

#[tokio::test]
async fn a_nack_is_reported_and_the_old_config_keeps_serving() {
    let net = Net(5);
    let mut model = bookinfo_model(net);
    istio(&mut model, SUBSETS);
    let good = model.clone();
    let mut events = None;
    istio(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
",
    );
    let Some(rig) = Rig::start(net, model.clone()).await else {
        return;
    };
    events.get_or_insert(rig.pilot.server.subscribe());
    let mut bad = good.clone();
    istio(
        &mut bad,
        "
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {regex: '/reviews/(['}}]
    route: [{destination: {host: reviews, subset: v1}}]
",
    );
    rig.pilot.model.send_replace(std::sync::Arc::new(bad));
    let events = events.as_mut().expect("subscribed");
    let event = support::next_event(events, |e| matches!(e, PilotEvent::Nacked(_))).await;
    let PilotEvent::Nacked(nack) = event else {
        unreachable!()
    };
    assert_eq!(nack.node, rig.node);
    assert!(nack.type_url.ends_with("RouteConfiguration"), "{nack}");
    assert!(!nack.message.is_empty(), "Envoy's reason is kept: {nack}");
    let status = rig.pilot.server.status();
    assert!(
        status.proxies[&rig.node].nacks.contains_key("RDS"),
        "{status:?}"
    );
    // The previous routes still serve: everything to v2.
    for _ in 0..5 {
        let reply = rig.get("reviews", "/reviews/1", &[]).await;
        assert!(
            reply.body.starts_with("reviews-v2"),
            "old config: {reply:?}"
        );
    }
    // A fixed model is accepted and clears the NACK.
    rig.pilot.update(&rig.node, good).await;
    let status = rig.pilot.server.status();
    assert!(status.proxies[&rig.node].nacks.is_empty(), "{status:?}");
    assert!(status.proxies[&rig.node].synced());
    let reply = rig.get(REVIEWS, "/", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn new_subsets_get_their_endpoints_at_once_after_a_cluster_push() {
    let net = Net(6);
    let Some(rig) = Rig::start(net, bookinfo_model(net)).await else {
        return;
    };
    let reply = rig.get("reviews", "/", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // New clusters (subsets) and a route to one: Envoy re-requests endpoints after the cluster
    // update; unanswered, the new cluster would warm for 15 s and requests would fail meanwhile.
    let mut model = bookinfo_model(net);
    istio(&mut model, SUBSETS);
    istio(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
",
    );
    rig.pilot.update(&rig.node, model).await;
    let reply = rig.get("reviews", "/", &[]).await;
    assert!(reply.body.starts_with("reviews-v2"), "{reply:?}");
    let status = rig.pilot.server.status();
    assert!(status.proxies[&rig.node].synced(), "{status:?}");
}

#[tokio::test]
async fn a_restarted_pilot_resyncs_the_running_envoy() {
    let net = Net(7);
    let Some(mut rig) = Rig::start(net, bookinfo_model(net)).await else {
        return;
    };
    let reply = rig.get("reviews", "/", &[("end-user", "jason")]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let addr = rig.pilot.addr;
    let node = rig.node.clone();
    // Stop the control plane: Envoy keeps serving its last configuration.
    rig.pilot.stop();
    let reply = rig.get("ratings", "/", &[]).await;
    assert!(
        reply.body.starts_with("ratings-v1"),
        "served while pilot is down: {reply:?}"
    );
    // A new pilot on the same address, with a route the old one never had.
    let mut model = bookinfo_model(net);
    istio(&mut model, SUBSETS);
    istio(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
",
    );
    rig.pilot = Pilot::start_at(addr, model).await;
    rig.pilot.wait_synced(&node).await;
    for _ in 0..5 {
        let reply = rig.get("reviews", "/", &[]).await;
        assert!(
            reply.body.starts_with("reviews-v1"),
            "after the resync: {reply:?}"
        );
    }
    assert_eq!(rig.proxy.node_id(), node);
}

#[tokio::test]
async fn gateway_routes_bound_virtual_services_and_404s_the_rest() {
    let net = Net(8);
    let Some(binary) = envoy_binary() else {
        return;
    };
    let _backend = Backend::start("productpage-v1", SocketAddr::new(net.ip(20), PORT)).await;
    let mut model = Model::new();
    model.services.push(service("productpage", PORT, None));
    model.endpoints.push(endpoint(
        "productpage",
        "productpage-v1",
        net.ip(20),
        PORT,
        &[("app", "productpage"), ("version", "v1")],
    ));
    let mut gw_service = service("istio-ingressgateway", 80, None);
    gw_service.namespace = "istio-system".into();
    gw_service.ports[0].target_port = 8080;
    gw_service.selector = support::labels(&[("istio", "ingressgateway")]);
    model.services.push(gw_service);
    istio(
        &mut model,
        "
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
---
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ['*']
  gateways: [bookinfo-gateway]
  http:
  - match: [{uri: {exact: /productpage}}, {uri: {prefix: /static}}]
    route: [{destination: {host: productpage, port: {number: 9080}}}]
---
kind: VirtualService
metadata: {name: named, namespace: default}
spec:
  hosts: [named.example.com]
  gateways: [default/bookinfo-gateway]
  http:
  - route: [{destination: {host: productpage}}]
",
    );
    let pilot = Pilot::start(model).await;
    let mut proxy = sidecar(net, &[8080]);
    proxy.kind = meshwork_pilot::ProxyKind::Gateway;
    proxy.namespace = "istio-system".into();
    proxy.pod = format!("istio-ingressgateway-{}", net.0);
    proxy.labels = support::labels(&[("istio", "ingressgateway"), ("app", "istio-ingressgateway")]);
    proxy.app_ip = proxy.ip;
    proxy.outbound_ip = proxy.ip;
    let node = proxy.node_id();
    assert!(node.starts_with("router~"), "{node}");
    let envoy = Envoy::start(&binary, &pilot, &proxy).await;
    pilot.wait_synced(&node).await;
    let ingress = SocketAddr::new(proxy.ip, 8080);
    let reply = get(ingress, "bookinfo.example.com", "/productpage", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("productpage-v1"), "{reply:?}");
    assert_eq!(reply.header("server"), Some("istio-envoy"));
    // A named host wins over `*`, with or without a port in Host.
    for host in ["named.example.com", "named.example.com:8080"] {
        let reply = get(ingress, host, "/anything", &[]).await;
        assert_eq!(reply.status, 200, "{host}: {reply:?}");
    }
    let reply = get(
        ingress,
        "bookinfo.example.com",
        "/admin",
        &[("x-request-id", "rid-404")],
    )
    .await;
    assert_eq!(reply.status, 404, "an unrouted path: {reply:?}");
    // An edge proxy sets its own request id, so find the line by path.
    let line = envoy.log_line(&["GET /admin "]).await;
    assert!(line.contains(" 404 NR "), "no-route flag in {line}");
}

#[tokio::test]
async fn redirect_rewrite_headers_and_cors_reach_the_client_and_the_backend() {
    let net = Net(9);
    let mut model = bookinfo_model(net);
    istio(
        &mut model,
        "
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: ratings.example}
  - match: [{uri: {prefix: /v1api}}]
    rewrite: {uri: /api}
    headers:
      request: {set: {x-test-set: from-pilot}}
      response: {add: {x-served-by: pilot-route}}
    corsPolicy:
      allowOrigins: [{exact: 'https://a.example'}]
      allowMethods: [GET]
    route: [{destination: {host: ratings}}]
",
    );
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let reply = rig.get("ratings", "/old/page", &[]).await;
    assert_eq!(reply.status, 301, "{reply:?}");
    assert_eq!(reply.header("location"), Some("http://ratings.example/new"));

    let reply = rig
        .get(
            "ratings",
            "/v1api/items",
            &[("origin", "https://a.example")],
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.body.starts_with("ratings-v1 /api/items"),
        "rewritten path: {reply:?}"
    );
    assert!(
        reply.body.contains("x-test-set: from-pilot"),
        "request header set: {reply:?}"
    );
    assert_eq!(reply.header("x-served-by"), Some("pilot-route"));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://a.example")
    );

    let reply = rig
        .get(
            "ratings",
            "/v1api/items",
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "{reply:?}"
    );
}

#[tokio::test]
async fn envoy_accepts_every_feature_pilot_translates() {
    let net = Net(10);
    let mut model = bookinfo_model(net);
    let mut db = service("mongodb", 27017, None);
    db.ports[0].name = "tcp-mongo".into();
    model.services.push(db);
    let mut grpc = service("grpc-echo", 7070, None);
    grpc.ports[0].name = "grpc".into();
    model.services.push(grpc);
    istio(&mut model, "
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 100, maxRequestsPerConnection: 5, maxRetries: 3, idleTimeout: 30s}
    outlierDetection: {consecutiveErrors: 5, consecutive5xxErrors: 7, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50, minHealthPercent: 20}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer:
        consistentHash: {httpCookie: {name: user, ttl: 0s}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        consistentHash: {useSourceIp: true}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: PASSTHROUGH}
---
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpQueryParameterName: user, minimumRingSize: 64}
---
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews, reviews.default.svc.cluster.local]
  http:
  - match: [{uri: {regex: '/r/[0-9]+'}, method: {exact: GET}, queryParams: {a: {exact: b}}, withoutHeaders: {x-no: {prefix: y}}}]
    rewrite: {uri: /rewritten, authority: reviews.internal}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{authority: {prefix: reviews}, scheme: {exact: http}, ignoreUriCase: true, uri: {exact: /CaSe}}]
    directResponse: {status: 418, body: {string: teapot}}
  - match: [{uri: {prefix: /mirror}}]
    mirror: {host: ratings}
    mirrorPercentage: {value: 50.5}
    corsPolicy:
      allowOrigins: [{regex: 'https://.*[.]example'}]
      allowMethods: [GET, PUT]
      allowHeaders: [x-a]
      exposeHeaders: [x-b]
      maxAge: 24h
      allowCredentials: true
    fault:
      delay: {fixedDelay: 1ms, percent: 1}
      abort: {httpStatus: 503, percentage: {value: 0.1}}
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: 'connect-failure,refused-stream,503'}
    timeout: 10s
    route:
    - {destination: {host: reviews, subset: v1, port: {number: 9080}}, weight: 60, headers: {request: {set: {x-w: a}}, response: {remove: [x-r]}}}
    - {destination: {host: reviews, subset: v2}, weight: 40}
  - redirect: {uri: /elsewhere, authority: x.example, port: 8443, scheme: https, redirectCode: 308}
---
kind: ServiceEntry
metadata: {name: external, namespace: default}
spec:
  hosts: [www.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
---
kind: ServiceEntry
metadata: {name: vms, namespace: default}
spec:
  hosts: [vm.internal]
  ports: [{number: 8081, name: http, protocol: HTTP, targetPort: 9081}]
  resolution: STATIC
  endpoints: [{address: 127.77.10.50, labels: {version: v1}}]
---
kind: ServiceEntry
metadata: {name: passthrough, namespace: default}
spec:
  hosts: ['*.wild.example']
  ports: [{number: 8082, name: http, protocol: HTTP}]
  resolution: NONE
");
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let status = rig.pilot.server.status();
    let proxy = &status.proxies[&rig.node];
    assert!(proxy.nacks.is_empty(), "Envoy rejected: {:?}", proxy.nacks);
    assert!(proxy.synced(), "{proxy:?}");
    let reply = rig.get("reviews", "/CASE", &[]).await;
    assert_eq!(reply.status, 418, "{reply:?}");
    assert!(reply.body.contains("teapot"));
}

#[tokio::test]
async fn outlier_detection_ejects_a_failing_endpoint() {
    let net = Net(11);
    let mut model = bookinfo_model(net);
    model.endpoints.push(endpoint(
        "ratings",
        "ratings-broken",
        net.ip(13),
        PORT,
        &[("app", "ratings"), ("version", "v1")],
    ));
    istio(&mut model, "
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100}
");
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let _failing = Backend::start("failing-ratings", SocketAddr::new(net.ip(13), PORT)).await;
    for _ in 0..20 {
        rig.get("ratings", "/ratings/0", &[]).await;
    }
    let stat = "cluster.outbound|9080||ratings.default.svc.cluster.local.outlier_detection.ejections_enforced_consecutive_5xx";
    let ejected = rig.envoy.stat(stat).await;
    assert!(ejected >= 1, "{stat} = {ejected}");
    // With the failing endpoint ejected, every request reaches the healthy one.
    for _ in 0..10 {
        let reply = rig.get("ratings", "/ratings/0", &[]).await;
        assert!(reply.body.starts_with("ratings-v1"), "{reply:?}");
    }
}

#[tokio::test]
async fn consistent_hash_keeps_a_user_on_one_endpoint() {
    let net = Net(12);
    let mut model = bookinfo_model(net);
    istio(
        &mut model,
        "
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
",
    );
    let Some(rig) = Rig::start(net, model).await else {
        return;
    };
    let mut seen = std::collections::BTreeMap::new();
    for user in ["alice", "bob", "carol", "dave"] {
        for _ in 0..10 {
            let reply = rig.get("reviews", "/", &[("x-user", user)]).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            let backend = reply
                .body
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            seen.entry(user)
                .or_insert_with(std::collections::BTreeSet::new)
                .insert(backend);
        }
    }
    for (user, backends) in &seen {
        assert_eq!(backends.len(), 1, "{user} went to {backends:?}");
    }
}

#[tokio::test]
async fn pushes_while_traffic_flows_lose_no_request() {
    let net = Net(13);
    let mut base = bookinfo_model(net);
    istio(&mut base, SUBSETS);
    let Some(rig) = Rig::start(net, base.clone()).await else {
        return;
    };
    let outbound = rig.outbound;
    let traffic = tokio::spawn(async move {
        let mut failures = Vec::new();
        for _ in 0..150 {
            let reply = get(outbound, "reviews", "/reviews/0", &[]).await;
            if reply.status != 200 {
                failures.push(reply);
            }
        }
        failures
    });
    for round in 0..6 {
        let subset = if round % 2 == 0 { "v1" } else { "v2" };
        let mut model = base.clone();
        istio(
            &mut model,
            &format!(
                "
kind: VirtualService
metadata: {{name: reviews, namespace: default}}
spec:
  hosts: [reviews]
  http:
  - route: [{{destination: {{host: reviews, subset: {subset}}}}}]
"
            ),
        );
        rig.pilot.update(&rig.node, model).await;
    }
    let failures = traffic.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} requests failed during pushes: {failures:?}",
        failures.len()
    );
}
