//! Request-level policies as HTTP filters: AuthorizationPolicy (RBAC), RequestAuthentication
//! (JWT) and the EnvoyFilter local rate limit, placed before the fault and router filters of the
//! listeners they apply to.
//!
//! The order is Istio's: `envoy.filters.http.jwt_authn` (validates tokens, puts their payload in
//! dynamic metadata), then the RBAC filters — AUDIT (`LOG`), DENY (with CUSTOM, which the
//! reference mesh cannot delegate and so treats as DENY), ALLOW — and EnvoyFilter HTTP_FILTER
//! patches inserted where they ask (first, or before the router: that is, right after these).
//!
//! - [`rbac`]: AuthorizationPolicy rules as Envoy RBAC policies.
//! - [`jwt`]: RequestAuthentication JWT rules as a `jwt_authn` filter.
//! - [`ratelimit`]: the local rate limit EnvoyFilter.

mod jwt;
mod ratelimit;
mod rbac;

use std::collections::BTreeMap;

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpFilter, http_filter,
};
use envoy_types::pb::google::protobuf::Any;

use super::Ctx;
use crate::model::{Config, labels_match};

/// The JWT filter's name (Envoy's).
pub const JWT_FILTER: &str = "envoy.filters.http.jwt_authn";
/// The RBAC filter's name (Envoy's; every RBAC filter of a chain carries it).
pub const RBAC_FILTER: &str = "envoy.filters.http.rbac";
/// The local rate limit filter's name (Envoy's).
pub const LOCAL_RATE_LIMIT_FILTER: &str = "envoy.filters.http.local_ratelimit";

/// Where a chain of HTTP filters runs, as an EnvoyFilter's `match.context` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Where {
    /// A sidecar's inbound listener for a container port.
    SidecarInbound(u16),
    /// A gateway's listener.
    Gateway,
}

/// The policy filters of a sidecar's inbound listener on container port `port`, in order.
pub(crate) fn inbound_http_filters(ctx: &mut Ctx<'_>, port: u16) -> Vec<HttpFilter> {
    filters(ctx, Where::SidecarInbound(port))
}

/// The policy filters of a gateway's listeners, in order.
pub(crate) fn gateway_http_filters(ctx: &mut Ctx<'_>) -> Vec<HttpFilter> {
    filters(ctx, Where::Gateway)
}

fn filters(ctx: &mut Ctx<'_>, at: Where) -> Vec<HttpFilter> {
    let mut chain = Vec::new();
    let issuers = match jwt::filter(ctx) {
        Some((filter, issuers)) => {
            chain.push(filter);
            issuers
        }
        None => Vec::new(),
    };
    chain.extend(rbac::filters(ctx, at, &issuers));
    ratelimit::apply(ctx, at, &mut chain);
    chain
}

/// Whether a policy of namespace `namespace` with selector labels `selector` applies to the
/// proxy: policies of the mesh config's root namespace (`istio-system`) apply mesh-wide (a selector then picks workloads in every
/// namespace), others to their namespace; an absent or empty selector selects all.
pub(crate) fn selects(
    ctx: &Ctx<'_>,
    namespace: &str,
    selector: Option<&BTreeMap<String, String>>,
) -> bool {
    let proxy = ctx.proxy;
    if namespace != ctx.model.mesh.root_namespace && namespace != proxy.namespace {
        return false;
    }
    selector.is_none_or(|labels| labels_match(labels, &proxy.labels))
}

/// `Kind namespace/name`, the resource named in warnings.
pub(crate) fn resource_name<T>(kind: &str, config: &Config<T>) -> String {
    format!("{kind} {}/{}", config.namespace, config.name)
}

/// Warns about each field pilot-lite does not know, under `path` (e.g. `rules[0].from[1]`).
pub(crate) fn warn_unknown(
    ctx: &mut Ctx<'_>,
    resource: &str,
    path: &str,
    unknown: &crate::model::policy::Unknown,
    consequence: &str,
) {
    for key in unknown.keys() {
        let field = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        ctx.warn(
            resource,
            format!("field `{field}` is not supported by the reference mesh; {consequence}"),
        );
    }
}

/// An HTTP filter with a typed config.
pub(crate) fn http_filter(name: &str, config: Any) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
