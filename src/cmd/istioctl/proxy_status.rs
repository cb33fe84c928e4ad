//! `meshwork istioctl proxy-status`: one row per sidecar and gateway, with the state of each
//! xDS type.
//!
//! The states come from each Envoy's own `config_dump` (fetched with `pilot-agent request GET
//! config_dump?include_eds` in its istio-proxy container): SYNCED when Envoy holds an accepted
//! configuration of that type, STALE when it holds an update it rejected or resources still
//! warming, NOT SENT when it holds none of that type. istiod's `/debug/syncz` (read through the
//! API server's pod proxy) adds what only istiod knows: a type whose latest push the proxy
//! rejected (a NACK) is STALE, as istioctl shows it, and the rejection's reason is printed
//! under the table.

use std::process::ExitCode;

use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::proxy_config::{Sidecar, tables};
use crate::cmd::{CmdResult, EXIT_COULD_NOT_RUN};

/// Help shown after `proxy-status --help`.
pub const HELP: &str = "\
The states come from each Envoy's config_dump and from istiod's /debug/syncz: SYNCED = Envoy
holds an accepted configuration of that type; STALE = it rejected istiod's latest update (a
NACK; the reason is printed under the table) or holds resources still warming; NOT SENT = it
holds none of that type. istiod's log says more
(`kubectl logs -n istio-system deploy/istiod`).

Examples:
  meshwork istioctl proxy-status
  meshwork istioctl ps -n default";

/// Options of `proxy-status`.
#[derive(Debug, Args)]
pub struct ProxyStatusArgs {
    /// Only the proxies of this namespace
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

/// A type's state as the proxy reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Envoy holds an accepted configuration.
    Synced,
    /// Envoy rejected the latest update or is still warming resources.
    Stale,
    /// Envoy holds nothing of this type.
    NotSent,
}

impl std::fmt::Display for SyncState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Synced => "SYNCED",
            Self::Stale => "STALE",
            Self::NotSent => "NOT SENT",
        })
    }
}

fn has_error(entries: Option<&Value>) -> bool {
    entries
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|e| e["error_state"].is_object())
}

fn nonempty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

/// Envoy accepted an update of the section: it has a version (an empty update counts) or
/// resources.
fn accepted(section: &Value, list: &str) -> bool {
    section["version_info"]
        .as_str()
        .is_some_and(|v| !v.is_empty())
        || nonempty(section.get(list))
}

