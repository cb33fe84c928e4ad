//! Policy translation, rule by rule: which filters a proxy gets, in which order, what their
//! rules match, and the warnings that name what the reference mesh does not support.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::rbac::v3::{
    Permission, Policy, Principal, permission, principal, rbac::Action,
};
use envoy_types::pb::envoy::config::route::v3::header_matcher::HeaderMatchSpecifier;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::{
    JwtAuthentication, jwt_provider::JwksSourceSpecifier, jwt_requirement::RequiresType,
    requirement_rule::RequirementType,
};
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, http_filter,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{path_matcher, string_matcher::MatchPattern};
use prost::Message;

use super::*;
use crate::model::{ContainerPort, Model, Proxy, ProxyKind, Service, ServicePort};
use crate::translate::tests::{gateway_proxy, yaml};
use crate::translate::{Ctx, labels, translate};

fn service(ns: &str, name: &str, port: u16) -> Service {
    Service {
        namespace: ns.into(),
        name: name.into(),
        cluster_ip: Some("10.0.0.9".parse().unwrap()),
        ports: vec![ServicePort {
            name: "http".into(),
            port,
            protocol: "TCP".into(),
            app_protocol: None,
            target_port: 8080,
        }],
        selector: labels(&[("app", name)]),
    }
}

fn httpbin_proxy(ns: &str) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: "httpbin-1".into(),
        namespace: ns.into(),
        labels: labels(&[("app", "httpbin"), ("version", "v1")]),
        service_account: "httpbin".into(),
        ip: "127.1.0.5".parse().unwrap(),
        app_ip: "127.2.0.5".parse().unwrap(),
        outbound_ip: "127.3.0.5".parse().unwrap(),
        ports: vec![ContainerPort {
            name: "http".into(),
            port: 8080,
        }],
        port_map: BTreeMap::new(),
    }
}

/// A model with httpbin (port 8000 → 8080) and the YAML documents added.
fn model(text: &str) -> Model {
    let mut model = Model::new();
    model.services.push(service("default", "httpbin", 8000));
    yaml(&mut model, text);
    model
}

/// The policy filters and warnings of httpbin's inbound listener on 8080.
fn inbound(model: &Model) -> (Vec<HttpFilter>, Vec<String>) {
    let proxy = httpbin_proxy("default");
    let mut ctx = Ctx::new(model, &proxy);
    let filters = inbound_http_filters(&mut ctx, 8080);
    let warnings = ctx.warnings.iter().map(ToString::to_string).collect();
    (filters, warnings)
}

fn decode<T: Message + Default>(filter: &HttpFilter) -> T {
    let Some(http_filter::ConfigType::TypedConfig(any)) = &filter.config_type else {
        panic!("{} has no typed config", filter.name);
    };
    T::decode(any.value.as_slice()).unwrap()
}

fn rbac(filter: &HttpFilter) -> (Action, BTreeMap<String, Policy>) {
    assert_eq!(filter.name, RBAC_FILTER);
    let rules = decode::<Rbac>(filter).rules.unwrap();
    (
        Action::try_from(rules.action).unwrap(),
        rules.policies.into_iter().collect(),
    )
}

fn names(filters: &[HttpFilter]) -> Vec<&str> {
    filters.iter().map(|f| f.name.as_str()).collect()
}

fn is_never_permission(p: &Permission) -> bool {
    matches!(&p.rule, Some(permission::Rule::NotRule(inner))
        if matches!(inner.rule, Some(permission::Rule::Any(true))))
}

fn is_never_principal(p: &Principal) -> bool {
    matches!(&p.identifier, Some(principal::Identifier::NotId(inner))
        if matches!(inner.identifier, Some(principal::Identifier::Any(true))))
}

/// The metadata path a principal matches in the JWT payload, if it is such a matcher.
fn jwt_path(p: &Principal) -> Option<Vec<String>> {
    let Some(principal::Identifier::SourcedMetadata(m)) = &p.identifier else {
        return None;
    };
    let m = m.metadata_matcher.as_ref()?;
    assert_eq!(m.filter, JWT_FILTER);
    Some(
        m.path
            .iter()
            .filter_map(|s| {
                s.segment.as_ref().map(|segment| {
                    let envoy_types::pb::envoy::r#type::matcher::v3::metadata_matcher::path_segment::Segment::Key(k) = segment;
                    k.clone()
                })
            })
            .collect(),
    )
}

