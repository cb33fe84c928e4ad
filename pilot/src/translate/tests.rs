//! Translation rules, table by table: names, routes, policies, gateways, warnings.

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, LbPolicy,
};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, VirtualHost, header_matcher::HeaderMatchSpecifier, route::Action,
    route_action::ClusterSpecifier, route_action::hash_policy::PolicySpecifier,
    route_match::PathSpecifier,
};
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use prost::Message;

use super::*;
use crate::model::{ContainerPort, Endpoint, Proxy, ProxyKind, Service, ServicePort};

fn svc(ns: &str, name: &str, ports: &[u16], ip: Option<&str>) -> Service {
    Service {
        namespace: ns.into(),
        name: name.into(),
        cluster_ip: ip.map(|i| i.parse().unwrap()),
        ports: ports
            .iter()
            .map(|p| ServicePort {
                name: "http".into(),
                port: *p,
                protocol: "TCP".into(),
                app_protocol: None,
                target_port: *p,
            })
            .collect(),
        selector: labels(&[("app", name)]),
    }
}

fn ep(name: &str, version: &str, ip: &str) -> Endpoint {
    Endpoint {
        namespace: "default".into(),
        service: name.into(),
        pod: format!("{name}-{version}"),
        ip: ip.parse().unwrap(),
        ports: [(9080, 9080)].into_iter().collect(),
        labels: labels(&[("app", name), ("version", version)]),
        service_account: format!("bookinfo-{name}"),
        sidecar: true,
    }
}

fn bookinfo() -> Model {
    let mut model = Model::new();
    for name in ["productpage", "reviews", "ratings", "details"] {
        model
            .services
            .push(svc("default", name, &[9080], Some("10.0.0.7")));
    }
    // distinct cluster IPs
    for (i, s) in model.services.iter_mut().enumerate() {
        s.cluster_ip = Some(format!("10.0.0.{}", i + 1).parse().unwrap());
    }
    model.endpoints.push(ep("reviews", "v1", "127.1.0.1"));
    model.endpoints.push(ep("reviews", "v2", "127.1.0.2"));
    model.endpoints.push(ep("reviews", "v3", "127.1.0.3"));
    model.endpoints.push(ep("ratings", "v1", "127.1.0.4"));
    model.endpoints.push(ep("productpage", "v1", "127.1.0.5"));
    model
}

fn proxy(ns: &str, app: &str) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: format!("{app}-v1-x"),
        namespace: ns.into(),
        labels: labels(&[("app", app), ("version", "v1")]),
        service_account: format!("bookinfo-{app}"),
        ip: "127.1.0.5".parse().unwrap(),
        app_ip: "127.2.0.5".parse().unwrap(),
        outbound_ip: "127.3.0.5".parse().unwrap(),
        ports: vec![ContainerPort {
            name: "http".into(),
            port: 9080,
        }],
        port_map: Default::default(),
    }
}

/// The ingress gateway's proxy (also used by the tls and policy tests).
pub(super) fn gateway_proxy() -> Proxy {
    Proxy {
        kind: ProxyKind::Gateway,
        pod: "istio-ingressgateway-1".into(),
        namespace: "istio-system".into(),
        labels: labels(&[("istio", "ingressgateway"), ("app", "istio-ingressgateway")]),
        service_account: "istio-ingressgateway-service-account".into(),
        ip: "127.1.9.1".parse().unwrap(),
        app_ip: "127.1.9.1".parse().unwrap(),
        outbound_ip: "127.1.9.1".parse().unwrap(),
        ports: vec![ContainerPort {
            name: "http2".into(),
            port: 8080,
        }],
        port_map: Default::default(),
    }
}

/// Adds each `---`-separated YAML document of `text` to `model` (also used by the tls and
/// policy tests).
pub(super) fn yaml(model: &mut Model, text: &str) {
    for doc in text.split("\n---\n") {
        let value: serde_json::Value = serde_yaml::from_str(doc).unwrap();
        if value.is_null() {
            continue;
        }
        let mut value = value;
        if value.pointer("/metadata/namespace").is_none()
            && let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut())
        {
            meta.insert("namespace".into(), "default".into());
        }
        model.add_istio_object(&value).unwrap();
    }
}

/// Istio's samples, test data kept outside the project (as the mesh's conformance tests read
/// them): the same place on every checkout.
const SAMPLES: &str = "/work/shared/istio-samples/samples";

