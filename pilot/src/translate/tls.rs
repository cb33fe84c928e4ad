//! Mutual TLS between sidecars, in Envoy terms, as Istio configures it.
//!
//! - Client side (outbound clusters): Istio's auto mutual TLS — `transport_socket_matches` that
//!   speak TLS with the workload certificate (SDS [`SDS_WORKLOAD_SECRET`]) to endpoints whose
//!   metadata says `tlsMode: istio` (pods with a sidecar) and plaintext to the others; a
//!   DestinationRule's `trafficPolicy.tls` (DISABLE, ISTIO_MUTUAL, SIMPLE, MUTUAL) replaces it.
//!   The server's certificate must be signed by the mesh's root ([`SDS_ROOT_SECRET`]) and carry
//!   the SPIFFE id of one of the destination's service accounts (secure naming).
//! - Server side (inbound listeners): a TLS inspector and filter chains chosen by transport
//!   protocol — a TLS chain that requires a client certificate from the mesh, a plaintext chain —
//!   according to the PeerAuthentication mode in force for the workload's port.

use std::collections::{BTreeSet, HashMap};

use envoy_types::pb::envoy::config::cluster::v3::cluster::TransportSocketMatch;
use envoy_types::pb::envoy::config::core::v3::{
    DataSource, Metadata, TransportSocket, data_source, transport_socket,
};
use envoy_types::pb::envoy::config::listener::v3::{ListenerFilter, listener_filter};
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, SdsSecretConfig,
    SubjectAltNameMatcher, TlsCertificate, TlsParameters, UpstreamTlsContext,
    common_tls_context::{CombinedCertificateValidationContext, ValidationContextType},
    subject_alt_name_matcher::SanType,
    tls_parameters::TlsProtocol,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern};
use envoy_types::pb::google::protobuf::{BoolValue, Struct, Value, value::Kind};
use envoy_types::util::pack_any;

use super::cluster::ads_source;
use super::{Ctx, SDS_ROOT_SECRET, SDS_WORKLOAD_SECRET};
use crate::model::Endpoint;
use crate::model::istio::{ClientTlsMode, ClientTlsSettings};
use crate::model::security::{MtlsMode, PeerAuthenticationLevels};

/// The pod label Istio's injector sets on workloads whose sidecar accepts mutual TLS.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";
/// The endpoint metadata key a cluster's `transport_socket_matches` look at (Envoy's).
pub const TRANSPORT_SOCKET_MATCH: &str = "envoy.transport_socket_match";
/// ALPN a sidecar offers when it speaks Istio's mutual TLS.
pub const ISTIO_ALPN: [&str; 2] = ["istio-peer-exchange", "istio"];
/// Envoy's listener filter that tells TLS from plaintext connections.
pub const TLS_INSPECTOR: &str = "envoy.filters.listener.tls_inspector";
const TLS_SOCKET: &str = "envoy.transport_sockets.tls";
const RAW_SOCKET: &str = "envoy.transport_sockets.raw_buffer";
/// `transport_protocol` of a connection the TLS inspector recognised as TLS.
pub const TRANSPORT_TLS: &str = "tls";
/// `transport_protocol` of any other connection.
pub const TRANSPORT_RAW: &str = "raw_buffer";

/// The SPIFFE id of service account `sa` in namespace `ns` of `trust_domain`:
/// `spiffe://cluster.local/ns/foo/sa/curl`.
pub fn spiffe_id(trust_domain: &str, ns: &str, sa: &str) -> String {
    format!("spiffe://{trust_domain}/ns/{ns}/sa/{sa}")
}

/// The SNI a sidecar sends for an outbound cluster, Istio's form of the cluster name:
/// `outbound|9080|v1|reviews.default.svc.cluster.local` →
/// `outbound_.9080_.v1_.reviews.default.svc.cluster.local` (`outbound_.9080_._.…` without one).
pub fn sni(cluster_name: &str) -> String {
    let mut parts = cluster_name.splitn(4, '|');
    let direction = parts.next().unwrap_or_default();
    let port = parts.next().unwrap_or_default();
    let subset = parts.next().unwrap_or_default();
    let host = parts.next().unwrap_or_default();
    format!("{direction}_.{port}_.{subset}_.{host}")
}

fn sds(name: &str) -> SdsSecretConfig {
    SdsSecretConfig {
        name: name.to_owned(),
        sds_config: Some(ads_source()),
    }
}

