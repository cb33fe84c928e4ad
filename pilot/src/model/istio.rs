//! Typed specs of the networking.istio.io resources pilot translates (the fields it honours).
//!
//! Field names follow Istio's API (camelCase in YAML). Durations stay strings (`"0.5s"`) and are
//! checked during translation, where a bad one becomes a warning naming the field.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A VirtualService spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualService {
    /// Hosts the rules apply to (short names, FQDNs, `*` wildcards).
    pub hosts: Vec<String>,
    /// Gateways (and `mesh`) the rules apply to; empty means `mesh`.
    pub gateways: Vec<String>,
    /// HTTP rules, in order.
    pub http: Vec<HttpRoute>,
    /// TCP rules (not translated by pilot-lite yet; reported as a warning).
    pub tcp: Vec<serde_json::Value>,
    /// TLS rules (not translated by pilot-lite yet; reported as a warning).
    pub tls: Vec<serde_json::Value>,
}

/// One HTTP rule of a VirtualService.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRoute {
    /// The rule's name (becomes the Envoy route name).
    pub name: Option<String>,
    /// Conditions, ORed; empty matches everything.
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    pub route: Vec<HttpRouteDestination>,
    /// A redirect instead of forwarding.
    pub redirect: Option<HttpRedirect>,
    /// A fixed response instead of forwarding.
    pub direct_response: Option<HttpDirectResponse>,
    /// Path/authority rewrite.
    pub rewrite: Option<HttpRewrite>,
    /// Request timeout (`"0.5s"`).
    pub timeout: Option<String>,
    /// Retry policy.
    pub retries: Option<HttpRetry>,
    /// Fault injection.
    pub fault: Option<HttpFaultInjection>,
    /// Mirror destination.
    pub mirror: Option<Destination>,
    /// Share of requests mirrored (`value` in percent).
    pub mirror_percentage: Option<Percent>,
    /// Deprecated integer share of requests mirrored.
    pub mirror_percent: Option<u32>,
    /// CORS policy.
    pub cors_policy: Option<CorsPolicy>,
    /// Header manipulation.
    pub headers: Option<Headers>,
    /// Delegation to another VirtualService (not translated by pilot-lite yet).
    pub delegate: Option<serde_json::Value>,
}

/// A string match: exactly one of exact, prefix, regex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct StringMatch {
    /// Exact value.
    pub exact: Option<String>,
    /// Prefix.
    pub prefix: Option<String>,
    /// RE2 regular expression (full match).
    pub regex: Option<String>,
}

/// Match conditions of an HTTP rule (ANDed).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpMatchRequest {
    /// The condition's name (appended to the route name).
    pub name: Option<String>,
    /// The path.
    pub uri: Option<StringMatch>,
    /// The scheme.
    pub scheme: Option<StringMatch>,
    /// The method.
    pub method: Option<StringMatch>,
    /// The authority (Host).
    pub authority: Option<StringMatch>,
    /// Request headers (lower-case names).
    pub headers: BTreeMap<String, StringMatch>,
    /// The destination port.
    pub port: Option<u16>,
    /// Labels the source workload must carry.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways this condition applies to.
    pub gateways: Vec<String>,
    /// Query parameters.
    pub query_params: BTreeMap<String, StringMatch>,
    /// Case-insensitive uri match.
    pub ignore_uri_case: bool,
    /// Headers that must not match.
    pub without_headers: BTreeMap<String, StringMatch>,
    /// The source workload's namespace.
    pub source_namespace: Option<String>,
}

/// A weighted destination.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteDestination {
    /// Where to.
    pub destination: Destination,
    /// Relative weight (all weights of a rule add up to 100).
    pub weight: Option<u32>,
    /// Header manipulation for this destination.
    pub headers: Option<Headers>,
}

/// A destination service, subset and port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// Service host (short name resolved in the resource's namespace).
    pub host: String,
    /// A DestinationRule subset.
    pub subset: Option<String>,
    /// The service port.
    pub port: Option<PortSelector>,
}

/// A port number selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PortSelector {
    /// The port number.
    pub number: u16,
}

/// A redirect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRedirect {
    /// New path.
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// New port.
    pub port: Option<u16>,
    /// New scheme.
    pub scheme: Option<String>,
    /// Status code (301 default).
    pub redirect_code: Option<u32>,
}

/// A fixed response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpDirectResponse {
    /// Status code.
    pub status: u32,
    /// Body.
    pub body: Option<HttpBody>,
}

/// A direct response body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
}