fn sample(path: &str) -> String {
    let full = format!("{SAMPLES}/bookinfo/networking/{path}");
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn vhost<'a>(res: &'a Resources, route: &str, name: &str) -> &'a VirtualHost {
    res.route(route)
        .unwrap_or_else(|| panic!("no route config {route}"))
        .virtual_hosts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no virtual host {name} in {route}"))
}

fn action(route: &Route) -> &RouteAction {
    match &route.action {
        Some(Action::Route(a)) => a,
        other => panic!("not a route action: {other:?}"),
    }
}

fn cluster_of(route: &Route) -> String {
    match &action(route).cluster_specifier {
        Some(ClusterSpecifier::Cluster(c)) => c.clone(),
        other => panic!("not a single cluster: {other:?}"),
    }
}

fn weights(route: &Route) -> Vec<(String, u32)> {
    match &action(route).cluster_specifier {
        Some(ClusterSpecifier::WeightedClusters(w)) => w
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.weight.as_ref().map_or(0, |w| w.value)))
            .collect(),
        other => panic!("not weighted: {other:?}"),
    }
}

fn endpoint_ips(res: &Resources, cluster: &str) -> Vec<String> {
    res.assignment(cluster)
        .unwrap_or_else(|| panic!("no assignment for {cluster}"))
        .endpoints
        .iter()
        .flat_map(|l| l.lb_endpoints.iter())
        .filter_map(|e| match &e.host_identifier {
            Some(HostIdentifier::Endpoint(ep)) => ep.address.clone(),
            _ => None,
        })
        .filter_map(|a| match a.address {
            Some(envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(s)) => {
                Some(s.address)
            }
            _ => None,
        })
        .collect()
}

const REVIEWS: &str = "reviews.default.svc.cluster.local";

#[test]
fn istio_names_for_clusters_and_route_configs() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    let res = translate(&model, &proxy("default", "productpage"));
    for name in [
        "outbound|9080||reviews.default.svc.cluster.local",
        "outbound|9080|v1|reviews.default.svc.cluster.local",
        "outbound|9080|v3|reviews.default.svc.cluster.local",
        "inbound|9080||",
        BLACK_HOLE_CLUSTER,
        PASSTHROUGH_CLUSTER,
    ] {
        assert!(res.cluster(name).is_some(), "missing cluster {name}");
    }
    assert!(res.route("9080").is_some());
    assert!(
        res.listener("127.3.0.5_9080").is_some(),
        "outbound listener on O"
    );
    assert!(
        res.listener("127.1.0.5_9080").is_some(),
        "inbound listener on P"
    );
    assert_eq!(
        res.cluster("outbound|9080|v2|reviews.default.svc.cluster.local")
            .unwrap()
            .cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
    );
    assert!(res.warnings.is_empty(), "{:?}", res.warnings);
}

#[test]
fn subset_endpoints_are_selected_by_labels_and_inbound_goes_to_the_app_address() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    let res = translate(&model, &proxy("default", "productpage"));
    assert_eq!(
        endpoint_ips(&res, &format!("outbound|9080|v2|{REVIEWS}")),
        ["127.1.0.2"]
    );
    assert_eq!(
        endpoint_ips(&res, &format!("outbound|9080||{REVIEWS}")).len(),
        3
    );
    let inbound = res.cluster("inbound|9080||").unwrap();
    let addr = format!("{:?}", inbound.load_assignment);
    assert!(addr.contains("127.2.0.5"), "inbound forwards to A: {addr}");
}

#[test]
fn virtual_host_domains_follow_istio_and_short_names_only_in_the_same_namespace() {
    let model = bookinfo();
    let res = translate(&model, &proxy("default", "productpage"));
    let vh = vhost(&res, "9080", &format!("{REVIEWS}:9080"));
    for d in [
        "reviews",
        "reviews:9080",
        "reviews.default",
        "reviews.default.svc",
        "reviews.default.svc.cluster.local:9080",
        "10.0.0.2",
        "10.0.0.2:9080",
    ] {
        assert!(
            vh.domains.iter().any(|x| x == d),
            "{d} missing from {:?}",
            vh.domains
        );
    }
    let other = translate(&model, &proxy("other", "sleep"));
    let vh = vhost(&other, "9080", &format!("{REVIEWS}:9080"));
    assert!(
        !vh.domains.iter().any(|x| x == "reviews"),
        "{:?}",
        vh.domains
    );
    assert!(vh.domains.iter().any(|x| x == "reviews.default"));
}