/// The CDS, LDS, EDS, RDS and ECDS states of one Envoy's `config_dump?include_eds`.
pub fn states(dump: &Value) -> [SyncState; 5] {
    let state = |held: bool, stale: bool| {
        if stale {
            SyncState::Stale
        } else if held {
            SyncState::Synced
        } else {
            SyncState::NotSent
        }
    };
    let clusters = tables::section(dump, "Clusters");
    let listeners = tables::section(dump, "Listeners");
    let routes = tables::section(dump, "Routes");
    let endpoints = tables::section(dump, "Endpoints");
    let ecds = tables::section(dump, "Ecds");
    let cds = state(
        clusters.is_some_and(|c| accepted(c, "dynamic_active_clusters")),
        clusters.is_some_and(|c| {
            has_error(c.get("dynamic_active_clusters"))
                || nonempty(c.get("dynamic_warming_clusters"))
        }),
    );
    let lds = state(
        listeners.is_some_and(|l| accepted(l, "dynamic_listeners")),
        listeners.is_some_and(|l| {
            l["dynamic_listeners"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["error_state"].is_object() || e["warming_state"].is_object())
        }),
    );
    let rds = state(
        routes.is_some_and(|r| nonempty(r.get("dynamic_route_configs"))),
        routes.is_some_and(|r| has_error(r.get("dynamic_route_configs"))),
    );
    // EDS: every EDS cluster should have its endpoints; some without means they are pending.
    let eds_clusters: Vec<&str> = tables::clusters(dump)
        .into_iter()
        .filter(|c| c["type"].as_str() == Some("EDS"))
        .filter_map(|c| c["name"].as_str())
        .collect();
    let with_endpoints: Vec<&str> = endpoints
        .and_then(|e| e["dynamic_endpoint_configs"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e["endpoint_config"]["cluster_name"].as_str())
        .collect();
    let held = eds_clusters
        .iter()
        .filter(|c| with_endpoints.contains(c))
        .count();
    let eds = state(
        held > 0,
        (held > 0 && held < eds_clusters.len())
            || endpoints.is_some_and(|e| has_error(e.get("dynamic_endpoint_configs"))),
    );
    let ecds_state = state(
        ecds.is_some_and(|e| nonempty(e.get("ecds_filters"))),
        ecds.is_some_and(|e| has_error(e.get("ecds_filters"))),
    );
    [cds, lds, eds, rds, ecds_state]
}

/// The column of a type URL (`…Cluster` → 0 for CDS, LDS 1, EDS 2, RDS 3).
fn column(type_url: &str) -> Option<usize> {
    match type_url.rsplit('.').next()? {
        "Cluster" => Some(0),
        "Listener" => Some(1),
        "ClusterLoadAssignment" => Some(2),
        "RouteConfiguration" => Some(3),
        _ => None,
    }
}

/// The rejections of istiod's `/debug/syncz`: proxy id (`POD.NAMESPACE`) → (column, reason).
pub fn rejections(syncz: &Value) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for proxy in syncz.as_array().into_iter().flatten() {
        let Some(id) = proxy["proxy"].as_str() else {
            continue;
        };
        for (type_url, state) in proxy["resources"].as_object().into_iter().flatten() {
            if let (Some(col), Some(error)) = (
                column(type_url),
                state["lastError"].as_str().filter(|e| !e.is_empty()),
            ) {
                out.push((id.to_owned(), col, error.to_owned()));
            }
        }
    }
    out
}

/// The short names of the columns [`column`] numbers.
const TYPES: [&str; 4] = ["CDS", "LDS", "EDS", "RDS"];

fn is_running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && p.metadata.deletion_timestamp.is_none()
}

