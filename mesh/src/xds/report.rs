//! What istiod tells the learner about xDS, in its log: proxies connecting and leaving,
//! configurations Envoy rejected, translation warnings and malformed Istio resources, each
//! naming the pod or the resource concerned; and the same, as it stands now, in a
//! [`ControlPlane`] that istiod's debug endpoints (`/debug/syncz`, `/debug/problemz`) serve.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use meshwork_pilot::AdsServer;
use meshwork_pilot::model::ParseError;
use meshwork_pilot::server::{
    PilotEvent, PilotStatus, ProxyStatus, cluster_type, endpoint_type, listener_type, route_type,
    short_type,
};
use meshwork_pilot::translate::Warning;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::workloads::istiod::VERSION as ISTIO_VERSION;

/// Where istiod's xDS reports go.
pub trait Reporter: Send + Sync + 'static {
    /// Writes one line to istiod's log (`level`: info/warn/error; `scope`: `ads`, `model` …).
    fn log(&self, level: &str, scope: &str, message: &str);
    /// A proxy opened an ADS stream.
    fn connected(&self) {}
    /// A proxy's ADS stream ended.
    fn disconnected(&self) {}
    /// Where the current state is kept for istiod's debug endpoints, if anywhere.
    fn control_plane(&self) -> Option<&ControlPlane> {
        None
    }
}

/// `namespace/pod` of an Istio node id (`sidecar~<ip>~<pod>.<namespace>~<domain>`), else the id.
pub fn pod_of(node: &str) -> String {
    node.split('~')
        .nth(2)
        .and_then(|name| name.rsplit_once('.'))
        .map_or_else(|| node.to_owned(), |(pod, ns)| format!("{ns}/{pod}"))
}

/// What an xDS type is, for a learner.
fn what(type_url: &str) -> String {
    let short = short_type(type_url);
    let words = match short {
        "CDS" => "clusters",
        "EDS" => "endpoints",
        "LDS" => "listeners",
        "RDS" => "routes",
        other => other,
    };
    format!("{words} ({short})")
}

/// The log line for a malformed Istio resource (pilot's parse error names kind, name, field).
pub fn invalid_resource(error: &str) -> String {
    format!(
        "{error}; istiod ignores this resource until it is fixed (kubectl edit, or re-apply a corrected file)"
    )
}

/// The log line for a configuration a proxy rejected.
pub fn rejected(node: &str, type_url: &str, version: &str, message: &str) -> String {
    format!(
        "ADS:{} ACK ERROR {node}: the Envoy of pod {} rejected its {} (version {version}): \
         {message}. It keeps serving its previous configuration; the Istio resource changed \
         last is the likely cause: fix it and apply it again",
        short_type(type_url),
        pod_of(node),
        what(type_url),
    )
}

/// The log line for a translation warning.
pub fn warning(warning: &Warning) -> String {
    format!("{}: {}", warning.resource, warning.message)
}

/// Writes the server's events to `reporter` until the server is gone. Warnings are written
/// once while they last, however many proxies they concern.
pub async fn follow(mut events: broadcast::Receiver<PilotEvent>, reporter: Arc<dyn Reporter>) {
    let mut warnings: BTreeMap<String, BTreeSet<Warning>> = BTreeMap::new();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                reporter.log(
                    "warn",
                    "ads",
                    &format!("{n} xDS events were not logged (too many at once)"),
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        match event {
            PilotEvent::Connected { node } => {
                reporter.connected();
                reporter.log(
                    "info",
                    "ads",
                    &format!(
                        "ADS: new connection for node:{node} (pod {})",
                        pod_of(&node)
                    ),
                );
            }
            PilotEvent::Disconnected { node } => {
                reporter.disconnected();
                reporter.log("info", "ads", &format!("ADS: \"{node}\" terminated"));
            }
            PilotEvent::Acked { .. } => {}
            PilotEvent::Nacked(nack) => reporter.log(
                "warn",
                "ads",
                &rejected(&nack.node, &nack.type_url, &nack.version, &nack.message),
            ),
            PilotEvent::Warnings {
                node,
                warnings: current,
            } => {
                let before: BTreeSet<Warning> = warnings.values().flatten().cloned().collect();
                warnings.insert(node, current.into_iter().collect());
                let after: BTreeSet<&Warning> = warnings.values().flatten().collect();
                for w in after {
                    if !before.contains(w) {
                        reporter.log("warn", "model", &warning(w));
                    }
                }
            }
            PilotEvent::UnknownNode { node } => reporter.log(
                "warn",
                "ads",
                &format!(
                    "ADS: proxy {node} connected, but istiod knows no pod {} running Istio's \
                     proxy with that IP; the connection was refused and Envoy will retry \
                     (is the pod still starting, or was it deleted?)",
                    pod_of(&node)
                ),
            ),
        }
    }
}

