//! VirtualService HTTP rules as Envoy routes, and the default route of a host without one.

use envoy_types::pb::envoy::config::core::v3::{
    DataSource, HeaderValue, HeaderValueOption, Metadata, RuntimeFractionalPercent,
    data_source::Specifier, header_value_option::HeaderAppendAction,
};
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, HeaderMatcher, QueryParameterMatcher, RedirectAction, RetryPolicy, Route,
    RouteAction, RouteMatch, WeightedCluster,
    header_matcher::HeaderMatchSpecifier,
    query_parameter_matcher::QueryParameterMatchSpecifier,
    redirect_action::{PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier},
    retry_policy::RetryHostPredicate,
    route::Action,
    route_action::{
        ClusterSpecifier, HashPolicy, HostRewriteSpecifier, RequestMirrorPolicy, hash_policy,
    },
    route_match::PathSpecifier,
    weighted_cluster::ClusterWeight,
};
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::{
    FaultDelay, fault_delay::FaultDelaySecifier,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::CorsPolicy;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{
    FaultAbort, HttpFault, fault_abort::ErrorType,
};
use envoy_types::pb::envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate;
use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatcher, StringMatcher, string_matcher::MatchPattern,
};
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, fractional_percent::DenominatorType};
use envoy_types::pb::google::protobuf::{
    BoolValue, Duration as PbDuration, Struct, Value, value::Kind,
};
use envoy_types::util::pack_any;

use super::{
    Ctx, DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_ON, Host, duration_field, outbound_cluster_name,
    u32v,
};
use crate::model::Config;
use crate::model::istio::{
    Destination, HeaderOperations, HttpMatchRequest, HttpRetry, HttpRoute, Percent, StringMatch,
    VirtualService,
};

/// The fault filter's name (HTTP filter and per-route config key).
pub(crate) const FAULT_FILTER: &str = "envoy.filters.http.fault";
/// The CORS filter's name.
pub(crate) const CORS_FILTER: &str = "envoy.filters.http.cors";
/// The `filter_metadata` key under which Istio says which of its objects made a resource.
pub(crate) const ISTIO_METADATA: &str = "istio";

/// Where routes are being built: for which gateway (`mesh` for sidecars) and listener port.
pub(crate) struct Scope<'a> {
    /// `mesh`, or the qualified gateway name `ns/name`.
    pub gateway: &'a str,
    /// The service port (sidecars) or gateway server port.
    pub port: u16,
    /// Every host the proxy sees.
    pub hosts: &'a [Host],
}

/// Istio's default retry policy.
pub(crate) fn default_retry() -> RetryPolicy {
    RetryPolicy {
        retry_on: DEFAULT_RETRY_ON.to_owned(),
        num_retries: Some(u32v(DEFAULT_RETRY_ATTEMPTS)),
        retriable_status_codes: vec![503],
        host_selection_retry_max_attempts: 5,
        retry_host_predicate: vec![RetryHostPredicate {
            name: "envoy.retry_host_predicates.previous_hosts".to_owned(),
            config_type: Some(
                envoy_types::pb::envoy::config::route::v3::retry_policy::retry_host_predicate::ConfigType::TypedConfig(
                    pack_any(PreviousHostsPredicate::default()),
                ),
            ),
        }],
        ..Default::default()
    }
}

fn zero() -> PbDuration {
    PbDuration {
        seconds: 0,
        nanos: 0,
    }
}

/// The route of a host without a VirtualService: everything to its cluster, Istio defaults.
pub(crate) fn default_route(cluster: &str) -> Route {
    Route {
        name: "default".to_owned(),
        r#match: Some(RouteMatch {
            path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
            ..Default::default()
        }),
        action: Some(Action::Route(RouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_owned())),
            timeout: Some(zero()),
            retry_policy: Some(default_retry()),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The routes of a VirtualService's HTTP rules in `scope`.
