//! Which route rule a hop matched, read from the proxy's configuration (`config_dump`) and the
//! VirtualServices it came from.
//!
//! Istio names a route after its VirtualService rule (`name`, with `.match-name`) and leaves
//! unnamed rules' routes unnamed; every route it builds from a VirtualService carries
//! `metadata.filter_metadata.istio.config` =
//! `/apis/networking.istio.io/v1/namespaces/<ns>/virtual-service/<name>`. An access log line has
//! the route's name, the path, method and host, and the cluster chosen; the rest of a rule's
//! conditions (most headers) is not in the log. So the matched route is the first route of the
//! virtual host serving the request's host that fits everything the line shows — its path,
//! method and query, the cluster it went to, whether a fault was injected — and conditions the
//! line cannot confirm are named as such.

use serde::Serialize;
use serde_json::Value;

use super::log::Entry;
use crate::explain::hops::ClusterName;

/// The route a hop matched, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// The route configuration (`9080`, `http.8080`).
    pub route_config: String,
    /// The virtual host (`reviews.default.svc.cluster.local:9080`).
    pub virtual_host: String,
    /// The route's name, when it has one.
    pub name: Option<String>,
    /// The VirtualService that made the route (`default/reviews`), if one did.
    pub virtual_service: Option<String>,
    /// Index of the rule in the VirtualService's `http` list.
    pub rule: Option<usize>,
    /// Index of the match condition within the rule, when the rule has several.
    pub match_index: Option<usize>,
    /// The rule's match conditions in words (empty: every request).
    pub conditions: Vec<String>,
    /// Where the route sends requests, in words.
    pub destination: String,
    /// Fault injection, timeout and retries of the route, in words.
    pub settings: Vec<String>,
    /// Conditions the access log cannot confirm (headers it does not record).
    pub unchecked: Vec<String>,
    /// Later routes that would fit the log line as well, in words.
    pub alternatives: Vec<String>,
}

impl RouteInfo {
    /// `VirtualService default/reviews rule 1 (http[0]): headers end-user exact "jason" → reviews.default subset v2`.
    pub fn summary(&self) -> String {
        let rule = self.rule_words();
        let conditions = if self.conditions.is_empty() {
            "any request".to_owned()
        } else {
            self.conditions.join(", ")
        };
        format!("{rule}: {conditions} → {}", self.destination)
    }

    /// `VirtualService default/reviews rule 1 (http[0])`, or what made the route otherwise.
    pub fn rule_words(&self) -> String {
        match (&self.virtual_service, self.rule) {
            (Some(vs), Some(rule)) => {
                let m = match self.match_index {
                    Some(m) => format!(", match {} (http[{rule}].match[{m}])", m + 1),
                    None => format!(" (http[{rule}])"),
                };
                format!("VirtualService {vs} rule {}{m}", rule + 1)
            }
            (Some(vs), None) => match &self.name {
                Some(n) => format!("VirtualService {vs} route {n:?}"),
                None => format!("VirtualService {vs}"),
            },
            (None, _) if self.name.as_deref() == Some("default") => {
                "default route (no VirtualService for this host)".to_owned()
            }
            (None, _) => match &self.name {
                Some(n) => format!("route {n:?} (not from a VirtualService)"),
                None => "an unnamed route (not from a VirtualService)".to_owned(),
            },
        }
    }
}

/// The VirtualServices of the cluster, as read from the API: `(namespace, name, spec)`.
#[derive(Debug, Clone, Default)]
pub struct VirtualServices(pub Vec<(String, String, Value)>);

impl VirtualServices {
    fn spec(&self, namespace: &str, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(ns, n, _)| ns == namespace && n == name)
            .map(|(_, _, spec)| spec)
    }
}

/// Whether a condition holds for what the log line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fit {
    Yes,
    No,
    /// The line does not say; the condition in words.
    Unknown(String),
}

/// The route configurations of a config dump (dynamic and static).
fn route_configs(dump: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for config in dump["configs"].as_array().into_iter().flatten() {
        if !config["@type"]
            .as_str()
            .is_some_and(|t| t.ends_with("RoutesConfigDump"))
        {
            continue;
        }
        for key in ["dynamic_route_configs", "static_route_configs"] {
            for rc in config[key].as_array().into_iter().flatten() {
                if rc["route_config"].is_object() {
                    out.push(&rc["route_config"]);
                }
            }
        }
    }
    out
}

