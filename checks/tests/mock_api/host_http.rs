//! `http` checks from the learner's host on a live cluster: a Service through its nodePort on a
//! node's address, a plain URL, and Istio's ingress gateway (`ingress:`) through its
//! load-balancer address, else its nodePort. Every address is on loopback: the mock API
//! reports addresses where a local HTTP server stands in for the node or the load balancer.

use crate::live::{Cluster, LiveApi, Site, node, service};
use meshwork_checks::Outcome;
use serde_json::json;
use tokio::net::TcpListener;

const BOOKINFO_TITLE: &str = "<html><head><title>Simple Bookstore App</title></head></html>";

/// The gateway's pages: the product page routed, everything else 404 (no route).
fn gateway_pages() -> Vec<(&'static str, u16, &'static str)> {
    vec![("/productpage", 200, BOOKINFO_TITLE)]
}

/// istio-ingressgateway as `istioctl install` creates it: LoadBalancer, port 80 → nodePort.
fn ingress_gateway(node_port: u16, load_balancer: serde_json::Value) -> serde_json::Value {
    let mut svc = service(
        "istio-system",
        "istio-ingressgateway",
        "LoadBalancer",
        80,
        Some(node_port),
    );
    svc["status"] = json!({"loadBalancer": load_balancer});
    svc
}

/// A loopback address of its own with port 80 bound, as a cloud load balancer answers; `None`
/// when this machine does not let the test bind port 80.
async fn load_balancer_listener() -> Option<TcpListener> {
    let pid = std::process::id();
    for i in 0..20u32 {
        let n = pid.wrapping_add(i * 7919);
        let ip = format!(
            "127.{}.{}.{}",
            200 + n % 50,
            (n / 50) % 250,
            1 + (n / 12_500) % 250
        );
        match TcpListener::bind((ip.as_str(), 80)).await {
            Ok(l) => return Some(l),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return None,
            Err(_) => continue,
        }
    }
    None
}

#[tokio::test]
async fn ingress_goes_to_the_load_balancer_address() {
    let Some(listener) = load_balancer_listener().await else {
        eprintln!(
            "skipped: binding port 80 on a loopback address needs root or a low ip_unprivileged_port_start"
        );
        return;
    };
    let lb_ip = listener.local_addr().unwrap().ip().to_string();
    let gateway = Site::serve(listener, gateway_pages());
    // The nodePort leads nowhere: the check must use the load balancer.
    let api = LiveApi::start(Cluster::new(vec![
        node("kind-control-plane", "127.0.0.1"),
        ingress_gateway(1, json!({"ingress": [{"ip": lb_ip, "ipMode": "VIP"}]})),
    ]))
    .await;

    let f = api
        .check(
            "      - id: page\n        title: Page\n        http:\n          ingress: /productpage\n          count: 2\n          \
             expect:\n            status: 200\n            body: {contains: <title>Simple Bookstore App</title>}\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert!(
        f.message.contains(&format!("http://{lb_ip}/productpage")),
        "{}",
        f.message
    );
    let f = api
        .check("      - id: root\n        title: Root\n        http:\n          ingress: /\n          expect: {status: 404}\n")
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert_eq!(
        gateway.requests(),
        [
            format!("{lb_ip} /productpage"),
            format!("{lb_ip} /productpage"),
            format!("{lb_ip} /")
        ]
    );
}

#[tokio::test]
async fn ingress_without_a_load_balancer_uses_the_node_port() {
    // kind without a load-balancer controller: the Service's external IP stays <pending>.
    let gateway = Site::start(gateway_pages()).await;
    let api = LiveApi::start(Cluster::new(vec![
        node("kind-control-plane", "127.0.0.1"),
        ingress_gateway(gateway.addr.port(), json!({})),
    ]))
    .await;
    let f = api
        .check("      - id: page\n        title: Page\n        http:\n          ingress: /productpage\n          expect: {status: 200}\n")
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert!(
        f.message.contains(&format!(
            "http://127.0.0.1:{}/productpage",
            gateway.addr.port()
        )),
        "{}",
        f.message
    );
    // An unrouted path fails an expectation of 200, saying what came back.
    let f = api
        .check("      - id: ratings\n        title: Ratings\n        http:\n          ingress: /ratings\n          expect: {status: 200}\n")
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(f.message.contains("404"), "{}", f.message);
}

#[tokio::test]
async fn ingress_with_nothing_to_reach_says_how_to_point_at_it() {
    let mut gateway = ingress_gateway(31380, json!({}));
    gateway["spec"]["type"] = json!("ClusterIP");
    gateway["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("nodePort");
    let api = LiveApi::start(Cluster::new(vec![
        node("kind-control-plane", "127.0.0.1"),
        gateway,
    ]))
    .await;
    let f = api
        .check("      - id: page\n        title: Page\n        http:\n          ingress: /productpage\n")
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(
        f.message.contains("is of type ClusterIP")
            && f.message
                .contains("set MESHWORK_INGRESS to the gateway's address"),
        "{}",
        f.message
    );

    // Istio not installed at all.
    let api = LiveApi::start(Cluster::new(vec![node("kind-control-plane", "127.0.0.1")])).await;
    let f = api
        .check("      - id: page\n        title: Page\n        http:\n          ingress: /productpage\n")
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(
        f.message
            .starts_with("there is no service istio-ingressgateway in namespace istio-system"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_service_is_reached_through_its_node_port_and_a_url_directly() {
    let app = Site::start(vec![("/productpage", 200, BOOKINFO_TITLE)]).await;
    let api = LiveApi::start(Cluster::new(vec![
        node("kind-control-plane", "127.0.0.1"),
        service(
            "default",
            "productpage",
            "NodePort",
            9080,
            Some(app.addr.port()),
        ),
        service("default", "details", "ClusterIP", 9080, None),
    ]))
    .await;
    let f = api
        .check(
            "      - id: page\n        title: Page\n        http:\n          service: {name: productpage, namespace: default, port: 9080, path: /productpage}\n          \
             expect:\n            body: {contains: Simple Bookstore App}\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    let f = api
        .check(&format!(
            "      - id: url\n        title: URL\n        http:\n          url: http://127.0.0.1:{}/productpage\n",
            app.addr.port()
        ))
        .await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    // A ClusterIP Service has no port the host can reach: the learner's state, a failure.
    let f = api
        .check(
            "      - id: details\n        title: Details\n        http:\n          service: {name: details, namespace: default, port: 9080, path: /details/0}\n",
        )
        .await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(
        f.message
            .contains("service details in namespace default is of type ClusterIP"),
        "{}",
        f.message
    );
    assert_eq!(
        app.requests(),
        [
            format!("127.0.0.1:{} /productpage", app.addr.port()),
            format!("127.0.0.1:{} /productpage", app.addr.port())
        ]
    );
}