fn tls_params() -> TlsParameters {
    TlsParameters {
        tls_minimum_protocol_version: TlsProtocol::TlSv12 as i32,
        tls_maximum_protocol_version: TlsProtocol::TlSv13 as i32,
        ..Default::default()
    }
}

fn uri_san(exact: &str) -> SubjectAltNameMatcher {
    SubjectAltNameMatcher {
        san_type: SanType::Uri as i32,
        matcher: Some(StringMatcher {
            match_pattern: Some(MatchPattern::Exact(exact.to_owned())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A name matched against every SAN type (a DestinationRule's `subjectAltNames` may list DNS
/// names or SPIFFE ids).
fn any_san(exact: &str) -> Vec<SubjectAltNameMatcher> {
    [SanType::Dns, SanType::Uri]
        .into_iter()
        .map(|t| SubjectAltNameMatcher {
            san_type: t as i32,
            matcher: Some(StringMatcher {
                match_pattern: Some(MatchPattern::Exact(exact.to_owned())),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect()
}

/// The mesh identity: own certificate and key from SDS `default`, peers checked against the
/// root from SDS `ROOTCA` and, when given, the SPIFFE ids in `sans`.
fn istio_common(alpn: &[&str], sans: &[String]) -> CommonTlsContext {
    CommonTlsContext {
        tls_params: Some(tls_params()),
        tls_certificate_sds_secret_configs: vec![sds(SDS_WORKLOAD_SECRET)],
        validation_context_type: Some(ValidationContextType::CombinedValidationContext(
            CombinedCertificateValidationContext {
                default_validation_context: Some(CertificateValidationContext {
                    match_typed_subject_alt_names: sans.iter().map(|s| uri_san(s)).collect(),
                    ..Default::default()
                }),
                validation_context_sds_secret_config: Some(sds(SDS_ROOT_SECRET)),
                ..Default::default()
            },
        )),
        alpn_protocols: alpn.iter().map(|a| (*a).to_owned()).collect(),
        ..Default::default()
    }
}

fn tls_socket(context: envoy_types::pb::google::protobuf::Any) -> TransportSocket {
    TransportSocket {
        name: TLS_SOCKET.to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(context)),
    }
}

/// A client's Istio mutual TLS towards a peer with one of the identities `sans`.
pub(crate) fn istio_upstream(sni: &str, sans: &[String]) -> TransportSocket {
    tls_socket(pack_any(UpstreamTlsContext {
        common_tls_context: Some(istio_common(&ISTIO_ALPN, sans)),
        sni: sni.to_owned(),
        ..Default::default()
    }))
}

/// Plaintext.
pub(crate) fn raw_buffer() -> TransportSocket {
    TransportSocket {
        name: RAW_SOCKET.to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(
            RawBuffer {},
        ))),
    }
}

fn string_value(text: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(text.to_owned())),
    }
}

/// Auto mutual TLS: TLS to endpoints labelled `tlsMode: istio`, plaintext to the rest.
pub(crate) fn auto_mtls_matches(sni: &str, sans: &[String]) -> Vec<TransportSocketMatch> {
    vec![
        TransportSocketMatch {
            name: "tlsMode-istio".to_owned(),
            r#match: Some(Struct {
                fields: HashMap::from([("tlsMode".to_owned(), string_value("istio"))]),
            }),
            transport_socket: Some(istio_upstream(sni, sans)),
        },
        TransportSocketMatch {
            name: "tlsMode-disabled".to_owned(),
            r#match: Some(Struct::default()),
            transport_socket: Some(raw_buffer()),
        },
    ]
}

/// The metadata of an endpoint whose sidecar accepts Istio's mutual TLS.
pub(crate) fn istio_endpoint_metadata() -> Metadata {
    let mut metadata = Metadata::default();
    metadata.filter_metadata.insert(
        TRANSPORT_SOCKET_MATCH.to_owned(),
        Struct {
            fields: HashMap::from([("tlsMode".to_owned(), string_value("istio"))]),
        },
    );
    metadata
}

/// Whether the labels are those of an Istio gateway (its proxy is no sidecar: it has no
/// inbound mTLS listener).
fn is_gateway(labels: &std::collections::BTreeMap<String, String>) -> bool {
    matches!(
        labels.get("istio").map(String::as_str),
        Some("ingressgateway" | "egressgateway")
    )
}

/// Whether a client's auto mutual TLS speaks TLS to this endpoint on the pod's port
/// `target_port`: the pod has a sidecar (Istio's `security.istio.io/tlsMode` label says so when
/// present) and its PeerAuthentication does not turn mutual TLS off there.
pub(crate) fn endpoint_speaks_mtls(ctx: &Ctx<'_>, e: &Endpoint, target_port: u16) -> bool {
    let capable = match e.labels.get(TLS_MODE_LABEL) {
        Some(mode) => mode == "istio",
        None => e.sidecar && !is_gateway(&e.labels),
    };
    capable
        && PeerAuthenticationLevels::of(
            &ctx.model.peer_authentications,
            &ctx.model.mesh.root_namespace,
            &e.namespace,
            &e.labels,
        )
        .mode(target_port)
            != MtlsMode::Disable
}

/// The SPIFFE ids of the service accounts behind a Service (sorted, distinct).
pub(crate) fn service_identities(ctx: &Ctx<'_>, namespace: &str, service: &str) -> Vec<String> {
    let ids: BTreeSet<String> = ctx
        .model
        .endpoints
        .iter()
        .filter(|e| e.namespace == namespace && e.service == service)
        .map(|e| {
            spiffe_id(
                &ctx.model.mesh.trust_domain,
                &e.namespace,
                &e.service_account,
            )
        })
        .collect();
    ids.into_iter().collect()
}

/// How a cluster speaks to its endpoints.
pub(crate) enum UpstreamTls {
    /// Istio's auto mutual TLS (transport socket matches on endpoint metadata).
    Auto(Vec<TransportSocketMatch>),
    /// One transport socket for every endpoint (a DestinationRule's TLS mode).
    Socket(TransportSocket),
    /// Plaintext (DISABLE).
    Plaintext,
}

/// The client side for cluster `cluster_name`: a DestinationRule's `tls` when given, else auto
/// mutual TLS towards the identities `sans`. Settings the reference mesh cannot honour become
/// warnings on `resource` naming `field`.
pub(crate) fn upstream(
    ctx: &mut Ctx<'_>,
    settings: Option<&ClientTlsSettings>,
    cluster_name: &str,
    host: &str,
    sans: &[String],
    resource: &str,
    field: &str,
) -> UpstreamTls {
    let Some(settings) = settings else {
        return UpstreamTls::Auto(auto_mtls_matches(&sni(cluster_name), sans));
    };
    match settings.mode {
        ClientTlsMode::Disable => UpstreamTls::Plaintext,
        ClientTlsMode::IstioMutual => {
            let sni = settings.sni.clone().unwrap_or_else(|| sni(cluster_name));
            let sans = if settings.subject_alt_names.is_empty() {
                sans.to_vec()
            } else {
                settings.subject_alt_names.clone()
            };
            UpstreamTls::Socket(istio_upstream(&sni, &sans))
        }
        ClientTlsMode::Simple | ClientTlsMode::Mutual => {
            UpstreamTls::Socket(file_tls(ctx, settings, host, resource, field))
        }
    }
}

/// A file path the Envoys of the reference mesh can read (they run on this machine), or a
/// warning saying what is left out.
fn readable(
    ctx: &mut Ctx<'_>,
    resource: &str,
    field: &str,
    path: Option<&String>,
    consequence: &str,
) -> Option<DataSource> {
    let path = path.filter(|p| !p.trim().is_empty())?;
    if std::path::Path::new(path).is_file() {
        return Some(DataSource {
            specifier: Some(data_source::Specifier::Filename(path.clone())),
            ..Default::default()
        });
    }
    ctx.warn(
        resource,
        format!(
            "field `{field}`: {path} is not a file on this machine (the reference mesh's Envoys read certificates from the host's file system, not from a pod's volumes); {consequence}"
        ),
    );
    None
}

/// SIMPLE or MUTUAL TLS with certificates from files.
fn file_tls(
    ctx: &mut Ctx<'_>,
    settings: &ClientTlsSettings,
    host: &str,
    resource: &str,
    field: &str,
) -> TransportSocket {
    if settings.credential_name.is_some() {
        ctx.warn(
            resource,
            format!("field `{field}.credentialName`: certificates from Kubernetes Secrets are not supported by the reference mesh; give file paths (caCertificates, clientCertificate, privateKey) instead"),
        );
    }
    let mut common = CommonTlsContext {
        tls_params: Some(tls_params()),
        ..Default::default()
    };
    let skip_verify = settings.insecure_skip_verify == Some(true);
    if !skip_verify {
        let ca = readable(
            ctx,
            resource,
            &format!("{field}.caCertificates"),
            settings.ca_certificates.as_ref(),
            "the server's certificate is not verified",
        );
        let sans: Vec<SubjectAltNameMatcher> = settings
            .subject_alt_names
            .iter()
            .flat_map(|s| any_san(s))
            .collect();
        if let Some(ca) = ca {
            common.validation_context_type = Some(ValidationContextType::ValidationContext(
                CertificateValidationContext {
                    trusted_ca: Some(ca),
                    match_typed_subject_alt_names: sans,
                    ..Default::default()
                },
            ));
        } else if !sans.is_empty() {
            ctx.warn(
                resource,
                format!("field `{field}.subjectAltNames`: names can only be checked against a trusted CA (caCertificates); they are not checked"),
            );
        }
    }
    if settings.mode == ClientTlsMode::Mutual {
        let consequence =
            "no client certificate is sent, so a server that requires one refuses the connection";
        let chain = readable(
            ctx,
            resource,
            &format!("{field}.clientCertificate"),
            settings.client_certificate.as_ref(),
            consequence,
        );
        let key = readable(
            ctx,
            resource,
            &format!("{field}.privateKey"),
            settings.private_key.as_ref(),
            consequence,
        );
        match (chain, key) {
            (Some(chain), Some(key)) => common.tls_certificates.push(TlsCertificate {
                certificate_chain: Some(chain),
                private_key: Some(key),
                ..Default::default()
            }),
            (None, None)
                if settings.client_certificate.is_none() && settings.private_key.is_none() =>
            {
                ctx.warn(
                    resource,
                    format!("field `{field}`: MUTUAL needs clientCertificate and privateKey; {consequence}"),
                );
            }
            _ => {}
        }
    }
    let sni = settings
        .sni
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| host.trim_start_matches("*.").to_owned());
    tls_socket(pack_any(UpstreamTlsContext {
        common_tls_context: Some(common),
        sni,
        ..Default::default()
    }))
}

/// The server side of Istio's mutual TLS: the workload certificate, a client certificate
/// signed by the mesh's root required.
pub(crate) fn istio_downstream() -> TransportSocket {
    tls_socket(pack_any(DownstreamTlsContext {
        common_tls_context: Some(istio_common(&["h2", "http/1.1"], &[])),
        require_client_certificate: Some(BoolValue { value: true }),
        ..Default::default()
    }))
}

/// The TLS inspector listener filter.
pub(crate) fn tls_inspector() -> ListenerFilter {
    ListenerFilter {
        name: TLS_INSPECTOR.to_owned(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(pack_any(
            TlsInspector::default(),
        ))),
        ..Default::default()
    }
}

/// The PeerAuthentication mode in force on this sidecar's container port `port`, warning about
/// settings Istio ignores (port-level modes outside workload policies, ports the workload does
/// not have).
pub(crate) fn inbound_mode(ctx: &mut Ctx<'_>, port: u16) -> MtlsMode {
    let proxy = ctx.proxy;
    let levels = PeerAuthenticationLevels::of(
        &ctx.model.peer_authentications,
        &ctx.model.mesh.root_namespace,
        &proxy.namespace,
        &proxy.labels,
    );
    for wide in [levels.mesh, levels.namespace].into_iter().flatten() {
        if !wide.spec.port_level_mtls.is_empty() {
            ctx.warn(
                format!("PeerAuthentication {}/{}", wide.namespace, wide.name),
                "field `portLevelMtls`: port-level modes apply only to policies with a workload selector (Istio ignores them here); they are ignored",
            );
        }
    }
    if let Some(w) = levels.workload {
        for key in w.spec.port_level_mtls.keys() {
            let known = key
                .trim()
                .parse::<u16>()
                .ok()
                .is_some_and(|p| proxy.ports.iter().any(|cp| cp.port == p));
            if !known {
                ctx.warn(
                    format!("PeerAuthentication {}/{}", w.namespace, w.name),
                    format!("field `portLevelMtls.{key}`: pod {}/{} has no container port {key} (port-level modes name the workload's port, not the Service's); the entry is ignored", proxy.namespace, proxy.pod),
                );
            }
        }
    }
    levels.mode(port)
}

#[cfg(test)]
mod tests;
