use std::sync::Mutex;

use meshwork_pilot::ProxyKind;
use serde_json::{Value, json};

use super::*;
use crate::xds::report::pod_of;
use crate::xds::source::{is_gateway, proxies};

fn pod(name: &str, ip: &str, labels: Value, args: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"serviceAccountName": "bookinfo-reviews", "containers": [
            {"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2",
             "ports": [{"containerPort": 9080}]},
            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0", "args": args,
             "ports": [{"name": "http-envoy-prom", "containerPort": 15090}]}
        ]},
        "status": {"phase": "Running", "podIP": ip}
    })
}

#[test]
fn sidecars_get_their_three_addresses_and_gateways_are_recognised() {
    let sidecar = pod(
        "reviews-v1",
        "127.1.0.9",
        json!({"app": "reviews"}),
        json!(["proxy", "sidecar"]),
    );
    let by_label = pod(
        "ingress",
        "127.1.0.10",
        json!({"istio": "ingressgateway"}),
        json!([]),
    );
    let by_args = pod(
        "my-gateway",
        "127.1.0.11",
        json!({"app": "gw"}),
        json!(["proxy", "router"]),
    );
    let mut plain = pod("plain", "127.1.0.12", json!({}), json!([]));
    plain["spec"]["containers"][1]["image"] = json!("nginx");
    let mut no_ip = sidecar.clone();
    no_ip["status"] = json!({"phase": "Pending"});
    let pods = [sidecar, by_label, by_args, plain, no_ip];
    let found = proxies(pods.iter());
    assert_eq!(found.len(), 3, "{found:#?}");
    let reviews = &found[0];
    assert_eq!(reviews.kind, ProxyKind::Sidecar);
    assert_eq!(reviews.ip.to_string(), "127.1.0.9");
    assert_eq!(reviews.app_ip.to_string(), "127.2.0.9");
    assert_eq!(reviews.outbound_ip.to_string(), "127.3.0.9");
    assert_eq!(
        reviews.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
        [9080]
    );
    assert_eq!(reviews.service_account, "bookinfo-reviews");
    assert_eq!(
        reviews.node_id(),
        "sidecar~127.1.0.9~reviews-v1.default~default.svc.cluster.local",
        "the node id istio-proxy's bootstrap sends"
    );
    assert_eq!(found[1].kind, ProxyKind::Gateway);
    assert_eq!(found[2].kind, ProxyKind::Gateway);
    assert!(
        found[1]
            .node_id()
            .starts_with("router~127.1.0.10~ingress.default~")
    );
    assert!(!is_gateway(&pods[0]));
}

#[test]
fn node_ids_name_their_pods() {
    assert_eq!(
        pod_of("sidecar~127.1.0.9~reviews-v1-abc.default~default.svc.cluster.local"),
        "default/reviews-v1-abc"
    );
    assert_eq!(pod_of("something else"), "something else");
}

#[derive(Default)]
struct Collect(Mutex<Vec<String>>);

impl Reporter for Collect {
    fn log(&self, level: &str, scope: &str, message: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{level}\t{scope}\t{message}"));
    }
}

fn vs(name: &str, hosts: Value) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"hosts": hosts, "http": [{"route": [{"destination": {"host": "reviews"}}]}]}
    })
}

