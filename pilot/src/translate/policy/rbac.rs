//! AuthorizationPolicy → Envoy RBAC filters, with Istio's semantics.
//!
//! Each rule becomes one RBAC policy named as Istio names it (`ns[foo]-policy[deny-headers]-rule[0]`):
//! its `to` operations are the policy's permissions (ORed), its `from` sources its principals
//! (ORed), and every `when` condition is ANDed into each of them, on the side it belongs to
//! (request attributes such as headers and JWT claims on the principal side, destination
//! attributes on the permission side). Within one source or operation the fields are ANDed and
//! the values of a field ORed; `notX` fields are negated ORs.
//!
//! Peer identities (`principals`, `namespaces`, `serviceAccounts`) match the SPIFFE URI SAN of the
//! client's certificate, so they match only over mutual TLS. Request identities (`iss/sub`) and
//! claims match the payload the JWT filter stores in dynamic metadata under the token's issuer.
//! What the reference mesh cannot express is a warning naming the field, and the field is read
//! conservatively: as matching every request in a DENY policy, none in an ALLOW policy.

use std::collections::HashMap;
use std::net::IpAddr;

use envoy_types::pb::envoy::config::core::v3::CidrRange;
use envoy_types::pb::envoy::config::rbac::v3::{
    MetadataSource, Permission, Policy, Principal, Rbac as RbacRules, SourcedMetadata, permission,
    principal, rbac::Action,
};
use envoy_types::pb::envoy::config::route::v3::{HeaderMatcher, header_matcher};
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use envoy_types::pb::envoy::r#type::matcher::v3::{
    ListMatcher, MetadataMatcher, OrMatcher, PathMatcher, RegexMatcher, StringMatcher,
    ValueMatcher, list_matcher, metadata_matcher, path_matcher, string_matcher, value_matcher,
};
use envoy_types::pb::google::protobuf::UInt32Value;
use envoy_types::util::pack_any;

use super::{JWT_FILTER, RBAC_FILTER, Where, http_filter, resource_name, selects, warn_unknown};
use crate::model::policy::{AuthorizationAction, Condition, Operation, Rule, Source};
use crate::translate::Ctx;

/// The RBAC filters for the proxy at `at`: AUDIT, DENY (and CUSTOM), ALLOW — each only when a
/// policy of that action applies. `issuers` are the JWT issuers whose payloads the JWT filter
/// stores (request principals and claims are matched in them).
pub(super) fn filters(ctx: &mut Ctx<'_>, at: Where, issuers: &[String]) -> Vec<HttpFilter> {
    let model = ctx.model;
    let mut audit = HashMap::new();
    let mut deny = HashMap::new();
    let mut allow = HashMap::new();
    let mut any_allow = false;
    for ap in &model.authorization_policies {
        let selector = ap.spec.selector.as_ref().map(|s| &s.match_labels);
        if !selects(ctx, &ap.namespace, selector) {
            continue;
        }
        let resource = resource_name("AuthorizationPolicy", ap);
        warn_unknown(ctx, &resource, "", &ap.spec.unknown, "the field is ignored");
        let action = ap.spec.action;
        if action == AuthorizationAction::Custom {
            ctx.warn(
                &resource,
                "field `action`: CUSTOM delegates to an external authorizer (an extensionProvider of the mesh config), which the reference mesh does not have; the requests its rules match are denied",
            );
        }
        let policies = match action {
            AuthorizationAction::Allow => {
                any_allow = true;
                &mut allow
            }
            AuthorizationAction::Deny | AuthorizationAction::Custom => &mut deny,
            AuthorizationAction::Audit => &mut audit,
        };
        let mut builder = Builder {
            ctx: &mut *ctx,
            resource: resource.clone(),
            deny: matches!(
                action,
                AuthorizationAction::Deny | AuthorizationAction::Custom
            ),
            at,
            issuers,
            namespace: &ap.namespace,
        };
        for (i, rule) in ap.spec.rules.iter().enumerate() {
            let policy = builder.rule(rule, &format!("rules[{i}]"));
            policies.insert(
                format!("ns[{}]-policy[{}]-rule[{i}]", ap.namespace, ap.name),
                policy,
            );
        }
    }
    let mut out = Vec::new();
    if !audit.is_empty() {
        out.push(rbac_filter(Action::Log, audit));
    }
    if !deny.is_empty() {
        out.push(rbac_filter(Action::Deny, deny));
    }
    if any_allow {
        out.push(rbac_filter(Action::Allow, allow));
    }
    out
}