const ISSUER: &str = "testing@secure.istio.io";

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","alg":"ES256","kid":"test"}]}"#;

fn request_authentication(extra: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: default}}
spec:
  selector: {{matchLabels: {{app: httpbin}}}}
  jwtRules:
  - issuer: {ISSUER}
{extra}"
    )
}

#[test]
fn no_policy_means_no_filters() {
    let (filters, warnings) = inbound(&model(""));
    assert!(filters.is_empty());
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn deny_on_a_path_is_one_deny_rbac_filter_matching_that_path() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-headers, namespace: default}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation: {paths: [/headers], methods: [GET]}",
    );
    let (filters, warnings) = inbound(&m);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(names(&filters), [RBAC_FILTER]);
    let (action, policies) = rbac(&filters[0]);
    assert_eq!(action, Action::Deny);
    let policy = &policies["ns[default]-policy[deny-headers]-rule[0]"];
    // paths AND methods; any source
    let Some(permission::Rule::AndRules(set)) = &policy.permissions[0].rule else {
        panic!("{policy:?}");
    };
    let Some(permission::Rule::UrlPath(path)) = &set.rules[1].rule else {
        panic!("{set:?}");
    };
    let Some(path_matcher::Rule::Path(matcher)) = &path.rule else {
        panic!()
    };
    assert_eq!(
        matcher.match_pattern,
        Some(MatchPattern::Exact("/headers".into()))
    );
    let Some(permission::Rule::Header(method)) = &set.rules[0].rule else {
        panic!("{set:?}");
    };
    assert_eq!(method.name, ":method");
    assert!(matches!(
        policy.principals[0].identifier,
        Some(principal::Identifier::Any(true))
    ));
}

#[test]
fn an_allow_policy_without_rules_denies_everything_and_a_deny_without_rules_nothing() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: default}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-nothing, namespace: default}
spec: {action: DENY}",
    );
    let (filters, _) = inbound(&m);
    assert_eq!(names(&filters), [RBAC_FILTER]);
    let (action, policies) = rbac(&filters[0]);
    assert_eq!(action, Action::Allow);
    assert!(policies.is_empty(), "ALLOW with no policy denies all");
}

#[test]
fn policies_apply_by_namespace_root_namespace_and_selector() {
    let text = |ns: &str, selector: &str| {
        format!(
            "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: p, namespace: {ns}}}
spec:
  {selector}
  action: DENY
  rules: [{{}}]"
        )
    };
    let applies = |ns: &str, selector: &str| !inbound(&model(&text(ns, selector))).0.is_empty();
    assert!(applies("default", ""));
    assert!(applies("istio-system", ""), "root namespace is mesh-wide");
    assert!(!applies("other", ""), "another namespace's policy");
    assert!(applies(
        "default",
        "selector: {matchLabels: {app: httpbin}}"
    ));
    assert!(!applies(
        "default",
        "selector: {matchLabels: {app: reviews}}"
    ));
    assert!(
        applies("istio-system", "selector: {matchLabels: {app: httpbin}}"),
        "a root policy's selector picks workloads in every namespace"
    );
}

#[test]
fn filters_run_jwt_then_audit_deny_allow_and_custom_is_denied_with_a_warning() {
    let m = model(&format!(
        "{}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: allow, namespace: default}}
spec:
  rules: [{{}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: audit, namespace: default}}
spec:
  action: AUDIT
  rules: [{{}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: ext, namespace: default}}
spec:
  action: CUSTOM
  provider: {{name: my-authz}}
  rules: [{{to: [{{operation: {{paths: [/admin*]}}}}]}}]",
        request_authentication(&format!("    jwks: '{JWKS}'"))
    ));
    let (filters, warnings) = inbound(&m);
    assert_eq!(
        names(&filters),
        [JWT_FILTER, RBAC_FILTER, RBAC_FILTER, RBAC_FILTER]
    );
    let actions: Vec<Action> = filters[1..].iter().map(|f| rbac(f).0).collect();
    assert_eq!(actions, [Action::Log, Action::Deny, Action::Allow]);
    let (_, deny) = rbac(&filters[2]);
    assert!(deny.contains_key("ns[default]-policy[ext]-rule[0]"));
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("AuthorizationPolicy default/ext:")
                && w.contains("CUSTOM")
                && w.contains("denied")),
        "{warnings:?}"
    );
}