/// A rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRewrite {
    /// Replaces the matched uri prefix (or the whole path for exact matches).
    pub uri: Option<String>,
    /// Replaces the authority.
    pub authority: Option<String>,
}

/// Retries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRetry {
    /// Number of retries (0 disables).
    pub attempts: u32,
    /// Timeout per try.
    pub per_try_timeout: Option<String>,
    /// Retry conditions, comma separated (Envoy names or status codes).
    pub retry_on: Option<String>,
}

/// Fault injection.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpFaultInjection {
    /// Delay.
    pub delay: Option<FaultDelay>,
    /// Abort.
    pub abort: Option<FaultAbort>,
}

/// A fault delay.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultDelay {
    /// The delay.
    pub fixed_delay: Option<String>,
    /// Share of requests delayed.
    pub percentage: Option<Percent>,
    /// Deprecated integer share.
    pub percent: Option<u32>,
}

/// A fault abort.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultAbort {
    /// Status returned.
    pub http_status: Option<u32>,
    /// Share of requests aborted.
    pub percentage: Option<Percent>,
}

/// A percentage (0–100, fractions allowed).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Percent {
    /// The value in percent.
    pub value: f64,
}

/// CORS policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CorsPolicy {
    /// Allowed origins.
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated exact origins.
    pub allow_origin: Vec<String>,
    /// Allowed methods.
    pub allow_methods: Vec<String>,
    /// Allowed headers.
    pub allow_headers: Vec<String>,
    /// Exposed headers.
    pub expose_headers: Vec<String>,
    /// Preflight cache duration.
    pub max_age: Option<String>,
    /// Whether credentials are allowed.
    pub allow_credentials: Option<bool>,
}

/// Header manipulation of requests and responses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Headers {
    /// Request headers.
    pub request: Option<HeaderOperations>,
    /// Response headers.
    pub response: Option<HeaderOperations>,
}

/// Set, add and remove headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderOperations {
    /// Overwrite.
    pub set: BTreeMap<String, String>,
    /// Append.
    pub add: BTreeMap<String, String>,
    /// Remove.
    pub remove: Vec<String>,
}

/// A DestinationRule spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DestinationRule {
    /// The service host.
    pub host: String,
    /// Policy for every subset and port.
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named subsets.
    pub subsets: Vec<Subset>,
}

/// A subset of a service's endpoints.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Subset {
    /// The subset's name.
    pub name: String,
    /// Labels its endpoints carry.
    pub labels: BTreeMap<String, String>,
    /// Overrides of the rule's policy for this subset.
    pub traffic_policy: Option<TrafficPolicy>,
}

/// Traffic policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection limits (circuit breakers).
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// Per-port overrides.
    pub port_level_settings: Vec<PortTrafficPolicy>,
    /// TLS towards the destination (absent: Istio's auto mutual TLS).
    pub tls: Option<ClientTlsSettings>,
}

/// How a client's sidecar speaks TLS to a destination (`trafficPolicy.tls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientTlsMode {
    /// Plaintext.
    #[default]
    Disable,
    /// TLS that checks the server's certificate only.
    Simple,
    /// Mutual TLS with certificates given as files.
    Mutual,
    /// Mutual TLS with the mesh's own workload certificates (SPIFFE identities).
    IstioMutual,
}

/// `trafficPolicy.tls` of a DestinationRule (Istio's ClientTLSSettings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientTlsSettings {
    /// The mode.
    pub mode: ClientTlsMode,
    /// The client certificate file (MUTUAL).
    pub client_certificate: Option<String>,
    /// The client's private key file (MUTUAL).
    pub private_key: Option<String>,
    /// The CA certificates file that verifies the server (SIMPLE, MUTUAL).
    pub ca_certificates: Option<String>,
    /// A Kubernetes Secret holding the certificates (gateways on a cluster).
    pub credential_name: Option<String>,
    /// Names the server's certificate must carry.
    pub subject_alt_names: Vec<String>,
    /// The SNI sent in the handshake.
    pub sni: Option<String>,
    /// Skip verifying the server's certificate.
    pub insecure_skip_verify: Option<bool>,
}

/// Per-port traffic policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PortTrafficPolicy {
    /// The port.
    pub port: Option<PortSelector>,
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// TLS towards this port.
    pub tls: Option<ClientTlsSettings>,
}

/// Load balancing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoadBalancerSettings {
    /// `ROUND_ROBIN`, `LEAST_REQUEST`, `LEAST_CONN`, `RANDOM`, `PASSTHROUGH`.
    pub simple: Option<String>,
    /// Consistent hashing.
    pub consistent_hash: Option<ConsistentHash>,
}