/// Runs `proxy-status` against the cluster `client` talks to.
pub async fn run(client: kube::Client, args: &ProxyStatusArgs) -> CmdResult {
    let explain = |e: kube::Error| anyhow::anyhow!(meshwork_checks::target::status::explain(&e));
    let pods: Api<Pod> = match &args.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let pods = pods.list(&ListParams::default()).await.map_err(explain)?;
    let system: Api<Pod> = Api::namespaced(client.clone(), "istio-system");
    let istiods: Vec<String> = system
        .list(&ListParams::default().labels("app=istiod"))
        .await
        .map_err(explain)?
        .items
        .iter()
        .filter(|p| is_running(p))
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    if istiods.is_empty() {
        eprintln!(
            "error: Istio is not running: no running istiod pod in namespace istio-system; \
             install it with `meshwork istioctl install`"
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    // With one istiod every proxy is connected to it; with several, Envoy does not say which.
    let istiod = match istiods.as_slice() {
        [one] => one.clone(),
        _ => "-".to_owned(),
    };
    // What istiod knows: rejected pushes. Without it, the table still shows what Envoy holds.
    let mut problems = Vec::new();
    let nacks = match istiods.as_slice() {
        [one] => {
            match meshwork_checks::check::istio_config::istiod_get(&client, one, "/debug/syncz")
                .await
            {
                Ok(text) => serde_json::from_str::<Value>(&text)
                    .map(|v| rejections(&v))
                    .unwrap_or_default(),
                Err(why) => {
                    problems.push(format!("istiod's sync state: {why}"));
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut proxies: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| is_running(p))
        .filter(|p| {
            p.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .any(|c| c.name == "istio-proxy")
        })
        .collect();
    proxies.sort_by_key(|p| (p.metadata.name.clone(), p.metadata.namespace.clone()));
    for pod in proxies {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let image_tag = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .filter(|c| c.name == "istio-proxy")
            .find_map(|c| c.image.as_deref())
            .map(|i| super::tag(i).to_owned())
            .unwrap_or_default();
        let dump = match Sidecar::find(&client, &name, &namespace).await {
            Ok(sidecar) => sidecar.admin("config_dump?include_eds").await,
            Err(e) => Err(e),
        };
        let dump = match dump {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("the proxy {name}.{namespace}: {e}"));
                continue;
            }
        };
        let node =
            tables::section(&dump, "Bootstrap").map_or(&Value::Null, |b| &b["bootstrap"]["node"]);
        let cluster = node["metadata"]["CLUSTER_ID"]
            .as_str()
            .unwrap_or("Kubernetes")
            .to_owned();
        let version = node["metadata"]["ISTIO_VERSION"]
            .as_str()
            .map_or(image_tag, str::to_owned);
        let id = format!("{name}.{namespace}");
        let mut row = vec![id.clone(), cluster];
        let mut held = states(&dump);
        for (proxy, col, reason) in nacks.iter().filter(|(p, _, _)| *p == id) {
            held[*col] = SyncState::Stale;
            rejected.push(format!("{proxy} rejected its {}: {reason}", TYPES[*col]));
        }
        row.extend(held.iter().map(ToString::to_string));
        row.push(istiod.clone());
        row.push(version);
        rows.push(row);
    }
    super::proxy_config::emit(&tables::render(
        &[
            "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION",
        ],
        &rows,
    ))?;
    for r in &rejected {
        eprintln!(
            "warning: {r} (it keeps its previous configuration; fix the Istio resource changed \
             last and apply it again)"
        );
    }
    for p in &problems {
        eprintln!("warning: could not read {p}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dump(warming: bool, route_error: bool) -> Value {
        let eds = |name: &str| json!({"cluster": {"name": name, "type": "EDS"}});
        json!({"configs": [
            {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
             "dynamic_active_clusters": [eds("a"), eds("b")],
             "dynamic_warming_clusters": if warming { json!([eds("c")]) } else { json!([]) }},
            {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
             "dynamic_endpoint_configs": [
                {"endpoint_config": {"cluster_name": "a"}},
                {"endpoint_config": {"cluster_name": "b"}}]},
            {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
             "dynamic_listeners": [{"name": "l", "active_state": {"listener": {}}}]},
            {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
             "dynamic_route_configs": [if route_error {
                json!({"route_config": {"name": "80"}, "error_state": {"details": "bad"}})
             } else {
                json!({"route_config": {"name": "80"}})
             }]}
        ]})
    }

    #[test]
    fn istiods_rejections_name_the_proxy_and_type() {
        let syncz = json!([
            {"proxy": "productpage-v1-abc.default", "resources": {
                "type.googleapis.com/envoy.config.route.v3.RouteConfiguration":
                    {"sent": "b2", "acked": "b1", "lastError": "invalid timeout"},
                "type.googleapis.com/envoy.config.cluster.v3.Cluster": {"sent": "a", "acked": "a"}}},
            {"proxy": "details-v1-x.default", "resources": {}}
        ]);
        assert_eq!(
            rejections(&syncz),
            [(
                "productpage-v1-abc.default".to_owned(),
                3,
                "invalid timeout".to_owned()
            )]
        );
        assert_eq!(TYPES[3], "RDS");
        assert!(rejections(&json!({"not": "a list"})).is_empty());
    }

    #[test]
    fn what_envoy_holds_is_synced_and_rejections_are_stale() {
        use SyncState::*;
        assert_eq!(
            states(&dump(false, false)),
            [Synced, Synced, Synced, Synced, NotSent]
        );
        assert_eq!(states(&dump(true, false))[0], Stale);
        assert_eq!(states(&dump(false, true))[3], Stale);
        assert_eq!(states(&json!({"configs": []})), [NotSent; 5]);
        // A gateway without servers accepted an empty listener update: that is in sync.
        let empty = json!({"configs": [
            {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
             "version_info": "7", "dynamic_listeners": []}]});
        assert_eq!(states(&empty)[1], Synced);
    }
}