#[test]
fn default_route_has_istio_retries_and_no_timeout() {
    let res = translate(&bookinfo(), &proxy("default", "productpage"));
    let route = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes[0];
    assert_eq!(route.name, "default");
    let a = action(route);
    assert_eq!(cluster_of(route), format!("outbound|9080||{REVIEWS}"));
    let retry = a.retry_policy.as_ref().unwrap();
    assert_eq!(retry.retry_on, DEFAULT_RETRY_ON);
    assert_eq!(retry.num_retries.as_ref().unwrap().value, 2);
    assert_eq!(
        a.timeout.as_ref().map(|t| (t.seconds, t.nanos)),
        Some((0, 0))
    );
}

#[test]
fn samples_header_match_and_weighted_split() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    yaml(&mut model, &sample("virtual-service-reviews-test-v2.yaml"));
    let res = translate(&model, &proxy("default", "productpage"));
    let routes = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes;
    assert_eq!(routes.len(), 2);
    let m = routes[0].r#match.as_ref().unwrap();
    assert_eq!(m.headers[0].name, "end-user");
    match &m.headers[0].header_match_specifier {
        Some(HeaderMatchSpecifier::StringMatch(s)) => {
            assert_eq!(s.match_pattern, Some(MatchPattern::Exact("jason".into())));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cluster_of(&routes[0]),
        format!("outbound|9080|v2|{REVIEWS}")
    );
    assert_eq!(
        cluster_of(&routes[1]),
        format!("outbound|9080|v1|{REVIEWS}")
    );

    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    yaml(&mut model, &sample("virtual-service-reviews-50-v3.yaml"));
    let res = translate(&model, &proxy("default", "productpage"));
    let route = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes[0];
    assert_eq!(
        weights(route),
        [
            (format!("outbound|9080|v1|{REVIEWS}"), 50),
            (format!("outbound|9080|v3|{REVIEWS}"), 50)
        ]
    );
}

#[test]
fn match_kinds_become_envoy_matchers() {
    let mut model = bookinfo();
    yaml(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: exact
    match: [{uri: {exact: /a}, method: {exact: POST}, queryParams: {q: {prefix: x}}}]
    route: [{destination: {host: reviews}}]
  - name: prefix
    match: [{name: p, uri: {prefix: /b}, headers: {x-v: {regex: 'v[0-9]+'}}}]
    route: [{destination: {host: reviews}}]
  - match: [{uri: {regex: '/c/.*'}, ignoreUriCase: true}]
    route: [{destination: {host: reviews}}]
",
    );
    let res = translate(&model, &proxy("default", "productpage"));
    let routes = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes;
    assert_eq!(routes[0].name, "exact");
    assert_eq!(routes[1].name, "prefix.p");
    // Unnamed rules make unnamed routes, as in Istio; the metadata names the VirtualService.
    assert_eq!(routes[2].name, "");
    let m0 = routes[0].r#match.as_ref().unwrap();
    assert_eq!(m0.path_specifier, Some(PathSpecifier::Path("/a".into())));
    assert_eq!(m0.headers[0].name, ":method");
    assert_eq!(m0.query_parameters[0].name, "q");
    let m1 = routes[1].r#match.as_ref().unwrap();
    assert_eq!(m1.path_specifier, Some(PathSpecifier::Prefix("/b".into())));
    assert!(matches!(
        &m1.headers[0].header_match_specifier,
        Some(HeaderMatchSpecifier::StringMatch(s)) if matches!(&s.match_pattern, Some(MatchPattern::SafeRegex(r)) if r.regex == "v[0-9]+")
    ));
    let m2 = routes[2].r#match.as_ref().unwrap();
    assert!(matches!(&m2.path_specifier, Some(PathSpecifier::SafeRegex(r)) if r.regex == "/c/.*"));
    assert_eq!(m2.case_sensitive.as_ref().map(|b| b.value), Some(false));
}