/// The port of an `ip:port` address.
fn port_of(address: &str) -> Option<u16> {
    address.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// The virtual host serving `authority` in a route configuration, as Envoy picks it: an exact
/// domain, then the longest `*.suffix`, then `*`.
fn virtual_host<'a>(rc: &'a Value, authority: &str) -> Option<&'a Value> {
    let authority = authority.to_ascii_lowercase();
    let host_only = authority
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority.as_str(), |(h, _)| h);
    let vhosts: Vec<&Value> = rc["virtual_hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let domains = |v: &&Value| -> Vec<String> {
        v["domains"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect()
    };
    if let Some(v) = vhosts.iter().find(|v| {
        domains(v)
            .iter()
            .any(|d| *d == authority || *d == host_only)
    }) {
        return Some(v);
    }
    // The longest `*.suffix` domain that the host ends with.
    let suffix = vhosts
        .iter()
        .filter_map(|v| {
            domains(v)
                .iter()
                .filter_map(|d| d.strip_prefix('*').filter(|s| !s.is_empty()))
                .filter(|s| authority.ends_with(s) || host_only.ends_with(s))
                .map(str::len)
                .max()
                .map(|len| (*v, len))
        })
        .max_by_key(|(_, len)| *len)
        .map(|(v, _)| v);
    suffix.or_else(|| {
        vhosts
            .into_iter()
            .find(|v| domains(v).iter().any(|d| d == "*"))
    })
}

/// A test of a string value.
type StrTest = Box<dyn Fn(&str) -> bool>;
/// A test of a header's value (`None`: the header is absent).
type HeaderTest = Box<dyn Fn(Option<&str>) -> bool>;

/// A string matcher (`{"exact": …}`, `{"prefix": …}`, `{"safe_regex": {"regex": …}}`, …) in
/// words and as a test.
fn string_matcher(m: &Value) -> Option<(String, StrTest)> {
    let ignore_case = m["ignore_case"].as_bool().unwrap_or(false);
    let norm = move |s: &str| {
        if ignore_case {
            s.to_ascii_lowercase()
        } else {
            s.to_owned()
        }
    };
    if let Some(v) = m["exact"].as_str() {
        let want = norm(v);
        return Some((format!("exact {v:?}"), Box::new(move |s| norm(s) == want)));
    }
    if let Some(v) = m["prefix"].as_str() {
        let want = norm(v);
        return Some((
            format!("prefix {v:?}"),
            Box::new(move |s| norm(s).starts_with(&want)),
        ));
    }
    if let Some(v) = m["suffix"].as_str() {
        let want = norm(v);
        return Some((
            format!("suffix {v:?}"),
            Box::new(move |s| norm(s).ends_with(&want)),
        ));
    }
    if let Some(v) = m["contains"].as_str() {
        let want = norm(v);
        return Some((
            format!("contains {v:?}"),
            Box::new(move |s| norm(s).contains(&want)),
        ));
    }
    if let Some(v) = m["safe_regex"]["regex"].as_str() {
        let re = regex::Regex::new(&format!("^(?:{v})$")).ok();
        return Some((
            format!("regex {v:?}"),
            Box::new(move |s| re.as_ref().is_none_or(|r| r.is_match(s))),
        ));
    }
    None
}

/// A header matcher: the header, its condition in words, and a test.
fn header_matcher(h: &Value) -> (String, String, HeaderTest) {
    let name = h["name"].as_str().unwrap_or_default().to_ascii_lowercase();
    let invert = h["invert_match"].as_bool().unwrap_or(false);
    let legacy = |key: &str, kind: &str| h[key].as_str().map(|v| serde_json::json!({ kind: v }));
    let matcher = if h["string_match"].is_object() {
        Some(h["string_match"].clone())
    } else {
        legacy("exact_match", "exact")
            .or_else(|| legacy("prefix_match", "prefix"))
            .or_else(|| legacy("suffix_match", "suffix"))
            .or_else(|| legacy("contains_match", "contains"))
            .or_else(|| {
                h["safe_regex_match"]["regex"]
                    .as_str()
                    .map(|r| serde_json::json!({"safe_regex": {"regex": r}}))
            })
    };
    let (words, test): (String, HeaderTest) = match matcher.as_ref().and_then(string_matcher) {
        Some((words, test)) => (words, Box::new(move |v| v.is_some_and(&test))),
        None if h["present_match"].as_bool() == Some(false) => {
            ("absent".to_owned(), Box::new(|v: Option<&str>| v.is_none()))
        }
        None => (
            "present".to_owned(),
            Box::new(|v: Option<&str>| v.is_some()),
        ),
    };
    let words = if invert {
        format!("not {words}")
    } else {
        words
    };
    let test: HeaderTest = if invert {
        Box::new(move |v| !test(v))
    } else {
        test
    };
    (name, words, test)
}

