//! The ADS protocol rules, with a scripted client standing for Envoy: ACKs, stale nonces, the
//! endpoint re-request after a cluster update, NACKs never answered with the rejected content.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::rpc;
use meshwork_pilot::AdsServer;
use meshwork_pilot::model::{
    ContainerPort, Endpoint, Model, Proxy, ProxyKind, Service, ServicePort,
};
use meshwork_pilot::server::{PilotEvent, cluster_type, endpoint_type, route_type};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn model(vs_subset: Option<&str>, replicas: u8) -> Model {
    let mut model = Model::new();
    model.services.push(Service {
        namespace: "default".into(),
        name: "reviews".into(),
        cluster_ip: None,
        ports: vec![ServicePort {
            name: "http".into(),
            port: 9080,
            protocol: "TCP".into(),
            app_protocol: None,
            target_port: 9080,
        }],
        selector: labels(&[("app", "reviews")]),
    });
    for i in 0..replicas {
        model.endpoints.push(Endpoint {
            namespace: "default".into(),
            service: "reviews".into(),
            pod: format!("reviews-v1-{i}"),
            ip: std::net::IpAddr::from([127, 1, 0, 9 + i]),
            ports: [(9080, 9080)].into_iter().collect(),
            labels: labels(&[("app", "reviews"), ("version", "v1")]),
            service_account: "default".into(),
            sidecar: true,
        });
    }
    if let Some(subset) = vs_subset {
        let vs = serde_json::json!({
            "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {"hosts": ["reviews"], "http": [{
                "match": [{"uri": {"regex": subset}}],
                "fault": {"abort": {"httpStatus": 500, "percentage": {"value": 1}}},
                "corsPolicy": {"allowOrigins": [{"exact": "https://a.example"}]},
                "route": [{"destination": {"host": "reviews"}}],
            }]},
        });
        model.add_istio_object(&vs).unwrap();
    }
    model
}

fn proxy() -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: "productpage-1".into(),
        namespace: "default".into(),
        labels: labels(&[("app", "productpage")]),
        service_account: "default".into(),
        ip: "127.1.0.20".parse().unwrap(),
        app_ip: "127.2.0.20".parse().unwrap(),
        outbound_ip: "127.3.0.20".parse().unwrap(),
        ports: vec![ContainerPort {
            name: "http".into(),
            port: 9080,
        }],
        port_map: Default::default(),
    }
}

struct FakeEnvoy {
    tx: mpsc::Sender<DiscoveryRequest>,
    rx: tonic::Streaming<DiscoveryResponse>,
    node: Node,
}

impl FakeEnvoy {
    async fn connect(addr: std::net::SocketAddr, node_id: &str) -> FakeEnvoy {
        let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let (tx, requests) = mpsc::channel(16);
        let rx = client
            .stream_aggregated_resources(ReceiverStream::new(requests))
            .await
            .unwrap()
            .into_inner();
        FakeEnvoy {
            tx,
            rx,
            node: Node {
                id: node_id.into(),
                ..Default::default()
            },
        }
    }