#[test]
fn route_features_redirect_rewrite_headers_fault_timeout_retries_mirror_cors() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    yaml(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: ratings, redirectCode: 302}
  - match: [{uri: {prefix: /v1api}}]
    rewrite: {uri: /api, authority: reviews.internal}
    headers:
      request: {set: {x-a: '1'}, add: {x-b: '2'}, remove: [x-c]}
      response: {remove: [server-timing]}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {end-user: {exact: jason}}}]
    fault:
      delay: {fixedDelay: 7s, percentage: {value: 100.0}}
      abort: {httpStatus: 500, percentage: {value: 12.5}}
    timeout: 0.5s
    retries: {attempts: 3, perTryTimeout: 200ms, retryOn: 'gateway-error,503'}
    mirror: {host: reviews, subset: v3}
    mirrorPercentage: {value: 25}
    corsPolicy:
      allowOrigins: [{exact: 'https://example.com'}]
      allowMethods: [GET, POST]
      maxAge: 24h
    route: [{destination: {host: reviews, subset: v2}}]
  - retries: {attempts: 0}
    route: [{destination: {host: reviews, subset: v1}}]
",
    );
    let res = translate(&model, &proxy("default", "productpage"));
    let routes = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes;
    let Some(Action::Redirect(r)) = &routes[0].action else {
        panic!("redirect expected")
    };
    assert_eq!(r.host_redirect, "ratings");
    assert_eq!(r.response_code, 1, "302 = FOUND");

    let a = action(&routes[1]);
    assert_eq!(a.prefix_rewrite, "/api");
    assert!(format!("{:?}", a.host_rewrite_specifier).contains("reviews.internal"));
    assert_eq!(routes[1].request_headers_to_add.len(), 2);
    assert_eq!(routes[1].request_headers_to_remove, ["x-c"]);
    assert_eq!(routes[1].response_headers_to_remove, ["server-timing"]);

    let fault = routes[2]
        .typed_per_filter_config
        .get("envoy.filters.http.fault")
        .unwrap();
    let fault = HttpFault::decode(fault.value.as_slice()).unwrap();
    let abort = fault.abort.unwrap();
    assert_eq!(
        abort.percentage.unwrap().numerator,
        125_000,
        "12.5% per million"
    );
    assert!(format!("{:?}", fault.delay).contains("seconds: 7"));
    let a = action(&routes[2]);
    assert_eq!(
        a.timeout.as_ref().map(|t| (t.seconds, t.nanos)),
        Some((0, 500_000_000))
    );
    let retry = a.retry_policy.as_ref().unwrap();
    assert_eq!(retry.num_retries.as_ref().unwrap().value, 3);
    assert_eq!(retry.retry_on, "gateway-error,retriable-status-codes");
    assert_eq!(retry.retriable_status_codes, [503]);
    assert_eq!(
        retry.per_try_timeout.as_ref().map(|t| t.nanos),
        Some(200_000_000)
    );
    assert_eq!(
        a.request_mirror_policies[0].cluster,
        format!("outbound|9080|v3|{REVIEWS}")
    );
    assert!(
        routes[2]
            .typed_per_filter_config
            .contains_key("envoy.filters.http.cors")
    );

    assert!(
        action(&routes[3]).retry_policy.is_none(),
        "attempts: 0 disables retries"
    );
    assert!(res.warnings.is_empty(), "{:?}", res.warnings);
}

#[test]
fn destination_rule_policies_become_cluster_settings() {
    let mut model = bookinfo();
    yaml(&mut model, "
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 1, connectTimeout: 2s}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 7, maxRequestsPerConnection: 1}
    outlierDetection: {consecutiveErrors: 3, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpHeaderName: x-user}
      outlierDetection: {consecutive5xxErrors: 2}
