//! Explaining recent requests: what each proxy on the way did with them.
//!
//! The sidecars' and gateways' Envoy access logs (Istio's default text format, read with
//! `pods/log` from the `istio-proxy` containers) are joined by `x-request-id` into requests, each
//! a tree of hops — gateway → productpage's inbound → its outbound call to reviews → reviews'
//! inbound → … For each hop that routed a request, the proxy's configuration (read with
//! `pilot-agent request GET config_dump` over `pods/exec`) and the cluster's VirtualServices
//! tell which route rule matched; Envoy's response flags are said in words. Everything goes
//! through the [`Target`] seam, so it works on the reference mesh and on a live cluster.
//!
//! - [`log`]: one access log line, parsed.
//! - [`flags`]: Envoy's response flags in words.
//! - [`hops`]: joining lines into requests and hop trees.
//! - [`routes`]: the route rule a hop matched, from the proxy's `config_dump`.
//! - [`text`]: a report as the text `meshwork explain` prints.
//! - [`why`]: why a traffic check failed, from the latest of its requests.

pub mod flags;
pub mod hops;
pub mod log;
pub mod routes;
pub mod text;
pub mod why;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::course::PodRef;
use crate::target::status::explain as explain_error;
use crate::target::{Target, TargetKind, exec, logs};
pub use hops::{Direction, Hop, ProxyKind, ProxyRef, Request};
pub use routes::{RouteInfo, VirtualServices};

/// The namespace Istio's gateways run in.
pub const GATEWAY_NAMESPACE: &str = "istio-system";
/// The container that runs the proxy in an injected pod or a gateway.
pub const PROXY_CONTAINER: &str = "istio-proxy";

/// Which requests to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Whose sidecars to read (default: the client's default namespace); gateways are always
    /// read too.
    pub namespace: Option<String>,
    /// How far back to look.
    pub since: Duration,
    /// At most this many requests (the most recent).
    pub limit: usize,
    /// Only the request with this `x-request-id` (or id prefix).
    pub id: Option<String>,
    /// Only requests whose path starts with this.
    pub path: Option<String>,
    /// Only requests where something went wrong.
    pub failed: bool,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            namespace: None,
            since: Duration::from_secs(120),
            limit: 10,
            id: None,
            path: None,
            failed: false,
        }
    }
}

impl Query {
    fn keeps(&self, r: &Request) -> bool {
        let id_ok = self
            .id
            .as_ref()
            .is_none_or(|id| r.id.starts_with(id.as_str()));
        let path_ok = self.path.as_ref().is_none_or(|p| {
            let path = r.path.split('?').next().unwrap_or_default();
            path.starts_with(p.as_str())
        });
        id_ok && path_ok && (!self.failed || r.failed)
    }

    /// What the filters ask for, in words (`--path /productpage, --failed`).
    fn filters(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(id) = &self.id {
            out.push(format!("--id {id}"));
        }
        if let Some(p) = &self.path {
            out.push(format!("--path {p}"));
        }
        if self.failed {
            out.push("--failed".to_owned());
        }
        out
    }
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The target, described.
    pub target: String,
    /// The namespace whose sidecars were read.
    pub namespace: String,
    /// How far back, in seconds.
    pub since_seconds: u64,
    /// The proxies whose logs were read.
    pub proxies: Vec<ProxyRef>,
    /// How many requests the logs held that fit the filters (before `limit`).
    pub found: usize,
    /// The requests shown, oldest first.
    pub requests: Vec<Request>,
    /// Why nothing is shown and what to do, when nothing is.
    pub notice: Option<String>,
    /// What could not be read (a proxy's log or configuration); the rest is still shown.
    pub problems: Vec<String>,
}

/// Why requests cannot be explained at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The target cannot be used.
    #[error("{0}")]
    Target(String),
    /// The API could not be asked.
    #[error("{0}")]
    Api(String),
}

/// A pod running a proxy.
struct ProxyPod {
    proxy: ProxyRef,
}