/// Consistent hash load balancing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsistentHash {
    /// Hash on a header.
    pub http_header_name: Option<String>,
    /// Hash on a cookie.
    pub http_cookie: Option<HttpCookie>,
    /// Hash on the source IP.
    pub use_source_ip: Option<bool>,
    /// Hash on a query parameter.
    pub http_query_parameter_name: Option<String>,
    /// Minimum ring size.
    pub minimum_ring_size: Option<u64>,
}

/// A hash cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie path.
    pub path: Option<String>,
    /// Cookie lifetime.
    pub ttl: Option<String>,
}

/// Connection pool limits.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectionPoolSettings {
    /// TCP limits.
    pub tcp: Option<TcpSettings>,
    /// HTTP limits.
    pub http: Option<HttpSettings>,
}

/// TCP limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpSettings {
    /// Max connections to the service.
    pub max_connections: Option<u32>,
    /// Connect timeout.
    pub connect_timeout: Option<String>,
}

/// HTTP limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpSettings {
    /// Max pending requests.
    pub http1_max_pending_requests: Option<u32>,
    /// Max active requests.
    pub http2_max_requests: Option<u32>,
    /// Requests per connection (1 disables keep-alive).
    pub max_requests_per_connection: Option<u32>,
    /// Max outstanding retries.
    pub max_retries: Option<u32>,
    /// Idle timeout of upstream connections.
    pub idle_timeout: Option<String>,
}

/// Outlier detection.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutlierDetection {
    /// Deprecated: consecutive gateway errors (502/503/504) before ejection.
    pub consecutive_errors: Option<u32>,
    /// Consecutive 5xx before ejection.
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<u32>,
    /// Consecutive gateway errors before ejection.
    pub consecutive_gateway_errors: Option<u32>,
    /// Analysis interval.
    pub interval: Option<String>,
    /// Minimum ejection duration.
    pub base_ejection_time: Option<String>,
    /// Max share of hosts ejected.
    pub max_ejection_percent: Option<u32>,
    /// Below this share of healthy hosts, ejection stops (panic mode).
    pub min_health_percent: Option<u32>,
}

/// A Gateway spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Gateway {
    /// Labels of the gateway pods this applies to.
    pub selector: BTreeMap<String, String>,
    /// Servers (ports and hosts).
    pub servers: Vec<Server>,
}

/// A gateway server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    /// The port.
    pub port: GatewayPort,
    /// Hosts exposed (`*`, `bookinfo.com`, `ns/host`).
    pub hosts: Vec<String>,
    /// TLS settings.
    pub tls: Option<serde_json::Value>,
    /// Name.
    pub name: Option<String>,
}

/// A gateway server port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayPort {
    /// The service port.
    pub number: u16,
    /// Protocol: HTTP, HTTPS, HTTP2, GRPC, TCP, TLS.
    pub protocol: String,
    /// Name.
    pub name: String,
    /// Container port, if set explicitly.
    pub target_port: Option<u16>,
}

/// A ServiceEntry spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntry {
    /// Hosts.
    pub hosts: Vec<String>,
    /// Virtual IPs.
    pub addresses: Vec<String>,
    /// Ports.
    pub ports: Vec<ServiceEntryPort>,
    /// `MESH_EXTERNAL` or `MESH_INTERNAL`.
    pub location: Option<String>,
    /// `NONE`, `STATIC`, `DNS`, `DNS_ROUND_ROBIN`.
    pub resolution: Option<String>,
    /// Static endpoints.
    pub endpoints: Vec<WorkloadEntry>,
}

/// A ServiceEntry port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntryPort {
    /// Port number.
    pub number: u16,
    /// Protocol.
    pub protocol: String,
    /// Name.
    pub name: String,
    /// Endpoint port, if different.
    pub target_port: Option<u16>,
}

/// A ServiceEntry endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadEntry {
    /// IP or host name.
    pub address: String,
    /// Port name → port.
    pub ports: BTreeMap<String, u16>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A Sidecar spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sidecar {
    /// The workloads this applies to; none means every workload of the namespace.
    pub workload_selector: Option<WorkloadSelector>,
    /// Egress listeners: which hosts the workload sees.
    pub egress: Vec<IstioEgressListener>,
}

/// A workload selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadSelector {
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A Sidecar egress listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IstioEgressListener {
    /// `namespace/host` entries (`./*`, `istio-system/*`, `*/reviews.default.svc.cluster.local`).
    pub hosts: Vec<String>,
}