#[test]
fn ports_are_decided_per_inbound_listener_and_matched_on_gateways() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ports, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {ports: ['8080']}}]
  - to: [{operation: {ports: ['9090']}}]",
    );
    let (filters, _) = inbound(&m);
    let (_, policies) = rbac(&filters[0]);
    let port_8080 = &policies["ns[istio-system]-policy[ports]-rule[0]"].permissions[0];
    let port_9090 = &policies["ns[istio-system]-policy[ports]-rule[1]"].permissions[0];
    assert!(matches!(port_8080.rule, Some(permission::Rule::Any(true))));
    assert!(is_never_permission(port_9090));

    let proxy = gateway_proxy();
    let mut ctx = Ctx::new(&m, &proxy);
    let filters = gateway_http_filters(&mut ctx);
    let (_, policies) = rbac(&filters[0]);
    assert!(matches!(
        policies["ns[istio-system]-policy[ports]-rule[1]"].permissions[0].rule,
        Some(permission::Rule::DestinationPort(9090))
    ));
}

#[test]
fn request_principals_match_the_verified_payload_of_known_issuers() {
    let policy = "
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  action: DENY
  rules:
  - from:
    - source: {notRequestPrincipals: ['*']}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-alice, namespace: default}
spec:
  rules:
  - from:
    - source: {requestPrincipals: ['testing@secure.istio.io/alice']}
    when:
    - key: request.auth.claims[groups]
      values: [group1]";
    let with_jwt = model(&format!(
        "{}{policy}",
        request_authentication(&format!("    jwks: '{JWKS}'"))
    ));
    let (filters, warnings) = inbound(&with_jwt);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(names(&filters), [JWT_FILTER, RBAC_FILTER, RBAC_FILTER]);
    let (_, deny) = rbac(&filters[1]);
    let principal = &deny["ns[default]-policy[require-jwt]-rule[0]"].principals[0];
    let Some(principal::Identifier::NotId(inner)) = &principal.identifier else {
        panic!("{principal:?}");
    };
    assert_eq!(jwt_path(inner).unwrap(), [ISSUER, "iss"]);

    let (_, allow) = rbac(&filters[2]);
    let principal = &allow["ns[default]-policy[only-alice]-rule[0]"].principals[0];
    let Some(principal::Identifier::AndIds(set)) = &principal.identifier else {
        panic!("{principal:?}");
    };
    let paths: Vec<Vec<String>> = set.ids.iter().filter_map(jwt_path).collect();
    assert_eq!(
        paths,
        [
            vec![ISSUER.to_owned(), "sub".to_owned()],
            vec![ISSUER.to_owned(), "groups".to_owned()]
        ]
    );

    // Without a RequestAuthentication no request has a principal: the DENY then matches all.
    let (filters, _) = inbound(&model(policy));
    let (_, deny) = rbac(&filters[0]);
    let Some(principal::Identifier::NotId(inner)) =
        &deny["ns[default]-policy[require-jwt]-rule[0]"].principals[0].identifier
    else {
        panic!()
    };
    assert!(is_never_principal(inner));
}