/// The match of an Envoy route in Istio's words (`uri exact "/login"`, `headers end-user exact
/// "jason"`), each with whether the log line fits it.
fn route_conditions(route: &Value, entry: &Entry) -> Vec<(String, Fit)> {
    let m = &route["match"];
    let mut out = Vec::new();
    let full_path = entry.path.as_str();
    let (path, query) = full_path.split_once('?').unwrap_or((full_path, ""));
    let case_sensitive = m["case_sensitive"].as_bool().unwrap_or(true);
    let fold = |s: &str| {
        if case_sensitive {
            s.to_owned()
        } else {
            s.to_ascii_lowercase()
        }
    };
    if let Some(p) = m["prefix"].as_str() {
        if p != "/" {
            let fits = fold(full_path).starts_with(&fold(p));
            out.push((format!("uri prefix {p:?}"), fit(fits)));
        } else if !full_path.starts_with('/') {
            out.push(("uri prefix \"/\"".to_owned(), Fit::No));
        }
    } else if let Some(p) = m["path"].as_str() {
        out.push((format!("uri exact {p:?}"), fit(fold(path) == fold(p))));
    } else if let Some(r) = m["safe_regex"]["regex"].as_str() {
        let fits = regex::Regex::new(&format!("^(?:{r})$"))
            .map(|re| re.is_match(path))
            .unwrap_or(true);
        out.push((format!("uri regex {r:?}"), fit(fits)));
    } else if let Some(p) = m["path_separated_prefix"].as_str() {
        let fits = path == p || path.starts_with(&format!("{p}/"));
        out.push((format!("uri prefix {p:?}"), fit(fits)));
    }
    for h in m["headers"].as_array().into_iter().flatten() {
        let (name, words, test) = header_matcher(h);
        let known: Option<Option<&str>> = match name.as_str() {
            ":method" => Some(Some(entry.method.as_str())),
            ":authority" | "host" => Some(entry.authority.as_deref()),
            ":path" => Some(Some(full_path)),
            "user-agent" => Some(entry.user_agent.as_deref()),
            "x-request-id" => Some(entry.request_id.as_deref()),
            "x-forwarded-for" => Some(entry.forwarded_for.as_deref()),
            _ => None,
        };
        let label = match name.as_str() {
            ":method" => format!("method {words}"),
            ":authority" => format!("authority {words}"),
            ":scheme" => format!("scheme {words}"),
            other => format!("headers {other} {words}"),
        };
        let f = match known {
            Some(value) => fit(test(value)),
            None => Fit::Unknown(label.clone()),
        };
        out.push((label, f));
    }
    for q in m["query_parameters"].as_array().into_iter().flatten() {
        let name = q["name"].as_str().unwrap_or_default();
        let value = query
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == name).then_some(v)
            })
            .next();
        let (words, fits) = match string_matcher(&q["string_match"]) {
            Some((words, test)) => (words, value.is_some_and(test)),
            None => ("present".to_owned(), value.is_some()),
        };
        out.push((format!("queryParams {name} {words}"), fit(fits)));
    }
    out
}

fn fit(yes: bool) -> Fit {
    if yes { Fit::Yes } else { Fit::No }
}

/// The clusters a route can send to.
fn route_clusters(route: &Value) -> Vec<String> {
    let action = &route["route"];
    if let Some(c) = action["cluster"].as_str() {
        return vec![c.to_owned()];
    }
    action["weighted_clusters"]["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

/// A FractionalPercent in words (`100 %`, `0.1 %`).
fn percent(p: &Value) -> String {
    let numerator = p["numerator"].as_f64().unwrap_or(0.0);
    let denominator = match p["denominator"].as_str() {
        Some("TEN_THOUSAND") => 10_000.0,
        Some("MILLION") => 1_000_000.0,
        _ => 100.0,
    };
    let value = numerator * 100.0 / denominator;
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0} %")
    } else {
        format!("{value} %")
    }
}

fn is_all(p: &Value) -> bool {
    percent(p) == "100 %"
}

/// The fault filter's per-route configuration, if the route has one.
fn fault(route: &Value) -> Option<&Value> {
    let f = &route["typed_per_filter_config"]["envoy.filters.http.fault"];
    f.is_object().then_some(f)
}