fn rbac_filter(action: Action, policies: HashMap<String, Policy>) -> HttpFilter {
    let config = Rbac {
        rules: Some(RbacRules {
            action: action as i32,
            policies,
            ..Default::default()
        }),
        ..Default::default()
    };
    http_filter(RBAC_FILTER, pack_any(config))
}

/// One side of a condition: request attributes are principals, destination ones permissions.
enum Matcher {
    Principal(Principal),
    Permission(Permission),
}

struct Builder<'c, 'a, 'i> {
    ctx: &'c mut Ctx<'a>,
    resource: String,
    /// DENY (or CUSTOM): unsupported fields match everything; otherwise nothing.
    deny: bool,
    at: Where,
    issuers: &'i [String],
    /// The policy's namespace (for `serviceAccounts` without one).
    namespace: &'i str,
}

impl Builder<'_, '_, '_> {
    fn rule(&mut self, rule: &Rule, path: &str) -> Policy {
        let mut unknown = Vec::new();
        self.unknown(path, &rule.unknown, &mut unknown);
        let mut when_permissions = Vec::new();
        let mut when_principals: Vec<Principal> = unknown;
        for (k, condition) in rule.when.iter().enumerate() {
            match self.condition(condition, &format!("{path}.when[{k}]")) {
                Matcher::Principal(p) => when_principals.push(p),
                Matcher::Permission(p) => when_permissions.push(p),
            }
        }
        let permissions = if rule.to.is_empty() {
            vec![and(when_permissions)]
        } else {
            rule.to
                .iter()
                .enumerate()
                .map(|(t, to)| {
                    let at = format!("{path}.to[{t}]");
                    let mut all = Vec::new();
                    let mut unknown = Vec::new();
                    self.unknown(&at, &to.unknown, &mut unknown);
                    all.extend(unknown.into_iter().map(principal_to_permission));
                    all.extend(self.operation(&to.operation, &format!("{at}.operation")));
                    all.extend(when_permissions.iter().cloned());
                    and(all)
                })
                .collect()
        };
        let principals = if rule.from.is_empty() {
            vec![and(when_principals)]
        } else {
            rule.from
                .iter()
                .enumerate()
                .map(|(f, from)| {
                    let at = format!("{path}.from[{f}]");
                    let mut all = Vec::new();
                    self.unknown(&at, &from.unknown, &mut all);
                    all.extend(self.source(&from.source, &format!("{at}.source")));
                    all.extend(when_principals.iter().cloned());
                    and(all)
                })
                .collect()
        };
        Policy {
            permissions,
            principals,
            ..Default::default()
        }
    }

    /// What an unsupported field reads as: everything in DENY, nothing otherwise.
    fn fallback(&self) -> Principal {
        if self.deny { any() } else { not(any()) }
    }

    fn consequence(&self) -> &'static str {
        if self.deny {
            "it is read as matching every request (a DENY policy errs on the side of denying)"
        } else {
            "it is read as matching no request (an ALLOW policy errs on the side of not allowing)"
        }
    }

    fn unsupported(&mut self, field: &str, what: &str) -> Principal {
        let message = format!("field `{field}`: {what}; {}", self.consequence());
        self.ctx.warn(&self.resource, message);
        self.fallback()
    }

    fn unknown(
        &mut self,
        path: &str,
        unknown: &crate::model::policy::Unknown,
        out: &mut Vec<Principal>,
    ) {
        if unknown.is_empty() {
            return;
        }
        let consequence = self.consequence();
        warn_unknown(self.ctx, &self.resource, path, unknown, consequence);
        out.push(self.fallback());
    }

    /// `NAME` and `notNAME` of a source or an operation: a request must match one of the
    /// values and none of the not-values (each list only when it is given).
    fn either_and_none<T: Tree>(
        &mut self,
        all: &mut Vec<T>,
        path: &str,
        name: &str,
        [values, not_values]: [&[String]; 2],
        one: &mut dyn FnMut(&mut Self, &str, &str) -> T,
    ) {
        let mut first = name.chars();
        let not_name = first.next().map_or_else(String::new, |c| {
            format!("not{}{}", c.to_uppercase(), first.as_str())
        });
        for (negate, name, values) in [(false, name, values), (true, not_name.as_str(), not_values)]
        {
            if values.is_empty() {
                continue;
            }
            let matchers = values
                .iter()
                .enumerate()
                .map(|(i, v)| one(self, &format!("{path}.{name}[{i}]"), v))
                .collect();
            let any = or(matchers);
            all.push(if negate { not(any) } else { any });
        }
    }

    fn source(&mut self, source: &Source, path: &str) -> Vec<Principal> {
        let mut all = Vec::new();
        self.unknown(path, &source.unknown, &mut all);
        let s = source;
        let principal = &mut |_: &mut Self, _: &str, v: &str| peer_principal(v);
        let lists = [s.principals.as_slice(), &s.not_principals];
        self.either_and_none(&mut all, path, "principals", lists, principal);
        let request = &mut |b: &mut Self, _: &str, v: &str| b.request_principal(v);
        let lists = [s.request_principals.as_slice(), &s.not_request_principals];
        self.either_and_none(&mut all, path, "requestPrincipals", lists, request);
        let namespace = &mut |_: &mut Self, _: &str, v: &str| peer_namespace(v);
        let lists = [s.namespaces.as_slice(), &s.not_namespaces];
        self.either_and_none(&mut all, path, "namespaces", lists, namespace);
        let account = &mut |b: &mut Self, _: &str, v: &str| {
            let (ns, sa) = v.split_once('/').unwrap_or((b.namespace, v));
            let trust_domain = &b.ctx.model.mesh.trust_domain;
            peer_principal(&format!("{trust_domain}/ns/{ns}/sa/{sa}"))
        };
        let lists = [s.service_accounts.as_slice(), &s.not_service_accounts];
        self.either_and_none(&mut all, path, "serviceAccounts", lists, account);
        let direct = &mut |b: &mut Self, at: &str, v: &str| b.ip(at, v, false);
        let lists = [s.ip_blocks.as_slice(), &s.not_ip_blocks];
        self.either_and_none(&mut all, path, "ipBlocks", lists, direct);
        let remote = &mut |b: &mut Self, at: &str, v: &str| b.ip(at, v, true);
        let lists = [s.remote_ip_blocks.as_slice(), &s.not_remote_ip_blocks];
        self.either_and_none(&mut all, path, "remoteIpBlocks", lists, remote);
        all
    }

    fn operation(&mut self, operation: &Operation, path: &str) -> Vec<Permission> {
        let mut all = Vec::new();
        let mut unknown = Vec::new();
        self.unknown(path, &operation.unknown, &mut unknown);
        all.extend(unknown.into_iter().map(principal_to_permission));
        let o = operation;
        let host = &mut |_: &mut Self, _: &str, v: &str| host(v);
        let lists = [o.hosts.as_slice(), &o.not_hosts];
        self.either_and_none(&mut all, path, "hosts", lists, host);
        let port = &mut |b: &mut Self, at: &str, v: &str| b.port(at, v);
        let lists = [o.ports.as_slice(), &o.not_ports];
        self.either_and_none(&mut all, path, "ports", lists, port);
        let method = &mut |_: &mut Self, _: &str, v: &str| Permission {
            rule: Some(permission::Rule::Header(header(":method", v))),
        };
        let lists = [o.methods.as_slice(), &o.not_methods];
        self.either_and_none(&mut all, path, "methods", lists, method);
        let path_matcher = &mut |b: &mut Self, at: &str, v: &str| b.path(at, v);
        let lists = [o.paths.as_slice(), &o.not_paths];
        self.either_and_none(&mut all, path, "paths", lists, path_matcher);
        all
    }

    fn condition(&mut self, condition: &Condition, path: &str) -> Matcher {
        let mut unknown = Vec::new();
        self.unknown(path, &condition.unknown, &mut unknown);
        if let Some(p) = unknown.pop() {
            return Matcher::Principal(p);
        }
        let key = condition.key.trim();
        if condition.values.is_empty() && condition.not_values.is_empty() {
            let field = format!("{path}.values");
            return Matcher::Principal(
                self.unsupported(&field, "a condition needs values or notValues"),
            );
        }
        let kind = ConditionKey::parse(key);
        let mut principals: Vec<Principal> = Vec::new();
        let mut permissions: Vec<Permission> = Vec::new();
        for (list, negate, name) in [
            (&condition.values, false, "values"),
            (&condition.not_values, true, "notValues"),
        ] {
            if list.is_empty() {
                continue;
            }
            let mut ids = Vec::new();
            let mut perms = Vec::new();
            for (i, value) in list.iter().enumerate() {
                let at = format!("{path}.{name}[{i}]");
                match &kind {
                    ConditionKey::Header(h) => ids.push(Principal {
                        identifier: Some(principal::Identifier::Header(header(h, value))),
                    }),
                    ConditionKey::SourceIp => ids.push(self.ip(&at, value, false)),
                    ConditionKey::RemoteIp => ids.push(self.ip(&at, value, true)),
                    ConditionKey::SourceNamespace => ids.push(peer_namespace(value)),
                    ConditionKey::SourcePrincipal => ids.push(peer_principal(value)),
                    ConditionKey::RequestPrincipal => ids.push(self.request_principal(value)),
                    ConditionKey::Claim(claim) => ids.push(self.claim(claim, value)),
                    ConditionKey::DestinationIp => {
                        perms.push(match cidr(value) {
                            Some(range) => Permission {
                                rule: Some(permission::Rule::DestinationIp(range)),
                            },
                            None => principal_to_permission(self.unsupported(
                                &at,
                                &format!("{value:?} is not an IP address or CIDR range"),
                            )),
                        });
                    }
                    ConditionKey::DestinationPort => perms.push(self.port(&at, value)),
                    ConditionKey::Sni => perms.push(Permission {
                        rule: Some(permission::Rule::RequestedServerName(string(value))),
                    }),
                    ConditionKey::Unknown => {}
                }
            }
            if matches!(kind, ConditionKey::Unknown) {
                let field = format!("{path}.key");
                return Matcher::Principal(self.unsupported(
                    &field,
                    &format!("{key:?} is not a condition the reference mesh supports (request.headers[…], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[…], destination.ip, destination.port, connection.sni)"),
                ));
            }
            if !ids.is_empty() {
                let any = or(ids);
                principals.push(if negate { not(any) } else { any });
            }
            if !perms.is_empty() {
                let any = or(perms);
                permissions.push(if negate { not(any) } else { any });
            }
        }
        if permissions.is_empty() {
            Matcher::Principal(and(principals))
        } else {
            Matcher::Permission(and(permissions))
        }
    }

    fn ip(&mut self, field: &str, value: &str, remote: bool) -> Principal {
        match cidr(value) {
            Some(range) => Principal {
                identifier: Some(if remote {
                    principal::Identifier::RemoteIp(range)
                } else {
                    principal::Identifier::DirectRemoteIp(range)
                }),
            },
            None => self.unsupported(
                field,
                &format!("{value:?} is not an IP address or CIDR range"),
            ),
        }
    }

    fn port(&mut self, field: &str, value: &str) -> Permission {
        let Ok(number) = value.trim().parse::<u16>() else {
            return principal_to_permission(
                self.unsupported(field, &format!("{value:?} is not a port number")),
            );
        };
        match self.at {
            // The listener is for one container port: decide now (the listener may bind another
            // port on the reference mesh, when the container port is below 1024).
            Where::SidecarInbound(port) if port == number => any(),
            Where::SidecarInbound(_) => not(any()),
            Where::Gateway => Permission {
                rule: Some(permission::Rule::DestinationPort(u32::from(number))),
            },
        }
    }

    fn path(&mut self, field: &str, value: &str) -> Permission {
        if value.contains('{') {
            return principal_to_permission(self.unsupported(
                field,
                &format!("path templates such as {value:?} are not supported by the reference mesh (use exact paths or a `*` prefix or suffix)"),
            ));
        }
        match pattern(value) {
            None => any(),
            Some(p) => Permission {
                rule: Some(permission::Rule::UrlPath(PathMatcher {
                    rule: Some(path_matcher::Rule::Path(StringMatcher {
                        match_pattern: Some(p),
                        ignore_case: false,
                    })),
                })),
            },
        }
    }

    /// A request principal `<iss>/<sub>` pattern, matched in the payload of each issuer.
    fn request_principal(&mut self, value: &str) -> Principal {
        let mut alternatives = Vec::new();
        for issuer in self.issuers {
            let with_slash = format!("{issuer}/");
            let sub = |p: string_matcher::MatchPattern| jwt_claim(issuer, &["sub"], Some(p));
            if value == "*" {
                alternatives.push(jwt_claim(issuer, &["iss"], None));
            } else if let Some(prefix) = value.strip_suffix('*') {
                if with_slash.starts_with(prefix) {
                    alternatives.push(jwt_claim(issuer, &["iss"], None));
                } else if let Some(rest) = prefix.strip_prefix(&with_slash) {
                    alternatives.push(sub(string_matcher::MatchPattern::Prefix(rest.to_owned())));
                }
            } else if let Some(suffix) = value.strip_prefix('*') {
                alternatives.push(sub(string_matcher::MatchPattern::Suffix(suffix.to_owned())));
                // The suffix may reach back into the issuer: `…<end of iss>/<sub>`.
                for (k, _) in suffix.match_indices('/') {
                    if issuer.ends_with(&suffix[..k]) {
                        alternatives.push(sub(string_matcher::MatchPattern::Exact(
                            suffix[k + 1..].to_owned(),
                        )));
                    }
                }
            } else if let Some(rest) = value.strip_prefix(&with_slash) {
                alternatives.push(sub(string_matcher::MatchPattern::Exact(rest.to_owned())));
            }
        }
        or(alternatives)
    }

    /// A claim (path of keys) of a validated token, string or list of strings.
    fn claim(&mut self, claim: &[String], value: &str) -> Principal {
        let keys: Vec<&str> = claim.iter().map(String::as_str).collect();
        or(self
            .issuers
            .iter()
            .map(|issuer| jwt_claim(issuer, &keys, pattern(value)))
            .collect())
    }
}

