//! Typed specs of the request-level policies pilot translates: AuthorizationPolicy,
//! RequestAuthentication (security.istio.io) and the EnvoyFilter shape the reference mesh supports.
//!
//! Field names follow Istio's API (camelCase in YAML). A field of the wrong type is a parse error
//! naming it; a field Istio has but pilot-lite does not translate lands in an `unknown` map and
//! becomes a translation warning naming it, so nothing is ignored silently.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::security::WorkloadSelector;

/// Fields of a spec object that pilot-lite does not know, by name (reported as warnings).
pub type Unknown = BTreeMap<String, serde_json::Value>;

/// What an AuthorizationPolicy does with the requests its rules match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizationAction {
    /// Allow matching requests; once any ALLOW policy applies, everything else is denied.
    #[default]
    Allow,
    /// Deny matching requests (evaluated before ALLOW).
    Deny,
    /// Log matching requests; does not change the decision.
    Audit,
    /// Delegate to an external authorizer (not supported by the reference mesh).
    Custom,
}

impl AuthorizationAction {
    /// Istio's spelling, e.g. `DENY`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationAction::Allow => "ALLOW",
            AuthorizationAction::Deny => "DENY",
            AuthorizationAction::Audit => "AUDIT",
            AuthorizationAction::Custom => "CUSTOM",
        }
    }
}

