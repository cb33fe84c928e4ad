//! Name resolution and routing over an in-memory store with objects made by hand.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn create(store: &Store, resource: ResourceKey, object: Value) {
    store.create(&resource, object).expect("object created");
}

fn namespace(store: &Store, name: &str) {
    create(
        store,
        ResourceKey::new("", "v1", "namespaces"),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    );
}

/// A Service with one port named `http`; `cluster_ip` "None" makes it headless.
fn service(store: &Store, ns: &str, name: &str, cluster_ip: &str, port: u16) {
    create(
        store,
        services(),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": cluster_ip, "type": "ClusterIP",
                     "ports": [{"name": "http", "port": port, "protocol": "TCP"}]},
        }),
    );
}

/// Endpoints of a Service: `ready` and `not_ready` (ip, port) pairs, one subset per port.
fn endpoints_of(store: &Store, ns: &str, name: &str, ready: &[(&str, u16)], not_ready: &[&str]) {
    let mut subsets: Vec<Value> = ready
        .iter()
        .map(|(ip, port)| {
            json!({"addresses": [{"ip": ip}], "ports": [{"name": "http", "port": port}]})
        })
        .collect();
    if !not_ready.is_empty() {
        subsets.push(json!({
            "notReadyAddresses": not_ready.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
            "ports": [{"name": "http", "port": 9080}],
        }));
    }
    create(
        store,
        endpoints(),
        json!({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": name, "namespace": ns}, "subsets": subsets}),
    );
}

fn pod_in(ns: &str) -> Origin {
    Origin::Pod {
        namespace: ns.into(),
        name: "client-7d9f".into(),
        ip: "127.1.9.9".parse().expect("ip"),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// `reviews` in `default`, `ratings` in `bookinfo`, both namespaces existing.
fn bookinfo() -> Network {
    let store = Store::in_memory();
    namespace(&store, "default");
    namespace(&store, "bookinfo");
    service(&store, "default", "reviews", "10.96.0.20", 9080);
    service(&store, "bookinfo", "ratings", "10.96.0.30", 9080);
    Network::new(store)
}

#[test]
fn a_service_resolves_by_every_name_cluster_dns_knows() {
    let net = bookinfo();
    for name in [
        "reviews",
        "reviews.default",
        "reviews.default.svc",
        "reviews.default.svc.cluster.local",
        "reviews.default.svc.cluster.local.",
        "REVIEWS.Default.svc.cluster.local",
    ] {
        assert_eq!(
            net.resolve(&pod_in("default"), name),
            Ok(ip("10.96.0.20")),
            "{name}"
        );
    }
}

#[test]
fn short_names_resolve_in_the_pods_namespace_and_qualified_ones_across() {
    let net = bookinfo();
    let from_bookinfo = pod_in("bookinfo");
    assert_eq!(
        net.resolve(&from_bookinfo, "reviews"),
        Err(NetError::Resolve("reviews".into()))
    );
    assert_eq!(
        net.resolve(&from_bookinfo, "reviews.default"),
        Ok(ip("10.96.0.20"))
    );
    assert_eq!(net.resolve(&from_bookinfo, "ratings"), Ok(ip("10.96.0.30")));
    assert_eq!(
        net.resolve(&pod_in("default"), "ratings.bookinfo.svc"),
        Ok(ip("10.96.0.30"))
    );
    // The same short name means a different Service in each namespace.
    service(&net.store, "bookinfo", "reviews", "10.96.0.21", 9080);
    assert_eq!(net.resolve(&from_bookinfo, "reviews"), Ok(ip("10.96.0.21")));
    assert_eq!(
        net.resolve(&pod_in("default"), "reviews"),
        Ok(ip("10.96.0.20"))
    );
}

#[test]
fn unknown_names_fail_to_resolve_with_the_name_given() {
    let net = bookinfo();
    for name in [
        "details",
        "reviews.nowhere",
        "reviews.nowhere.svc.cluster.local",
        "reviews.default.svc.example.com",
        "example.com",
        "reviews.svc.cluster.local",
    ] {
        assert_eq!(
            net.resolve(&pod_in("default"), name),
            Err(NetError::Resolve(name.into())),
            "{name}"
        );
    }
}

#[test]
fn the_host_resolves_addresses_but_no_cluster_names() {
    let net = bookinfo();
    assert_eq!(
        net.resolve(&Origin::Host, "reviews.default.svc.cluster.local"),
        Err(NetError::Resolve(
            "reviews.default.svc.cluster.local".into()
        ))
    );
    assert_eq!(
        net.resolve(&Origin::Host, "localhost"),
        Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
    );
    assert_eq!(
        net.resolve(&Origin::Host, "10.96.0.20"),
        Ok(ip("10.96.0.20"))
    );
}

#[test]
fn inside_a_pod_localhost_and_its_own_name_are_the_pod() {
    let net = bookinfo();
    let me = pod_in("default");
    for name in ["localhost", "127.0.0.1", "client-7d9f", "[127.0.0.1]"] {
        assert_eq!(net.resolve(&me, name), Ok(ip("127.1.9.9")), "{name}");
    }
    assert_eq!(
        net.resolve(&me, "127-1-0-7.default.pod.cluster.local"),
        Ok(ip("127.1.0.7"))
    );
}

#[test]
fn a_headless_service_answers_with_its_ready_endpoints_in_turn() {
    let net = bookinfo();
    service(&net.store, "default", "db", "None", 5432);
    endpoints_of(
        &net.store,
        "default",
        "db",
        &[("127.1.0.2", 5432), ("127.1.0.1", 5432)],
        &["127.1.0.3"],
    );
    let me = pod_in("default");
    let mut seen: Vec<IpAddr> = (0..4)
        .map(|_| {
            net.resolve(&me, "db.default.svc.cluster.local")
                .expect("resolves")
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, [ip("127.1.0.1"), ip("127.1.0.2")]);
}

#[test]
fn a_headless_service_without_ready_endpoints_does_not_resolve() {
    let net = bookinfo();
    service(&net.store, "default", "db", "None", 5432);
    endpoints_of(&net.store, "default", "db", &[], &["127.1.0.3"]);
    assert_eq!(
        net.resolve(&pod_in("default"), "db"),
        Err(NetError::Resolve("db".into()))
    );
}

#[test]
fn statefulset_pods_resolve_under_their_headless_service() {
    let net = bookinfo();
    namespace(&net.store, "data");
    service(&net.store, "data", "db", "None", 5432);
    create(
        &net.store,
        statefulsets(),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "db", "namespace": "data"},
               "spec": {"serviceName": "db", "replicas": 2}}),
    );
    for (i, pod_ip) in ["127.1.0.10", "127.1.0.11"].iter().enumerate() {
        create(
            &net.store,
            pods(),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": format!("db-{i}"), "namespace": "data",
                                "ownerReferences": [{"kind": "StatefulSet", "name": "db",
                                                     "apiVersion": "apps/v1", "uid": "x"}]},
                   "spec": {"containers": []},
                   "status": {"podIP": pod_ip}}),
        );
    }
    // db-1 is not ready: it is not in the endpoints, so it has no DNS record yet.
    endpoints_of(
        &net.store,
        "data",
        "db",
        &[("127.1.0.10", 5432)],
        &["127.1.0.11"],
    );
    assert_eq!(
        net.resolve(&pod_in("default"), "db-0.db.data.svc.cluster.local"),
        Ok(ip("127.1.0.10"))
    );
    assert_eq!(
        net.resolve(&pod_in("data"), "db-0.db"),
        Ok(ip("127.1.0.10"))
    );
    assert_eq!(
        net.resolve(&pod_in("data"), "db-1.db"),
        Err(NetError::Resolve("db-1.db".into()))
    );
    assert_eq!(
        net.resolve(&pod_in("data"), "db-7.db"),
        Err(NetError::Resolve("db-7.db".into()))
    );
}