/// What a `when` key refers to.
enum ConditionKey {
    Header(String),
    SourceIp,
    RemoteIp,
    SourceNamespace,
    SourcePrincipal,
    RequestPrincipal,
    Claim(Vec<String>),
    DestinationIp,
    DestinationPort,
    Sni,
    Unknown,
}

impl ConditionKey {
    fn parse(key: &str) -> ConditionKey {
        if let Some(rest) = key.strip_prefix("request.headers[")
            && let Some(name) = rest.strip_suffix(']')
            && !name.is_empty()
        {
            return ConditionKey::Header(name.to_ascii_lowercase());
        }
        if let Some(rest) = key.strip_prefix("request.auth.claims[")
            && let Some(inner) = rest.strip_suffix(']')
        {
            let path: Vec<String> = inner.split("][").map(str::to_owned).collect();
            if path
                .iter()
                .all(|p| !p.is_empty() && !p.contains(['[', ']']))
            {
                return ConditionKey::Claim(path);
            }
            return ConditionKey::Unknown;
        }
        match key {
            "source.ip" => ConditionKey::SourceIp,
            "remote.ip" => ConditionKey::RemoteIp,
            "source.namespace" => ConditionKey::SourceNamespace,
            "source.principal" => ConditionKey::SourcePrincipal,
            "request.auth.principal" => ConditionKey::RequestPrincipal,
            "request.auth.audiences" => ConditionKey::Claim(vec!["aud".to_owned()]),
            "request.auth.presenter" => ConditionKey::Claim(vec!["azp".to_owned()]),
            "destination.ip" => ConditionKey::DestinationIp,
            "destination.port" => ConditionKey::DestinationPort,
            "connection.sni" => ConditionKey::Sni,
            _ => ConditionKey::Unknown,
        }
    }
}

