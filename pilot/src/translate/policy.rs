//! Request-level policies as HTTP filters: AuthorizationPolicy (RBAC), RequestAuthentication
//! (JWT) and the EnvoyFilter local rate limit, placed before the fault and router filters of the
//! listeners they apply to.

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;

use super::Ctx;

/// The policy filters of a sidecar's inbound listener on container port `port`, in order.
pub(crate) fn inbound_http_filters(ctx: &mut Ctx<'_>, port: u16) -> Vec<HttpFilter> {
    let _ = (ctx, port);
    Vec::new()
}

/// The policy filters of a gateway's listeners, in order.
pub(crate) fn gateway_http_filters(ctx: &mut Ctx<'_>) -> Vec<HttpFilter> {
    let _ = ctx;
    Vec::new()
}
