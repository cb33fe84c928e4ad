//! istioctl's `proxy-config` tables, built from an Envoy's `config_dump` and
//! `clusters?format=json` answers (plain JSON, read field by field).

use serde_json::Value;

/// Which Istio configuration made a cluster or a route, when Envoy's dump does not say.
pub trait ConfigSource {
    /// The DestinationRule (`name.namespace`) that applies to `fqdn`, if any.
    fn destination_rule(&self, fqdn: &str) -> Option<String>;
    /// The VirtualService (`name.namespace`) routing `fqdn`; `gateway` for a gateway's routes.
    fn virtual_service(&self, fqdn: &str, gateway: bool) -> Option<String>;
}

/// Row filters given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--fqdn`: part of the service's FQDN.
    pub fqdn: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--subset`.
    pub subset: Option<String>,
    /// `--direction`.
    pub direction: Option<String>,
    /// `--name` (route configuration name).
    pub name: Option<String>,
    /// `--cluster` (endpoints).
    pub cluster: Option<String>,
    /// `--address` (listeners, endpoints).
    pub address: Option<String>,
    /// `--status` (endpoints).
    pub status: Option<String>,
}

/// Lays out rows under headers, columns separated by at least three spaces, as istioctl's
/// tab writer does.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths.get(i).copied().unwrap_or(0) - cell.chars().count() + 3;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The config_dump section of type `…ConfigDump` named `kind` (`Clusters`, `Listeners` …).
pub fn section<'a>(dump: &'a Value, kind: &str) -> Option<&'a Value> {
    let want = format!("type.googleapis.com/envoy.admin.v3.{kind}ConfigDump");
    dump["configs"]
        .as_array()?
        .iter()
        .find(|c| c["@type"].as_str() == Some(want.as_str()))
}

fn items<'a>(section: Option<&'a Value>, lists: &[(&str, &str)]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let Some(section) = section else {
        return out;
    };
    for (list, field) in lists {
        for entry in section[*list].as_array().into_iter().flatten() {
            let mut v = entry;
            for part in field.split('.').filter(|p| !p.is_empty()) {
                v = &v[part];
            }
            if !v.is_null() {
                out.push(v);
            }
        }
    }
    out
}

/// Every cluster in the dump (static and dynamic).
pub fn clusters(dump: &Value) -> Vec<&Value> {
    items(
        section(dump, "Clusters"),
        &[
            ("static_clusters", "cluster"),
            ("dynamic_active_clusters", "cluster"),
            ("dynamic_warming_clusters", "cluster"),
        ],
    )
}

/// Every listener in the dump (static and active dynamic ones).
pub fn listeners(dump: &Value) -> Vec<&Value> {
    items(
        section(dump, "Listeners"),
        &[
            ("static_listeners", "listener"),
            ("dynamic_listeners", "active_state.listener"),
        ],
    )
}

/// Every route configuration in the dump.
pub fn route_configs(dump: &Value) -> Vec<&Value> {
    items(
        section(dump, "Routes"),
        &[
            ("static_route_configs", "route_config"),
            ("dynamic_route_configs", "route_config"),
        ],
    )
}

/// Every secret in the dump.
pub fn secrets(dump: &Value) -> Vec<&Value> {
    items(
        section(dump, "Secrets"),
        &[
            ("static_secrets", ""),
            ("dynamic_active_secrets", ""),
            ("dynamic_warming_secrets", ""),
        ],
    )
}

/// An Istio cluster name `direction|port|subset|fqdn`, split.
pub struct ClusterName<'a> {
    /// `inbound` or `outbound`.
    pub direction: &'a str,
    /// Port.
    pub port: &'a str,
    /// Subset (empty: none).
    pub subset: &'a str,
    /// Service FQDN (empty for inbound clusters).
    pub fqdn: &'a str,
}

/// Splits `outbound|9080|v1|reviews.default.svc.cluster.local`; `None` for other names.
pub fn split_cluster_name(name: &str) -> Option<ClusterName<'_>> {
    let mut parts = name.split('|');
    let (Some(direction), Some(port), Some(subset), Some(fqdn), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    matches!(direction, "inbound" | "outbound").then_some(ClusterName {
        direction,
        port,
        subset,
        fqdn,
    })
}

/// `name.namespace` of the Istio object a resource's `filter_metadata.istio.config` names
/// (`/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews`).
fn istio_config(resource: &Value) -> Option<String> {
    let path = resource["metadata"]["filter_metadata"]["istio"]["config"].as_str()?;
    let parts: Vec<&str> = path.split('/').collect();
    let ns = parts.iter().position(|p| *p == "namespaces")?;
    let namespace = parts.get(ns + 1)?;
    let name = parts.get(ns + 3)?;
    Some(format!("{name}.{namespace}"))
}

fn cluster_type(cluster: &Value) -> String {
    if let Some(t) = cluster["type"].as_str() {
        return t.to_owned();
    }
    if let Some(name) = cluster["cluster_type"]["name"].as_str() {
        return name.to_owned();
    }
    "STATIC".to_owned()
}

/// `proxy-config clusters`: `SERVICE FQDN  PORT  SUBSET  DIRECTION  TYPE  DESTINATION RULE`.
pub fn cluster_table(dump: &Value, filter: &Filter, source: &dyn ConfigSource) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for cluster in filtered_clusters(dump, filter) {
        let name = cluster["name"].as_str().unwrap_or_default();
        let row = match split_cluster_name(name) {
            Some(c) => {
                let dr = istio_config(cluster)
                    .or_else(|| {
                        (c.direction == "outbound")
                            .then(|| source.destination_rule(c.fqdn))
                            .flatten()
                    })
                    .unwrap_or_default();
                vec![
                    c.fqdn.to_owned(),
                    c.port.to_owned(),
                    dash(c.subset),
                    c.direction.to_owned(),
                    cluster_type(cluster),
                    dr,
                ]
            }
            None => vec![
                name.to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                cluster_type(cluster),
                String::new(),
            ],
        };
        rows.push(row);
    }
    rows.sort_by(|a, b| {
        let port = |r: &Vec<String>| r[1].parse::<u32>().unwrap_or(0);
        (&a[0], port(a), &a[2], &a[3]).cmp(&(&b[0], port(b), &b[2], &b[3]))
    });
    render(
        &[
            "SERVICE FQDN",
            "PORT",
            "SUBSET",
            "DIRECTION",
            "TYPE",
            "DESTINATION RULE",
        ],
        &rows,
    )
}

fn dash(s: &str) -> String {
    if s.is_empty() { "-" } else { s }.to_owned()
}

/// The clusters `filter` keeps (for the table and `-o json`).
pub fn filtered_clusters<'a>(dump: &'a Value, filter: &Filter) -> Vec<&'a Value> {
    clusters(dump)
        .into_iter()
        .filter(|cluster| {
            let name = cluster["name"].as_str().unwrap_or_default();
            let split = split_cluster_name(name);
            let (fqdn, port, subset, direction) = match &split {
                Some(c) => (c.fqdn, c.port, c.subset, c.direction),
                None => (name, "", "", ""),
            };
            filter.fqdn.as_deref().is_none_or(|f| fqdn.contains(f))
                && filter.port.is_none_or(|p| port == p.to_string())
                && filter.subset.as_deref().is_none_or(|s| subset == s)
                && filter.direction.as_deref().is_none_or(|d| direction == d)
        })
        .collect()
}

fn socket(address: &Value) -> (String, Option<u64>) {
    let sa = &address["socket_address"];
    if sa.is_object() {
        return (
            sa["address"].as_str().unwrap_or_default().to_owned(),
            sa["port_value"].as_u64(),
        );
    }
    if let Some(path) = address["pipe"]["path"].as_str() {
        return (path.to_owned(), None);
    }
    (String::new(), None)
}

/// The listeners `filter` keeps (`--port`, `--address`).
pub fn filtered_listeners<'a>(dump: &'a Value, filter: &Filter) -> Vec<&'a Value> {
    listeners(dump)
        .into_iter()
        .filter(|l| {
            let (address, port) = socket(&l["address"]);
            filter.port.is_none_or(|p| port == Some(u64::from(p)))
                && filter.address.as_deref().is_none_or(|a| address == a)
        })
        .collect()
}

fn chain_match(chain: &Value) -> String {
    let m = &chain["filter_chain_match"];
    let mut parts = Vec::new();
    for range in m["prefix_ranges"].as_array().into_iter().flatten() {
        let ip = range["address_prefix"].as_str().unwrap_or_default();
        let len = range["prefix_len"].as_u64().unwrap_or(32);
        parts.push(format!("Addr: {ip}/{len}"));
    }
    if let Some(port) = m["destination_port"].as_u64() {
        parts.push(format!("Port: {port}"));
    }
    let names: Vec<&str> = m["server_names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !names.is_empty() {
        parts.push(format!("SNI: {}", names.join(",")));
    }
    if let Some(t) = m["transport_protocol"].as_str() {
        parts.push(format!("Trans: {t}"));
    }
    let apps: Vec<&str> = m["application_protocols"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !apps.is_empty() {
        parts.push(format!("App: {}", apps.join(",")));
    }
    if parts.is_empty() {
        "ALL".to_owned()
    } else {
        parts.join("; ")
    }
}

fn path_match(m: &Value) -> String {
    if let Some(p) = m["prefix"].as_str() {
        format!("{p}*")
    } else if let Some(p) = m["path"].as_str() {
        p.to_owned()
    } else if let Some(p) = m["safe_regex"]["regex"].as_str() {
        p.to_owned()
    } else if let Some(p) = m["path_separated_prefix"].as_str() {
        format!("{p}/*")
    } else {
        "/*".to_owned()
    }
}

fn chain_destination(chain: &Value) -> String {
    let mut out = Vec::new();
    for filter in chain["filters"].as_array().into_iter().flatten() {
        let config = &filter["typed_config"];
        if let Some(route) = config["rds"]["route_config_name"].as_str() {
            out.push(format!("Route: {route}"));
        } else if config["route_config"].is_object() {
            let matches: Vec<String> = config["route_config"]["virtual_hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|vh| vh["routes"].as_array().into_iter().flatten())
                .map(|r| path_match(&r["match"]))
                .collect();
            out.push(format!("Inline Route: {}", matches.join(", ")));
        } else if let Some(cluster) = config["cluster"].as_str() {
            out.push(format!("Cluster: {cluster}"));
        }
    }
    if out.is_empty() {
        "Non-HTTP/Non-TCP".to_owned()
    } else {
        out.join("; ")
    }
}

/// `proxy-config listeners`: `ADDRESSES  PORT  MATCH  DESTINATION`, a row per filter chain.
pub fn listener_table(dump: &Value, filter: &Filter) -> String {
    let mut rows = Vec::new();
    for listener in filtered_listeners(dump, filter) {
        let (address, port) = socket(&listener["address"]);
        let mut addresses = vec![address];
        for extra in listener["additional_addresses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            addresses.push(socket(&extra["address"]).0);
        }
        let port = port.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let chains: Vec<&Value> = listener["filter_chains"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(listener.get("default_filter_chain"))
            .collect();
        for chain in chains {
            rows.push(vec![
                addresses.join(","),
                port.clone(),
                chain_match(chain),
                chain_destination(chain),
            ]);
        }
    }
    render(&["ADDRESSES", "PORT", "MATCH", "DESTINATION"], &rows)
}

/// The route configurations `filter` keeps (`--name`).
pub fn filtered_routes<'a>(dump: &'a Value, filter: &Filter) -> Vec<&'a Value> {
    route_configs(dump)
        .into_iter()
        .filter(|rc| {
            filter
                .name
                .as_deref()
                .is_none_or(|n| rc["name"].as_str() == Some(n))
        })
        .collect()
}

/// The domains column: the shortest name without a port or address, `+N more...` for the rest.
fn describe_domains(domains: &[&str]) -> String {
    if domains.len() <= 1 {
        return domains.first().copied().unwrap_or_default().to_owned();
    }
    let mut names: Vec<&str> = domains
        .iter()
        .copied()
        .filter(|d| !d.contains(':') && d.parse::<std::net::IpAddr>().is_err())
        .collect();
    if names.is_empty() {
        names = domains.to_vec();
    }
    names.sort_by_key(|d| (d.len(), *d));
    let shortest = names[0];
    if names.len() == 1 {
        shortest.to_owned()
    } else {
        format!("{shortest} +{} more...", names.len() - 1)
    }
}

/// `proxy-config routes`: `NAME  VHOST NAME  DOMAINS  MATCH  VIRTUAL SERVICE`.
pub fn route_table(dump: &Value, filter: &Filter, source: &dyn ConfigSource) -> String {
    let mut rows = Vec::new();
    for rc in filtered_routes(dump, filter) {
        let name = rc["name"].as_str().unwrap_or_default();
        let gateway = name.starts_with("http.") || name.starts_with("https.");
        for vh in rc["virtual_hosts"].as_array().into_iter().flatten() {
            let vhost = vh["name"].as_str().unwrap_or_default();
            let domains: Vec<&str> = vh["domains"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let routes: Vec<&Value> = vh["routes"].as_array().into_iter().flatten().collect();
            let matches: Vec<String> = routes.iter().map(|r| path_match(&r["match"])).collect();
            let fqdn = vhost.rsplit_once(':').map_or(vhost, |(h, _)| h);
            let vs = routes
                .iter()
                .find_map(|r| istio_config(r))
                .or_else(|| {
                    (!matches!(vhost, "block_all" | "allow_any" | "backend") && !name.contains('|'))
                        .then(|| source.virtual_service(fqdn, gateway))
                        .flatten()
                })
                .unwrap_or_default();
            rows.push(vec![
                name.to_owned(),
                vhost.to_owned(),
                describe_domains(&domains),
                matches.join(", "),
                vs,
            ]);
        }
    }
    render(
        &["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"],
        &rows,
    )
}

/// The `cluster_statuses` of a `clusters?format=json` answer that `filter` keeps, each with only
/// the hosts it keeps.
pub fn filtered_endpoints(clusters: &Value, filter: &Filter) -> Vec<Value> {
    let mut out = Vec::new();
    for status in clusters["cluster_statuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = status["name"].as_str().unwrap_or_default();
        if filter.cluster.as_deref().is_some_and(|c| c != name) {
            continue;
        }
        let hosts: Vec<Value> = status["host_statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| {
                let (address, port) = socket(&h["address"]);
                filter.address.as_deref().is_none_or(|a| a == address)
                    && filter.port.is_none_or(|p| port == Some(u64::from(p)))
                    && filter
                        .status
                        .as_deref()
                        .is_none_or(|s| health(h).eq_ignore_ascii_case(s))
            })
            .cloned()
            .collect();
        if hosts.is_empty() {
            continue;
        }
        let mut kept = status.clone();
        kept["host_statuses"] = Value::Array(hosts);
        out.push(kept);
    }
    out
}

fn health(host: &Value) -> String {
    let h = &host["health_status"];
    if let Some(s) = h["eds_health_status"].as_str() {
        return s.to_owned();
    }
    let failed = [
        "failed_active_health_check",
        "failed_active_degraded_check",
        "pending_dynamic_removal",
        "pending_active_hc",
    ]
    .iter()
    .any(|f| h[*f].as_bool() == Some(true));
    if failed { "UNHEALTHY" } else { "HEALTHY" }.to_owned()
}

/// `proxy-config endpoints`: `ENDPOINT  STATUS  OUTLIER CHECK  CLUSTER`.
pub fn endpoint_table(clusters: &Value, filter: &Filter) -> String {
    let mut rows = Vec::new();
    for status in filtered_endpoints(clusters, filter) {
        let name = status["name"].as_str().unwrap_or_default();
        for host in status["host_statuses"].as_array().into_iter().flatten() {
            let (address, port) = socket(&host["address"]);
            let endpoint = port.map_or(address.clone(), |p| format!("{address}:{p}"));
            let outlier = if host["health_status"]["failed_outlier_check"].as_bool() == Some(true) {
                "FAILED"
            } else {
                "OK"
            };
            rows.push(vec![
                endpoint,
                health(host),
                outlier.to_owned(),
                name.to_owned(),
            ]);
        }
    }
    rows.sort();
    render(&["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"], &rows)
}

/// `proxy-config secret`: istioctl's table of each SDS secret (`RESOURCE NAME  TYPE  STATUS
/// VALID CERT  SERIAL NUMBER  NOT AFTER  NOT BEFORE`, the certificate's columns read from the
/// PEM Envoy holds: the leaf of a chain, the first root of a CA), then the SPIFFE id of each
/// certificate chain.
pub fn secret_table(dump: &Value) -> String {
    secret_table_at(dump, std::time::SystemTime::now())
}

