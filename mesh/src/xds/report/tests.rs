use std::collections::BTreeMap;

use meshwork_pilot::model::ParseError;
use meshwork_pilot::server::{Nack, PilotStatus, ProxyStatus, route_type};
use meshwork_pilot::translate::Warning;

use super::*;

const PRODUCTPAGE: &str = "sidecar~127.1.0.9~productpage-v1-abc.default~default.svc.cluster.local";
const GATEWAY: &str =
    "router~127.1.0.3~istio-ingressgateway-x.istio-system~istio-system.svc.cluster.local";

fn versions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn missing_subset() -> Warning {
    Warning {
        resource: "VirtualService default/reviews".into(),
        message: "field `http[0].route[0].destination.subset`: subset \"v9\" of \
                  reviews.default.svc.cluster.local is not defined by any DestinationRule; \
                  requests routed there get 503"
            .into(),
    }
}

/// productpage rejected its routes and sees the missing subset; the gateway is in sync and
/// sees it too; a disconnected proxy is not counted.
fn status() -> PilotStatus {
    let mut proxies = BTreeMap::new();
    let mut nacks = BTreeMap::new();
    nacks.insert(
        "RDS".to_owned(),
        Nack {
            node: PRODUCTPAGE.into(),
            type_url: route_type(),
            version: "b2".into(),
            message: "Proto constraint validation failed: timeout must be positive".into(),
        },
    );
    proxies.insert(
        PRODUCTPAGE.to_owned(),
        ProxyStatus {
            connected: true,
            sent: versions(&[("CDS", "a1"), ("RDS", "b2")]),
            acked: versions(&[("CDS", "a1"), ("RDS", "b1")]),
            nacks,
            warnings: vec![
                missing_subset(),
                Warning {
                    resource: "port 443".into(),
                    message: "other services also use port 443".into(),
                },
            ],
        },
    );
    proxies.insert(
        GATEWAY.to_owned(),
        ProxyStatus {
            connected: true,
            sent: versions(&[("CDS", "c1")]),
            acked: versions(&[("CDS", "c1")]),
            nacks: BTreeMap::new(),
            warnings: vec![missing_subset()],
        },
    );
    proxies.insert(
        "sidecar~127.1.0.20~gone.default~default.svc.cluster.local".to_owned(),
        ProxyStatus::default(),
    );
    PilotStatus { proxies }
}

#[test]
fn problems_name_each_resource_with_what_to_do() {
    let invalid = [ParseError {
        kind: "VirtualService".into(),
        namespace: "bookinfo".into(),
        name: "bad".into(),
        field: "spec.hosts".into(),
        message: "expected a list of hosts".into(),
    }];
    let p = problems_of(Some(&status()), &invalid);
    assert!(p.serving);
    assert_eq!(
        p.proxies,
        ProxyCounts {
            connected: 2,
            synced: 1
        }
    );
    let kinds: Vec<ProblemKind> = p.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::Invalid,
            ProblemKind::Rejected,
            ProblemKind::Warning
        ]
    );
    let invalid = &p.problems[0];
    assert_eq!(invalid.resource, "VirtualService bookinfo/bad");
    assert_eq!(invalid.namespace, "bookinfo");
    assert_eq!(
        invalid.message,
        "field `spec.hosts`: expected a list of hosts"
    );
    assert!(
        invalid.fix.contains("ignores this resource"),
        "{}",
        invalid.fix
    );
    let rejected = &p.problems[1];
    assert_eq!(
        rejected.resource,
        "routes (RDS) of pod default/productpage-v1-abc"
    );
    assert_eq!(rejected.namespace, "default");
    assert!(rejected.message.contains("timeout must be positive"));
    assert!(rejected.message.contains("previous configuration"));
    let warning = &p.problems[2];
    assert_eq!(warning.resource, "VirtualService default/reviews");
    assert_eq!(warning.namespace, "default");
    assert_eq!(
        warning.proxies,
        [
            "default/productpage-v1-abc",
            "istio-system/istio-ingressgateway-x"
        ],
        "one warning, every proxy it concerns"
    );
    assert!(warning.fix.contains("DestinationRule"), "{}", warning.fix);
    assert_eq!(
        p.notes
            .iter()
            .map(|n| n.resource.as_str())
            .collect::<Vec<_>>(),
        ["port 443"],
        "a warning about the mesh itself is a note, not a problem of the learner's"
    );
}

#[test]
fn without_a_server_only_malformed_resources_are_known() {
    let p = problems_of(None, &[]);
    assert!(!p.serving);
    assert!(p.problems.is_empty());
    assert_eq!(p.proxies, ProxyCounts::default());
    let board = ControlPlane::default();
    assert_eq!(board.syncz(None), serde_json::json!([]));
    assert_eq!(board.problems(), p);
}

#[test]
fn syncz_has_istios_fields_and_the_rejection() {
    let s = status();
    let entry = syncz_entry(PRODUCTPAGE, &s.proxies[PRODUCTPAGE]);
    assert_eq!(entry["proxy"], "productpage-v1-abc.default");
    assert_eq!(entry["proxy_type"], "sidecar");
    assert_eq!(entry["cluster_id"], "Kubernetes");
    assert_eq!(entry["cluster_sent"], "a1");
    assert_eq!(entry["cluster_acked"], "a1");
    assert_eq!(entry["route_sent"], "b2");
    assert_eq!(entry["route_acked"], "b1");
    assert!(entry.get("listener_sent").is_none());
    let routes = &entry["resources"][route_type()];
    assert_eq!(routes["sent"], "b2");
    assert_eq!(
        routes["lastError"],
        "Proto constraint validation failed: timeout must be positive"
    );
    let gateway = syncz_entry(GATEWAY, &s.proxies[GATEWAY]);
    assert_eq!(gateway["proxy"], "istio-ingressgateway-x.istio-system");
    assert_eq!(gateway["proxy_type"], "router");
}

#[test]
fn resources_name_their_namespace() {
    assert_eq!(namespace_of("VirtualService default/reviews"), "default");
    assert_eq!(namespace_of("Gateway istio-system/gw"), "istio-system");
    assert_eq!(namespace_of("something"), "");
}