    async fn request(&self, type_url: &str, names: &[&str], version: &str, nonce: &str) {
        self.tx
            .send(DiscoveryRequest {
                node: Some(self.node.clone()),
                type_url: type_url.into(),
                resource_names: names.iter().map(|n| (*n).into()).collect(),
                version_info: version.into(),
                response_nonce: nonce.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    async fn nack(&self, type_url: &str, names: &[&str], version: &str, nonce: &str) {
        self.tx
            .send(DiscoveryRequest {
                node: Some(self.node.clone()),
                type_url: type_url.into(),
                resource_names: names.iter().map(|n| (*n).into()).collect(),
                version_info: version.into(),
                response_nonce: nonce.into(),
                error_detail: Some(rpc::Status {
                    code: 3,
                    message: "invalid regex".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    async fn next(&mut self) -> DiscoveryResponse {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.rx.message())
            .await
            .expect("a response within 10 s")
            .unwrap()
            .expect("the stream is open")
    }
}

const CLUSTER: &str = "outbound|9080||reviews.default.svc.cluster.local";

#[tokio::test]
async fn ack_stale_rerequest_and_nack_rules() {
    let (model_tx, model_rx) = watch::channel(Arc::new(model(Some("/ok/.*"), 1)));
    let server = AdsServer::new(model_rx);
    let node = proxy().node_id();
    server.register(proxy());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = server.clone();
    let task = tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let mut events = server.subscribe();
    let mut envoy = FakeEnvoy::connect(addr, &node).await;

    // Clusters: wildcard, then ACK.
    envoy.request(&cluster_type(), &[], "", "").await;
    let cds = envoy.next().await;
    assert_eq!(cds.type_url, cluster_type());
    assert!(
        cds.resources.len() >= 3,
        "outbound, inbound, black hole, passthrough"
    );
    envoy
        .request(&cluster_type(), &[], &cds.version_info, &cds.nonce)
        .await;

    // Endpoints for the named cluster; the ACK is not answered, the same request again is.
    envoy.request(&endpoint_type(), &[CLUSTER], "", "").await;
    let eds = envoy.next().await;
    assert_eq!(eds.type_url, endpoint_type());
    assert_eq!(eds.resources.len(), 1);
    envoy
        .request(&endpoint_type(), &[CLUSTER], &eds.version_info, &eds.nonce)
        .await;
    // A stale nonce is ignored ...
    envoy
        .request(&endpoint_type(), &[CLUSTER], &eds.version_info, "stale")
        .await;
    // ... and the re-request after a cluster update is answered with a fresh nonce.
    envoy
        .request(&endpoint_type(), &[CLUSTER], &eds.version_info, &eds.nonce)
        .await;
    let again = envoy.next().await;
    assert_eq!(
        again.type_url,
        endpoint_type(),
        "the stale request got no answer first"
    );
    assert_ne!(again.nonce, eds.nonce);
    assert_eq!(again.version_info, eds.version_info);
    envoy
        .request(
            &endpoint_type(),
            &[CLUSTER],
            &again.version_info,
            &again.nonce,
        )
        .await;

    // Routes: Envoy rejects the next version.
    envoy.request(&route_type(), &["9080"], "", "").await;
    let rds = envoy.next().await;
    assert_eq!(rds.type_url, route_type());
    envoy
        .request(&route_type(), &["9080"], &rds.version_info, &rds.nonce)
        .await;
    model_tx.send_replace(Arc::new(model(Some("/bad/(["), 1)));
    let bad = envoy.next().await;
    assert_eq!(bad.type_url, route_type(), "only the routes changed");
    envoy
        .nack(&route_type(), &["9080"], &rds.version_info, &bad.nonce)
        .await;
    let nack = loop {
        if let PilotEvent::Nacked(n) = events.recv().await.unwrap() {
            break n;
        }
    };
    assert_eq!(nack.node, node);
    assert_eq!(nack.version, bad.version_info);
    assert_eq!(nack.message, "invalid regex");
    assert!(server.status().proxies[&node].nacks.contains_key("RDS"));
    assert!(!server.status().proxies[&node].synced());

    // A model change that leaves the rejected routes as they were (one more endpoint) sends the
    // endpoints only: the rejected content is never sent again ...
    model_tx.send_replace(Arc::new(model(Some("/bad/(["), 2)));
    let eds2 = envoy.next().await;
    assert_eq!(eds2.type_url, endpoint_type());
    envoy
        .request(
            &endpoint_type(),
            &[CLUSTER],
            &eds2.version_info,
            &eds2.nonce,
        )
        .await;
    // ... while different routes are.
    model_tx.send_replace(Arc::new(model(Some("/good/.*"), 2)));
    let good = envoy.next().await;
    assert_eq!(good.type_url, route_type());
    assert_ne!(good.version_info, bad.version_info);
    envoy
        .request(&route_type(), &["9080"], &good.version_info, &good.nonce)
        .await;
    loop {
        if let PilotEvent::Acked {
            type_url, version, ..
        } = events.recv().await.unwrap()
            && type_url == route_type()
            && version == good.version_info
        {
            break;
        }
    }
    let status = server.status();
    assert!(status.proxies[&node].nacks.is_empty(), "{status:?}");
    assert!(status.proxies[&node].synced(), "{status:?}");

    // Stopping the server ends the stream.
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert!(!server.status().proxies[&node].connected);
}

#[tokio::test]
async fn an_unknown_node_is_refused_with_a_reason() {
    let (_model_tx, model_rx) = watch::channel(Arc::new(model(None, 1)));
    let server = AdsServer::new(model_rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
    let mut envoy = FakeEnvoy::connect(
        addr,
        "sidecar~1.2.3.4~ghost.default~default.svc.cluster.local",
    )
    .await;
    envoy.request(&cluster_type(), &[], "", "").await;
    let status = envoy.rx.message().await.unwrap_err();
    assert!(status.message().contains("unknown proxy"), "{status}");
    server.close();
}