/// The PEM text of a data source in Envoy's dump (`inline_bytes` are base64).
fn data_source_text(source: &Value) -> Option<String> {
    if let Some(text) = source["inline_string"].as_str() {
        return Some(text.to_owned());
    }
    let bytes: k8s_openapi::ByteString =
        serde_json::from_value(source["inline_bytes"].clone()).ok()?;
    String::from_utf8(bytes.0).ok()
}

/// [`secret_table`] as seen at `now` (VALID CERT).
pub fn secret_table_at(dump: &Value, now: std::time::SystemTime) -> String {
    use meshwork_pilot::ca::inspect;
    let section = section(dump, "Secrets");
    let warming: Vec<&Value> = section
        .and_then(|s| s["dynamic_warming_secrets"].as_array())
        .into_iter()
        .flatten()
        .collect();
    let mut rows = Vec::new();
    let mut identities = Vec::new();
    for entry in secrets(dump) {
        let name = entry["name"].as_str().unwrap_or_default();
        let secret = &entry["secret"];
        let (kind, pem) = if secret["tls_certificate"].is_object() {
            (
                "Cert Chain",
                data_source_text(&secret["tls_certificate"]["certificate_chain"]),
            )
        } else if secret["validation_context"].is_object() {
            (
                "CA",
                data_source_text(&secret["validation_context"]["trusted_ca"]),
            )
        } else {
            ("-", None)
        };
        let status = if warming.iter().any(|w| std::ptr::eq(*w, entry)) {
            "WARMING"
        } else {
            "ACTIVE"
        };
        let chain = pem
            .as_deref()
            .and_then(|p| inspect::parse_chain(p).ok())
            .unwrap_or_default();
        let mut row = vec![name.to_owned(), kind.to_owned(), status.to_owned()];
        match chain.first() {
            Some(cert) => {
                row.push(cert.valid_at(now).to_string());
                row.push(cert.serial.clone());
                row.push(inspect::rfc3339(cert.not_after));
                row.push(inspect::rfc3339(cert.not_before));
                if kind == "Cert Chain" {
                    let id = cert.spiffe_id().unwrap_or("no SPIFFE id");
                    let n = chain.len();
                    let plural = if n == 1 { "" } else { "s" };
                    identities.push(format!("{name}: {id} (chain of {n} certificate{plural})"));
                }
            }
            None => row.extend(["false", "-", "-", "-"].map(str::to_owned)),
        }
        rows.push(row);
    }
    let mut out = render(
        &[
            "RESOURCE NAME",
            "TYPE",
            "STATUS",
            "VALID CERT",
            "SERIAL NUMBER",
            "NOT AFTER",
            "NOT BEFORE",
        ],
        &rows,
    );
    if !identities.is_empty() {
        out.push('\n');
        for line in identities {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