/// Explains the recent requests `query` asks for.
pub async fn explain(target: &dyn Target, query: &Query) -> Result<Report, ExplainError> {
    let client = target
        .client()
        .map_err(|e| ExplainError::Target(e.to_string()))?
        .clone();
    let namespace = query
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let mut namespaces = vec![namespace.clone()];
    if namespace != GATEWAY_NAMESPACE {
        namespaces.push(GATEWAY_NAMESPACE.to_owned());
    }
    let mut pods: Vec<Pod> = Vec::new();
    for ns in &namespaces {
        let listed = Api::<Pod>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
            .map_err(|e| {
                ExplainError::Api(format!(
                    "cannot list the pods in namespace {ns}: {}",
                    explain_error(&e)
                ))
            })?;
        pods.extend(listed.items);
    }
    let pod_ips: HashMap<String, String> = pods
        .iter()
        .filter_map(|p| {
            let ip = p.status.as_ref()?.pod_ip.clone()?;
            Some((ip, p.metadata.name.clone()?))
        })
        .collect();
    let proxies: Vec<ProxyPod> = pods.iter().filter_map(proxy_of).collect();
    let mut report = Report {
        target: target.describe(),
        namespace: namespace.clone(),
        since_seconds: query.since.as_secs(),
        proxies: proxies.iter().map(|p| p.proxy.clone()).collect(),
        found: 0,
        requests: Vec::new(),
        notice: None,
        problems: Vec::new(),
    };
    if proxies.is_empty() {
        report.notice = Some(no_proxies(&namespace));
        return Ok(report);
    }
    let since = query.since;
    let fetched = join_all(proxies.iter().map(|p| {
        let client = client.clone();
        async move {
            let text = logs::container_logs(
                &client,
                &p.proxy.namespace,
                &p.proxy.pod,
                PROXY_CONTAINER,
                Some(since),
            )
            .await;
            (p.proxy.clone(), text)
        }
    }))
    .await;
    let mut lines = Vec::new();
    for (proxy, text) in fetched {
        match text {
            Ok(text) => lines.extend(
                text.lines()
                    .filter_map(log::parse)
                    .map(|entry| (proxy.clone(), entry)),
            ),
            Err(e) => report.problems.push(e),
        }
    }
    if lines.is_empty() {
        report.notice = Some(no_lines(target.kind(), &report, &namespace));
        return Ok(report);
    }
    let all = hops::join(lines);
    let total = all.len();
    let mut requests: Vec<Request> = all.into_iter().filter(|r| query.keeps(r)).collect();
    report.found = requests.len();
    if requests.is_empty() {
        report.notice = Some(format!(
            "{total} request{} in the last {}, none with {}. Leave out a filter or look further \
             back with --since.",
            if total == 1 { "" } else { "s" },
            words_duration(query.since),
            query.filters().join(", ")
        ));
        return Ok(report);
    }
    let skip = requests.len().saturating_sub(query.limit.max(1));
    requests.drain(..skip);
    annotate(&client, &mut requests, &pod_ips, &mut report.problems).await;
    report.requests = requests;
    Ok(report)
}

