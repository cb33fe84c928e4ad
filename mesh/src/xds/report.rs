//! What istiod tells the learner about xDS, in its log: proxies connecting and leaving,
//! configurations Envoy rejected, translation warnings and malformed Istio resources, each
//! naming the pod or the resource concerned.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use meshwork_pilot::server::{PilotEvent, short_type};
use meshwork_pilot::translate::Warning;
use tokio::sync::broadcast;

/// Where istiod's xDS reports go.
pub trait Reporter: Send + Sync + 'static {
    /// Writes one line to istiod's log (`level`: info/warn/error; `scope`: `ads`, `model` …).
    fn log(&self, level: &str, scope: &str, message: &str);
    /// A proxy opened an ADS stream.
    fn connected(&self) {}
    /// A proxy's ADS stream ended.
    fn disconnected(&self) {}
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
