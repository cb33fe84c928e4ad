//! The EnvoyFilter shape the reference mesh supports: Istio's documented local rate limit.
//!
//! A patch `applyTo: HTTP_FILTER` in context `SIDECAR_INBOUND`, `GATEWAY` or `ANY`, matching the
//! HTTP connection manager (`listener.filterChain.filter.name`, optionally a `subFilter`), with
//! operation `INSERT_BEFORE` or `INSERT_FIRST` (or `INSERT_AFTER` a policy filter), whose value is
//! `envoy.filters.http.local_ratelimit` — its config given as a `udpa.type.v1.TypedStruct` /
//! `xds.type.v3.TypedStruct` wrapping `LocalRateLimit`, or that type directly. Its fields
//! (`stat_prefix`, `token_bucket`, `filter_enabled`, `filter_enforced`, `response_headers_to_add`
//! …) are read in the proto-JSON spelling, snake_case or camelCase.
//!
//! Where it goes: `INSERT_FIRST` (and `INSERT_BEFORE` without a `subFilter`, as in Istio) puts it
//! first; `INSERT_BEFORE` the router (or the fault or CORS filter) puts it after the JWT and RBAC
//! filters, right before Istio's fault, CORS and router filters. Every other patch is a warning
//! naming the EnvoyFilter and the field and saying what is supported; the patch is ignored.

use envoy_types::pb::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, RuntimeFractionalPercent, header_value_option,
};
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use envoy_types::pb::envoy::r#type::v3::{
    FractionalPercent, HttpStatus, TokenBucket, fractional_percent,
};
use envoy_types::pb::google::protobuf::BoolValue;
use envoy_types::util::pack_any;
use serde_json::{Map, Value};

use super::{
    JWT_FILTER, LOCAL_RATE_LIMIT_FILTER, RBAC_FILTER, Where, http_filter, resource_name, selects,
    warn_unknown,
};
use crate::model::policy::{EnvoyConfigPatch, EnvoyFilter};
use crate::model::{Config, ProxyKind};
use crate::translate::{Ctx, parse_duration, pb_duration, u32v};

const HCM: &str = "envoy.filters.network.http_connection_manager";
const ROUTER: &str = "envoy.filters.http.router";
const FAULT: &str = "envoy.filters.http.fault";
const CORS: &str = "envoy.filters.http.cors";
const LOCAL_RATE_LIMIT_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const TYPED_STRUCTS: [&str; 2] = [
    "type.googleapis.com/udpa.type.v1.TypedStruct",
    "type.googleapis.com/xds.type.v3.TypedStruct",
];
/// What the reference mesh supports, said in each warning about a patch it ignores.
const SUPPORTED: &str = "the reference mesh supports only Istio's local rate limit: applyTo HTTP_FILTER, match.context SIDECAR_INBOUND or GATEWAY, operation INSERT_BEFORE (the router) or INSERT_FIRST, value envoy.filters.http.local_ratelimit";

/// Inserts the HTTP filters of the EnvoyFilters that apply to the proxy at `at` into `chain`
/// (the policy filters, which run before Istio's fault, CORS and router filters).
pub(super) fn apply(ctx: &mut Ctx<'_>, at: Where, chain: &mut Vec<HttpFilter>) {
    let model = ctx.model;
    for ef in &model.envoy_filters {
        let selector = ef.spec.workload_selector.as_ref().map(|s| &s.labels);
        if !selects(ctx, &ef.namespace, selector) {
            continue;
        }
        let resource = resource_name("EnvoyFilter", ef);
        warn_unknown(ctx, &resource, "", &ef.spec.unknown, "the field is ignored");
        if ef.spec.priority.is_some_and(|p| p != 0) {
            ctx.warn(
                &resource,
                "field `priority` is not honoured by the reference mesh; EnvoyFilters apply in the order they were created",
            );
        }
        for (i, patch) in ef.spec.config_patches.iter().enumerate() {
            let mut patcher = Patcher {
                ctx: &mut *ctx,
                resource: &resource,
                path: format!("configPatches[{i}]"),
            };
            patcher.apply(ef, patch, at, chain);
        }
    }
}

struct Patcher<'c, 'a, 'r> {
    ctx: &'c mut Ctx<'a>,
    resource: &'r str,
    path: String,
}

