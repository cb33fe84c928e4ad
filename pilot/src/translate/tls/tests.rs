//! Mutual TLS translation: auto mTLS on outbound clusters, DestinationRule TLS modes,
//! PeerAuthentication on inbound listeners and XFCC.

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::{TransportSocket, transport_socket};
use envoy_types::pb::envoy::config::endpoint::v3::LbEndpoint;
use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, http_connection_manager::ForwardClientCertDetails,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, DownstreamTlsContext, UpstreamTlsContext, common_tls_context,
    subject_alt_name_matcher::SanType, tls_parameters::TlsProtocol,
};
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::google::protobuf::value::Kind;
use prost::Message;

use super::*;
use crate::model::{ContainerPort, Endpoint, Model, Proxy, ProxyKind, Service, ServicePort};
use crate::translate::tests::yaml;
use crate::translate::{Resources, labels, translate};

const HTTPBIN: &str = "outbound|8000||httpbin.foo.svc.cluster.local";

fn service(ns: &str, name: &str, port: u16, target: u16, ip: &str) -> Service {
    Service {
        namespace: ns.into(),
        name: name.into(),
        cluster_ip: Some(ip.parse().unwrap()),
        ports: vec![ServicePort {
            name: "http".into(),
            port,
            protocol: "TCP".into(),
            app_protocol: None,
            target_port: target,
        }],
        selector: labels(&[("app", name)]),
    }
}

fn endpoint(ns: &str, name: &str, ip: &str, ports: (u16, u16), sidecar: bool) -> Endpoint {
    Endpoint {
        namespace: ns.into(),
        service: name.into(),
        pod: format!("{name}-1"),
        ip: ip.parse().unwrap(),
        ports: [ports].into_iter().collect(),
        labels: labels(&[("app", name), ("version", "v1")]),
        service_account: name.into(),
        sidecar,
    }
}

/// Istio's mTLS migration task: httpbin and curl in foo (injected) and legacy (not).
fn migration() -> Model {
    let mut model = Model::new();
    model
        .services
        .push(service("foo", "httpbin", 8000, 8080, "10.96.0.10"));
    model
        .services
        .push(service("legacy", "httpbin", 8000, 8080, "10.96.0.11"));
    model
        .endpoints
        .push(endpoint("foo", "httpbin", "127.1.0.10", (8000, 8080), true));
    model.endpoints.push(endpoint(
        "legacy",
        "httpbin",
        "127.1.0.11",
        (8000, 8080),
        false,
    ));
    model
}

fn sidecar(ns: &str, app: &str, ip: u8, ports: &[u16]) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: format!("{app}-1"),
        namespace: ns.into(),
        labels: labels(&[("app", app), ("version", "v1")]),
        service_account: app.into(),
        ip: format!("127.1.0.{ip}").parse().unwrap(),
        app_ip: format!("127.2.0.{ip}").parse().unwrap(),
        outbound_ip: format!("127.3.0.{ip}").parse().unwrap(),
        ports: ports
            .iter()
            .map(|p| ContainerPort {
                name: "http".into(),
                port: *p,
            })
            .collect(),
        port_map: Default::default(),
    }
}

fn httpbin_proxy() -> Proxy {
    sidecar("foo", "httpbin", 10, &[8080])
}

fn curl_proxy() -> Proxy {
    sidecar("foo", "curl", 20, &[])
}

fn cluster<'a>(res: &'a Resources, name: &str) -> &'a Cluster {
    res.cluster(name)
        .unwrap_or_else(|| panic!("no cluster {name}"))
}

fn upstream(socket: &TransportSocket) -> UpstreamTlsContext {
    assert_eq!(socket.name, "envoy.transport_sockets.tls");
    let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type else {
        panic!("no typed config: {socket:?}");
    };
    UpstreamTlsContext::decode(any.value.as_slice()).unwrap()
}

fn downstream(socket: &TransportSocket) -> DownstreamTlsContext {
    assert_eq!(socket.name, "envoy.transport_sockets.tls");
    let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type else {
        panic!("no typed config: {socket:?}");
    };
    DownstreamTlsContext::decode(any.value.as_slice()).unwrap()
}