#[test]
fn peer_identities_and_headers_become_principals() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: peers, namespace: default}
spec:
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/foo/sa/curl]
        namespaces: [bar]
        ipBlocks: [10.1.0.0/16]
    when:
    - key: request.headers[X-Version]
      notValues: [v2*]",
    );
    let (filters, warnings) = inbound(&m);
    assert!(warnings.is_empty(), "{warnings:?}");
    let (_, allow) = rbac(&filters[0]);
    let principal = &allow["ns[default]-policy[peers]-rule[0]"].principals[0];
    let Some(principal::Identifier::AndIds(set)) = &principal.identifier else {
        panic!("{principal:?}");
    };
    let Some(principal::Identifier::Authenticated(spiffe)) = &set.ids[0].identifier else {
        panic!("{set:?}");
    };
    assert_eq!(
        spiffe.principal_name.as_ref().unwrap().match_pattern,
        Some(MatchPattern::Exact(
            "spiffe://cluster.local/ns/foo/sa/curl".into()
        ))
    );
    let Some(principal::Identifier::Authenticated(ns)) = &set.ids[1].identifier else {
        panic!("{set:?}");
    };
    let Some(MatchPattern::SafeRegex(re)) = &ns.principal_name.as_ref().unwrap().match_pattern
    else {
        panic!("{ns:?}");
    };
    assert_eq!(re.regex, ".*/ns/bar/.*");
    let Some(principal::Identifier::DirectRemoteIp(cidr)) = &set.ids[2].identifier else {
        panic!("{set:?}");
    };
    assert_eq!(
        (cidr.address_prefix.as_str(), cidr.prefix_len.unwrap().value),
        ("10.1.0.0", 16)
    );
    let Some(principal::Identifier::NotId(header)) = &set.ids[3].identifier else {
        panic!("{set:?}");
    };
    let Some(principal::Identifier::Header(header)) = &header.identifier else {
        panic!("{header:?}");
    };
    assert_eq!(header.name, "x-version");
    let Some(HeaderMatchSpecifier::StringMatch(m)) = &header.header_match_specifier else {
        panic!()
    };
    assert_eq!(m.match_pattern, Some(MatchPattern::Prefix("v2".into())));
}

#[test]
fn unsupported_fields_are_warnings_naming_them_and_read_conservatively() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: odd, namespace: default}
spec:
  targetRefs: [{kind: Gateway, name: gw}]
  rules:
  - to: [{operation: {method: [GET]}}]
    when:
    - key: request.magic
      values: [x]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: odd-deny, namespace: default}
spec:
  action: DENY
  rules:
  - when:
    - key: source.ip
      values: [not-an-ip]",
    );
    let (filters, warnings) = inbound(&m);
    for field in [
        "`targetRefs`",
        "`rules[0].to[0].operation.method`",
        "`rules[0].when[0].key`",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("AuthorizationPolicy default/odd:") && w.contains(field)),
            "no warning naming {field}: {warnings:?}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("AuthorizationPolicy default/odd-deny:")
                && w.contains("`rules[0].when[0].values[0]`")
                && w.contains("every request")),
        "{warnings:?}"
    );
    let (_, deny) = rbac(&filters[0]);
    assert!(matches!(
        deny["ns[default]-policy[odd-deny]-rule[0]"].principals[0].identifier,
        Some(principal::Identifier::Any(true))
    ));
    let (_, allow) = rbac(&filters[1]);
    let rule = &allow["ns[default]-policy[odd]-rule[0]"];
    assert!(is_never_principal(&rule.principals[0]));
    assert!(is_never_permission(&rule.permissions[0]));
}

#[test]
fn malformed_policies_are_parse_errors_naming_the_field() {
    let mut m = Model::new();
    let err = m
        .add_istio_object(&serde_json::json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"rules": [{"to": [{"operation": {"paths": "/headers"}}]}]}
        }))
        .unwrap_err();
    assert_eq!(err.field, "spec.rules[0].to[0].operation.paths");
    let err = m
        .add_istio_object(&serde_json::json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"action": "REJECT"}
        }))
        .unwrap_err();
    assert_eq!(err.field, "spec.action");
    assert!(err.message.contains("ALLOW"), "{err}");
}

fn jwt(filters: &[HttpFilter]) -> JwtAuthentication {
    assert_eq!(filters[0].name, JWT_FILTER);
    decode(&filters[0])
}