#[test]
fn a_pod_with_hostname_and_subdomain_resolves_under_the_service() {
    let net = bookinfo();
    service(&net.store, "default", "workers", "None", 9080);
    create(
        &net.store,
        pods(),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "worker-abc12", "namespace": "default"},
               "spec": {"hostname": "w1", "subdomain": "workers", "containers": []},
               "status": {"podIP": "127.1.0.40"}}),
    );
    endpoints_of(
        &net.store,
        "default",
        "workers",
        &[("127.1.0.40", 9080)],
        &[],
    );
    assert_eq!(
        net.resolve(&pod_in("default"), "w1.workers"),
        Ok(ip("127.1.0.40"))
    );
}

#[test]
fn an_external_name_service_follows_its_target() {
    let net = bookinfo();
    create(
        &net.store,
        services(),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "backend", "namespace": "bookinfo"},
               "spec": {"type": "ExternalName",
                        "externalName": "reviews.default.svc.cluster.local"}}),
    );
    assert_eq!(
        net.resolve(&pod_in("bookinfo"), "backend"),
        Ok(ip("10.96.0.20"))
    );
}

/// A server on 127.0.0.1 that answers each connection with `reply`.
async fn server(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    port
}

async fn read_all(mut stream: TcpStream) -> String {
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out).await;
    out
}