impl Patcher<'_, '_, '_> {
    fn ignore(&mut self, field: &str, what: &str) {
        let message = format!(
            "field `{}.{field}`: {what}; {SUPPORTED}; the patch is ignored",
            self.path
        );
        self.ctx.warn(self.resource, message);
    }

    fn warn(&mut self, field: &str, what: &str) {
        let message = format!("field `{}.{field}`: {what}", self.path);
        self.ctx.warn(self.resource, message);
    }

    fn apply(
        &mut self,
        _ef: &Config<EnvoyFilter>,
        patch: &EnvoyConfigPatch,
        at: Where,
        chain: &mut Vec<HttpFilter>,
    ) {
        let path = self.path.clone();
        warn_unknown(
            self.ctx,
            self.resource,
            &path,
            &patch.unknown,
            "the field is ignored",
        );
        let apply_to = patch.apply_to.trim();
        if apply_to != "HTTP_FILTER" {
            let shown = if apply_to.is_empty() {
                "(none)"
            } else {
                apply_to
            };
            self.ignore("applyTo", &format!("{shown} patches are not supported"));
            return;
        }
        let matches = patch.matches.clone().unwrap_or_default();
        if !matches.unknown.is_empty() {
            for key in matches.unknown.keys() {
                self.ignore(&format!("match.{key}"), "this match is not supported");
            }
            return;
        }
        if matches.proxy.is_some() {
            self.warn(
                "match.proxy",
                "proxy version and metadata matches are not honoured by the reference mesh (every proxy runs Envoy 1.40); the patch applies regardless",
            );
        }
        let context = matches.context.as_deref().unwrap_or("ANY");
        let in_context = match (context, at) {
            ("ANY", _)
            | ("SIDECAR_INBOUND", Where::SidecarInbound(_))
            | ("GATEWAY", Where::Gateway) => true,
            ("SIDECAR_INBOUND" | "GATEWAY", _) => false,
            ("SIDECAR_OUTBOUND", _) => {
                if self.ctx.proxy.kind == ProxyKind::Sidecar {
                    self.ignore(
                        "match.context",
                        "SIDECAR_OUTBOUND patches are not supported",
                    );
                }
                false
            }
            (other, _) => {
                self.ignore(
                    "match.context",
                    &format!("{other:?} is not a context (SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY or ANY)"),
                );
                false
            }
        };
        if !in_context {
            return;
        }
        let mut sub_filter = None;
        if let Some(listener) = &matches.listener {
            if let Some(key) = listener.unknown.keys().next() {
                self.ignore(
                    &format!("match.listener.{key}"),
                    "this listener match is not supported",
                );
                return;
            }
            if listener.name.is_some() {
                self.ignore(
                    "match.listener.name",
                    "listener names differ on the reference mesh (no iptables, so no virtualInbound); match by portNumber instead",
                );
                return;
            }
            if let Some(port) = listener.port_number {
                match at {
                    Where::SidecarInbound(p) if u32::from(p) != port => return,
                    Where::SidecarInbound(_) => {}
                    Where::Gateway => self.warn(
                        "match.listener.portNumber",
                        "is not honoured on gateways by the reference mesh; the patch applies to every listener of the gateway",
                    ),
                }
            }
            if let Some(chain_match) = &listener.filter_chain {
                if let Some(key) = chain_match.unknown.keys().next() {
                    self.ignore(
                        &format!("match.listener.filterChain.{key}"),
                        "this filter chain match is not supported",
                    );
                    return;
                }
                if let Some(filter) = &chain_match.filter {
                    if let Some(key) = filter.unknown.keys().next() {
                        self.ignore(
                            &format!("match.listener.filterChain.filter.{key}"),
                            "this filter match is not supported",
                        );
                        return;
                    }
                    if let Some(name) = filter.name.as_deref()
                        && name != HCM
                    {
                        self.ignore(
                            "match.listener.filterChain.filter.name",
                            &format!("HTTP filters live in {HCM}, not in {name}"),
                        );
                        return;
                    }
                    sub_filter = filter.sub_filter.as_ref().and_then(|s| s.name.clone());
                }
            }
        }
        let Some(body) = &patch.patch else {
            self.ignore("patch", "the patch has no `patch`");
            return;
        };
        for key in body.unknown.keys() {
            self.warn(
                &format!("patch.{key}"),
                "is not supported by the reference mesh; the field is ignored",
            );
        }
        if body.filter_class.is_some() {
            self.warn(
                "patch.filterClass",
                "is not honoured by the reference mesh; the operation places the filter",
            );
        }
        let operation = body.operation.as_deref().unwrap_or("(none)");
        let names: Vec<&str> = chain.iter().map(|f| f.name.as_str()).collect();
        let position = match (operation, sub_filter.as_deref()) {
            ("INSERT_FIRST", _) | ("INSERT_BEFORE", None) => Some(0),
            ("INSERT_BEFORE", Some(ROUTER | FAULT | CORS)) => Some(chain.len()),
            ("INSERT_BEFORE", Some(name)) => names.iter().position(|n| *n == name),
            ("INSERT_AFTER", Some(name @ (JWT_FILTER | RBAC_FILTER | LOCAL_RATE_LIMIT_FILTER))) => {
                names.iter().rposition(|n| *n == name).map(|p| p + 1)
            }
            (op @ ("INSERT_AFTER" | "ADD" | "MERGE" | "REMOVE" | "REPLACE"), _) => {
                let what = match sub_filter.as_deref() {
                    Some(sub) => {
                        format!("{op} of an HTTP filter (relative to {sub}) is not supported")
                    }
                    None => format!("{op} of an HTTP filter is not supported"),
                };
                self.ignore("patch.operation", &what);
                return;
            }
            (op, _) => {
                self.ignore(
                    "patch.operation",
                    &format!("{op:?} is not an operation (INSERT_BEFORE, INSERT_AFTER, INSERT_FIRST, ADD, MERGE, REMOVE, REPLACE)"),
                );
                return;
            }
        };
        let Some(position) = position else {
            if let Some(sub) = sub_filter {
                self.warn(
                    "match.listener.filterChain.filter.subFilter.name",
                    &format!("this listener has no HTTP filter {sub} (it has {}); the patch does nothing here", describe(&names)),
                );
            }
            return;
        };
        let Some(value) = &body.value else {
            self.ignore("patch.value", "the patch has no value");
            return;
        };
        if let Some(filter) = self.filter(value) {
            chain.insert(position.min(chain.len()), filter);
        }
    }

    /// The HTTP filter a patch's `value` describes, if it is the local rate limit.
    fn filter(&mut self, value: &Value) -> Option<HttpFilter> {
        let Some(object) = value.as_object() else {
            self.ignore(
                "patch.value",
                "is not an object with `name` and `typed_config`",
            );
            return None;
        };
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(LOCAL_RATE_LIMIT_FILTER)
            .to_owned();
        for key in object.keys() {
            if !matches!(key.as_str(), "name" | "typed_config" | "typedConfig") {
                self.warn(
                    &format!("patch.value.{key}"),
                    "is not supported by the reference mesh; the field is ignored",
                );
            }
        }
        let typed_key = if object.contains_key("typedConfig") {
            "typedConfig"
        } else {
            "typed_config"
        };
        let Some(typed) = object.get(typed_key).and_then(Value::as_object) else {
            self.ignore(
                &format!("patch.value.{typed_key}"),
                &format!("the filter {name} needs a typed_config"),
            );
            return None;
        };
        let type_url = typed
            .get("@type")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        let (config, config_path) = if TYPED_STRUCTS.contains(&type_url) {
            let inner_type = typed
                .get("type_url")
                .or_else(|| typed.get("typeUrl"))
                .and_then(Value::as_str)
                .unwrap_or("(none)");
            if inner_type != LOCAL_RATE_LIMIT_TYPE {
                self.ignore(
                    &format!("patch.value.{typed_key}.type_url"),
                    &format!("{inner_type} filters are not supported"),
                );
                return None;
            }
            let empty = Map::new();
            let inner = typed
                .get("value")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            for key in typed.keys() {
                if !matches!(key.as_str(), "@type" | "type_url" | "typeUrl" | "value") {
                    self.warn(
                        &format!("patch.value.{typed_key}.{key}"),
                        "is not part of a TypedStruct; the field is ignored",
                    );
                }
            }
            (inner.clone(), format!("patch.value.{typed_key}.value"))
        } else if type_url == LOCAL_RATE_LIMIT_TYPE {
            let mut inner = typed.clone();
            inner.remove("@type");
            (inner, format!("patch.value.{typed_key}"))
        } else {
            self.ignore(
                &format!("patch.value.{typed_key}.@type"),
                &format!("{type_url} filters are not supported"),
            );
            return None;
        };
        let config = self.local_rate_limit(&config, &config_path)?;
        Some(http_filter(&name, pack_any(config)))
    }

    fn local_rate_limit(
        &mut self,
        fields: &Map<String, Value>,
        path: &str,
    ) -> Option<LocalRateLimit> {
        let mut out = LocalRateLimit::default();
        for (key, value) in fields {
            let field = snake(key);
            let at = format!("{path}.{key}");
            let ok = match field.as_str() {
                "stat_prefix" => value.as_str().map(|s| out.stat_prefix = s.to_owned()),
                "status" => value
                    .get("code")
                    .and_then(number)
                    .and_then(|c| i32::try_from(c).ok())
                    .map(|code| out.status = Some(HttpStatus { code })),
                "token_bucket" => self
                    .token_bucket(value, &at)
                    .map(|b| out.token_bucket = Some(b)),
                "filter_enabled" => self
                    .runtime_percent(value, &at)
                    .map(|p| out.filter_enabled = Some(p)),
                "filter_enforced" => self
                    .runtime_percent(value, &at)
                    .map(|p| out.filter_enforced = Some(p)),
                "response_headers_to_add" => self
                    .headers(value, &at)
                    .map(|h| out.response_headers_to_add = h),
                "request_headers_to_add_when_not_enforced" => self
                    .headers(value, &at)
                    .map(|h| out.request_headers_to_add_when_not_enforced = h),
                "local_rate_limit_per_downstream_connection" => value
                    .as_bool()
                    .map(|b| out.local_rate_limit_per_downstream_connection = b),
                "always_consume_default_token_bucket" => value.as_bool().map(|b| {
                    out.always_consume_default_token_bucket = Some(BoolValue { value: b })
                }),
                "rate_limited_as_resource_exhausted" => value
                    .as_bool()
                    .map(|b| out.rate_limited_as_resource_exhausted = b),
                "enable_retry_after_header" => {
                    value.as_bool().map(|b| out.enable_retry_after_header = b)
                }
                "enable_x_ratelimit_headers" => match value.as_str() {
                    Some("OFF") => Some(0),
                    Some("DRAFT_VERSION_03") => Some(1),
                    _ => None,
                }
                .map(|v| out.enable_x_ratelimit_headers = v),
                "stage" => number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .map(|n| out.stage = n),
                _ => {
                    self.warn(
                        &at,
                        "is not supported by the reference mesh's local rate limit (it reads stat_prefix, status, token_bucket, filter_enabled, filter_enforced, response_headers_to_add, request_headers_to_add_when_not_enforced, local_rate_limit_per_downstream_connection, always_consume_default_token_bucket, rate_limited_as_resource_exhausted, enable_retry_after_header, enable_x_ratelimit_headers, stage); the field is ignored",
                    );
                    Some(())
                }
            };
            if ok.is_none() {
                self.warn(
                    &at,
                    &format!("{value} is not a valid value here; the patch is ignored"),
                );
                return None;
            }
        }
        if out.stat_prefix.is_empty() {
            self.warn(
                &format!("{path}.stat_prefix"),
                "is required by Envoy; http_local_rate_limiter is used",
            );
            out.stat_prefix = "http_local_rate_limiter".to_owned();
        }
        if out.token_bucket.is_none() {
            self.warn(
                &format!("{path}.token_bucket"),
                "is not set, so the filter limits nothing (per-route limits through HTTP_ROUTE patches are not supported by the reference mesh)",
            );
        }
        if out.filter_enabled.is_none() {
            self.warn(
                &format!("{path}.filter_enabled"),
                "is not set, so Envoy checks 0% of requests against the bucket (set default_value numerator 100, denominator HUNDRED)",
            );
        }
        Some(out)
    }

    fn token_bucket(&mut self, value: &Value, path: &str) -> Option<TokenBucket> {
        let object = value.as_object()?;
        let mut bucket = TokenBucket::default();
        for (key, v) in object {
            match snake(key).as_str() {
                "max_tokens" => bucket.max_tokens = number(v).and_then(|n| u32::try_from(n).ok())?,
                "tokens_per_fill" => {
                    bucket.tokens_per_fill =
                        Some(u32v(number(v).and_then(|n| u32::try_from(n).ok())?));
                }
                "fill_interval" => {
                    // Envoy refuses the whole listener for a faster refill.
                    bucket.fill_interval = v
                        .as_str()
                        .and_then(parse_duration)
                        .filter(|d| *d >= std::time::Duration::from_millis(50))
                        .map(pb_duration);
                }
                _ => self.warn(
                    &format!("{path}.{key}"),
                    "is not a token_bucket field (max_tokens, tokens_per_fill, fill_interval); the field is ignored",
                ),
            }
        }
        if bucket.max_tokens == 0 || bucket.fill_interval.is_none() {
            self.warn(
                path,
                "needs max_tokens above 0 and a fill_interval of at least 50ms (e.g. 60s)",
            );
            return None;
        }
        Some(bucket)
    }

    fn runtime_percent(&mut self, value: &Value, path: &str) -> Option<RuntimeFractionalPercent> {
        let object = value.as_object()?;
        let mut out = RuntimeFractionalPercent::default();
        for (key, v) in object {
            match snake(key).as_str() {
                "runtime_key" => v.as_str()?.clone_into(&mut out.runtime_key),
                "default_value" => {
                    let numerator = v
                        .get("numerator")
                        .map_or(Some(0), number)
                        .and_then(|n| u32::try_from(n).ok())?;
                    let denominator = match v.get("denominator") {
                        None => fractional_percent::DenominatorType::Hundred,
                        Some(d) => match d.as_str().map_or_else(|| d.to_string(), str::to_owned).as_str() {
                            "HUNDRED" | "0" => fractional_percent::DenominatorType::Hundred,
                            "TEN_THOUSAND" | "1" => fractional_percent::DenominatorType::TenThousand,
                            "MILLION" | "2" => fractional_percent::DenominatorType::Million,
                            _ => return None,
                        },
                    };
                    out.default_value = Some(FractionalPercent {
                        numerator,
                        denominator: denominator as i32,
                    });
                }
                _ => self.warn(
                    &format!("{path}.{key}"),
                    "is not a runtime fractional percent field (runtime_key, default_value); the field is ignored",
                ),
            }
        }
        Some(out)
    }

    fn headers(&mut self, value: &Value, path: &str) -> Option<Vec<HeaderValueOption>> {
        let mut out = Vec::new();
        for (i, entry) in value.as_array()?.iter().enumerate() {
            let object = entry.as_object()?;
            let mut option = HeaderValueOption::default();
            for (key, v) in object {
                match snake(key).as_str() {
                    "header" => {
                        let key = v.get("key").and_then(Value::as_str)?;
                        let text = v.get("value").and_then(Value::as_str).unwrap_or_default();
                        option.header = Some(HeaderValue {
                            key: key.to_owned(),
                            value: text.to_owned(),
                            ..Default::default()
                        });
                    }
                    "append" => {
                        // Deprecated in Envoy: `append: false` is OVERWRITE_IF_EXISTS_OR_ADD.
                        option.append_action = if v.as_bool()? {
                            header_value_option::HeaderAppendAction::AppendIfExistsOrAdd
                        } else {
                            header_value_option::HeaderAppendAction::OverwriteIfExistsOrAdd
                        } as i32;
                    }
                    "append_action" => {
                        option.append_action = header_value_option::HeaderAppendAction::from_str_name(v.as_str()?)? as i32;
                    }
                    "keep_empty_value" => option.keep_empty_value = v.as_bool()?,
                    _ => self.warn(
                        &format!("{path}[{i}].{key}"),
                        "is not a header option field (header, append, append_action, keep_empty_value); the field is ignored",
                    ),
                }
            }
            option.header.as_ref()?;
            out.push(option);
        }
        Some(out)
    }
}

/// A JSON number, or a string holding one (proto JSON writes 64-bit integers as strings).
fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// `maxTokens` → `max_tokens` (proto JSON accepts both spellings).
fn snake(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn describe(names: &[&str]) -> String {
    let mut all: Vec<&str> = names.to_vec();
    all.extend([FAULT, CORS, ROUTER]);
    all.join(", ")
}