pub(crate) fn vs_routes(
    ctx: &mut Ctx<'_>,
    vs: &Config<VirtualService>,
    scope: &Scope<'_>,
) -> Vec<Route> {
    let resource = format!("VirtualService {}/{}", vs.namespace, vs.name);
    for (section, present) in [
        ("tcp", !vs.spec.tcp.is_empty()),
        ("tls", !vs.spec.tls.is_empty()),
    ] {
        if present {
            ctx.warn(
                &resource,
                format!("field `{section}`: {section} routes are not supported by the reference mesh yet; they are ignored"),
            );
        }
    }
    let mut routes = Vec::new();
    for (i, rule) in vs.spec.http.iter().enumerate() {
        // Istio names a route after its rule (empty when the rule has none).
        let rule_name = rule.name.clone().unwrap_or_default();
        let Some(action) = rule_action(ctx, vs, rule, i, scope, &resource) else {
            continue;
        };
        let mut per_filter = std::collections::HashMap::new();
        if let Some(fault) = &rule.fault {
            per_filter.insert(
                FAULT_FILTER.to_owned(),
                pack_any(fault_config(ctx, &resource, i, fault)),
            );
        }
        if let Some(cors) = &rule.cors_policy {
            per_filter.insert(
                CORS_FILTER.to_owned(),
                pack_any(cors_config(ctx, &resource, i, cors)),
            );
        }
        let (req_add, req_remove, resp_add, resp_remove) = header_ops(rule.headers.as_ref());
        let matches: Vec<Option<&HttpMatchRequest>> = if rule.matches.is_empty() {
            vec![None]
        } else {
            rule.matches.iter().map(Some).collect()
        };
        for m in matches {
            if let Some(m) = m
                && !match_applies(ctx, m, scope, &vs.namespace)
            {
                continue;
            }
            let name = match m.and_then(|m| m.name.as_ref()) {
                Some(mname) => format!("{rule_name}.{mname}"),
                None => rule_name.clone(),
            };
            let mut action = action.clone();
            if let (Action::Route(ra), Some(m)) = (&mut action, m)
                && let Some(uri) = &m.uri
                && uri.regex.is_some()
                && !ra.prefix_rewrite.is_empty()
            {
                // A regex match has no prefix to replace: rewrite the whole path.
                let rewrite = std::mem::take(&mut ra.prefix_rewrite);
                ra.regex_rewrite = Some(
                    envoy_types::pb::envoy::r#type::matcher::v3::RegexMatchAndSubstitute {
                        pattern: Some(regex(".*")),
                        substitution: rewrite,
                    },
                );
            }
            routes.push(Route {
                name,
                r#match: Some(route_match(m)),
                action: Some(action),
                typed_per_filter_config: per_filter.clone(),
                request_headers_to_add: req_add.clone(),
                request_headers_to_remove: req_remove.clone(),
                response_headers_to_add: resp_add.clone(),
                response_headers_to_remove: resp_remove.clone(),
                metadata: Some(config_metadata(vs)),
                ..Default::default()
            });
        }
    }
    routes
}

/// The `filter_metadata.istio.config` Istio puts on what a resource made: the path
/// `/apis/networking.istio.io/v1/namespaces/<ns>/virtual-service/<name>`, which
/// `istioctl proxy-config routes` and `meshwork explain` read back.
pub(crate) fn config_metadata(vs: &Config<VirtualService>) -> Metadata {
    let path = format!(
        "/apis/networking.istio.io/v1/namespaces/{}/virtual-service/{}",
        vs.namespace, vs.name
    );
    let mut metadata = Metadata::default();
    metadata.filter_metadata.insert(
        ISTIO_METADATA.to_owned(),
        Struct {
            fields: std::collections::HashMap::from([(
                "config".to_owned(),
                Value {
                    kind: Some(Kind::StringValue(path)),
                },
            )]),
        },
    );
    metadata
}

/// Whether a match condition applies to this proxy and listener at all.
fn match_applies(ctx: &Ctx<'_>, m: &HttpMatchRequest, scope: &Scope<'_>, vs_ns: &str) -> bool {
    if m.port.is_some_and(|p| p != scope.port) {
        return false;
    }
    if !m.gateways.is_empty()
        && !m
            .gateways
            .iter()
            .any(|g| super::qualify_gateway(g, vs_ns) == scope.gateway)
    {
        return false;
    }
    if !crate::model::labels_match(&m.source_labels, &ctx.proxy.labels) {
        return false;
    }
    if m.source_namespace
        .as_ref()
        .is_some_and(|ns| ns != &ctx.proxy.namespace)
    {
        return false;
    }
    true
}

