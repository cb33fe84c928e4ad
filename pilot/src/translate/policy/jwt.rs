//! RequestAuthentication → `envoy.filters.http.jwt_authn`, as Istio configures it.
//!
//! One provider per JWT rule (`origins-<n>`), all under one requirement: a token of any of them,
//! or no token at all (`allow_missing`) — so a request without a token passes (an
//! AuthorizationPolicy may then require a principal), while a token that fails verification is
//! refused with Envoy's 401 (`Jwt verification fails`, `Jwt is expired`, `Jwt issuer is not
//! configured` …). Each verified payload is stored in dynamic metadata under its issuer, where
//! the RBAC filters match request principals and claims.
//!
//! Keys: an inline `jwks` is used as is. A `jwksUri` must name a host inside the mesh (a Service or
//! a ServiceEntry: the reference mesh has no internet); Envoy fetches it through that host's
//! outbound cluster when a token first needs it. (Istio nowadays has istiod fetch the keys and
//! inline them; fetching from the proxy keeps translation pure and shows the same outcome.) A URI
//! the mesh cannot reach, or an inline key set Envoy could not read (it would reject the whole
//! listener), is a warning naming the field, and that issuer's tokens are refused with Envoy's
//! `Jwks remote fetch is failed`.

use std::collections::HashMap;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::{DataSource, HttpUri, data_source, http_uri};
use envoy_types::pb::envoy::config::route::v3::{RouteMatch, route_match::PathSpecifier};
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::{
    JwtAuthentication, JwtClaimToHeader, JwtHeader, JwtProvider, JwtRequirement,
    JwtRequirementOrList, RemoteJwks, RequirementRule, jwt_provider, jwt_requirement,
    requirement_rule,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use envoy_types::pb::google::protobuf::Empty;
use envoy_types::util::pack_any;

use super::{JWT_FILTER, http_filter, resource_name, selects, warn_unknown};
use crate::model::Config;
use crate::model::policy::{JwtRule, RequestAuthentication};
use crate::translate::{
    BLACK_HOLE_CLUSTER, Ctx, HostSource, outbound_cluster_name, parse_duration, pb_duration,
};

/// How long fetching a `jwksUri` may take unless the rule says (Istio's default).
const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// The JWT filter for the proxy, and the issuers whose payloads it stores, if any
/// RequestAuthentication applies.
pub(super) fn filter(ctx: &mut Ctx<'_>) -> Option<(HttpFilter, Vec<String>)> {
    let model = ctx.model;
    let mut providers = HashMap::new();
    let mut names = Vec::new();
    let mut issuers: Vec<String> = Vec::new();
    for ra in &model.request_authentications {
        let selector = ra.spec.selector.as_ref().map(|s| &s.match_labels);
        if !selects(ctx, &ra.namespace, selector) {
            continue;
        }
        let resource = resource_name("RequestAuthentication", ra);
        warn_unknown(ctx, &resource, "", &ra.spec.unknown, "the field is ignored");
        for (i, rule) in ra.spec.jwt_rules.iter().enumerate() {
            let path = format!("jwtRules[{i}]");
            if rule.issuer.trim().is_empty() {
                ctx.warn(
                    &resource,
                    format!("field `{path}.issuer` is required (the `iss` tokens carry); the rule is skipped"),
                );
                continue;
            }
            warn_unknown(ctx, &resource, &path, &rule.unknown, "the field is ignored");
            let name = format!("origins-{}", names.len());
            providers.insert(name.clone(), provider(ctx, ra, &resource, &path, rule));
            names.push(name);
            if !issuers.contains(&rule.issuer) {
                issuers.push(rule.issuer.clone());
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let mut requirements: Vec<JwtRequirement> = names
        .into_iter()
        .map(|name| JwtRequirement {
            requires_type: Some(jwt_requirement::RequiresType::ProviderName(name)),
        })
        .collect();
    requirements.push(JwtRequirement {
        requires_type: Some(jwt_requirement::RequiresType::AllowMissing(Empty {})),
    });
    let requires = if requirements.len() == 1 {
        requirements.remove(0)
    } else {
        JwtRequirement {
            requires_type: Some(jwt_requirement::RequiresType::RequiresAny(
                JwtRequirementOrList { requirements },
            )),
        }
    };
    let config = JwtAuthentication {
        providers,
        rules: vec![RequirementRule {
            r#match: Some(RouteMatch {
                path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
                ..Default::default()
            }),
            requirement_type: Some(requirement_rule::RequirementType::Requires(requires)),
        }],
        bypass_cors_preflight: true,
        ..Default::default()
    };
    Some((http_filter(JWT_FILTER, pack_any(config)), issuers))
}

fn provider(
    ctx: &mut Ctx<'_>,
    ra: &Config<RequestAuthentication>,
    resource: &str,
    path: &str,
    rule: &JwtRule,
) -> JwtProvider {
    JwtProvider {
        issuer: rule.issuer.clone(),
        audiences: rule.audiences.clone(),
        forward: rule.forward_original_token,
        from_headers: rule
            .from_headers
            .iter()
            .map(|h| JwtHeader {
                name: h.name.clone(),
                value_prefix: h.prefix.clone().unwrap_or_default(),
            })
            .collect(),
        from_params: rule.from_params.clone(),
        from_cookies: rule.from_cookies.clone(),
        forward_payload_header: rule.output_payload_to_header.clone().unwrap_or_default(),
        payload_in_metadata: rule.issuer.clone(),
        claim_to_headers: rule
            .output_claim_to_headers
            .iter()
            .map(|c| JwtClaimToHeader {
                header_name: c.header.clone(),
                claim_name: c.claim.clone(),
                ..Default::default()
            })
            .collect(),
        jwks_source_specifier: Some(jwks(ctx, ra, resource, path, rule)),
        ..Default::default()
    }
}

fn jwks(
    ctx: &mut Ctx<'_>,
    ra: &Config<RequestAuthentication>,
    resource: &str,
    path: &str,
    rule: &JwtRule,
) -> jwt_provider::JwksSourceSpecifier {
    if let Some(inline) = &rule.jwks {
        // Envoy rejects a listener whose inline key set it cannot read, which would keep every
        // other change to it out too: refuse this issuer's tokens instead, and say why.
        if let Some(problem) = jwks_problem(inline) {
            ctx.warn(
                resource,
                format!("field `{path}.jwks` is not a usable JSON Web Key Set: {problem}; tokens of {} are refused with `Jwks remote fetch is failed`", rule.issuer),
            );
            return remote(
                format!("http://jwks.invalid/{}", rule.issuer),
                BLACK_HOLE_CLUSTER.to_owned(),
                DEFAULT_JWKS_TIMEOUT,
            );
        }
        return jwt_provider::JwksSourceSpecifier::LocalJwks(DataSource {
            specifier: Some(data_source::Specifier::InlineString(inline.clone())),
            ..Default::default()
        });
    }
    let timeout = match rule.timeout.as_deref() {
        None => DEFAULT_JWKS_TIMEOUT,
        Some(text) => parse_duration(text).unwrap_or_else(|| {
            ctx.warn(
                resource,
                format!(
                    "field `{path}.timeout`: {text:?} is not a duration (write e.g. 5s); 5s is used"
                ),
            );
            DEFAULT_JWKS_TIMEOUT
        }),
    };
    let (uri, cluster) = match &rule.jwks_uri {
        None => {
            ctx.warn(
                resource,
                format!("field `{path}`: neither `jwks` nor `jwksUri` is set, so no token of {} can be verified; they are refused", rule.issuer),
            );
            (
                format!("http://jwks.unset/{}", rule.issuer),
                BLACK_HOLE_CLUSTER.to_owned(),
            )
        }
        Some(uri) => match jwks_cluster(ctx, uri, &ra.namespace) {
            Ok(cluster) => (uri.clone(), cluster),
            Err(why) => {
                ctx.warn(
                    resource,
                    format!("field `{path}.jwksUri`: {why}; tokens of {} are refused with `Jwks remote fetch is failed` (put the key set inline in `jwks`, or serve it from a Service in the mesh)", rule.issuer),
                );
                (uri.clone(), BLACK_HOLE_CLUSTER.to_owned())
            }
        },
    };
    remote(uri, cluster, timeout)
}

/// Keys fetched from `uri` through `cluster` (`BlackHoleCluster`: never, so tokens are refused).
fn remote(uri: String, cluster: String, timeout: Duration) -> jwt_provider::JwksSourceSpecifier {
    jwt_provider::JwksSourceSpecifier::RemoteJwks(RemoteJwks {
        http_uri: Some(HttpUri {
            uri,
            timeout: Some(pb_duration(timeout)),
            http_upstream_type: Some(http_uri::HttpUpstreamType::Cluster(cluster)),
        }),
        ..Default::default()
    })
}

/// The outbound cluster that reaches a `jwksUri`, or why there is none.
fn jwks_cluster(ctx: &mut Ctx<'_>, uri: &str, namespace: &str) -> Result<String, String> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| format!("{uri:?} is not an http:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| format!("{p:?} in {uri:?} is not a port number"))?,
            ),
        ),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(format!("{uri:?} names no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => {
            return Err(format!(
                "{uri:?} uses https, and the reference mesh fetches keys from hosts inside the mesh over plain http only"
            ));
        }
        other => return Err(format!("{other}:// is not http")),
    }
    let port = port.unwrap_or(80);
    let resolved = ctx.resolve_host(host, namespace);
    let hosts = ctx.visible_hosts();
    let found = hosts
        .iter()
        .find(|h| h.name == resolved || (matches!(h.source, HostSource::Entry(_)) && h.name == host))
        .ok_or_else(|| {
            format!("{host} is not a Service or ServiceEntry host in the mesh (the reference mesh has no internet)")
        })?;
    if !found.ports.iter().any(|p| p.port == port) {
        return Err(format!("{} has no port {port}", found.name));
    }
    Ok(outbound_cluster_name(port, "", &found.name))
}

