use super::*;
use serde_json::json;

struct Index;

impl ConfigSource for Index {
    fn destination_rule(&self, fqdn: &str) -> Option<String> {
        fqdn.starts_with("reviews.")
            .then(|| "reviews.default".to_owned())
    }
    fn virtual_service(&self, fqdn: &str, _gateway: bool) -> Option<String> {
        fqdn.starts_with("reviews.")
            .then(|| "reviews.default".to_owned())
    }
}

fn dump() -> Value {
    json!({"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
         "static_clusters": [{"cluster": {"name": "agent", "type": "STATIC"}}],
         "dynamic_active_clusters": [
            {"cluster": {"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "type": "EDS"}},
            {"cluster": {"name": "outbound|9080||reviews.default.svc.cluster.local", "type": "EDS"}},
            {"cluster": {"name": "outbound|9080||ratings.default.svc.cluster.local", "type": "EDS",
              "metadata": {"filter_metadata": {"istio": {"config": "/apis/networking.istio.io/v1/namespaces/prod/destination-rule/ratings-dr"}}}}},
            {"cluster": {"name": "inbound|9080||", "type": "STATIC"}}
         ]},
        {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
         "dynamic_listeners": [{"name": "x", "active_state": {"listener": {
            "address": {"socket_address": {"address": "127.3.0.1", "port_value": 9080}},
            "filter_chains": [
                {"filters": [{"name": "envoy.filters.network.http_connection_manager",
                              "typed_config": {"rds": {"route_config_name": "9080"}}}]},
                {"filter_chain_match": {"transport_protocol": "tls", "server_names": ["a.example"]},
                 "filters": [{"name": "envoy.filters.network.tcp_proxy",
                              "typed_config": {"cluster": "outbound|443||a.example"}}]}
            ]}}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
         "dynamic_route_configs": [{"route_config": {"name": "9080", "virtual_hosts": [
            {"name": "reviews.default.svc.cluster.local:9080",
             "domains": ["reviews.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local", "reviews", "10.0.0.1"],
             "routes": [{"match": {"prefix": "/"}}]},
            {"name": "block_all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}}]}
         ]}}]}
    ]})
}

#[test]
fn clusters_are_split_into_istios_columns_sorted_by_service() {
    let table = cluster_table(&dump(), &Filter::default(), &Index);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("SERVICE FQDN   "), "{table}");
    assert!(lines[0].ends_with("DESTINATION RULE"), "{table}");
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words(lines[1]), ["9080", "-", "inbound", "STATIC"]);
    assert_eq!(words(lines[2]), ["agent", "-", "-", "-", "STATIC"]);
    // Envoy's metadata wins over the index.
    assert_eq!(
        words(lines[3]),
        [
            "ratings.default.svc.cluster.local",
            "9080",
            "-",
            "outbound",
            "EDS",
            "ratings-dr.prod"
        ]
    );
    assert_eq!(
        words(lines[5]),
        [
            "reviews.default.svc.cluster.local",
            "9080",
            "v1",
            "outbound",
            "EDS",
            "reviews.default"
        ]
    );
    let only_v1 = Filter {
        subset: Some("v1".into()),
        ..Filter::default()
    };
    assert_eq!(cluster_table(&dump(), &only_v1, &Index).lines().count(), 2);
    let fqdn = Filter {
        fqdn: Some("ratings".into()),
        port: Some(9080),
        ..Filter::default()
    };
    assert_eq!(filtered_clusters(&dump(), &fqdn).len(), 1);
}

#[test]
fn listeners_show_a_row_per_filter_chain() {
    let table = listener_table(&dump(), &Filter::default());
    assert!(table.contains("127.3.0.1   9080   ALL"), "{table}");
    assert!(table.contains("Route: 9080"), "{table}");
    assert!(table.contains("SNI: a.example; Trans: tls"), "{table}");
    assert!(
        table.contains("Cluster: outbound|443||a.example"),
        "{table}"
    );
    let other_port = Filter {
        port: Some(80),
        ..Filter::default()
    };
    assert_eq!(listener_table(&dump(), &other_port).lines().count(), 1);
}

#[test]
fn routes_name_the_shortest_domain_and_the_virtual_service() {
    let table = route_table(&dump(), &Filter::default(), &Index);
    let row = table
        .lines()
        .find(|l| l.contains("reviews.default.svc.cluster.local:9080"))
        .unwrap();
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "9080",
            "reviews.default.svc.cluster.local:9080",
            "reviews",
            "+1",
            "more...",
            "/*",
            "reviews.default"
        ]
    );
    let block = table.lines().find(|l| l.contains("block_all")).unwrap();
    assert!(block.trim_end().ends_with("/*"), "{table}");
}