");
    yaml(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
",
    );
    let res = translate(&model, &proxy("default", "productpage"));
    let top = res.cluster(&format!("outbound|9080||{REVIEWS}")).unwrap();
    let th = &top.circuit_breakers.as_ref().unwrap().thresholds[0];
    assert_eq!(th.max_connections.as_ref().unwrap().value, 1);
    assert_eq!(th.max_pending_requests.as_ref().unwrap().value, 1);
    assert_eq!(th.max_requests.as_ref().unwrap().value, 7);
    assert_eq!(top.connect_timeout.as_ref().unwrap().seconds, 2);
    assert_eq!(
        top.lb_policy,
        LbPolicy::Random as i32,
        "port-level setting wins"
    );
    assert!(
        top.typed_extension_protocol_options
            .contains_key("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
    );
    let od = top.outlier_detection.as_ref().unwrap();
    assert_eq!(
        od.consecutive_gateway_failure.as_ref().unwrap().value,
        3,
        "deprecated consecutiveErrors"
    );
    assert_eq!(od.enforcing_consecutive_5xx.as_ref().unwrap().value, 0);
    assert_eq!(od.base_ejection_time.as_ref().unwrap().seconds, 180);
    assert_eq!(
        top.common_lb_config
            .as_ref()
            .and_then(|c| c.healthy_panic_threshold.as_ref())
            .map(|p| p.value),
        Some(0.0),
        "no minHealthPercent: panic mode off, so ejected pods get no traffic"
    );

    let v2 = res.cluster(&format!("outbound|9080|v2|{REVIEWS}")).unwrap();
    assert_eq!(
        v2.lb_policy,
        LbPolicy::RingHash as i32,
        "subset policy overrides"
    );
    assert_eq!(
        v2.outlier_detection
            .as_ref()
            .unwrap()
            .consecutive_5xx
            .as_ref()
            .unwrap()
            .value,
        2
    );
    let v2_th = &v2.circuit_breakers.as_ref().unwrap().thresholds[0];
    assert_eq!(
        v2_th.max_connections.as_ref().unwrap().value,
        1,
        "pool inherited from the top level"
    );
    let route = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes[0];
    assert!(matches!(
        &action(route).hash_policy[0].policy_specifier,
        Some(PolicySpecifier::Header(h)) if h.header_name == "x-user"
    ));
    let ratings = res
        .cluster("outbound|9080||ratings.default.svc.cluster.local")
        .unwrap();
    assert_eq!(
        ratings.circuit_breakers.as_ref().unwrap().thresholds[0]
            .max_connections
            .as_ref()
            .unwrap()
            .value,
        u32::MAX,
        "no DestinationRule: Istio's unlimited defaults"
    );
}

#[test]
fn gateway_listens_on_the_target_port_with_bound_virtual_services_only() {
    let mut model = bookinfo();
    let mut gw_svc = svc(
        "istio-system",
        "istio-ingressgateway",
        &[80],
        Some("10.0.1.1"),
    );
    gw_svc.ports[0].target_port = 8080;
    gw_svc.selector = labels(&[("istio", "ingressgateway")]);
    model.services.push(gw_svc);
    yaml(&mut model, &sample("bookinfo-gateway.yaml"));
    yaml(&mut model, &sample("virtual-service-all-v1.yaml"));
    let res = translate(&model, &gateway_proxy());
    assert!(
        res.listener("127.1.9.1_8080").is_some(),
        "{:?}",
        res.listeners.iter().map(|l| &l.name).collect::<Vec<_>>()
    );
    let config = res.route("http.8080").unwrap();
    assert_eq!(
        config.virtual_hosts.len(),
        1,
        "mesh-only VirtualServices stay off the gateway"
    );
    let vh = &config.virtual_hosts[0];
    assert_eq!(vh.domains, ["*"]);
    assert_eq!(
        vh.routes.len(),
        5,
        "one route per match of the bookinfo rule"
    );
    assert_eq!(
        cluster_of(&vh.routes[0]),
        "outbound|9080||productpage.default.svc.cluster.local"
    );
    assert_eq!(
        res.route("9080"),
        None,
        "gateways have no sidecar outbound routes"
    );

    // The same gateway with a server on service port 80: bound on its target port 8080.
    let mut model2 = model.clone();
    model2.gateways[0].spec.servers[0].port.number = 80;
    let res = translate(&model2, &gateway_proxy());
    assert!(res.listener("127.1.9.1_8080").is_some());
    assert!(res.route("http.8080").is_some());
}

#[test]
fn gateway_without_bound_routes_answers_404_from_a_blackhole_host() {
    let mut model = bookinfo();
    yaml(
        &mut model,
        "
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ['*']}]
",
    );
    let res = translate(&model, &gateway_proxy());
    let vh = &res.route("http.8080").unwrap().virtual_hosts[0];
    assert_eq!(vh.name, "blackhole:8080");
    assert!(vh.routes.is_empty());
}

#[test]
fn service_entry_hosts_become_clusters_and_virtual_hosts() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("egress-rule-google-apis.yaml"));
    let res = translate(&model, &proxy("default", "productpage"));
    let c = res.cluster("outbound|80||www.googleapis.com").unwrap();
    assert_eq!(
        c.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::StrictDns as i32))
    );
    assert!(res.cluster("outbound|443||www.googleapis.com").is_some());
    let vh = vhost(&res, "80", "www.googleapis.com:80");
    assert_eq!(
        cluster_of(&vh.routes[0]),
        "outbound|443||www.googleapis.com",
        "the sample's port rewrite"
    );
}

