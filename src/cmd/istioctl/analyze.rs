//! `meshwork istioctl analyze`: a first set of istioctl's analyzers, read through the kube API
//! so it works on the reference mesh and on a live cluster alike.
//!
//! Checked: IST0101 (a VirtualService names a subset, gateway or Service host that does not
//! exist), IST0102 (a namespace with pods that is not marked for injection either way) and
//! IST0103 (a pod without `istio-proxy` in a namespace labelled `istio-injection=enabled`).
//! Exit code 79 when an Error is found, as istioctl's `ExitAnalyzerFoundIssues`.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Args;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use crate::cmd::CmdResult;

/// istioctl's exit code when the analyzers found an Error.
pub const EXIT_FOUND_ISSUES: u8 = 79;

/// Help shown after `analyze --help`.
pub const HELP: &str = "\
Checks: IST0101 (a VirtualService's subset, gateway or Service host does not exist), IST0102
(a namespace with pods that is not marked for injection) and IST0103 (a pod without the
sidecar in a namespace labelled istio-injection=enabled). Exit code 79 when an Error is found
(istioctl's code for \"analyzer found issues\"), 0 for warnings and info only.

Examples:
  meshwork istioctl analyze
  meshwork istioctl analyze -n bookinfo
  meshwork istioctl analyze -A";

/// Options of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The namespace to analyze (default: `default`)
    #[arg(long, short = 'n', conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Analyze every namespace
    #[arg(long = "all-namespaces", short = 'A')]
    pub all_namespaces: bool,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The configuration does not work as written.
    Error,
    /// Likely a mistake.
    Warning,
    /// Worth knowing.
    Info,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Self::Error => "Error",
            Self::Warning => "Warning",
            Self::Info => "Info",
        }
    }
}

/// One finding, printed as istioctl prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Error, Warning or Info.
    pub level: Level,
    /// The message code (`IST0101`).
    pub code: &'static str,
    /// The object, as `Kind ns/name` or `Namespace name`.
    pub resource: String,
    /// What is wrong.
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] ({}) {}",
            self.level.word(),
            self.code,
            self.resource,
            self.text
        )
    }
}

/// The objects the analyzers look at.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// VirtualServices (all namespaces).
    pub virtual_services: Vec<DynamicObject>,
    /// DestinationRules (all namespaces).
    pub destination_rules: Vec<DynamicObject>,
    /// Gateways as `ns/name`.
    pub gateways: BTreeSet<String>,
    /// Service hosts as FQDNs (`reviews.default.svc.cluster.local`).
    pub service_hosts: BTreeSet<String>,
    /// Namespaces with their labels.
    pub namespaces: Vec<Namespace>,
    /// Pods (all namespaces).
    pub pods: Vec<Pod>,
}