/// Istio's value pattern: `*` (any: `None`), `*suffix`, `prefix*` or exact.
fn pattern(value: &str) -> Option<string_matcher::MatchPattern> {
    if value == "*" {
        None
    } else if let Some(suffix) = value.strip_prefix('*') {
        Some(string_matcher::MatchPattern::Suffix(suffix.to_owned()))
    } else if let Some(prefix) = value.strip_suffix('*') {
        Some(string_matcher::MatchPattern::Prefix(prefix.to_owned()))
    } else {
        Some(string_matcher::MatchPattern::Exact(value.to_owned()))
    }
}

fn string(value: &str) -> StringMatcher {
    StringMatcher {
        match_pattern: Some(
            pattern(value).unwrap_or(string_matcher::MatchPattern::SafeRegex(regex(".*"))),
        ),
        ignore_case: false,
    }
}

fn regex(re: &str) -> RegexMatcher {
    RegexMatcher {
        regex: re.to_owned(),
        ..Default::default()
    }
}

/// A request header matching an Istio value pattern (`*`: present).
fn header(name: &str, value: &str) -> HeaderMatcher {
    let specifier = match pattern(value) {
        None => header_matcher::HeaderMatchSpecifier::PresentMatch(true),
        Some(p) => header_matcher::HeaderMatchSpecifier::StringMatch(StringMatcher {
            match_pattern: Some(p),
            ignore_case: false,
        }),
    };
    HeaderMatcher {
        name: name.to_owned(),
        header_match_specifier: Some(specifier),
        ..Default::default()
    }
}