fn regex(pattern: &str) -> RegexMatcher {
    RegexMatcher {
        regex: pattern.to_owned(),
        ..Default::default()
    }
}

fn string_matcher(m: &StringMatch, ignore_case: bool) -> StringMatcher {
    let pattern = if let Some(v) = &m.exact {
        MatchPattern::Exact(v.clone())
    } else if let Some(v) = &m.prefix {
        MatchPattern::Prefix(v.clone())
    } else if let Some(v) = &m.regex {
        MatchPattern::SafeRegex(regex(v))
    } else {
        // An empty match object matches any value, as in Istio.
        MatchPattern::SafeRegex(regex(".*"))
    };
    StringMatcher {
        match_pattern: Some(pattern),
        ignore_case,
    }
}

fn header_matcher(name: &str, m: &StringMatch, invert: bool) -> HeaderMatcher {
    HeaderMatcher {
        name: name.to_owned(),
        invert_match: invert,
        header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(string_matcher(m, false))),
        ..Default::default()
    }
}

fn route_match(m: Option<&HttpMatchRequest>) -> RouteMatch {
    let mut out = RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
        ..Default::default()
    };
    let Some(m) = m else {
        return out;
    };
    if let Some(uri) = &m.uri {
        out.path_specifier = Some(if let Some(v) = &uri.exact {
            PathSpecifier::Path(v.clone())
        } else if let Some(v) = &uri.prefix {
            PathSpecifier::Prefix(v.clone())
        } else if let Some(v) = &uri.regex {
            PathSpecifier::SafeRegex(regex(v))
        } else {
            PathSpecifier::Prefix("/".to_owned())
        });
        if m.ignore_uri_case {
            out.case_sensitive = Some(BoolValue { value: false });
        }
    }
    for (name, value) in &m.headers {
        out.headers
            .push(header_matcher(&name.to_ascii_lowercase(), value, false));
    }
    for (name, value) in &m.without_headers {
        out.headers
            .push(header_matcher(&name.to_ascii_lowercase(), value, true));
    }
    for (pseudo, value) in [
        (":method", &m.method),
        (":authority", &m.authority),
        (":scheme", &m.scheme),
    ] {
        if let Some(v) = value {
            out.headers.push(header_matcher(pseudo, v, false));
        }
    }
    for (name, value) in &m.query_params {
        out.query_parameters.push(QueryParameterMatcher {
            name: name.clone(),
            query_parameter_match_specifier: Some(QueryParameterMatchSpecifier::StringMatch(
                string_matcher(value, false),
            )),
        });
    }
    out
}

/// Resolves a destination to its cluster name, warning about unknown hosts, ports and subsets.
pub(crate) fn destination_cluster(
    ctx: &mut Ctx<'_>,
    dest: &Destination,
    ns: &str,
    scope: &Scope<'_>,
    resource: &str,
    field: &str,
) -> String {
    let fqdn = ctx.resolve_host(&dest.host, ns);
    let host = scope.hosts.iter().find(|h| h.name == fqdn);
    let port = match (&dest.port, host) {
        (Some(p), Some(h)) => {
            if !h.ports.iter().any(|hp| hp.port == p.number) {
                ctx.warn(
                    resource,
                    format!("field `{field}.port`: {fqdn} has no port {}; requests get 503 (no cluster)", p.number),
                );
            }
            p.number
        }
        (Some(p), None) => p.number,
        (None, Some(h)) if h.ports.len() == 1 => h.ports[0].port,
        (None, Some(h)) if h.ports.iter().any(|p| p.port == scope.port) => scope.port,
        (None, Some(h)) => {
            let first = h.ports.first().map(|p| p.port).unwrap_or(scope.port);
            ctx.warn(
                resource,
                format!("field `{field}.port`: {fqdn} has several ports; say which one (port {first} is used)"),
            );
            first
        }
        (None, None) => scope.port,
    };
    if host.is_none() {
        ctx.warn(
            resource,
            format!("field `{field}.host`: no service or ServiceEntry named {fqdn}; requests routed there get 503"),
        );
    }
    let subset = dest.subset.clone().unwrap_or_default();
    if !subset.is_empty()
        && let Some(h) = host
    {
        let defined = ctx
            .destination_rule(h)
            .is_some_and(|dr| dr.spec.subsets.iter().any(|s| s.name == subset));
        if !defined {
            ctx.warn(
                resource,
                format!("field `{field}.subset`: subset {subset:?} of {fqdn} is not defined by any DestinationRule; requests routed there get 503"),
            );
        }
    }
    outbound_cluster_name(port, &subset, &fqdn)
}