#[test]
fn request_authentication_is_a_jwt_filter_that_lets_missing_tokens_through() {
    let m = model(&request_authentication(&format!(
        "    jwks: '{JWKS}'
    audiences: [httpbin]
    fromHeaders: [{{name: x-jwt, prefix: 'Token '}}]
    fromParams: [token]
    outputPayloadToHeader: x-jwt-payload
    forwardOriginalToken: true"
    )));
    let (filters, warnings) = inbound(&m);
    assert!(warnings.is_empty(), "{warnings:?}");
    let config = jwt(&filters);
    let provider = &config.providers["origins-0"];
    assert_eq!(provider.issuer, ISSUER);
    assert_eq!(provider.audiences, ["httpbin"]);
    assert_eq!(provider.payload_in_metadata, ISSUER);
    assert_eq!(provider.forward_payload_header, "x-jwt-payload");
    assert!(provider.forward);
    assert_eq!(
        (
            provider.from_headers[0].name.as_str(),
            provider.from_headers[0].value_prefix.as_str()
        ),
        ("x-jwt", "Token ")
    );
    assert_eq!(provider.from_params, ["token"]);
    assert!(matches!(
        &provider.jwks_source_specifier,
        Some(JwksSourceSpecifier::LocalJwks(_))
    ));
    let Some(RequirementType::Requires(requires)) = &config.rules[0].requirement_type else {
        panic!("{config:?}");
    };
    let Some(RequiresType::RequiresAny(any)) = &requires.requires_type else {
        panic!("{requires:?}");
    };
    assert!(matches!(
        &any.requirements[0].requires_type,
        Some(RequiresType::ProviderName(n)) if n == "origins-0"
    ));
    assert!(matches!(
        any.requirements[1].requires_type,
        Some(RequiresType::AllowMissing(_))
    ));
}

#[test]
fn jwks_uri_is_fetched_through_the_mesh_or_refused_with_a_warning() {
    let remote = |uri: &str| {
        let m = model(&request_authentication(&format!("    jwksUri: {uri}")));
        let (filters, warnings) = inbound(&m);
        let config = jwt(&filters);
        let Some(JwksSourceSpecifier::RemoteJwks(remote)) =
            &config.providers["origins-0"].jwks_source_specifier
        else {
            panic!("{config:?}");
        };
        let http = remote.http_uri.clone().unwrap();
        let Some(envoy_types::pb::envoy::config::core::v3::http_uri::HttpUpstreamType::Cluster(
            cluster,
        )) = http.http_upstream_type
        else {
            panic!()
        };
        (cluster, warnings)
    };
    let (cluster, warnings) = remote("http://httpbin.default.svc.cluster.local:8000/jwks.json");
    assert_eq!(cluster, "outbound|8000||httpbin.default.svc.cluster.local");
    assert!(warnings.is_empty(), "{warnings:?}");
    let (cluster, _) = remote("http://httpbin:8000/jwks.json");
    assert_eq!(cluster, "outbound|8000||httpbin.default.svc.cluster.local");
    for (uri, why) in [
        (
            "https://www.googleapis.com/oauth2/v3/certs",
            "plain http only",
        ),
        ("http://keys.example.com/jwks.json", "no internet"),
        ("http://httpbin:9999/jwks.json", "has no port 9999"),
    ] {
        let (cluster, warnings) = remote(uri);
        assert_eq!(cluster, crate::translate::BLACK_HOLE_CLUSTER, "{uri}");
        assert!(
            warnings.iter().any(|w| w
                .starts_with("RequestAuthentication default/jwt: field `jwtRules[0].jwksUri`")
                && w.contains(why)
                && w.contains("Jwks remote fetch is failed")),
            "{uri}: {warnings:?}"
        );
    }
}

/// Istio's documented local rate limit, in the shape its docs give (a TypedStruct).
fn rate_limit(context: &str, operation: &str, sub_filter: &str, selector: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {{name: ratelimit, namespace: istio-system}}
spec:
  workloadSelector:
    labels: {selector}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: {context}
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
{sub_filter}
    patch:
      operation: {operation}
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          '@type': type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: {{max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s}}
            filter_enabled:
              runtime_key: local_rate_limit_enabled
              default_value: {{numerator: 100, denominator: HUNDRED}}
            filter_enforced:
              runtime_key: local_rate_limit_enforced
              default_value: {{numerator: 100, denominator: HUNDRED}}
            response_headers_to_add:
            - append: false
              header: {{key: x-local-rate-limit, value: 'true'}}"
    )
}