/// The `Host` (`:authority`) of a request, case-insensitively and with or without a port.
fn host(value: &str) -> Permission {
    let escaped = |s: &str| regex_escape(s);
    let re = if value == "*" {
        return any();
    } else if let Some(suffix) = value.strip_prefix('*') {
        format!("(?i).*{}(:[0-9]+)?", escaped(suffix))
    } else if let Some(prefix) = value.strip_suffix('*') {
        format!("(?i){}.*", escaped(prefix))
    } else {
        format!("(?i){}(:[0-9]+)?", escaped(value))
    };
    Permission {
        rule: Some(permission::Rule::Header(HeaderMatcher {
            name: ":authority".to_owned(),
            header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::StringMatch(
                StringMatcher {
                    match_pattern: Some(string_matcher::MatchPattern::SafeRegex(regex(&re))),
                    ignore_case: false,
                },
            )),
            ..Default::default()
        })),
    }
}

fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A peer identity pattern (`cluster.local/ns/foo/sa/curl`, `*`) against the client
/// certificate's SPIFFE id.
fn peer_principal(value: &str) -> Principal {
    let name = match pattern(value) {
        None => None,
        Some(string_matcher::MatchPattern::Exact(v)) => {
            Some(string_matcher::MatchPattern::Exact(format!("spiffe://{v}")))
        }
        Some(string_matcher::MatchPattern::Prefix(v)) => Some(
            string_matcher::MatchPattern::Prefix(format!("spiffe://{v}")),
        ),
        Some(other) => Some(other),
    };
    authenticated(name)
}