/// What istiod knows about the mesh's configuration right now: the ADS server's per-proxy
/// state (sent and acknowledged versions, rejections, translation warnings) and the Istio
/// resources left out as malformed. istiod's debug HTTP serves it as `/debug/syncz` (Istio's
/// shape) and `/debug/problemz` (every current problem, in words that name the resource).
#[derive(Debug, Default)]
pub struct ControlPlane {
    server: Mutex<Option<AdsServer>>,
    invalid: Mutex<Vec<ParseError>>,
}

/// What kind of problem a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An Istio resource istiod could not read; it is left out of every proxy's configuration.
    Invalid,
    /// A configuration a proxy's Envoy rejected (a NACK); it keeps its previous one.
    Rejected,
    /// A translation problem: part of a resource could not be applied as written.
    Warning,
}

/// One thing wrong with the mesh's configuration now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Malformed, rejected or a warning.
    pub kind: ProblemKind,
    /// What it concerns: `VirtualService default/reviews`, or for a rejection the proxy's
    /// configuration (`routes (RDS) of pod default/productpage-v1-…`).
    pub resource: String,
    /// The namespace of that resource (of the proxy, for a rejection).
    pub namespace: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The proxies concerned (`namespace/pod`), for rejections and warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxies: Vec<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.resource, self.message)
    }
}

/// How many proxies are connected and how many hold what istiod sent them last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyCounts {
    /// Proxies with an open ADS stream.
    pub connected: usize,
    /// Of those, the ones that acknowledged every type at its latest version.
    pub synced: usize,
}

/// The document `/debug/problemz` serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problems {
    /// Whether istiod's xDS server runs (false: nothing has been translated yet).
    pub serving: bool,
    /// Proxies connected and in sync.
    pub proxies: ProxyCounts,
    /// Every current problem: malformed resources first, then rejections, then warnings.
    pub problems: Vec<Problem>,
    /// Warnings about the mesh itself rather than a learner's resource (e.g. two services
    /// sharing a TCP port, which pilot-lite routes by port): true, but nothing to fix in the
    /// learner's configuration, so not counted as problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Problem>,
}

/// The `Kind namespace/name` of a resource as pilot names it, split into its namespace.
pub fn namespace_of(resource: &str) -> &str {
    resource
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.split_once('/'))
        .map_or("", |(ns, _)| ns)
}

/// What to do about a translation warning, from what it says.
pub fn fix_for_warning(warning: &Warning) -> String {
    let m = &warning.message;
    if m.contains("is not defined by any DestinationRule") {
        "define that subset in the DestinationRule for the host (or route to a subset that \
         exists), then apply it; `meshwork istioctl analyze` shows the same as IST0101"
            .to_owned()
    } else if m.contains("no service or ServiceEntry named") {
        "correct the host (a Service name, `name.namespace`, or a ServiceEntry host) or create \
         the Service, then apply the resource again"
            .to_owned()
    } else {
        format!(
            "correct {} as the message says and apply it again (kubectl apply -f FILE)",
            warning.resource
        )
    }
}

impl ControlPlane {
    /// Remembers the ADS server whose proxies `/debug/syncz` reports.
    pub fn serving(&self, server: &AdsServer) {
        *self.server.lock().unwrap_or_else(PoisonError::into_inner) = Some(server.clone());
    }

    /// Replaces the list of malformed Istio resources.
    pub fn set_invalid(&self, errors: &[ParseError]) {
        let mut invalid = self.invalid.lock().unwrap_or_else(PoisonError::into_inner);
        invalid.clear();
        invalid.extend_from_slice(errors);
    }

    fn status(&self) -> Option<PilotStatus> {
        self.server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(AdsServer::status)
    }

    /// `/debug/syncz` as istiod serves it: one object per connected proxy with the versions
    /// sent and acknowledged per type, and under `resources` each type's last rejection
    /// (`lastError`). meshwork's pilot names versions by content, so `*_sent` and `*_acked` hold
    /// versions where Istio holds nonces: equal means in sync either way.
    pub fn syncz(&self, namespace: Option<&str>) -> Value {
        let Some(status) = self.status() else {
            return Value::Array(Vec::new());
        };
        let proxies = status
            .proxies
            .iter()
            .filter(|(_, p)| p.connected)
            .filter(|(node, _)| {
                namespace.is_none_or(|ns| pod_of(node).split_once('/').map(|(n, _)| n) == Some(ns))
            })
            .map(|(node, p)| syncz_entry(node, p))
            .collect();
        Value::Array(proxies)
    }