#[test]
fn sidecar_egress_hosts_narrow_what_a_proxy_sees() {
    let mut model = bookinfo();
    model
        .services
        .push(svc("other", "httpbin", &[8000], Some("10.0.2.1")));
    yaml(
        &mut model,
        "
kind: Sidecar
metadata: {name: default}
spec:
  egress:
  - hosts: ['./*']
",
    );
    let res = translate(&model, &proxy("default", "productpage"));
    assert!(res.cluster(&format!("outbound|9080||{REVIEWS}")).is_some());
    assert!(
        res.cluster("outbound|8000||httpbin.other.svc.cluster.local")
            .is_none()
    );
    let outside = translate(&model, &proxy("other", "sleep"));
    assert!(
        outside
            .cluster("outbound|8000||httpbin.other.svc.cluster.local")
            .is_some()
    );
}

#[test]
fn source_labels_select_which_proxies_get_a_rule() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    yaml(
        &mut model,
        "
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{sourceLabels: {app: productpage}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
",
    );
    let pp = translate(&model, &proxy("default", "productpage"));
    assert_eq!(
        vhost(&pp, "9080", &format!("{REVIEWS}:9080")).routes.len(),
        2
    );
    let other = translate(&model, &proxy("default", "ratings"));
    let routes = &vhost(&other, "9080", &format!("{REVIEWS}:9080")).routes;
    assert_eq!(routes.len(), 1);
    assert_eq!(
        cluster_of(&routes[0]),
        format!("outbound|9080|v1|{REVIEWS}")
    );
}

#[test]
fn problems_are_warnings_naming_the_resource() {
    let mut model = bookinfo();
    yaml(
        &mut model,
        "
kind: VirtualService
metadata: {name: broken}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v9}}]
    timeout: soon
  - route: [{destination: {host: nosuch}}]
  - match: [{uri: {prefix: /x}}]
---
kind: VirtualService
metadata: {name: second}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
---
kind: VirtualService
metadata: {name: ratings-tcp}
spec:
  hosts: [ratings]
  tcp: [{route: [{destination: {host: ratings}}]}]
",
    );
    let res = translate(&model, &proxy("default", "productpage"));
    let text: Vec<String> = res.warnings.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|w| w.contains(needle));
    assert!(
        has("VirtualService default/broken: field `http[0].route[0].destination.subset`"),
        "{text:#?}"
    );
    assert!(
        has("field `http[0].timeout`: \"soon\" is not a duration"),
        "{text:#?}"
    );
    assert!(
        has("no service or ServiceEntry named nosuch.default.svc.cluster.local"),
        "{text:#?}"
    );
    assert!(has("field `http[2]`: the rule has no route"), "{text:#?}");
    assert!(has("VirtualService default/second"), "{text:#?}");
    assert!(
        has("VirtualService default/ratings-tcp: field `tcp`: tcp routes are not supported"),
        "{text:#?}"
    );
    assert!(
        !has("field `hosts[0]`: no service"),
        "known hosts are not reported: {text:#?}"
    );
    let mut typo = bookinfo();
    yaml(
        &mut typo,
        "
kind: VirtualService
metadata: {name: typo}
spec:
  hosts: [reveiws]
  http: [{route: [{destination: {host: reviews}}]}]
---
kind: DestinationRule
metadata: {name: typo}
spec:
  host: ratngs
",
    );
    let typo_res = translate(&typo, &proxy("default", "productpage"));
    let typo_text: Vec<String> = typo_res.warnings.iter().map(ToString::to_string).collect();
    assert!(
        typo_text.iter().any(|w| w.starts_with("VirtualService default/typo: field `hosts[0]`: no service or ServiceEntry named reveiws.default.svc.cluster.local")),
        "{typo_text:#?}"
    );
    assert!(
        typo_text.iter().any(|w| w.starts_with(
            "DestinationRule default/typo: field `host`: no service or ServiceEntry named ratngs"
        )),
        "{typo_text:#?}"
    );
    // The unknown subset still routes (to a cluster that does not exist: 503, as in Istio).
    let routes = &vhost(&res, "9080", &format!("{REVIEWS}:9080")).routes;
    assert_eq!(
        cluster_of(&routes[0]),
        format!("outbound|9080|v9|{REVIEWS}")
    );
}