/// A namespace pattern against the `/ns/<namespace>/` of the client's SPIFFE id.
fn peer_namespace(value: &str) -> Principal {
    let re = match pattern(value) {
        None => return authenticated(None),
        Some(string_matcher::MatchPattern::Prefix(p)) => {
            format!(".*/ns/{}[^/]*/.*", regex_escape(&p))
        }
        Some(string_matcher::MatchPattern::Suffix(s)) => {
            format!(".*/ns/[^/]*{}/.*", regex_escape(&s))
        }
        Some(_) => format!(".*/ns/{}/.*", regex_escape(value)),
    };
    authenticated(Some(string_matcher::MatchPattern::SafeRegex(regex(&re))))
}

fn authenticated(name: Option<string_matcher::MatchPattern>) -> Principal {
    Principal {
        identifier: Some(principal::Identifier::Authenticated(
            principal::Authenticated {
                principal_name: name.map(|p| StringMatcher {
                    match_pattern: Some(p),
                    ignore_case: false,
                }),
            },
        )),
    }
}

/// A claim of the token `issuer`'s JWT filter validated: a string or a list holding one that
/// matches `value` (`None`: any value).
fn jwt_claim(
    issuer: &str,
    claim: &[&str],
    value: Option<string_matcher::MatchPattern>,
) -> Principal {
    let one = match value {
        None => value_matcher::MatchPattern::PresentMatch(true),
        Some(p) => value_matcher::MatchPattern::StringMatch(StringMatcher {
            match_pattern: Some(p),
            ignore_case: false,
        }),
    };
    let one = ValueMatcher {
        match_pattern: Some(one),
    };
    let in_list = ValueMatcher {
        match_pattern: Some(value_matcher::MatchPattern::ListMatch(Box::new(
            ListMatcher {
                match_pattern: Some(list_matcher::MatchPattern::OneOf(Box::new(one.clone()))),
            },
        ))),
    };
    let path = std::iter::once(issuer)
        .chain(claim.iter().copied())
        .map(|key| metadata_matcher::PathSegment {
            segment: Some(metadata_matcher::path_segment::Segment::Key(key.to_owned())),
        })
        .collect();
    Principal {
        identifier: Some(principal::Identifier::SourcedMetadata(SourcedMetadata {
            metadata_matcher: Some(MetadataMatcher {
                filter: JWT_FILTER.to_owned(),
                path,
                value: Some(ValueMatcher {
                    match_pattern: Some(value_matcher::MatchPattern::OrMatch(OrMatcher {
                        value_matchers: vec![one, in_list],
                    })),
                }),
                invert: false,
            }),
            metadata_source: MetadataSource::Dynamic as i32,
        })),
    }
}