/// Whether the route's fault injection fits the line's flags.
fn fault_fits(route: &Value, entry: &Entry) -> bool {
    let has = |code: &str| entry.flags.iter().any(|f| f.code == code);
    let fault = fault(route);
    let delay = fault.map(|f| &f["delay"]).filter(|d| d.is_object());
    let abort = fault.map(|f| &f["abort"]).filter(|a| a.is_object());
    if has("DI") && delay.is_none() {
        return false;
    }
    if has("FI") && abort.is_none() {
        return false;
    }
    if !has("DI") && delay.is_some_and(|d| is_all(&d["percentage"])) {
        return false;
    }
    if !has("FI") && abort.is_some_and(|a| is_all(&a["percentage"])) {
        return false;
    }
    true
}

/// Whether the route's action fits the cluster (or its absence) in the line.
fn action_fits(route: &Value, entry: &Entry) -> bool {
    let clusters = route_clusters(route);
    match entry.upstream_cluster.as_deref() {
        Some(c) => clusters.iter().any(|x| x == c),
        // No cluster: a redirect or direct response, or a request that ended before one was
        // picked (a fault abort, the caller leaving during a delay).
        None => true,
    }
}

/// `reviews.default subset v2`, a split, a redirect or a direct response, in words.
fn destination_words(route: &Value, entry: &Entry) -> String {
    let action = &route["route"];
    let cluster_words = |name: &str| match ClusterName::parse(name) {
        Some(c) => match &c.subset {
            Some(s) => format!("{} subset {s}", c.service()),
            None => c.service(),
        },
        None => name.to_owned(),
    };
    if let Some(c) = action["cluster"].as_str() {
        return cluster_words(c);
    }
    if let Some(list) = action["weighted_clusters"]["clusters"].as_array() {
        let total: f64 = list.iter().filter_map(|c| c["weight"].as_f64()).sum();
        let parts: Vec<String> = list
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or_default();
                let weight = c["weight"].as_f64().unwrap_or(0.0);
                let share = if total > 0.0 {
                    weight * 100.0 / total
                } else {
                    0.0
                };
                format!("{} {share:.0} %", cluster_words(name))
            })
            .collect();
        let chosen = entry
            .upstream_cluster
            .as_deref()
            .map(|c| format!(" (this request: {})", cluster_words(c)))
            .unwrap_or_default();
        return format!("split {}{chosen}", parts.join(", "));
    }
    if route["redirect"].is_object() {
        let r = &route["redirect"];
        let target = [
            r["host_redirect"].as_str().unwrap_or_default(),
            r["path_redirect"].as_str().unwrap_or_default(),
        ]
        .concat();
        return if target.is_empty() {
            "a redirect".to_owned()
        } else {
            format!("a redirect to {target}")
        };
    }
    if let Some(status) = route["direct_response"]["status"].as_u64() {
        return format!("a direct response {status}");
    }
    "nowhere (the route has no destination)".to_owned()
}

/// A protobuf JSON duration (`"0.500s"`) as written in Istio (`0.5s`), `None` for zero.
fn duration_words(d: &Value) -> Option<String> {
    let text = d.as_str()?;
    let secs: f64 = text.strip_suffix('s')?.parse().ok()?;
    (secs > 0.0).then(|| format!("{secs}s"))
}

/// Fault injection, timeout and retries of a route, in words.
fn settings(route: &Value, entry: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(f) = fault(route) {
        if f["delay"].is_object() {
            let d = duration_words(&f["delay"]["fixed_delay"]).unwrap_or_else(|| "a delay".into());
            out.push(format!(
                "fault injection: delay {d} for {} of requests",
                percent(&f["delay"]["percentage"])
            ));
        }
        if f["abort"].is_object() {
            let status = f["abort"]["http_status"]
                .as_u64()
                .map_or_else(|| "an error".to_owned(), |s| format!("HTTP {s}"));
            out.push(format!(
                "fault injection: abort with {status} for {} of requests",
                percent(&f["abort"]["percentage"])
            ));
        }
    }
    let action = &route["route"];
    if let Some(t) = duration_words(&action["timeout"]) {
        out.push(format!("timeout {t}"));
    }
    // Retries matter when the upstream failed (not when the caller left or a fault was injected).
    let upstream_failed = entry.status >= 500
        || entry.flags.iter().any(|f| {
            matches!(
                f.code.as_str(),
                "URX" | "UT" | "UF" | "UC" | "UH" | "UO" | "UR"
            )
        });
    let retry = &action["retry_policy"];
    if upstream_failed && retry.is_object() {
        let attempts = retry["num_retries"].as_u64().unwrap_or(1);
        let per_try = duration_words(&retry["per_try_timeout"])
            .map(|t| format!(", {t} per try"))
            .unwrap_or_default();
        let on = retry["retry_on"].as_str().unwrap_or("-");
        out.push(format!("retries: {attempts}{per_try} (on {on})"));
    }
    out
}