/// What keeps Envoy from reading a JSON Web Key Set, if anything (the checks Envoy makes on
/// the shape of each key; the key material itself is Envoy's to judge).
fn jwks_problem(text: &str) -> Option<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Some("it is not JSON".to_owned());
    };
    let Some(keys) = value.get("keys").and_then(serde_json::Value::as_array) else {
        return Some("it has no `keys` list".to_owned());
    };
    if keys.is_empty() {
        return Some("its `keys` list is empty".to_owned());
    }
    for (i, key) in keys.iter().enumerate() {
        let kty = key.get("kty").and_then(serde_json::Value::as_str);
        let needs: &[&str] = match kty {
            Some("EC") => &["crv", "x", "y"],
            Some("RSA") => &["n", "e"],
            Some("OKP") => &["crv", "x"],
            Some("oct") => &["k"],
            Some(other) => {
                return Some(format!("keys[{i}] has kty {other:?} (EC, RSA, OKP or oct)"));
            }
            None => return Some(format!("keys[{i}] has no `kty`")),
        };
        if let Some(missing) = needs.iter().find(|field| {
            key.get(**field)
                .and_then(serde_json::Value::as_str)
                .is_none()
        }) {
            return Some(format!(
                "keys[{i}] ({}) has no `{missing}`",
                kty.unwrap_or_default()
            ));
        }
    }
    None
}