#[test]
fn the_documented_local_rate_limit_is_inserted_with_its_token_bucket() {
    let text = format!(
        "{}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: allow-all, namespace: default}}
spec: {{rules: [{{}}]}}",
        rate_limit("SIDECAR_INBOUND", "INSERT_BEFORE", "", "{app: httpbin}")
    );
    let (filters, warnings) = inbound(&model(&text));
    assert!(warnings.is_empty(), "{warnings:?}");
    // INSERT_BEFORE without a subFilter goes first, as in Istio.
    assert_eq!(names(&filters), [LOCAL_RATE_LIMIT_FILTER, RBAC_FILTER]);
    let config: LocalRateLimit = decode(&filters[0]);
    assert_eq!(config.stat_prefix, "http_local_rate_limiter");
    let bucket = config.token_bucket.unwrap();
    assert_eq!(bucket.max_tokens, 4);
    assert_eq!(bucket.tokens_per_fill.unwrap().value, 4);
    assert_eq!(bucket.fill_interval.unwrap().seconds, 60);
    assert_eq!(
        config
            .filter_enforced
            .unwrap()
            .default_value
            .unwrap()
            .numerator,
        100
    );
    assert_eq!(
        config.response_headers_to_add[0]
            .header
            .as_ref()
            .unwrap()
            .key,
        "x-local-rate-limit"
    );

    // Before the router: after the policy filters.
    let sub = "            subFilter: {name: envoy.filters.http.router}";
    let text = format!(
        "{}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: allow-all, namespace: default}}
spec: {{rules: [{{}}]}}",
        rate_limit("SIDECAR_INBOUND", "INSERT_BEFORE", sub, "{app: httpbin}")
    );
    let (filters, _) = inbound(&model(&text));
    assert_eq!(names(&filters), [RBAC_FILTER, LOCAL_RATE_LIMIT_FILTER]);

    // The gateway context applies to gateways only; the selector picks the proxy.
    let gw = model(&rate_limit(
        "GATEWAY",
        "INSERT_BEFORE",
        sub,
        "{istio: ingressgateway}",
    ));
    assert!(inbound(&gw).0.is_empty());
    let proxy = gateway_proxy();
    let mut ctx = Ctx::new(&gw, &proxy);
    assert_eq!(
        names(&gateway_http_filters(&mut ctx)),
        [LOCAL_RATE_LIMIT_FILTER]
    );
    assert!(
        inbound(&model(&rate_limit(
            "SIDECAR_INBOUND",
            "INSERT_FIRST",
            "",
            "{app: reviews}"
        )))
        .0
        .is_empty()
    );
}

#[test]
fn other_envoy_filter_patches_are_refused_naming_the_field_and_what_is_supported() {
    let text = "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: lua, namespace: default}
spec:
  configPatches:
  - applyTo: CLUSTER
    patch: {operation: MERGE, value: {}}
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.lua
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inlineCode: 'function envoy_on_request(h) end'
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch: {operation: REPLACE, value: {}}";
    let (filters, warnings) = inbound(&model(text));
    assert!(filters.is_empty());
    for field in [
        "`configPatches[0].applyTo`",
        "`configPatches[1].patch.value.typed_config.@type`",
        "`configPatches[2].patch.operation`",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("EnvoyFilter default/lua:")
                    && w.contains(field)
                    && w.contains("supports only Istio's local rate limit")),
            "no warning naming {field}: {warnings:?}"
        );
    }
}