/// `namespace/name` of the VirtualService in a route's Istio metadata.
fn virtual_service_of(route: &Value) -> Option<(String, String)> {
    let path = route["metadata"]["filter_metadata"]["istio"]["config"].as_str()?;
    let rest = path.split("/namespaces/").nth(1)?;
    let mut parts = rest.split('/');
    let namespace = parts.next()?;
    let kind = parts.next()?;
    let name = parts.next()?;
    (kind == "virtual-service").then(|| (namespace.to_owned(), name.to_owned()))
}

/// An Istio StringMatch in words, as [`route_conditions`] writes the Envoy side.
fn istio_string(m: &Value) -> String {
    for kind in ["exact", "prefix", "regex"] {
        if let Some(v) = m[kind].as_str() {
            return format!("{kind} {v:?}");
        }
    }
    // An empty match object matches any value.
    "regex \".*\"".to_owned()
}

/// An Istio HTTPMatchRequest's conditions in words: those that become Envoy route conditions
/// (to compare), and all of them (to show).
fn istio_conditions(m: &Value) -> (Vec<String>, Vec<String>) {
    let mut routed = Vec::new();
    if let Some(uri) = m.get("uri").filter(|u| u.is_object()) {
        let words = istio_string(uri);
        if words != "prefix \"/\"" {
            routed.push(format!("uri {words}"));
        }
    }
    for (key, label) in [("headers", "headers"), ("withoutHeaders", "headers")] {
        for (name, v) in m[key].as_object().into_iter().flatten() {
            let words = istio_string(v);
            let words = if key == "withoutHeaders" {
                format!("not {words}")
            } else {
                words
            };
            routed.push(format!("{label} {} {words}", name.to_ascii_lowercase()));
        }
    }
    for key in ["method", "authority", "scheme"] {
        if m[key].is_object() {
            routed.push(format!("{key} {}", istio_string(&m[key])));
        }
    }
    for (name, v) in m["queryParams"].as_object().into_iter().flatten() {
        routed.push(format!("queryParams {name} {}", istio_string(v)));
    }
    let mut shown = routed.clone();
    if let Some(labels) = m["sourceLabels"].as_object() {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        shown.push(format!("sourceLabels {}", pairs.join(",")));
    }
    if let Some(port) = m["port"].as_u64() {
        shown.push(format!("port {port}"));
    }
    if let Some(gateways) = m["gateways"].as_array() {
        let names: Vec<&str> = gateways.iter().filter_map(Value::as_str).collect();
        shown.push(format!("gateways {}", names.join(",")));
    }
    (routed, shown)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The rule (and match) of `spec` that made an Envoy route with these conditions.
fn find_rule(
    spec: &Value,
    route_name: Option<&str>,
    envoy_conditions: &[String],
) -> Option<(usize, Option<usize>, Vec<String>)> {
    let rules = spec["http"].as_array()?;
    let wanted = sorted(envoy_conditions.to_vec());
    // A named rule names its routes: `rule` or `rule.match`.
    if let Some(name) = route_name.filter(|n| !n.is_empty()) {
        for (i, rule) in rules.iter().enumerate() {
            let rule_name = rule["name"].as_str().unwrap_or_default();
            for (j, m) in rule["match"].as_array().into_iter().flatten().enumerate() {
                if let Some(mname) = m["name"].as_str()
                    && name == format!("{rule_name}.{mname}")
                {
                    let (_, shown) = istio_conditions(m);
                    return Some((i, Some(j), shown));
                }
            }
            if !rule_name.is_empty() && name == rule_name {
                let matches = rule["match"].as_array().map_or(&[][..], Vec::as_slice);
                return Some(pick_match(i, matches, &wanted));
            }
        }
    }
    for (i, rule) in rules.iter().enumerate() {
        let matches = rule["match"].as_array().map_or(&[][..], Vec::as_slice);
        if matches.is_empty() {
            if wanted.is_empty() {
                return Some((i, None, Vec::new()));
            }
            continue;
        }
        for m in matches {
            if sorted(istio_conditions(m).0) == wanted {
                return Some(pick_match(i, matches, &wanted));
            }
        }
    }
    None
}

/// Rule `i` with the match whose conditions are `wanted` (no match index for a single match).
fn pick_match(
    i: usize,
    matches: &[Value],
    wanted: &[String],
) -> (usize, Option<usize>, Vec<String>) {
    let found = matches
        .iter()
        .position(|m| sorted(istio_conditions(m).0) == wanted);
    match found {
        Some(j) => {
            let shown = istio_conditions(&matches[j]).1;
            let index = (matches.len() > 1).then_some(j);
            (i, index, shown)
        }
        None => (i, None, wanted.to_vec()),
    }
}

/// The route of `dump` that `entry` matched, or why it cannot be told.
pub fn find(dump: &Value, entry: &Entry, vss: &VirtualServices) -> Result<RouteInfo, String> {
    let authority = entry.authority.as_deref().unwrap_or_default();
    let port = entry.downstream_local.as_deref().and_then(port_of);
    let configs = route_configs(dump);
    if configs.is_empty() {
        return Err("the proxy's configuration has no route configurations".to_owned());
    }
    // The listener's route configuration: named after the port on sidecars (`9080`) and
    // `http.<port>` on gateways; else any that serves the host.
    let preferred: Vec<&Value> = port
        .map(|p| {
            configs
                .iter()
                .copied()
                .filter(|rc| {
                    let name = rc["name"].as_str().unwrap_or_default();
                    name == p.to_string() || name == format!("http.{p}")
                })
                .collect()
        })
        .unwrap_or_default();
    let search = if preferred.is_empty() {
        configs
    } else {
        preferred
    };
    let (rc, vhost) = search
        .iter()
        .find_map(|rc| virtual_host(rc, authority).map(|v| (*rc, v)))
        .ok_or_else(|| {
            format!("no virtual host of the proxy's routes serves the host {authority:?} now")
        })?;
    let routes: Vec<&Value> = vhost["routes"].as_array().into_iter().flatten().collect();
    let by_name: Vec<&Value> = match entry.route_name.as_deref() {
        Some(name) => routes
            .iter()
            .copied()
            .filter(|r| r["name"].as_str() == Some(name))
            .collect(),
        None => Vec::new(),
    };
    let candidates = if by_name.is_empty() { routes } else { by_name };
    let mut fitting = Vec::new();
    for route in candidates {
        let conditions = route_conditions(route, entry);
        if conditions.iter().any(|(_, f)| *f == Fit::No) {
            continue;
        }
        if !action_fits(route, entry) || !fault_fits(route, entry) {
            continue;
        }
        let certain = conditions.iter().all(|(_, f)| *f == Fit::Yes);
        fitting.push((route, conditions));
        if certain {
            // Nothing after a route that surely matched can have matched.
            break;
        }
    }
    let Some((route, conditions)) = fitting.first().cloned() else {
        return Err(format!(
            "no route of virtual host {} fits this request now (the configuration may have \
             changed since)",
            vhost["name"].as_str().unwrap_or_default()
        ));
    };
    let describe = |route: &Value, conditions: &[(String, Fit)]| {
        let envoy: Vec<String> = conditions.iter().map(|(w, _)| w.clone()).collect();
        let name = route["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let vs = virtual_service_of(route);
        let rule = vs
            .as_ref()
            .and_then(|(ns, n)| vss.spec(ns, n))
            .and_then(|spec| find_rule(spec, name.as_deref(), &envoy));
        let (rule, match_index, shown) = match rule {
            Some((i, j, shown)) => (Some(i), j, shown),
            None => (None, None, envoy),
        };
        RouteInfo {
            route_config: rc["name"].as_str().unwrap_or_default().to_owned(),
            virtual_host: vhost["name"].as_str().unwrap_or_default().to_owned(),
            name,
            virtual_service: vs.map(|(ns, n)| format!("{ns}/{n}")),
            rule,
            match_index,
            conditions: shown,
            destination: destination_words(route, entry),
            settings: settings(route, entry),
            unchecked: Vec::new(),
            alternatives: Vec::new(),
        }
    };
    let mut info = describe(route, &conditions);
    info.unchecked = conditions
        .iter()
        .filter_map(|(_, f)| match f {
            Fit::Unknown(words) => Some(words.clone()),
            _ => None,
        })
        .collect();
    if !info.unchecked.is_empty() {
        info.alternatives = fitting[1..]
            .iter()
            .map(|(r, c)| describe(r, c).summary())
            .collect();
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::log::parse;
    use serde_json::json;

    fn retry() -> Value {
        json!({"retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", "num_retries": 2})
    }

    /// A productpage sidecar's dump, in the shape Envoy's admin writes it, with Bookinfo's
    /// reviews-test-v2 and ratings-test-delay.
    fn dump() -> Value {
        let vs_meta = |name: &str| json!({"filter_metadata": {"istio": {"config": format!("/apis/networking.istio.io/v1/namespaces/default/virtual-service/{name}")}}});
        json!({"configs": [
            {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"},
            {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [
                {"route_config": {"name": "9080", "virtual_hosts": [
                    {"name": "reviews.default.svc.cluster.local:9080", "domains": ["reviews.default.svc.cluster.local:9080", "reviews", "reviews:9080"], "routes": [
                        {"match": {"prefix": "/", "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}]},
                         "route": {"cluster": "outbound|9080|v2|reviews.default.svc.cluster.local", "timeout": "0s", "retry_policy": retry()},
                         "metadata": vs_meta("reviews")},
                        {"match": {"prefix": "/"},
                         "route": {"cluster": "outbound|9080|v1|reviews.default.svc.cluster.local", "timeout": "0s", "retry_policy": retry()},
                         "metadata": vs_meta("reviews")}
                    ]},
                    {"name": "ratings.default.svc.cluster.local:9080", "domains": ["ratings", "ratings:9080"], "routes": [
                        {"match": {"prefix": "/", "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}]},
                         "route": {"cluster": "outbound|9080|v1|ratings.default.svc.cluster.local", "timeout": "0s"},
                         "typed_per_filter_config": {"envoy.filters.http.fault": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", "delay": {"fixed_delay": "7s", "percentage": {"numerator": 1000000, "denominator": "MILLION"}}}},
                         "metadata": vs_meta("ratings")},
                        {"match": {"prefix": "/"},
                         "route": {"cluster": "outbound|9080|v1|ratings.default.svc.cluster.local", "timeout": "0s"},
                         "metadata": vs_meta("ratings")}
                    ]},
                    {"name": "details.default.svc.cluster.local:9080", "domains": ["details", "details:9080"], "routes": [
                        {"match": {"prefix": "/"}, "route": {"cluster": "outbound|9080||details.default.svc.cluster.local"}, "name": "default"}
                    ]}
                ]}},
                {"route_config": {"name": "http.8080", "virtual_hosts": [
                    {"name": "*:80", "domains": ["*"], "routes": [
                        {"match": {"path": "/productpage"}, "route": {"cluster": "outbound|9080||productpage.default.svc.cluster.local", "timeout": "0s"}, "metadata": vs_meta("bookinfo")},
                        {"match": {"prefix": "/static"}, "route": {"cluster": "outbound|9080||productpage.default.svc.cluster.local", "timeout": "0s"}, "metadata": vs_meta("bookinfo")}
                    ]}
                ]}}
            ]}
        ]})
    }

    fn vss() -> VirtualServices {
        let spec = |y: &str| serde_yaml::from_str::<Value>(y).unwrap();
        VirtualServices(vec![
            (
                "default".into(),
                "reviews".into(),
                spec(
                    "hosts: [reviews]\nhttp:\n- match:\n  - headers:\n      end-user:\n        exact: jason\n  route:\n  - destination: {host: reviews, subset: v2}\n- route:\n  - destination: {host: reviews, subset: v1}\n",
                ),
            ),
            (
                "default".into(),
                "ratings".into(),
                spec(
                    "hosts: [ratings]\nhttp:\n- match:\n  - headers:\n      end-user:\n        exact: jason\n  fault:\n    delay: {percentage: {value: 100.0}, fixedDelay: 7s}\n  route:\n  - destination: {host: ratings, subset: v1}\n- route:\n  - destination: {host: ratings, subset: v1}\n",
                ),
            ),
            (
                "default".into(),
                "bookinfo".into(),
                spec(
                    "hosts: ['*']\ngateways: [bookinfo-gateway]\nhttp:\n- match:\n  - uri: {exact: /productpage}\n  - uri: {prefix: /static}\n  route:\n  - destination: {host: productpage, port: {number: 9080}}\n",
                ),
            ),
        ])
    }

    fn line(authority: &str, path: &str, flags: &str, cluster: &str, local: &str) -> Entry {
        parse(&format!(
            r#"[2026-11-26T12:26:25.439Z] "GET {path} HTTP/1.1" 200 {flags} via_upstream - "-" 0 10 3 3 "-" "curl/7.88.1" "id-1" "{authority}" "127.1.187.2:9080" {cluster} 127.0.0.1:42556 {local} 127.1.164.223:48881 - -"#
        ))
        .unwrap()
    }

    #[test]
    fn the_subset_chosen_tells_which_header_rule_matched() {
        let e = line(
            "reviews:9080",
            "/reviews/0",
            "-",
            "outbound|9080|v2|reviews.default.svc.cluster.local",
            "127.3.164.223:9080",
        );
        let info = find(&dump(), &e, &vss()).unwrap();
        assert_eq!(
            info.summary(),
            "VirtualService default/reviews rule 1 (http[0]): headers end-user exact \"jason\" → reviews.default subset v2"
        );
        assert_eq!(info.unchecked, ["headers end-user exact \"jason\""]);
        assert_eq!(info.route_config, "9080");
        // v1 can only be the catch-all rule.
        let e = line(
            "reviews:9080",
            "/reviews/0",
            "-",
            "outbound|9080|v1|reviews.default.svc.cluster.local",
            "127.3.164.223:9080",
        );
        let info = find(&dump(), &e, &vss()).unwrap();
        assert_eq!(
            info.summary(),
            "VirtualService default/reviews rule 2 (http[1]): any request → reviews.default subset v1"
        );
    }

    #[test]
    fn a_delay_flag_points_at_the_rule_with_the_delay() {
        let delayed = line(
            "ratings:9080",
            "/ratings/0",
            "DI,DC",
            "outbound|9080|v1|ratings.default.svc.cluster.local",
            "127.3.187.2:9080",
        );
        let info = find(&dump(), &delayed, &vss()).unwrap();
        assert_eq!(info.rule, Some(0));
        assert_eq!(
            info.settings[0],
            "fault injection: delay 7s for 100 % of requests"
        );
        // Without DI the 100 % delay rule cannot have matched: the catch-all did.
        let plain = line(
            "ratings:9080",
            "/ratings/0",
            "-",
            "outbound|9080|v1|ratings.default.svc.cluster.local",
            "127.3.187.2:9080",
        );
        assert_eq!(find(&dump(), &plain, &vss()).unwrap().rule, Some(1));
    }

    #[test]
    fn gateway_rules_with_several_matches_name_the_match() {
        let e = line(
            "bookinfo.example",
            "/static/bootstrap.css",
            "-",
            "outbound|9080||productpage.default.svc.cluster.local",
            "127.1.131.196:8080",
        );
        let info = find(&dump(), &e, &vss()).unwrap();
        assert_eq!(
            info.summary(),
            "VirtualService default/bookinfo rule 1, match 2 (http[0].match[1]): uri prefix \"/static\" → productpage.default"
        );
        assert!(info.unchecked.is_empty());
        assert_eq!(info.route_config, "http.8080");
    }

    #[test]
    fn a_default_route_and_missing_hosts_are_said_as_such() {
        let e = line(
            "details:9080",
            "/details/0",
            "-",
            "outbound|9080||details.default.svc.cluster.local",
            "127.3.164.223:9080",
        );
        let info = find(&dump(), &e, &vss()).unwrap();
        assert_eq!(
            info.summary(),
            "default route (no VirtualService for this host): any request → details.default"
        );
        let e = line("nothing:9080", "/", "-", "-", "127.3.164.223:9080");
        let err = find(&dump(), &e, &vss()).unwrap_err();
        assert!(err.contains("\"nothing:9080\""), "{err}");
    }

    #[test]
    fn without_the_virtual_service_the_envoy_match_is_shown() {
        let e = line(
            "reviews:9080",
            "/reviews/0",
            "-",
            "outbound|9080|v2|reviews.default.svc.cluster.local",
            "127.3.164.223:9080",
        );
        let info = find(&dump(), &e, &VirtualServices::default()).unwrap();
        assert_eq!(
            info.summary(),
            "VirtualService default/reviews: headers end-user exact \"jason\" → reviews.default subset v2"
        );
    }

    #[test]
    fn percentages_and_durations_read_as_istio_writes_them() {
        assert_eq!(percent(&json!({"numerator": 100})), "100 %");
        assert_eq!(
            percent(&json!({"numerator": 1000, "denominator": "MILLION"})),
            "0.1 %"
        );
        assert_eq!(duration_words(&json!("0.500s")).as_deref(), Some("0.5s"));
        assert_eq!(duration_words(&json!("0s")), None);
    }
}