#[tokio::test]
async fn a_cluster_ip_connection_reaches_each_ready_endpoint_in_turn() {
    let net = bookinfo();
    let a = server("a").await;
    let b = server("b").await;
    endpoints_of(
        &net.store,
        "default",
        "reviews",
        &[("127.0.0.1", a), ("127.0.0.1", b)],
        &[],
    );
    let me = pod_in("default");
    let mut answers = Vec::new();
    for _ in 0..4 {
        let stream = net.connect(&me, "reviews", 9080).await.expect("connects");
        answers.push(read_all(stream).await);
    }
    answers.sort();
    assert_eq!(answers, ["a", "a", "b", "b"]);
    // A port the Service does not have is refused, as is a Service with no endpoints.
    assert!(matches!(
        net.connect(&me, "reviews", 80).await,
        Err(NetError::Refused { .. })
    ));
    assert!(matches!(
        net.connect(&pod_in("bookinfo"), "ratings", 9080).await,
        Err(NetError::Refused { .. })
    ));
}

#[test]
fn node_ports_and_load_balancer_ports_are_wanted_and_others_not() {
    let svc = |name: &str, kind: &str, ports: Value| {
        std::sync::Arc::new(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": kind, "ports": ports},
        }))
    };
    let all = vec![
        svc("plain", "ClusterIP", json!([{"port": 80}])),
        svc(
            "web",
            "NodePort",
            json!([{"port": 80, "nodePort": 30080}, {"port": 53, "nodePort": 30053, "protocol": "UDP"}]),
        ),
        svc(
            "lb",
            "LoadBalancer",
            json!([{"port": 8080, "nodePort": 31000}]),
        ),
        // Its LoadBalancer port collides with web's nodePort, which wins.
        svc(
            "clash",
            "LoadBalancer",
            json!([{"port": 30080, "nodePort": 31001}]),
        ),
    ];
    let wanted: Vec<(u16, String, proxy::Role)> = proxy::desired(&all)
        .into_iter()
        .map(|(port, (target, role))| (port, target.to_string(), role))
        .collect();
    assert_eq!(
        wanted,
        [
            (
                8080,
                "Service default/lb port 8080".into(),
                proxy::Role::LoadBalancer
            ),
            (
                30080,
                "Service default/web port 80".into(),
                proxy::Role::NodePort
            ),
            (
                31000,
                "Service default/lb port 8080".into(),
                proxy::Role::NodePort
            ),
            (
                31001,
                "Service default/clash port 30080".into(),
                proxy::Role::NodePort
            ),
        ]
    );
}

/// Accepts one connection on `listener` and answers it with `name`.
async fn answer_once(listener: TcpListener, name: &'static str) {
    if let Ok((mut s, _)) = listener.accept().await {
        let _ = s.write_all(name.as_bytes()).await;
    }
}

#[tokio::test]
async fn a_pod_with_a_sidecar_sends_service_traffic_to_its_outbound_listener_else_passes_through() {
    let store = Store::in_memory();
    namespace(&store, "default");
    service(&store, "default", "web", "10.96.0.40", 18080);
    endpoints_of(&store, "default", "web", &[("127.1.77.2", 18080)], &[]);
    create(
        &store,
        pods(),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "client", "namespace": "default"},
               "spec": {"containers": [
                   {"name": "app", "image": "docker.io/curlimages/curl"},
                   {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0"}]}}),
    );
    let network = Network::new(store);
    let origin = Origin::Pod {
        namespace: "default".into(),
        name: "client".into(),
        ip: ip("127.1.77.1"),
    };
    let addresses = network
        .sidecar_of(&origin)
        .expect("the client has a sidecar");
    assert_eq!(addresses.outbound, ip("127.3.77.1"));
    let endpoint = TcpListener::bind("127.1.77.2:18080").await.expect("bind");
    let sidecar = TcpListener::bind("127.3.77.1:18080").await.expect("bind");

    // The sidecar's outbound listener takes the Service's connection, and it comes from the pod.
    let served = tokio::spawn(async move {
        let (mut s, peer) = sidecar.accept().await.expect("accept");
        s.write_all(b"sidecar").await.expect("write");
        peer.ip()
    });
    let stream = network
        .connect(&origin, "web", 18080)
        .await
        .expect("connects");
    assert_eq!(read_all(stream).await, "sidecar");
    assert_eq!(served.await.expect("served"), ip("127.1.77.1"));

    // Nothing on the outbound port (the sidecar has no listener for it): passed through to a
    // ready endpoint, as Istio's PassthroughCluster does.
    let passthrough = tokio::spawn(answer_once(endpoint, "endpoint"));
    let stream = network
        .connect(&origin, "web.default.svc.cluster.local", 18080)
        .await
        .expect("passes through");
    assert_eq!(read_all(stream).await, "endpoint");
    passthrough.await.expect("served");

    // Inside the pod, localhost is the application's own address.
    assert_eq!(network.resolve(&origin, "localhost"), Ok(ip("127.2.77.1")));
}