#[test]
fn the_inbound_and_gateway_listeners_carry_the_policy_filters_first() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: istio-system}
spec:
  action: DENY
  rules: [{}]",
    );
    for (proxy, listener) in [
        (httpbin_proxy("default"), "127.1.0.5_8080"),
        (gateway_proxy(), "127.1.9.1_8080"),
    ] {
        let mut m = m.clone();
        if proxy.kind == ProxyKind::Gateway {
            m.add_istio_object(&serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                "metadata": {"name": "gw", "namespace": "istio-system"},
                "spec": {"selector": {"istio": "ingressgateway"},
                         "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}
            }))
            .unwrap();
        }
        let res = translate(&m, &proxy);
        let listener = res
            .listener(listener)
            .unwrap_or_else(|| panic!("no listener {listener}"));
        for chain in &listener.filter_chains {
            let Some(
                envoy_types::pb::envoy::config::listener::v3::filter::ConfigType::TypedConfig(any),
            ) = &chain.filters.last().unwrap().config_type
            else {
                panic!()
            };
            let hcm = HttpConnectionManager::decode(any.value.as_slice()).unwrap();
            assert_eq!(hcm.http_filters[0].name, RBAC_FILTER, "{listener:?}");
            assert_eq!(
                hcm.http_filters.last().unwrap().name,
                "envoy.filters.http.router"
            );
        }
    }
}

#[test]
fn request_principal_wildcards_reach_into_the_issuer() {
    let m = model(&format!(
        "{}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: wild, namespace: default}}
spec:
  rules:
  - from: [{{source: {{requestPrincipals: ['testing@secure.istio.io/*']}}}}]
  - from: [{{source: {{requestPrincipals: ['*secure.istio.io/alice']}}}}]
  - from: [{{source: {{requestPrincipals: ['other-issuer/alice']}}}}]",
        request_authentication(&format!("    jwks: '{JWKS}'"))
    ));
    let (filters, _) = inbound(&m);
    let (_, allow) = rbac(&filters[1]);
    let principal =
        |i: usize| allow[&format!("ns[default]-policy[wild]-rule[{i}]")].principals[0].clone();
    // `iss/*`: any token of that issuer.
    assert_eq!(jwt_path(&principal(0)).unwrap(), [ISSUER, "iss"]);
    // `*…/alice`: a subject ending so, or exactly alice when the issuer ends with the rest.
    let Some(principal::Identifier::OrIds(set)) = principal(1).identifier else {
        panic!("{:?}", principal(1));
    };
    assert_eq!(set.ids.len(), 2);
    assert!(
        set.ids
            .iter()
            .all(|p| jwt_path(p).unwrap() == [ISSUER, "sub"])
    );
    // An issuer no RequestAuthentication accepts: never.
    assert!(is_never_principal(&principal(2)));
}

#[test]
fn the_local_rate_limit_may_be_given_directly_in_camel_case_and_warns_about_what_it_ignores() {
    let text = "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: direct, namespace: istio-system}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        portNumber: 8080
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          statPrefix: gateway_limiter
          tokenBucket: {maxTokens: 10, fillInterval: 1s}
          filterEnabled: {defaultValue: {numerator: 50, denominator: TEN_THOUSAND}}
          descriptors: [{entries: [{key: path, value: /}]}]";
    let m = model(text);
    let proxy = gateway_proxy();
    let mut ctx = Ctx::new(&m, &proxy);
    let filters = gateway_http_filters(&mut ctx);
    let warnings: Vec<String> = ctx.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(names(&filters), [LOCAL_RATE_LIMIT_FILTER]);
    let config: LocalRateLimit = decode(&filters[0]);
    assert_eq!(config.stat_prefix, "gateway_limiter");
    assert_eq!(config.token_bucket.unwrap().max_tokens, 10);
    let enabled = config.filter_enabled.unwrap().default_value.unwrap();
    assert_eq!((enabled.numerator, enabled.denominator), (50, 1));
    for field in [
        "`configPatches[0].patch.value.typed_config.descriptors`",
        "`configPatches[0].match.listener.portNumber`",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("EnvoyFilter istio-system/direct:") && w.contains(field)),
            "no warning naming {field}: {warnings:?}"
        );
    }
}

#[test]
fn hosts_match_the_authority_with_any_port_and_any_case() {
    let m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: hosts, namespace: default}