    /// Every current problem and the proxies' sync counts.
    pub fn problems(&self) -> Problems {
        let invalid = self
            .invalid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        problems_of(self.status().as_ref(), &invalid)
    }
}

/// The problems of a server's status (`None`: no xDS server runs) and of the malformed
/// resources.
pub fn problems_of(status: Option<&PilotStatus>, invalid: &[ParseError]) -> Problems {
    let mut out = Problems {
        serving: status.is_some(),
        ..Problems::default()
    };
    for e in invalid {
        out.problems.push(Problem {
            kind: ProblemKind::Invalid,
            resource: format!("{} {}/{}", e.kind, e.namespace, e.name),
            namespace: e.namespace.clone(),
            message: format!("field `{}`: {}", e.field, e.message),
            fix: "istiod ignores this resource until it is fixed: correct the field and \
                      apply it again (kubectl apply -f FILE, or kubectl edit)"
                .to_owned(),
            proxies: Vec::new(),
        });
    }
    let Some(status) = status else {
        return out;
    };
    let mut warnings: BTreeMap<&Warning, Vec<String>> = BTreeMap::new();
    for (node, p) in &status.proxies {
        if !p.connected {
            continue;
        }
        out.proxies.connected += 1;
        if p.synced() && p.nacks.is_empty() {
            out.proxies.synced += 1;
        }
        let pod = pod_of(node);
        for nack in p.nacks.values() {
            out.problems.push(Problem {
                kind: ProblemKind::Rejected,
                resource: format!("{} of pod {pod}", what(&nack.type_url)),
                namespace: pod
                    .split_once('/')
                    .map(|(ns, _)| ns.to_owned())
                    .unwrap_or_default(),
                message: format!(
                    "Envoy rejected version {}: {}; it keeps serving its previous configuration",
                    nack.version, nack.message
                ),
                fix: "the Istio resource changed last is the likely cause: fix it and apply \
                          it again (kubectl logs -n istio-system deploy/istiod shows when it \
                          happened)"
                    .to_owned(),
                proxies: vec![pod.clone()],
            });
        }
        for w in &p.warnings {
            warnings.entry(w).or_default().push(pod.clone());
        }
    }
    for (w, mut proxies) in warnings {
        proxies.sort();
        let namespace = namespace_of(&w.resource);
        let list = if namespace.is_empty() {
            &mut out.notes
        } else {
            &mut out.problems
        };
        list.push(Problem {
            kind: ProblemKind::Warning,
            resource: w.resource.clone(),
            namespace: namespace.to_owned(),
            message: w.message.clone(),
            fix: fix_for_warning(w),
            proxies,
        });
    }
    out
}

/// One proxy of `/debug/syncz`.
pub fn syncz_entry(node: &str, p: &ProxyStatus) -> Value {
    let mut entry = serde_json::Map::new();
    let pod = pod_of(node);
    let id = pod
        .split_once('/')
        .map_or_else(|| node.to_owned(), |(ns, name)| format!("{name}.{ns}"));
    let kind = node.split('~').next().unwrap_or("sidecar");
    entry.insert("cluster_id".into(), json!("Kubernetes"));
    entry.insert("proxy".into(), json!(id));
    entry.insert("proxy_type".into(), json!(kind));
    entry.insert("istio_version".into(), json!(ISTIO_VERSION));
    for (short, field) in [
        ("CDS", "cluster"),
        ("LDS", "listener"),
        ("RDS", "route"),
        ("EDS", "endpoint"),
    ] {
        if let Some(v) = p.sent.get(short) {
            entry.insert(format!("{field}_sent"), json!(v));
        }
        if let Some(v) = p.acked.get(short) {
            entry.insert(format!("{field}_acked"), json!(v));
        }
    }
    let mut resources = serde_json::Map::new();
    let types: BTreeSet<&String> = p.sent.keys().chain(p.nacks.keys()).collect();
    for short in types {
        let url = type_url_of(short);
        let mut r = serde_json::Map::new();
        if let Some(v) = p.sent.get(short) {
            r.insert("sent".into(), json!(v));
        }
        if let Some(v) = p.acked.get(short) {
            r.insert("acked".into(), json!(v));
        }
        if let Some(n) = p.nacks.get(short) {
            r.insert("lastError".into(), json!(n.message));
        }
        resources.insert(url, Value::Object(r));
    }
    entry.insert("resources".into(), Value::Object(resources));
    Value::Object(entry)
}

/// The type URL of a short type name (`CDS` → `type.googleapis.com/envoy.config.cluster.v3.Cluster`).
fn type_url_of(short: &str) -> String {
    match short {
        "CDS" => cluster_type(),
        "EDS" => endpoint_type(),
        "LDS" => listener_type(),
        "RDS" => route_type(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests;