/// (SDS certificate names, SDS validation name, exact URI SANs).
fn identity(common: &CommonTlsContext) -> (Vec<String>, String, Vec<String>) {
    let certs = common
        .tls_certificate_sds_secret_configs
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let Some(common_tls_context::ValidationContextType::CombinedValidationContext(combined)) =
        &common.validation_context_type
    else {
        panic!("no combined validation: {common:?}");
    };
    let root = combined
        .validation_context_sds_secret_config
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let sans = combined
        .default_validation_context
        .as_ref()
        .map(|v| {
            v.match_typed_subject_alt_names
                .iter()
                .map(|m| {
                    assert_eq!(m.san_type, SanType::Uri as i32);
                    match m.matcher.as_ref().and_then(|s| s.match_pattern.clone()) {
                        Some(MatchPattern::Exact(e)) => e,
                        other => panic!("not exact: {other:?}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    (certs, root, sans)
}

fn lb_endpoints<'a>(res: &'a Resources, name: &str) -> Vec<&'a LbEndpoint> {
    res.assignment(name)
        .unwrap_or_else(|| panic!("no assignment {name}"))
        .endpoints
        .iter()
        .flat_map(|l| l.lb_endpoints.iter())
        .collect()
}

fn tls_mode(e: &LbEndpoint) -> Option<String> {
    let fields = &e
        .metadata
        .as_ref()?
        .filter_metadata
        .get(TRANSPORT_SOCKET_MATCH)?
        .fields;
    match fields.get("tlsMode")?.kind.as_ref()? {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn manager(listener: &Listener, chain: usize) -> HttpConnectionManager {
    let filter = &listener.filter_chains[chain].filters[0];
    let Some(filter::ConfigType::TypedConfig(any)) = &filter.config_type else {
        panic!("no typed config");
    };
    HttpConnectionManager::decode(any.value.as_slice()).unwrap()
}

/// (transport protocol matched, TLS required) per filter chain of the inbound listener.
fn chains(listener: &Listener) -> Vec<(String, bool)> {
    listener
        .filter_chains
        .iter()
        .map(|c| {
            let transport = c
                .filter_chain_match
                .as_ref()
                .map(|m| m.transport_protocol.clone())
                .unwrap_or_default();
            let tls = c.transport_socket.as_ref().is_some_and(|s| {
                downstream(s).require_client_certificate.map(|b| b.value) == Some(true)
            });
            (transport, tls)
        })
        .collect()
}

fn inspects_tls(listener: &Listener) -> bool {
    listener
        .listener_filters
        .iter()
        .any(|f| f.name == TLS_INSPECTOR)
}

#[test]
fn outbound_clusters_speak_istio_mtls_to_sidecars_and_plaintext_to_the_rest() {
    let res = translate(&migration(), &curl_proxy());
    let c = cluster(&res, HTTPBIN);
    assert!(c.transport_socket.is_none());
    let names: Vec<&str> = c
        .transport_socket_matches
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["tlsMode-istio", "tlsMode-disabled"]);
    let istio = &c.transport_socket_matches[0];
    let wanted = istio.r#match.as_ref().unwrap();
    assert_eq!(
        wanted.fields.get("tlsMode").and_then(|v| v.kind.clone()),
        Some(Kind::StringValue("istio".into()))
    );
    let ctx = upstream(istio.transport_socket.as_ref().unwrap());
    assert_eq!(ctx.sni, "outbound_.8000_._.httpbin.foo.svc.cluster.local");
    let common = ctx.common_tls_context.unwrap();
    assert_eq!(common.alpn_protocols, ["istio-peer-exchange", "istio"]);
    let params = common.tls_params.clone().unwrap();
    assert_eq!(
        params.tls_minimum_protocol_version,
        TlsProtocol::TlSv12 as i32
    );
    assert_eq!(
        params.tls_maximum_protocol_version,
        TlsProtocol::TlSv13 as i32
    );
    assert_eq!(
        identity(&common),
        (
            vec!["default".to_owned()],
            "ROOTCA".to_owned(),
            vec!["spiffe://cluster.local/ns/foo/sa/httpbin".to_owned()]
        )
    );
    let plain = &c.transport_socket_matches[1];
    assert!(plain.r#match.as_ref().unwrap().fields.is_empty());
    assert_eq!(
        plain.transport_socket.as_ref().unwrap().name,
        "envoy.transport_sockets.raw_buffer"
    );
    // The injected httpbin is marked for TLS, the legacy one is not.
    let foo = lb_endpoints(&res, HTTPBIN);
    assert_eq!(tls_mode(foo[0]).as_deref(), Some("istio"));
    let legacy = lb_endpoints(&res, "outbound|8000||httpbin.legacy.svc.cluster.local");
    assert_eq!(tls_mode(legacy[0]), None);
}

#[test]
fn subset_clusters_send_the_subset_in_their_sni_and_name_every_service_account() {
    let mut model = migration();
    let mut v2 = endpoint("foo", "httpbin", "127.1.0.12", (8000, 8080), true);
    v2.labels.insert("version".into(), "v2".into());
    v2.service_account = "httpbin-v2".into();
    v2.pod = "httpbin-2".into();
    model.endpoints.push(v2);
    yaml(
        &mut model,
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin
  subsets:
  - {name: v1, labels: {version: v1}}",
    );
    let res = translate(&model, &curl_proxy());
    let c = cluster(&res, "outbound|8000|v1|httpbin.foo.svc.cluster.local");
    let ctx = upstream(
        c.transport_socket_matches[0]
            .transport_socket
            .as_ref()
            .unwrap(),
    );
    assert_eq!(ctx.sni, "outbound_.8000_.v1_.httpbin.foo.svc.cluster.local");
    assert_eq!(
        identity(&ctx.common_tls_context.unwrap()).2,
        [
            "spiffe://cluster.local/ns/foo/sa/httpbin",
            "spiffe://cluster.local/ns/foo/sa/httpbin-v2"
        ]
    );
}

#[test]
fn gateways_and_pods_labelled_disabled_or_without_mtls_get_plaintext() {
    let mut model = migration();
    let mut gw = endpoint("foo", "httpbin", "127.1.0.13", (8000, 8080), true);
    gw.labels.insert("istio".into(), "ingressgateway".into());
    gw.pod = "gw".into();
    let mut opted_out = endpoint("foo", "httpbin", "127.1.0.14", (8000, 8080), true);
    opted_out
        .labels
        .insert(TLS_MODE_LABEL.into(), "disabled".into());
    opted_out.pod = "opted-out".into();
    let mut labelled = endpoint("foo", "httpbin", "127.1.0.15", (8000, 8080), false);
    labelled
        .labels
        .insert(TLS_MODE_LABEL.into(), "istio".into());
    labelled.pod = "labelled".into();
    model.endpoints.extend([gw, opted_out, labelled]);
    let res = translate(&model, &curl_proxy());
    let modes: Vec<Option<String>> = lb_endpoints(&res, HTTPBIN)
        .into_iter()
        .map(tls_mode)
        .collect();
    assert_eq!(
        modes,
        [
            Some("istio".to_owned()),
            None,
            None,
            Some("istio".to_owned())
        ]
    );
}

#[test]
fn a_destination_peer_authentication_disable_sends_plaintext_to_it() {
    let mut model = migration();
    yaml(
        &mut model,
        "apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  mtls: {mode: DISABLE}",
    );
    let res = translate(&model, &curl_proxy());
    assert_eq!(tls_mode(lb_endpoints(&res, HTTPBIN)[0]), None);
    // Only the port named in portLevelMtls (the pod's port 8080, not the Service's 8000).
    let mut model = migration();
    yaml(
        &mut model,
        "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  portLevelMtls: {8080: {mode: DISABLE}}",
    );
    let res = translate(&model, &curl_proxy());
    assert_eq!(tls_mode(lb_endpoints(&res, HTTPBIN)[0]), None);
}

#[test]
fn destination_rule_tls_modes_replace_auto_mtls() {
    let rule = |tls: &str| {
        let mut model = migration();
        yaml(
            &mut model,
            &format!(
                "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: httpbin, namespace: foo}}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy:
    tls: {tls}
  subsets:
  - name: v1
    labels: {{version: v1}}
    trafficPolicy:
      tls: {{mode: ISTIO_MUTUAL}}"
            ),
        );
        translate(&model, &curl_proxy())
    };
    let disabled = rule("{mode: DISABLE}");
    let c = cluster(&disabled, HTTPBIN);
    assert!(c.transport_socket.is_none() && c.transport_socket_matches.is_empty());
    // The subset's own policy wins over the rule's.
    let v1 = cluster(&disabled, "outbound|8000|v1|httpbin.foo.svc.cluster.local");
    assert!(v1.transport_socket_matches.is_empty());
    let ctx = upstream(v1.transport_socket.as_ref().unwrap());
    assert_eq!(ctx.sni, "outbound_.8000_.v1_.httpbin.foo.svc.cluster.local");
    assert_eq!(
        identity(&ctx.common_tls_context.unwrap()).0,
        ["default".to_owned()]
    );

    let istio = rule("{mode: ISTIO_MUTUAL, sni: my.sni, subjectAltNames: [spiffe://x/ns/a/sa/b]}");
    let ctx = upstream(cluster(&istio, HTTPBIN).transport_socket.as_ref().unwrap());
    assert_eq!(ctx.sni, "my.sni");
    assert_eq!(
        identity(&ctx.common_tls_context.unwrap()).2,
        ["spiffe://x/ns/a/sa/b"]
    );
}

#[test]
fn port_level_tls_settings_apply_to_their_port_only() {
    let mut model = migration();
    model.services[0].ports.push(ServicePort {
        name: "http-alt".into(),
        port: 9000,
        protocol: "TCP".into(),
        app_protocol: None,
        target_port: 9000,
    });
    yaml(
        &mut model,
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin
  trafficPolicy:
    portLevelSettings:
    - port: {number: 9000}
      tls: {mode: DISABLE}",
    );
    let res = translate(&model, &curl_proxy());
    assert_eq!(cluster(&res, HTTPBIN).transport_socket_matches.len(), 2);
    let alt = cluster(&res, "outbound|9000||httpbin.foo.svc.cluster.local");
    assert!(alt.transport_socket_matches.is_empty() && alt.transport_socket.is_none());
}

#[test]
fn simple_and_mutual_tls_read_certificate_files_and_warn_about_missing_ones() {
    let dir = std::env::temp_dir().join(format!("meshwork-pilot-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(dir.join(f), "not checked by pilot").unwrap();
    }
    let path = |f: &str| dir.join(f).display().to_string();
    let mut model = migration();
    yaml(
        &mut model,
        &format!(
            "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: httpbin, namespace: foo}}
spec:
  host: httpbin
  trafficPolicy:
    tls:
      mode: MUTUAL
      caCertificates: {}
      clientCertificate: {}
      privateKey: {}
      subjectAltNames: [httpbin.example.com]",
            path("ca.pem"),
            path("cert.pem"),
            path("key.pem")
        ),
    );
    let res = translate(&model, &curl_proxy());
    let ctx = upstream(cluster(&res, HTTPBIN).transport_socket.as_ref().unwrap());
    assert_eq!(ctx.sni, "httpbin.foo.svc.cluster.local");
    let common = ctx.common_tls_context.unwrap();
    assert!(common.alpn_protocols.is_empty());
    let cert = &common.tls_certificates[0];
    let file = |d: &Option<envoy_types::pb::envoy::config::core::v3::DataSource>| match d
        .as_ref()
        .and_then(|d| d.specifier.clone())
    {
        Some(envoy_types::pb::envoy::config::core::v3::data_source::Specifier::Filename(f)) => f,
        other => panic!("not a file: {other:?}"),
    };
    assert_eq!(file(&cert.certificate_chain), path("cert.pem"));
    assert_eq!(file(&cert.private_key), path("key.pem"));
    let Some(common_tls_context::ValidationContextType::ValidationContext(v)) =
        &common.validation_context_type
    else {
        panic!("no validation context");
    };
    assert_eq!(file(&v.trusted_ca), path("ca.pem"));
    assert!(!v.match_typed_subject_alt_names.is_empty());
    assert!(res.warnings.is_empty(), "{:?}", res.warnings);
    std::fs::remove_dir_all(&dir).unwrap();

    // Files that exist only in a pod's volumes: TLS still, with warnings naming the fields.
    let mut model = migration();
    yaml(
        &mut model,
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin
  trafficPolicy:
    tls: {mode: MUTUAL, sni: httpbin.example.com, caCertificates: /etc/certs/ca.pem,
          clientCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem}",
    );
    let res = translate(&model, &curl_proxy());
    let ctx = upstream(cluster(&res, HTTPBIN).transport_socket.as_ref().unwrap());
    assert_eq!(ctx.sni, "httpbin.example.com");
    assert!(ctx.common_tls_context.unwrap().tls_certificates.is_empty());
    let fields: Vec<&str> = res
        .warnings
        .iter()
        .filter(|w| w.resource == "DestinationRule foo/httpbin")
        .map(|w| w.message.split('`').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        fields,
        [
            "trafficPolicy.tls.caCertificates",
            "trafficPolicy.tls.clientCertificate",
            "trafficPolicy.tls.privateKey"
        ],
        "{:?}",
        res.warnings
    );
    assert!(
        res.warnings[0]
            .message
            .contains("/etc/certs/ca.pem is not a file on this machine")
    );
}

#[test]
fn an_unknown_tls_mode_is_a_parse_error_naming_the_field() {
    let mut model = Model::new();
    let err = model
        .add_istio_object(&serde_json::json!({
            "kind": "DestinationRule",
            "metadata": {"name": "httpbin", "namespace": "foo"},
            "spec": {"host": "httpbin", "trafficPolicy": {"tls": {"mode": "ISTIO"}}}
        }))
        .unwrap_err();
    assert_eq!(err.field, "spec.trafficPolicy.tls.mode");
}

#[test]
fn inbound_listeners_follow_the_peer_authentication_mode() {
    let inbound = |policies: &str| {
        let mut model = migration();
        if !policies.is_empty() {
            yaml(&mut model, policies);
        }
        let res = translate(&model, &httpbin_proxy());
        res.listener("127.1.0.10_8080").unwrap().clone()
    };
    let permissive = inbound("");
    assert!(inspects_tls(&permissive));
    assert_eq!(
        chains(&permissive),
        [("tls".to_owned(), true), ("raw_buffer".to_owned(), false)]
    );
    let tls = downstream(
        permissive.filter_chains[0]
            .transport_socket
            .as_ref()
            .unwrap(),
    );
    let common = tls.common_tls_context.unwrap();
    assert_eq!(identity(&common).0, ["default"]);
    assert_eq!(identity(&common).1, "ROOTCA");

    let strict_ns = "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec:
  mtls: {mode: STRICT}";
    let strict = inbound(strict_ns);
    assert!(inspects_tls(&strict));
    assert_eq!(chains(&strict), [("tls".to_owned(), true)]);

    let strict_mesh = "apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}";
    assert_eq!(chains(&inbound(strict_mesh)), [("tls".to_owned(), true)]);

    let disabled = inbound(
        "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  mtls: {mode: STRICT}
  portLevelMtls:
    8080: {mode: DISABLE}",
    );
    assert!(!inspects_tls(&disabled));
    assert_eq!(chains(&disabled), [(String::new(), false)]);

    // The namespace's PERMISSIVE wins over the mesh's STRICT.
    let both = inbound(&format!(
        "{strict_mesh}\n---\napiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: foo}}
spec:
  mtls: {{mode: PERMISSIVE}}"
    ));
    assert_eq!(chains(&both).len(), 2);
}

#[test]
fn port_level_mtls_where_istio_ignores_it_is_a_warning() {
    let mut model = migration();
    yaml(
        &mut model,
        "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec:
  mtls: {mode: STRICT}
  portLevelMtls: {8080: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  portLevelMtls: {8000: {mode: DISABLE}}",
    );
    let res = translate(&model, &httpbin_proxy());
    let messages: Vec<String> = res.warnings.iter().map(ToString::to_string).collect();
    assert!(
        messages.iter().any(|m| m.starts_with(
            "PeerAuthentication foo/default: field `portLevelMtls`: port-level modes apply only"
        )),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with(
            "PeerAuthentication foo/httpbin: field `portLevelMtls.8000`: pod foo/httpbin-1 has no container port 8000"
        )),
        "{messages:?}"
    );
    // Both ignored: the namespace's STRICT holds on 8080.
    assert_eq!(
        chains(res.listener("127.1.0.10_8080").unwrap()),
        [("tls".to_owned(), true)]
    );
}

#[test]
fn inbound_connection_managers_append_the_client_identity_to_xfcc() {
    let res = translate(&migration(), &httpbin_proxy());
    let listener = res.listener("127.1.0.10_8080").unwrap();
    for chain in 0..listener.filter_chains.len() {
        let hcm = manager(listener, chain);
        assert_eq!(
            hcm.forward_client_cert_details,
            ForwardClientCertDetails::AppendForward as i32
        );
        let details = hcm.set_current_client_cert_details.unwrap();
        assert_eq!(details.subject.map(|b| b.value), Some(true));
        assert!(details.uri && details.dns && !details.cert);
        assert!(!hcm.access_log.is_empty(), "access logs stay on");
    }
    // The application's own XFCC never leaves through the outbound side.
    let curl = translate(&migration(), &curl_proxy());
    let outbound = curl.listener("127.3.0.20_8000").unwrap();
    assert_eq!(
        manager(outbound, 0).forward_client_cert_details,
        ForwardClientCertDetails::Sanitize as i32
    );
}

#[test]
fn the_ingress_gateway_speaks_mtls_to_injected_services_and_sanitizes_xfcc() {
    let mut model = migration();
    model.services.push(service(
        "istio-system",
        "istio-ingressgateway",
        80,
        8080,
        "10.96.0.2",
    ));
    yaml(
        &mut model,
        "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: foo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: foo}
spec:
  hosts: ['*']
  gateways: [gw]
  http:
  - route:
    - destination: {host: httpbin, port: {number: 8000}}",
    );
    let gateway = Proxy {
        kind: ProxyKind::Gateway,
        labels: labels(&[("istio", "ingressgateway"), ("app", "istio-ingressgateway")]),
        ..sidecar("istio-system", "istio-ingressgateway", 2, &[8080])
    };
    let res = translate(&model, &gateway);
    let c = cluster(&res, HTTPBIN);
    assert_eq!(c.transport_socket_matches.len(), 2);
    assert_eq!(
        tls_mode(lb_endpoints(&res, HTTPBIN)[0]).as_deref(),
        Some("istio")
    );
    let listener = &res.listeners[0];
    assert!(!inspects_tls(listener), "gateway listeners take plain HTTP");
    assert_eq!(
        manager(listener, 0).forward_client_cert_details,
        ForwardClientCertDetails::SanitizeSet as i32
    );
}

#[test]
fn sni_and_spiffe_ids_follow_istio() {
    assert_eq!(
        sni("outbound|9080|v1|reviews.default.svc.cluster.local"),
        "outbound_.9080_.v1_.reviews.default.svc.cluster.local"
    );
    assert_eq!(
        sni("outbound|80||a.b.svc.cluster.local"),
        "outbound_.80_._.a.b.svc.cluster.local"
    );
    assert_eq!(
        spiffe_id("cluster.local", "foo", "curl"),
        "spiffe://cluster.local/ns/foo/sa/curl"
    );
}

#[test]
fn warnings_name_where_the_tls_settings_were_written() {
    let mut model = migration();
    yaml(
        &mut model,
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin
  trafficPolicy:
    portLevelSettings:
    - port: {number: 8000}
      tls: {mode: SIMPLE, caCertificates: /no/such/ca.pem}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      tls: {mode: SIMPLE, credentialName: httpbin-ca}",
    );
    let res = translate(&model, &curl_proxy());
    let messages: Vec<String> = res.warnings.iter().map(ToString::to_string).collect();
    assert!(
        messages.iter().any(|m| m.starts_with(
            "DestinationRule foo/httpbin: field `trafficPolicy.portLevelSettings[0].tls.caCertificates`: /no/such/ca.pem is not a file"
        )),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with(
            "DestinationRule foo/httpbin: field `subsets[0].trafficPolicy.tls.credentialName`: certificates from Kubernetes Secrets are not supported"
        )),
        "{messages:#?}"
    );
    // SIMPLE is TLS without a client certificate, with the host as SNI.
    let v1 = cluster(&res, "outbound|8000|v1|httpbin.foo.svc.cluster.local");
    let ctx = upstream(v1.transport_socket.as_ref().unwrap());
    assert_eq!(ctx.sni, "httpbin.foo.svc.cluster.local");
    assert!(ctx.common_tls_context.unwrap().tls_certificates.is_empty());
}