/// The hash policy of a destination's consistent-hash load balancer, if any.
pub(crate) fn hash_policy(
    ctx: &mut Ctx<'_>,
    dest: &Destination,
    ns: &str,
    scope: &Scope<'_>,
) -> Vec<HashPolicy> {
    let fqdn = ctx.resolve_host(&dest.host, ns);
    let Some(host) = scope.hosts.iter().find(|h| h.name == fqdn) else {
        return Vec::new();
    };
    let Some(dr) = ctx.destination_rule(host) else {
        return Vec::new();
    };
    let subset_policy = dest
        .subset
        .as_ref()
        .and_then(|s| dr.spec.subsets.iter().find(|x| &x.name == s))
        .and_then(|s| s.traffic_policy.as_ref());
    let port = dest.port.as_ref().map(|p| p.number).unwrap_or(scope.port);
    let pp = super::cluster::effective_policy(dr.spec.traffic_policy.as_ref(), subset_policy, port);
    let Some(hash) = pp.load_balancer.and_then(|lb| lb.consistent_hash) else {
        return Vec::new();
    };
    let spec = if let Some(h) = hash.http_header_name {
        hash_policy::PolicySpecifier::Header(hash_policy::Header {
            header_name: h,
            ..Default::default()
        })
    } else if let Some(c) = hash.http_cookie {
        hash_policy::PolicySpecifier::Cookie(hash_policy::Cookie {
            name: c.name,
            path: c.path.unwrap_or_default(),
            ttl: c
                .ttl
                .as_deref()
                .and_then(super::parse_duration)
                .map(super::pb_duration),
            ..Default::default()
        })
    } else if hash.use_source_ip == Some(true) {
        hash_policy::PolicySpecifier::ConnectionProperties(hash_policy::ConnectionProperties {
            source_ip: true,
        })
    } else if let Some(q) = hash.http_query_parameter_name {
        hash_policy::PolicySpecifier::QueryParameter(hash_policy::QueryParameter { name: q })
    } else {
        return Vec::new();
    };
    vec![HashPolicy {
        policy_specifier: Some(spec),
        terminal: false,
    }]
}