/// A pod's proxy, if it runs one: an `istio-proxy` container, and whether it is a gateway.
fn proxy_of(pod: &Pod) -> Option<ProxyPod> {
    let spec = pod.spec.as_ref()?;
    let container = spec.containers.iter().find(|c| c.name == PROXY_CONTAINER)?;
    let running = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Running");
    if !running {
        return None;
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let gateway = matches!(
        labels.get("istio").map(String::as_str),
        Some("ingressgateway" | "egressgateway")
    ) || container.args.iter().flatten().any(|a| a == "router");
    Some(ProxyPod {
        proxy: ProxyRef {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            pod: pod.metadata.name.clone()?,
            kind: if gateway {
                ProxyKind::Gateway
            } else {
                ProxyKind::Sidecar
            },
        },
    })
}

/// Adds the upstream pods and the matched routes to the requests' hops.
async fn annotate(
    client: &kube::Client,
    requests: &mut [Request],
    pod_ips: &HashMap<String, String>,
    problems: &mut Vec<String>,
) {
    // Only proxies that routed something need their configuration read.
    let routing: BTreeSet<(String, String)> = requests
        .iter()
        .flat_map(Request::all_hops)
        .filter(|h| h.direction != Direction::Inbound)
        .map(|h| (h.proxy.namespace.clone(), h.proxy.pod.clone()))
        .collect();
    let dumps = join_all(routing.iter().map(|(ns, pod)| {
        let client = client.clone();
        async move {
            (
                (ns.clone(), pod.clone()),
                config_dump(&client, ns, pod).await,
            )
        }
    }));
    let (dumps, vss) = futures::join!(dumps, virtual_services(client));
    let mut configs: BTreeMap<(String, String), Value> = BTreeMap::new();
    for (key, dump) in dumps {
        match dump {
            Ok(v) => {
                configs.insert(key, v);
            }
            Err(e) => problems.push(e),
        }
    }
    for request in requests.iter_mut() {
        for root in &mut request.hops {
            root.walk_mut(&mut |hop: &mut Hop| {
                hop.upstream_pod = hop
                    .entry
                    .upstream_host
                    .as_deref()
                    .and_then(|h| h.rsplit_once(':').map(|(ip, _)| ip))
                    .and_then(|ip| pod_ips.get(ip).cloned());
                if hop.direction == Direction::Inbound {
                    return;
                }
                if hop.entry.flags.iter().any(|f| f.code == "NR") {
                    return;
                }
                let key = (hop.proxy.namespace.clone(), hop.proxy.pod.clone());
                if let Some(dump) = configs.get(&key) {
                    match routes::find(dump, &hop.entry, &vss) {
                        Ok(info) => hop.route = Some(info),
                        Err(why) => hop.route_note = Some(why),
                    }
                }
            });
        }
    }
}

/// The proxy's configuration, through `pilot-agent request GET config_dump` in its container.
async fn config_dump(client: &kube::Client, namespace: &str, pod: &str) -> Result<Value, String> {
    let exec = exec::resolve(
        client,
        &PodRef {
            pod: pod.to_owned(),
            namespace: Some(namespace.to_owned()),
            container: Some(PROXY_CONTAINER.to_owned()),
        },
    )
    .await
    .map_err(|e| format!("cannot read the configuration of {pod} ({namespace}): {e}"))?;
    let argv: Vec<String> = ["pilot-agent", "request", "GET", "config_dump"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let out = exec
        .run(&argv)
        .await
        .map_err(|e| format!("cannot read the configuration of {pod} ({namespace}): {e}"))?;
    if out.exit_code != 0 {
        return Err(format!(
            "`pilot-agent request GET config_dump` in {pod} ({namespace}) exited with {}: {}; \
             the route rules of its hops are not shown",
            out.exit_code,
            out.stderr.trim()
        ));
    }
    serde_json::from_str(&out.stdout).map_err(|e| {
        format!("the configuration of {pod} ({namespace}) is not the JSON Envoy writes ({e})")
    })
}

/// Every VirtualService in the cluster (none when Istio's CRDs are missing).
async fn virtual_services(client: &kube::Client) -> VirtualServices {
    for version in ["v1", "v1beta1", "v1alpha3"] {
        let gvk = GroupVersionKind::gvk("networking.istio.io", version, "VirtualService");
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
        if let Ok(list) = api.list(&ListParams::default()).await {
            return VirtualServices(
                list.items
                    .into_iter()
                    .map(|o| {
                        (
                            o.metadata.namespace.clone().unwrap_or_default(),
                            o.metadata.name.clone().unwrap_or_default(),
                            o.data["spec"].clone(),
                        )
                    })
                    .collect(),
            );
        }
    }
    VirtualServices::default()
}

/// `2m`, `90s`, `1h`.
pub fn words_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Parses `30s`, `2m`, `1h`, `1h30m` (a plain number is seconds).
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration: write e.g. 30s, 2m, 1h or 1h30m");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let value: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = total.saturating_add(value.saturating_mul(unit));
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

fn no_proxies(namespace: &str) -> String {
    format!(
        "No proxy to read: no running pod in namespace {namespace} has an {PROXY_CONTAINER} \
         sidecar and no gateway runs in {GATEWAY_NAMESPACE}. Install Istio (`meshwork istioctl \
         install`), label the namespace for injection (`kubectl label namespace {namespace} \
         istio-injection=enabled`) and recreate its pods (`kubectl rollout restart deployment \
         -n {namespace}`), or choose another namespace with --namespace."
    )
}

fn no_lines(kind: TargetKind, report: &Report, namespace: &str) -> String {
    let count = report.proxies.len();
    let mut text = format!(
        "No access log lines from the {count} prox{} in {namespace}{} in the last {}. Send a \
         request through the mesh (e.g. open /productpage through the ingress gateway) and run \
         `meshwork explain` again, or look further back with --since 10m.",
        if count == 1 { "y" } else { "ies" },
        if namespace == GATEWAY_NAMESPACE {
            String::new()
        } else {
            format!(" and {GATEWAY_NAMESPACE}")
        },
        words_duration(Duration::from_secs(report.since_seconds)),
    );
    if kind == TargetKind::Cluster {
        text.push_str(
            " On a live cluster Istio writes access logs only when asked: reinstall with \
             `istioctl install --set meshConfig.accessLogFile=/dev/stdout`, or apply a Telemetry \
             resource named mesh-default in istio-system with \
             `spec: {accessLogging: [{providers: [{name: envoy}]}]}`.",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_and_written_like_kubectl() {
        assert_eq!(parse_since("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_since("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_since("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_since("10s"), Ok(Duration::from_secs(10)));
        for bad in ["", "2 minutes", "m", "5x", "0s", "3m2"] {
            let err = parse_since(bad).unwrap_err();
            assert!(err.contains("write e.g. 30s"), "{bad}: {err}");
        }
        assert_eq!(words_duration(Duration::from_secs(120)), "2m");
        assert_eq!(words_duration(Duration::from_secs(90)), "90s");
        assert_eq!(words_duration(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn a_live_cluster_without_access_logs_is_told_how_to_turn_them_on() {
        let report = Report {
            target: "cluster".into(),
            namespace: "default".into(),
            since_seconds: 120,
            proxies: Vec::new(),
            found: 0,
            requests: Vec::new(),
            notice: None,
            problems: Vec::new(),
        };
        let live = no_lines(TargetKind::Cluster, &report, "default");
        assert!(
            live.contains("meshConfig.accessLogFile=/dev/stdout"),
            "{live}"
        );
        assert!(live.contains("in the last 2m"), "{live}");
        let reference = no_lines(TargetKind::Reference, &report, "default");
        assert!(!reference.contains("accessLogFile"), "{reference}");
        let none = no_proxies("shop");
        assert!(none.contains("istio-injection=enabled"), "{none}");
        assert!(none.contains("namespace shop"), "{none}");
    }
}