spec:
  action: DENY
  rules:
  - to: [{operation: {hosts: [httpbin.example.com, '*.internal']}}]",
    );
    let (filters, _) = inbound(&m);
    let (_, deny) = rbac(&filters[0]);
    let Some(permission::Rule::OrRules(set)) =
        &deny["ns[default]-policy[hosts]-rule[0]"].permissions[0].rule
    else {
        panic!()
    };
    let regexes: Vec<String> = set
        .rules
        .iter()
        .map(|r| {
            let Some(permission::Rule::Header(h)) = &r.rule else {
                panic!("{r:?}")
            };
            assert_eq!(h.name, ":authority");
            let Some(HeaderMatchSpecifier::StringMatch(m)) = &h.header_match_specifier else {
                panic!()
            };
            let Some(MatchPattern::SafeRegex(re)) = &m.match_pattern else {
                panic!()
            };
            re.regex.clone()
        })
        .collect();
    assert_eq!(
        regexes,
        [
            r"(?i)httpbin\.example\.com(:[0-9]+)?",
            r"(?i).*\.internal(:[0-9]+)?"
        ]
    );
}

#[test]
fn the_mesh_configs_root_namespace_and_trust_domain_are_honoured() {
    let mut m = model(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-wide, namespace: istio-config}
spec:
  rules:
  - from: [{source: {serviceAccounts: [curl, foo/sleep]}}]",
    );
    assert!(
        inbound(&m).0.is_empty(),
        "istio-config is not the root namespace by default"
    );
    m.mesh.root_namespace = "istio-config".into();
    m.mesh.trust_domain = "example.org".into();
    let (filters, _) = inbound(&m);
    let (_, allow) = rbac(&filters[0]);
    let Some(principal::Identifier::OrIds(set)) =
        &allow["ns[istio-config]-policy[mesh-wide]-rule[0]"].principals[0].identifier
    else {
        panic!("{allow:?}")
    };
    let names: Vec<_> = set
        .ids
        .iter()
        .map(|p| {
            let Some(principal::Identifier::Authenticated(a)) = &p.identifier else {
                panic!("{p:?}")
            };
            a.principal_name.as_ref().unwrap().match_pattern.clone()
        })
        .collect();
    assert_eq!(
        names,
        [
            Some(MatchPattern::Exact(
                "spiffe://example.org/ns/istio-config/sa/curl".into()
            )),
            Some(MatchPattern::Exact(
                "spiffe://example.org/ns/foo/sa/sleep".into()
            ))
        ]
    );
}

#[test]
fn an_unreadable_inline_key_set_refuses_its_tokens_instead_of_breaking_the_listener() {
    for (jwks, why) in [
        ("not json", "not JSON"),
        (r#"{"keys": []}"#, "empty"),
        (
            r#"{"keys": [{"kty": "EC", "crv": "P-256"}]}"#,
            "keys[0] (EC) has no `x`",
        ),
    ] {
        let m = model(&request_authentication(&format!("    jwks: '{jwks}'")));
        let (filters, warnings) = inbound(&m);
        let config = jwt(&filters);
        let Some(JwksSourceSpecifier::RemoteJwks(remote)) =
            &config.providers["origins-0"].jwks_source_specifier
        else {
            panic!("{jwks}: the unreadable set went to Envoy: {config:?}");
        };
        assert!(
            matches!(
                &remote.http_uri.as_ref().unwrap().http_upstream_type,
                Some(envoy_types::pb::envoy::config::core::v3::http_uri::HttpUpstreamType::Cluster(c))
                    if c == crate::translate::BLACK_HOLE_CLUSTER
            ),
            "{remote:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("`jwtRules[0].jwks`") && w.contains(why)),
            "{jwks}: {warnings:?}"
        );
    }
}

#[test]
fn a_token_bucket_envoy_would_refuse_is_a_warning_and_the_patch_is_ignored() {
    let text = rate_limit("SIDECAR_INBOUND", "INSERT_FIRST", "", "{app: httpbin}")
        .replace("fill_interval: 60s", "fill_interval: 10ms");
    let (filters, warnings) = inbound(&model(&text));
    assert!(filters.is_empty(), "{filters:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("EnvoyFilter istio-system/ratelimit:")
                && w.contains("`configPatches[0].patch.value.typed_config.value.token_bucket`")
                && w.contains("at least 50ms")),
        "{warnings:?}"
    );
}