#[test]
fn durations_parse_like_istio() {
    use std::time::Duration;
    assert_eq!(parse_duration("0.5s"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_duration("7"), None);
    assert_eq!(parse_duration("fast"), None);
}

#[test]
fn names_follow_istio() {
    assert_eq!(
        outbound_cluster_name(9080, "v1", REVIEWS),
        "outbound|9080|v1|reviews.default.svc.cluster.local"
    );
    assert_eq!(
        outbound_cluster_name(9080, "", REVIEWS),
        "outbound|9080||reviews.default.svc.cluster.local"
    );
    assert_eq!(inbound_cluster_name(9080), "inbound|9080||");
    assert_eq!(gateway_route_name(8080), "http.8080");
}

#[test]
fn translation_is_deterministic() {
    let mut model = bookinfo();
    yaml(&mut model, &sample("destination-rule-all.yaml"));
    yaml(&mut model, &sample("virtual-service-reviews-80-20.yaml"));
    let p = proxy("default", "productpage");
    assert_eq!(translate(&model, &p), translate(&model, &p));
}

#[test]
fn remapped_ports_change_where_listeners_bind_but_not_their_names() {
    let mut model = bookinfo();
    model
        .services
        .push(svc("default", "sleep", &[80], Some("10.0.0.80")));
    let mut p = proxy("default", "productpage");
    p.port_map = [(80, 15080), (9080, 19080)].into_iter().collect();
    let res = translate(&model, &p);
    let port_of = |name: &str| {
        let l = res
            .listener(name)
            .unwrap_or_else(|| panic!("no listener {name}"));
        match l.address.as_ref().and_then(|a| a.address.clone()) {
            Some(envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(s)) => {
                (s.address, format!("{:?}", s.port_specifier))
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        port_of("127.3.0.5_80"),
        ("127.3.0.5".into(), "Some(PortValue(15080))".into())
    );
    assert_eq!(
        port_of("127.1.0.5_9080"),
        ("127.1.0.5".into(), "Some(PortValue(19080))".into())
    );
    assert!(
        res.route("80").is_some(),
        "the route configuration keeps the service port"
    );
    let vh = vhost(&res, "80", "sleep.default.svc.cluster.local:80");
    assert!(vh.domains.iter().any(|d| d == "sleep:80"));
}

#[test]
fn inbound_protocol_comes_from_the_service_port_targeting_the_container_port() {
    let mut model = bookinfo();
    let mut grpc = svc("default", "productpage", &[9080], None);
    grpc.ports[0].name = "grpc-api".into();
    model.services[0] = grpc;
    let p = proxy("default", "productpage");
    for e in &mut model.endpoints {
        if e.service == "productpage" {
            e.pod.clone_from(&p.pod);
        }
    }
    let res = translate(&model, &p);
    let inbound = res.cluster("inbound|9080||").unwrap();
    let options = inbound
        .typed_extension_protocol_options
        .get("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        .expect("HTTP/2 to the application");
    let options =
        envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions::decode(
            options.value.as_slice(),
        )
        .unwrap();
    assert!(
        format!("{options:?}").contains("Http2ProtocolOptions"),
        "{options:?}"
    );
    // Without a service naming the port, the container port's name decides (HTTP/1.1 here).
    let plain = translate(&bookinfo(), &p);
    assert!(
        plain
            .cluster("inbound|9080||")
            .unwrap()
            .typed_extension_protocol_options
            .is_empty()
    );
}

#[test]
fn gateway_hosts_are_the_intersection_of_server_and_virtual_service_hosts() {
    let mut model = bookinfo();
    yaml(&mut model, "
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ['default/bookinfo.example.com']}]
---
kind: VirtualService
metadata: {name: all}
spec:
  hosts: ['*']
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: productpage}}]}]
---
kind: VirtualService
metadata: {name: other}
spec:
  hosts: [other.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: reviews}}]}]
");
    let res = translate(&model, &gateway_proxy());
    let config = res.route("http.8080").unwrap();
    assert_eq!(config.virtual_hosts.len(), 1, "{:?}", config.virtual_hosts);
    assert_eq!(
        config.virtual_hosts[0].domains,
        ["bookinfo.example.com", "bookinfo.example.com:*"]
    );
}