fn rule_action(
    ctx: &mut Ctx<'_>,
    vs: &Config<VirtualService>,
    rule: &HttpRoute,
    i: usize,
    scope: &Scope<'_>,
    resource: &str,
) -> Option<Action> {
    let ns = vs.namespace.as_str();
    if rule.delegate.is_some() {
        ctx.warn(
            resource,
            format!("field `http[{i}].delegate`: delegation is not supported by the reference mesh yet; the rule is skipped"),
        );
        return None;
    }
    if let Some(redirect) = &rule.redirect {
        let code = match redirect.redirect_code.unwrap_or(301) {
            301 => RedirectResponseCode::MovedPermanently,
            302 => RedirectResponseCode::Found,
            303 => RedirectResponseCode::SeeOther,
            307 => RedirectResponseCode::TemporaryRedirect,
            308 => RedirectResponseCode::PermanentRedirect,
            other => {
                ctx.warn(resource, format!("field `http[{i}].redirect.redirectCode`: {other} is not a redirect code (301, 302, 303, 307, 308); 301 is used"));
                RedirectResponseCode::MovedPermanently
            }
        };
        return Some(Action::Redirect(RedirectAction {
            host_redirect: redirect.authority.clone().unwrap_or_default(),
            port_redirect: redirect.port.map(u32::from).unwrap_or(0),
            response_code: code as i32,
            path_rewrite_specifier: redirect.uri.clone().map(PathRewriteSpecifier::PathRedirect),
            scheme_rewrite_specifier: redirect
                .scheme
                .clone()
                .map(SchemeRewriteSpecifier::SchemeRedirect),
            ..Default::default()
        }));
    }
    if let Some(direct) = &rule.direct_response {
        return Some(Action::DirectResponse(DirectResponseAction {
            status: direct.status,
            body: direct
                .body
                .as_ref()
                .and_then(|b| b.string.clone())
                .map(|s| DataSource {
                    specifier: Some(Specifier::InlineString(s)),
                    ..Default::default()
                }),
            ..Default::default()
        }));
    }
    if rule.route.is_empty() {
        ctx.warn(
            resource,
            format!("field `http[{i}]`: the rule has no route, redirect or directResponse; it is skipped"),
        );
        return None;
    }
    let mut action = RouteAction {
        timeout: Some(zero()),
        retry_policy: Some(default_retry()),
        ..Default::default()
    };
    let field = format!("http[{i}].route");
    if rule.route.len() == 1 {
        let d = &rule.route[0];
        let cluster = destination_cluster(
            ctx,
            &d.destination,
            ns,
            scope,
            resource,
            &format!("{field}[0].destination"),
        );
        action.cluster_specifier = Some(ClusterSpecifier::Cluster(cluster));
        action.hash_policy = hash_policy(ctx, &d.destination, ns, scope);
    } else {
        let mut clusters = Vec::new();
        for (j, d) in rule.route.iter().enumerate() {
            let name = destination_cluster(
                ctx,
                &d.destination,
                ns,
                scope,
                resource,
                &format!("{field}[{j}].destination"),
            );
            let weight = d.weight.unwrap_or(0);
            if weight == 0 {
                continue;
            }
            let (req_add, req_remove, resp_add, resp_remove) = header_ops(d.headers.as_ref());
            clusters.push(ClusterWeight {
                name,
                weight: Some(u32v(weight)),
                request_headers_to_add: req_add,
                request_headers_to_remove: req_remove,
                response_headers_to_add: resp_add,
                response_headers_to_remove: resp_remove,
                ..Default::default()
            });
        }
        if clusters.is_empty() {
            ctx.warn(
                resource,
                format!("field `{field}`: every destination has weight 0; the rule is skipped"),
            );
            return None;
        }
        action.cluster_specifier = Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters,
            ..Default::default()
        }));
    }
    if let Some(rw) = &rule.rewrite {
        if let Some(uri) = &rw.uri {
            action.prefix_rewrite = uri.clone();
        }
        if let Some(authority) = &rw.authority {
            action.host_rewrite_specifier =
                Some(HostRewriteSpecifier::HostRewriteLiteral(authority.clone()));
        }
    }
    if let Some(t) = duration_field(
        ctx,
        resource,
        &format!("http[{i}].timeout"),
        rule.timeout.as_ref(),
    ) {
        action.timeout = Some(t);
    }
    if let Some(retries) = &rule.retries {
        action.retry_policy = retry_policy(ctx, resource, i, retries);
    }
    if let Some(mirror) = &rule.mirror {
        let cluster = destination_cluster(
            ctx,
            mirror,
            ns,
            scope,
            resource,
            &format!("http[{i}].mirror"),
        );
        let percent = rule
            .mirror_percentage
            .clone()
            .or(rule.mirror_percent.map(|p| Percent {
                value: f64::from(p),
            }))
            .unwrap_or(Percent { value: 100.0 });
        action.request_mirror_policies.push(RequestMirrorPolicy {
            cluster,
            runtime_fraction: Some(RuntimeFractionalPercent {
                default_value: Some(fraction(&percent)),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Some(Action::Route(action))
}

fn retry_policy(
    ctx: &mut Ctx<'_>,
    resource: &str,
    i: usize,
    retries: &HttpRetry,
) -> Option<RetryPolicy> {
    if retries.attempts == 0 {
        return None;
    }
    let mut policy = default_retry();
    policy.num_retries = Some(u32v(retries.attempts));
    if let Some(on) = &retries.retry_on {
        let mut conditions = Vec::new();
        let mut codes = Vec::new();
        for item in on.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<u32>() {
                Ok(code) => codes.push(code),
                Err(_) => conditions.push(item.to_owned()),
            }
        }
        if !codes.is_empty() && !conditions.iter().any(|c| c == "retriable-status-codes") {
            conditions.push("retriable-status-codes".to_owned());
        }
        policy.retry_on = conditions.join(",");
        policy.retriable_status_codes = codes;
    }
    policy.per_try_timeout = duration_field(
        ctx,
        resource,
        &format!("http[{i}].retries.perTryTimeout"),
        retries.per_try_timeout.as_ref(),
    );
    Some(policy)
}

/// A percentage as Envoy's FractionalPercent (per million, so fractions survive).
fn fraction(p: &Percent) -> FractionalPercent {
    let per_million = (p.value.clamp(0.0, 100.0) * 10_000.0).round();
    FractionalPercent {
        // clamped to 0..=1_000_000 above, so the cast cannot truncate
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        numerator: per_million as u32,
        denominator: DenominatorType::Million as i32,
    }
}

fn fault_config(
    ctx: &mut Ctx<'_>,
    resource: &str,
    i: usize,
    fault: &crate::model::istio::HttpFaultInjection,
) -> HttpFault {
    let mut out = HttpFault::default();
    if let Some(delay) = &fault.delay {
        let percent = delay
            .percentage
            .clone()
            .or(delay.percent.map(|p| Percent {
                value: f64::from(p),
            }))
            .unwrap_or(Percent { value: 100.0 });
        match duration_field(ctx, resource, &format!("http[{i}].fault.delay.fixedDelay"), delay.fixed_delay.as_ref()) {
            Some(d) => {
                out.delay = Some(FaultDelay {
                    percentage: Some(fraction(&percent)),
                    fault_delay_secifier: Some(FaultDelaySecifier::FixedDelay(d)),
                });
            }
            None => ctx.warn(resource, format!("field `http[{i}].fault.delay.fixedDelay`: a delay needs a duration; the delay is skipped")),
        }
    }
    if let Some(abort) = &fault.abort {
        match abort.http_status {
            Some(status) if (200..600).contains(&status) => {
                let percent = abort.percentage.clone().unwrap_or(Percent { value: 100.0 });
                out.abort = Some(FaultAbort {
                    percentage: Some(fraction(&percent)),
                    error_type: Some(ErrorType::HttpStatus(status)),
                    ..Default::default()
                });
            }
            _ => ctx.warn(resource, format!("field `http[{i}].fault.abort.httpStatus`: an abort needs an HTTP status between 200 and 599; the abort is skipped")),
        }
    }
    out
}

fn cors_config(
    ctx: &mut Ctx<'_>,
    resource: &str,
    i: usize,
    cors: &crate::model::istio::CorsPolicy,
) -> CorsPolicy {
    let mut origins: Vec<StringMatcher> = cors
        .allow_origins
        .iter()
        .map(|m| string_matcher(m, false))
        .collect();
    origins.extend(cors.allow_origin.iter().map(|o| StringMatcher {
        match_pattern: Some(MatchPattern::Exact(o.clone())),
        ignore_case: false,
    }));
    let max_age = duration_field(
        ctx,
        resource,
        &format!("http[{i}].corsPolicy.maxAge"),
        cors.max_age.as_ref(),
    )
    .map(|d| d.seconds.to_string())
    .unwrap_or_default();
    CorsPolicy {
        allow_origin_string_match: origins,
        allow_methods: cors.allow_methods.join(","),
        allow_headers: cors.allow_headers.join(","),
        expose_headers: cors.expose_headers.join(","),
        max_age,
        allow_credentials: cors.allow_credentials.map(|value| BoolValue { value }),
        ..Default::default()
    }
}

type HeaderChanges = (
    Vec<HeaderValueOption>,
    Vec<String>,
    Vec<HeaderValueOption>,
    Vec<String>,
);

fn header_ops(headers: Option<&crate::model::istio::Headers>) -> HeaderChanges {
    let ops = |o: Option<&HeaderOperations>| {
        let mut add = Vec::new();
        let mut remove = Vec::new();
        if let Some(o) = o {
            for (k, v) in &o.set {
                add.push(header_value(
                    k,
                    v,
                    HeaderAppendAction::OverwriteIfExistsOrAdd,
                ));
            }
            for (k, v) in &o.add {
                add.push(header_value(k, v, HeaderAppendAction::AppendIfExistsOrAdd));
            }
            remove.clone_from(&o.remove);
        }
        (add, remove)
    };
    let (req_add, req_remove) = ops(headers.and_then(|h| h.request.as_ref()));
    let (resp_add, resp_remove) = ops(headers.and_then(|h| h.response.as_ref()));
    (req_add, req_remove, resp_add, resp_remove)
}

fn header_value(key: &str, value: &str, action: HeaderAppendAction) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value: value.to_owned(),
            ..Default::default()
        }),
        append_action: action as i32,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{labels, translate};
    use crate::model::{ContainerPort, Model, Proxy, ProxyKind, Service, ServicePort};

    fn model_with(vs: &str) -> Model {
        let mut model = Model::new();
        model.services.push(Service {
            namespace: "shop".into(),
            name: "reviews".into(),
            cluster_ip: Some("10.0.0.9".parse().unwrap()),
            ports: vec![ServicePort {
                name: "http".into(),
                port: 9080,
                protocol: "TCP".into(),
                app_protocol: None,
                target_port: 9080,
            }],
            selector: labels(&[("app", "reviews")]),
        });
        let value: serde_json::Value = serde_yaml::from_str(vs).unwrap();
        model.add_istio_object(&value).unwrap();
        model
    }

    fn sidecar() -> Proxy {
        Proxy {
            kind: ProxyKind::Sidecar,
            pod: "productpage-v1-x".into(),
            namespace: "shop".into(),
            labels: labels(&[("app", "productpage")]),
            service_account: "bookinfo-productpage".into(),
            ip: "127.1.0.5".parse().unwrap(),
            app_ip: "127.2.0.5".parse().unwrap(),
            outbound_ip: "127.3.0.5".parse().unwrap(),
            ports: vec![ContainerPort {
                name: "http".into(),
                port: 9080,
            }],
            port_map: Default::default(),
        }
    }

    #[test]
    fn routes_are_named_after_their_rules_and_name_their_virtual_service() {
        let model = model_with(
            "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}, {name: tester, headers: {end-user: {exact: tester}}}]
    route: [{destination: {host: reviews}}]
  - match: [{name: beta, uri: {prefix: /beta}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
",
        );
        let res = translate(&model, &sidecar());
        let routes = &res
            .route("9080")
            .unwrap()
            .virtual_hosts
            .iter()
            .find(|v| v.name == "reviews.shop.svc.cluster.local:9080")
            .unwrap()
            .routes;
        let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        // Istio: the rule's name, `.match-name` added when the match has one, else nothing.
        assert_eq!(names, ["jason", "jason.tester", ".beta", ""]);
        for route in routes {
            let config =
                &route.metadata.as_ref().unwrap().filter_metadata["istio"].fields["config"];
            assert_eq!(
                config.kind,
                Some(super::Kind::StringValue(
                    "/apis/networking.istio.io/v1/namespaces/shop/virtual-service/reviews".into()
                ))
            );
        }
    }

    #[test]
    fn the_default_route_of_a_host_without_a_virtual_service_is_called_default() {
        let mut model = model_with(
            "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec: {host: reviews}
",
        );
        model.virtual_services.clear();
        let res = translate(&model, &sidecar());
        let vhost = res
            .route("9080")
            .unwrap()
            .virtual_hosts
            .iter()
            .find(|v| v.name == "reviews.shop.svc.cluster.local:9080")
            .unwrap();
        assert_eq!(vhost.routes[0].name, "default");
        assert!(vhost.routes[0].metadata.is_none());
    }
}