/// An AuthorizationPolicy spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationPolicy {
    /// Which workloads it applies to (none: the namespace, or the mesh in `istio-system`).
    pub selector: Option<WorkloadSelector>,
    /// ALLOW (default), DENY, AUDIT or CUSTOM.
    pub action: AuthorizationAction,
    /// The external authorizer of a CUSTOM policy.
    pub provider: Option<serde_json::Value>,
    /// The rules; a request matching any of them is acted on.
    pub rules: Vec<Rule>,
    /// Fields pilot-lite does not translate (`targetRef`, `targetRefs` …).
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// One rule of an AuthorizationPolicy: all of `from`, `to` and `when` must match.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    /// Sources, ORed (empty: any source).
    pub from: Vec<RuleFrom>,
    /// Operations, ORed (empty: any operation).
    pub to: Vec<RuleTo>,
    /// Conditions, ANDed.
    pub when: Vec<Condition>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A `from` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleFrom {
    /// The source.
    pub source: Source,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// Who sends a request; the fields are ANDed, the values of one field ORed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Source {
    /// Peer identities (`cluster.local/ns/foo/sa/curl`), from mutual TLS.
    pub principals: Vec<String>,
    /// Peer identities that must not match.
    pub not_principals: Vec<String>,
    /// Request identities (`<iss>/<sub>` of a validated JWT).
    pub request_principals: Vec<String>,
    /// Request identities that must not match.
    pub not_request_principals: Vec<String>,
    /// Namespaces of the peer identity.
    pub namespaces: Vec<String>,
    /// Namespaces that must not match.
    pub not_namespaces: Vec<String>,
    /// Source addresses (the connection's peer), single IPs or CIDRs.
    pub ip_blocks: Vec<String>,
    /// Source addresses that must not match.
    pub not_ip_blocks: Vec<String>,
    /// Original client addresses (from `X-Forwarded-For`).
    pub remote_ip_blocks: Vec<String>,
    /// Original client addresses that must not match.
    pub not_remote_ip_blocks: Vec<String>,
    /// Service accounts (`ns/name` or `name`) of the peer identity.
    pub service_accounts: Vec<String>,
    /// Service accounts that must not match.
    pub not_service_accounts: Vec<String>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A `to` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleTo {
    /// The operation.
    pub operation: Operation,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// What a request does; the fields are ANDed, the values of one field ORed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Operation {
    /// Hosts (`Host`/`:authority`), with `*` prefix or suffix wildcards.
    pub hosts: Vec<String>,
    /// Hosts that must not match.
    pub not_hosts: Vec<String>,
    /// Destination ports, as strings (`"8080"`).
    pub ports: Vec<String>,
    /// Destination ports that must not match.
    pub not_ports: Vec<String>,
    /// HTTP methods.
    pub methods: Vec<String>,
    /// HTTP methods that must not match.
    pub not_methods: Vec<String>,
    /// Paths (without the query), with `*` prefix or suffix wildcards.
    pub paths: Vec<String>,
    /// Paths that must not match.
    pub not_paths: Vec<String>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A `when` condition: `key` must have one of `values` and none of `notValues`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    /// The attribute, e.g. `request.headers[version]` or `request.auth.claims[groups]`.
    pub key: String,
    /// Accepted values, ORed.
    pub values: Vec<String>,
    /// Rejected values, ORed.
    pub not_values: Vec<String>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A RequestAuthentication spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestAuthentication {
    /// Which workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// The JWT issuers a request may present a token of.
    pub jwt_rules: Vec<JwtRule>,
    /// Fields pilot-lite does not translate (`targetRef`, `targetRefs` …).
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// One JWT issuer a RequestAuthentication accepts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JwtRule {
    /// The `iss` a token must carry.
    pub issuer: String,
    /// Accepted `aud` values (empty: any).
    pub audiences: Vec<String>,
    /// Where the JSON Web Key Set is fetched from (a host inside the mesh).
    pub jwks_uri: Option<String>,
    /// The JSON Web Key Set, inline (wins over `jwksUri`).
    pub jwks: Option<String>,
    /// Headers the token may come in (default: `Authorization: Bearer …`).
    pub from_headers: Vec<JwtHeader>,
    /// Query parameters the token may come in (default: `access_token`).
    pub from_params: Vec<String>,
    /// Cookies the token may come in.
    pub from_cookies: Vec<String>,
    /// A header that gets the verified payload (base64url).
    pub output_payload_to_header: Option<String>,
    /// Keep the token in the request sent to the application.
    pub forward_original_token: bool,
    /// Claims copied into request headers.
    pub output_claim_to_headers: Vec<ClaimToHeader>,
    /// How long fetching `jwksUri` may take (`"5s"`).
    pub timeout: Option<String>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A header a JWT may be read from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JwtHeader {
    /// The header name.
    pub name: String,
    /// A prefix before the token (`"Bearer "`).
    pub prefix: Option<String>,
}

/// A claim copied to a request header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimToHeader {
    /// The header name.
    pub header: String,
    /// The claim name.
    pub claim: String,
}

/// An EnvoyFilter's workload selector: `workloadSelector.labels`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyFilterSelector {
    /// Labels a workload must carry.
    pub labels: BTreeMap<String, String>,
}

/// An EnvoyFilter spec (networking.istio.io).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyFilter {
    /// Which workloads it applies to (none: the namespace, or the mesh in `istio-system`).
    pub workload_selector: Option<EnvoyFilterSelector>,
    /// The patches, applied in order.
    pub config_patches: Vec<EnvoyConfigPatch>,
    /// Order among EnvoyFilters (not honoured by the reference mesh).
    pub priority: Option<i32>,
    /// Fields pilot-lite does not translate (`targetRefs` …).
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// One patch of an EnvoyFilter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyConfigPatch {
    /// What is patched: `HTTP_FILTER` is supported.
    pub apply_to: String,
    /// Where.
    #[serde(rename = "match")]
    pub matches: Option<PatchMatch>,
    /// How.
    pub patch: Option<Patch>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `match` of a patch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PatchMatch {
    /// `SIDECAR_INBOUND`, `SIDECAR_OUTBOUND`, `GATEWAY` or `ANY` (default).
    pub context: Option<String>,
    /// The listener.
    pub listener: Option<ListenerMatch>,
    /// Proxy version and metadata conditions.
    pub proxy: Option<serde_json::Value>,
    /// Fields pilot-lite does not translate (`routeConfiguration`, `cluster` …).
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `match.listener` of a patch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListenerMatch {
    /// The listener's port (a sidecar's container port, a gateway's listener port).
    pub port_number: Option<u32>,
    /// The filter chain.
    pub filter_chain: Option<FilterChainMatch>,
    /// The listener's name.
    pub name: Option<String>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `match.listener.filterChain` of a patch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterChainMatch {
    /// The network filter.
    pub filter: Option<FilterMatch>,
    /// Fields pilot-lite does not translate (`sni`, `transportProtocol` …).
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `match.listener.filterChain.filter` of a patch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterMatch {
    /// The network filter's name (`envoy.filters.network.http_connection_manager`).
    pub name: Option<String>,
    /// The HTTP filter the patch is placed relative to.
    pub sub_filter: Option<SubFilterMatch>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `match.listener.filterChain.filter.subFilter` of a patch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubFilterMatch {
    /// The HTTP filter's name (`envoy.filters.http.router`).
    pub name: Option<String>,
}

/// `patch` of a patch.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Patch {
    /// `INSERT_BEFORE`, `INSERT_FIRST`, `INSERT_AFTER`, `ADD`, `MERGE`, `REMOVE`, `REPLACE`.
    pub operation: Option<String>,
    /// The Envoy configuration inserted (kept as JSON; the translation reads it).
    pub value: Option<serde_json::Value>,
    /// `AUTHN`, `AUTHZ`, `STATS` (not honoured by the reference mesh).
    pub filter_class: Option<String>,
    /// Fields pilot-lite does not translate.
    #[serde(flatten)]
    pub unknown: Unknown,
}