#[test]
fn the_model_follows_the_store_and_malformed_resources_are_reported_once() {
    let store = Store::in_memory();
    let vs_key = ResourceKey::new(source::ISTIO_NETWORKING, "v1", "virtualservices");
    let dr_key = ResourceKey::new(source::ISTIO_NETWORKING, "v1beta1", "destinationrules");
    store
        .create(
            &ResourceKey::new("", "v1", "services"),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "reviews", "namespace": "default"},
                   "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}),
        )
        .unwrap();
    store
        .create(&vs_key, vs("good", json!(["reviews"])))
        .unwrap();
    store.create(&vs_key, vs("bad", json!("reviews"))).unwrap();
    store
        .create(
            &dr_key,
            json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
                   "metadata": {"name": "reviews", "namespace": "default"},
                   "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}),
        )
        .unwrap();
    let reporter = Collect::default();
    let mut state = State::default();
    let (model, _) = state.snapshot(&store, &reporter);
    assert_eq!(model.services.len(), 1);
    assert_eq!(
        model.virtual_services.len(),
        1,
        "the malformed one is left out"
    );
    assert_eq!(
        model.destination_rules.len(),
        1,
        "every stored version is read"
    );
    let (again, _) = state.snapshot(&store, &reporter);
    assert_eq!(again, model);
    let lines = reporter.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "reported once: {lines:#?}");
    assert!(
        lines[0].starts_with("warn\tvalidation\tVirtualService default/bad: field `spec.hosts`")
    );
    assert!(lines[0].contains("until it is fixed"), "{}", lines[0]);
}

#[test]
fn only_changes_pilot_reads_trigger_a_rebuild() {
    assert!(relevant(&ResourceKey::new("", "v1", "pods")));
    assert!(relevant(&ResourceKey::new(
        "discovery.k8s.io",
        "v1",
        "endpointslices"
    )));
    assert!(relevant(&ResourceKey::new(
        "networking.istio.io",
        "v1alpha3",
        "gateways"
    )));
    assert!(!relevant(&ResourceKey::new("", "v1", "events")));
    assert!(!relevant(&ResourceKey::new("apps", "v1", "replicasets")));
}

#[tokio::test]
async fn rejections_and_warnings_are_logged_in_words_naming_the_pod_and_resource() {
    use meshwork_pilot::server::{Nack, PilotEvent};
    use meshwork_pilot::translate::Warning;
    let (tx, rx) = tokio::sync::broadcast::channel(16);
    let collected = Arc::new(Collect::default());
    let reporter: Arc<dyn Reporter> = collected.clone();
    let task = tokio::spawn(report::follow(rx, reporter));
    let node = "sidecar~127.1.0.9~reviews-v1-abc.default~default.svc.cluster.local";
    let warning = Warning {
        resource: "VirtualService default/reviews".into(),
        message: "field `http[0].route[0].destination.subset`: subset \"v9\" is not defined".into(),
    };
    let events = [
        PilotEvent::Connected { node: node.into() },
        PilotEvent::Nacked(Nack {
            node: node.into(),
            type_url: "type.googleapis.com/envoy.config.listener.v3.Listener".into(),
            version: "7".into(),
            message: "error adding listener '127.1.0.9_9080': duplicate listener".into(),
        }),
        // The same warning for two proxies is logged once.
        PilotEvent::Warnings {
            node: node.into(),
            warnings: vec![warning.clone()],
        },
        PilotEvent::Warnings {
            node: "router~127.1.0.3~gw.istio-system~istio-system.svc.cluster.local".into(),
            warnings: vec![warning],
        },
        PilotEvent::UnknownNode {
            node: "sidecar~127.1.0.50~gone.default~default.svc.cluster.local".into(),
        },
    ];
    for e in events {
        tx.send(e).unwrap();
    }
    drop(tx);
    task.await.unwrap();
    let lines = collected.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].starts_with("info\tads\tADS: new connection for node:sidecar~"));
    assert!(
        lines[0].contains("(pod default/reviews-v1-abc)"),
        "{}",
        lines[0]
    );
    let nack = &lines[1];
    assert!(nack.starts_with("warn\tads\tADS:LDS ACK ERROR"), "{nack}");
    for part in [
        "pod default/reviews-v1-abc",
        "listeners (LDS)",
        "version 7",
        "duplicate listener",
        "keeps serving its previous configuration",
    ] {
        assert!(nack.contains(part), "{part:?} missing: {nack}");
    }
    assert_eq!(
        lines[2],
        "warn\tmodel\tVirtualService default/reviews: field `http[0].route[0].destination.subset`: subset \"v9\" is not defined"
    );
    assert!(lines[3].contains("no pod default/gone"), "{}", lines[3]);
}