/// Runs `analyze` against `client`.
pub async fn run(client: kube::Client, args: &AnalyzeArgs) -> CmdResult {
    let scope = if args.all_namespaces {
        None
    } else {
        Some(
            args.namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
        )
    };
    let snapshot = read(&client).await?;
    let findings = analyze(&snapshot, scope.as_deref());
    if findings.is_empty() {
        match &scope {
            Some(ns) => println!("✔ No validation issues found when analyzing namespace: {ns}."),
            None => println!("✔ No validation issues found when analyzing all namespaces."),
        }
        return Ok(ExitCode::SUCCESS);
    }
    for f in &findings {
        println!("{f}");
    }
    if findings.iter().any(|f| f.level == Level::Error) {
        eprintln!("Error: Analyzer found issues.");
        return Ok(ExitCode::from(EXIT_FOUND_ISSUES));
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(e: kube::Error) -> anyhow::Error {
    anyhow::anyhow!(meshwork_checks::target::status::explain(&e))
}

/// Lists an Istio kind everywhere; none when its CRD is not installed.
async fn istio_objects(client: &kube::Client, kind: &str) -> anyhow::Result<Vec<DynamicObject>> {
    let gvk = GroupVersionKind::gvk("networking.istio.io", "v1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        Err(e) => Err(explain(e)),
    }
}

/// Reads every object the analyzers use.
pub async fn read(client: &kube::Client) -> anyhow::Result<Snapshot> {
    let lp = ListParams::default();
    let services: Api<Service> = Api::all(client.clone());
    let service_hosts = services
        .list(&lp)
        .await
        .map_err(explain)?
        .items
        .iter()
        .filter_map(|s| {
            let ns = s.metadata.namespace.as_deref()?;
            let name = s.metadata.name.as_deref()?;
            Some(format!("{name}.{ns}.svc.cluster.local"))
        })
        .collect();
    let gateways = istio_objects(client, "Gateway")
        .await?
        .iter()
        .filter_map(|g| {
            Some(format!(
                "{}/{}",
                g.metadata.namespace.as_deref()?,
                g.metadata.name.as_deref()?
            ))
        })
        .collect();
    Ok(Snapshot {
        virtual_services: istio_objects(client, "VirtualService").await?,
        destination_rules: istio_objects(client, "DestinationRule").await?,
        gateways,
        service_hosts,
        namespaces: Api::<Namespace>::all(client.clone())
            .list(&lp)
            .await
            .map_err(explain)?
            .items,
        pods: Api::<Pod>::all(client.clone())
            .list(&lp)
            .await
            .map_err(explain)?
            .items,
    })
}

/// A host as Istio reads it: a name without dots is short for a Service in `ns`.
fn fqdn(host: &str, ns: &str) -> String {
    if host.contains('.') || host.contains('*') {
        host.to_owned()
    } else {
        format!("{host}.{ns}.svc.cluster.local")
    }
}

fn ns_name(meta: &kube::core::ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or(""),
    )
}

/// Every `host+subset` the DestinationRules define, hosts as FQDNs.
fn subsets(rules: &[DynamicObject]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for dr in rules {
        let (ns, _) = ns_name(&dr.metadata);
        let Some(host) = dr.data["spec"]["host"].as_str() else {
            continue;
        };
        let host = fqdn(host, ns);
        for s in dr.data["spec"]["subsets"].as_array().into_iter().flatten() {
            if let Some(name) = s["name"].as_str() {
                out.insert((host.clone(), name.to_owned()));
            }
        }
    }
    out
}

/// The route destinations of a VirtualService's http, tcp and tls routes.
fn destinations(spec: &Value) -> Vec<&Value> {
    ["http", "tcp", "tls"]
        .iter()
        .flat_map(|kind| spec[kind].as_array().into_iter().flatten())
        .flat_map(|route| route["route"].as_array().into_iter().flatten())
        .map(|r| &r["destination"])
        .filter(|d| d.is_object())
        .collect()
}

/// The findings for `scope` (one namespace, or every namespace when `None`), sorted.
pub fn analyze(snap: &Snapshot, scope: Option<&str>) -> Vec<Finding> {
    let in_scope = |ns: &str| scope.is_none_or(|s| s == ns);
    let mut out = BTreeSet::new();
    let subsets = subsets(&snap.destination_rules);
    for vs in &snap.virtual_services {
        let (ns, name) = ns_name(&vs.metadata);
        if !in_scope(ns) {
            continue;
        }
        let resource = format!("VirtualService {ns}/{name}");
        let mut error = |text: String| {
            out.insert(Finding {
                level: Level::Error,
                code: "IST0101",
                resource: resource.clone(),
                text,
            });
        };
        let spec = &vs.data["spec"];
        for gw in spec["gateways"].as_array().into_iter().flatten() {
            let Some(gw) = gw.as_str() else { continue };
            if gw == "mesh" {
                continue;
            }
            let key = if gw.contains('/') {
                gw.to_owned()
            } else {
                format!("{ns}/{gw}")
            };
            if !snap.gateways.contains(&key) {
                error(format!("Referenced gateway not found: {gw:?}"));
            }
        }
        for dest in destinations(spec) {
            let Some(host) = dest["host"].as_str() else {
                continue;
            };
            let full = fqdn(host, ns);
            // Only cluster Service names are checked; other hosts may come from ServiceEntries.
            if full.ends_with(".svc.cluster.local")
                && !full.contains('*')
                && !snap.service_hosts.contains(&full)
            {
                error(format!("Referenced host not found: {host:?}"));
            }
            if let Some(subset) = dest["subset"].as_str()
                && !subsets.contains(&(full.clone(), subset.to_owned()))
            {
                error(format!(
                    "Referenced host+subset in destinationrule not found: \"{host}+{subset}\""
                ));
            }
        }
    }
    for namespace in &snap.namespaces {
        let name = namespace.metadata.name.as_deref().unwrap_or("");
        if !in_scope(name) {
            continue;
        }
        let labels = namespace.metadata.labels.clone().unwrap_or_default();
        let pods: Vec<&Pod> = snap
            .pods
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(name))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let system = name == "istio-system" || name.starts_with("kube-");
        let marked = labels.contains_key("istio-injection") || labels.contains_key("istio.io/rev");
        if !system && !marked && !pods.is_empty() {
            out.insert(Finding {
                level: Level::Info,
                code: "IST0102",
                resource: format!("Namespace {name}"),
                text: format!(
                    "The namespace is not enabled for Istio injection. Run 'kubectl label \
                     namespace {name} istio-injection=enabled' to enable it, or 'kubectl label \
                     namespace {name} istio-injection=disabled' to mark it as not needing \
                     injection."
                ),
            });
        }
        if labels.get("istio-injection").map(String::as_str) == Some("enabled") {
            for pod in pods {
                let has_proxy = pod
                    .spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .any(|c| c.name == "istio-proxy");
                if !has_proxy {
                    let (ns, pod_name) = ns_name(&pod.metadata);
                    out.insert(Finding {
                        level: Level::Warning,
                        code: "IST0103",
                        resource: format!("Pod {ns}/{pod_name}"),
                        text: format!(
                            "The pod {ns}/{pod_name} is missing the Istio proxy. Restarting or \
                             redeploying the workload usually resolves this (unless it opted \
                             out with sidecar.istio.io/inject: \"false\")."
                        ),
                    });
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, ns: &str, name: &str, spec: Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": kind,
            "metadata": {"namespace": ns, "name": name},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn a_subset_without_a_destination_rule_is_an_error_and_a_defined_one_is_not() {
        let vs = object(
            "VirtualService",
            "default",
            "reviews",
            serde_json::json!({"hosts": ["reviews"], "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}},
                {"destination": {"host": "reviews", "subset": "v9"}}]}]}),
        );
        let dr = object(
            "DestinationRule",
            "default",
            "reviews",
            serde_json::json!({"host": "reviews", "subsets": [{"name": "v1"}]}),
        );
        let snap = Snapshot {
            virtual_services: vec![vs],
            destination_rules: vec![dr],
            service_hosts: ["reviews.default.svc.cluster.local".to_owned()].into(),
            ..Snapshot::default()
        };
        let lines: Vec<String> = analyze(&snap, Some("default"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in \
                 destinationrule not found: \"reviews+v9\""
            ]
        );
        assert!(analyze(&snap, Some("other")).is_empty());
    }

    #[test]
    fn missing_gateways_and_hosts_are_errors_but_mesh_and_external_hosts_are_not() {
        let vs = object(
            "VirtualService",
            "web",
            "front",
            serde_json::json!({"gateways": ["mesh", "nope", "istio-system/gw"],
                "http": [{"route": [{"destination": {"host": "ghost"}},
                                    {"destination": {"host": "example.com"}}]}]}),
        );
        let snap = Snapshot {
            virtual_services: vec![vs],
            gateways: ["istio-system/gw".to_owned()].into(),
            ..Snapshot::default()
        };
        let texts: Vec<String> = analyze(&snap, None).into_iter().map(|f| f.text).collect();
        assert_eq!(
            texts,
            [
                "Referenced gateway not found: \"nope\"",
                "Referenced host not found: \"ghost\""
            ]
        );
    }
}