/// An IP address or CIDR range (`10.0.0.1`, `10.0.0.0/16`, `::1/128`).
fn cidr(value: &str) -> Option<CidrRange> {
    let (address, len) = match value.trim().split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
        None => (value.trim(), None),
    };
    let ip: IpAddr = address.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return None;
    }
    Some(CidrRange {
        address_prefix: ip.to_string(),
        prefix_len: Some(UInt32Value { value: len }),
    })
}

fn principal_to_permission(p: Principal) -> Permission {
    // Only the constant fallbacks cross sides: any, or not any.
    match p.identifier {
        Some(principal::Identifier::NotId(_)) => not(any()),
        _ => any(),
    }
}

/// The boolean tree both sides of an RBAC policy are built from: Envoy's `Permission` and
/// `Principal` are the same shape (any, not, or, and) under different names.
trait Tree: Sized {
    fn any() -> Self;
    fn not(inner: Self) -> Self;
    fn or_set(items: Vec<Self>) -> Self;
    fn and_set(items: Vec<Self>) -> Self;
}

impl Tree for Permission {
    fn any() -> Self {
        Permission {
            rule: Some(permission::Rule::Any(true)),
        }
    }
    fn not(inner: Self) -> Self {
        Permission {
            rule: Some(permission::Rule::NotRule(Box::new(inner))),
        }
    }
    fn or_set(rules: Vec<Self>) -> Self {
        Permission {
            rule: Some(permission::Rule::OrRules(permission::Set { rules })),
        }
    }
    fn and_set(rules: Vec<Self>) -> Self {
        Permission {
            rule: Some(permission::Rule::AndRules(permission::Set { rules })),
        }
    }
}

impl Tree for Principal {
    fn any() -> Self {
        Principal {
            identifier: Some(principal::Identifier::Any(true)),
        }
    }
    fn not(inner: Self) -> Self {
        Principal {
            identifier: Some(principal::Identifier::NotId(Box::new(inner))),
        }
    }
    fn or_set(ids: Vec<Self>) -> Self {
        Principal {
            identifier: Some(principal::Identifier::OrIds(principal::Set { ids })),
        }
    }
    fn and_set(ids: Vec<Self>) -> Self {
        Principal {
            identifier: Some(principal::Identifier::AndIds(principal::Set { ids })),
        }
    }
}

/// Matches everything.
fn any<T: Tree>() -> T {
    T::any()
}

/// Matches what `inner` does not.
fn not<T: Tree>(inner: T) -> T {
    T::not(inner)
}

/// Matches what any of `items` matches; nothing when there are none.
fn or<T: Tree>(mut items: Vec<T>) -> T {
    match items.len() {
        0 => not(any()),
        1 => items.remove(0),
        _ => T::or_set(items),
    }
}

/// Matches what all of `items` match; everything when there are none.
fn and<T: Tree>(mut items: Vec<T>) -> T {
    match items.len() {
        0 => any(),
        1 => items.remove(0),
        _ => T::and_set(items),
    }
}