#[test]
fn endpoints_show_health_and_outlier_state() {
    let clusters = json!({"cluster_statuses": [
        {"name": "outbound|9080||reviews.default.svc.cluster.local", "host_statuses": [
            {"address": {"socket_address": {"address": "127.1.0.2", "port_value": 9080}},
             "health_status": {"eds_health_status": "HEALTHY", "failed_outlier_check": true}},
            {"address": {"socket_address": {"address": "127.1.0.1", "port_value": 9080}},
             "health_status": {"eds_health_status": "HEALTHY"}}
        ]},
        {"name": "agent", "host_statuses": [
            {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 15020}},
             "health_status": {}}
        ]}
    ]});
    let table = endpoint_table(&clusters, &Filter::default());
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ENDPOINT", "STATUS", "OUTLIER", "CHECK", "CLUSTER"]
    );
    assert!(
        lines[1].starts_with("127.0.0.1:15020   HEALTHY   OK"),
        "{table}"
    );
    assert!(
        lines[2].contains("127.1.0.1:9080") && lines[2].contains(" OK "),
        "{table}"
    );
    assert!(
        lines[3].contains("127.1.0.2:9080") && lines[3].contains("FAILED"),
        "{table}"
    );
    let one = Filter {
        cluster: Some("agent".into()),
        ..Filter::default()
    };
    assert_eq!(endpoint_table(&clusters, &one).lines().count(), 2);
}

#[test]
fn secrets_are_named_with_their_kind_and_state() {
    let dump = json!({"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
         "dynamic_active_secrets": [{"name": "default", "secret": {"tls_certificate": {}}}],
         "dynamic_warming_secrets": [{"name": "ROOTCA", "secret": {"validation_context": {}}}]}
    ]});
    let table = secret_table(&dump);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "RESOURCE", "NAME", "TYPE", "STATUS", "VALID", "CERT", "SERIAL", "NUMBER", "NOT",
            "AFTER", "NOT", "BEFORE"
        ],
        "{table}"
    );
    assert_eq!(
        lines[1],
        ["default", "Cert", "Chain", "ACTIVE", "false", "-", "-", "-"],
        "{table}"
    );
    assert_eq!(
        lines[2],
        ["ROOTCA", "CA", "WARMING", "false", "-", "-", "-"],
        "{table}"
    );
    // No secrets: only the header, as istioctl prints it.
    assert_eq!(secret_table(&json!({"configs": []})).lines().count(), 1);
}

#[test]
fn secrets_show_the_certificates_serial_validity_and_spiffe_id() {
    use std::time::{Duration, SystemTime};

    use meshwork_pilot::ca::{self, Ca};

    // Base64, as Envoy's config dump writes bytes.
    let encode =
        |bytes: &[u8]| serde_json::to_value(k8s_openapi::ByteString(bytes.to_vec())).unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_694_400); // 2026-11-26T12:00:00Z
    let root = Ca::generate(t0).unwrap();
    let id = ca::spiffe_id("default", "bookinfo-productpage");
    let leaf = root.issue(&id, ca::DEFAULT_CERT_TTL, t0).unwrap();
    let dump = json!({"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
         "dynamic_active_secrets": [
            {"name": "default", "secret": {"name": "default", "tls_certificate": {
                "certificate_chain": {"inline_bytes": encode(leaf.chain_pem.as_bytes())},
                "private_key": {"inline_bytes": "W3JlZGFjdGVkXQ=="}}}},
            {"name": "ROOTCA", "secret": {"name": "ROOTCA", "validation_context": {
                "trusted_ca": {"inline_bytes": encode(root.root_pem().as_bytes())}}}}
         ]}
    ]});
    let table = secret_table_at(&dump, t0 + Duration::from_secs(3600));
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[1],
        [
            "default",
            "Cert",
            "Chain",
            "ACTIVE",
            "true",
            leaf.serial.as_str(),
            "2026-11-27T12:00:00Z",
            "2026-11-26T11:59:00Z"
        ],
        "{table}"
    );
    assert_eq!(lines[2][..4], ["ROOTCA", "CA", "ACTIVE", "true"], "{table}");
    assert_eq!(
        lines[2][5..],
        ["2036-11-23T12:00:00Z", "2026-11-26T11:59:00Z"],
        "{table}"
    );
    assert!(
        table.ends_with(&format!("\ndefault: {id} (chain of 2 certificates)\n")),
        "{table}"
    );
    // Expired: VALID CERT false.
    let later = secret_table_at(&dump, t0 + Duration::from_secs(2 * 86_400));
    assert_eq!(
        later.lines().nth(1).unwrap().split_whitespace().nth(4),
        Some("false")
    );
}
