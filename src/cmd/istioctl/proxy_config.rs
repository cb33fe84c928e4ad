//! `meshwork istioctl proxy-config …`: what a pod's Envoy holds, in istioctl's tables.
//!
//! The Envoy admin answers (`config_dump`, `clusters?format=json`) are fetched by running
//! `pilot-agent request GET …` in the pod's `istio-proxy` container over the Kubernetes API
//! (`pods/exec`), as istioctl does, so this works on either target. The tables are built from
//! those answers ([`tables`]); which DestinationRule or VirtualService made a cluster or a route
//! is read from Envoy's metadata and, when the dump does not carry it, from the Istio objects
//! in the cluster.

pub mod tables;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use meshwork_checks::course::PodRef;
use meshwork_checks::target::exec::{self, ExecError};
use serde_json::Value;

use self::tables::{ConfigSource, Filter};
use crate::cmd::{CmdResult, EXIT_COULD_NOT_RUN};

/// Examples shown after `proxy-config --help`.
pub const EXAMPLES: &str = "\
Examples:
  meshwork istioctl proxy-config clusters productpage-v1-6b746f74dc-9stvs
  meshwork istioctl pc clusters productpage-v1-6b746f74dc-9stvs.default --fqdn reviews
  meshwork istioctl proxy-config routes productpage-v1-6b746f74dc-9stvs --name 9080
  meshwork istioctl proxy-config listeners productpage-v1-6b746f74dc-9stvs --port 9080
  meshwork istioctl proxy-config endpoints productpage-v1-6b746f74dc-9stvs --cluster \"outbound|9080||reviews.default.svc.cluster.local\"
  meshwork istioctl proxy-config secret productpage-v1-6b746f74dc-9stvs
  meshwork istioctl proxy-config all productpage-v1-6b746f74dc-9stvs -o json

The answers come from the pod's Envoy (`pilot-agent request GET config_dump` in its istio-proxy
container). The DESTINATION RULE and VIRTUAL SERVICE columns name the Istio object that applies
to the service, from Envoy's metadata or else from the cluster's Istio objects. `secret` shows
the workload certificate (`default`) and the root (`ROOTCA`) the sidecar got from istiod, with
their serial numbers and validity, and the SPIFFE id the certificate carries.";

/// Which part of Envoy's configuration to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// Clusters (CDS)
    #[value(alias = "cluster", alias = "c")]
    Clusters,
    /// Listeners (LDS)
    #[value(alias = "listener", alias = "l")]
    Listeners,
    /// Route configurations (RDS)
    #[value(alias = "route", alias = "r")]
    Routes,
    /// Endpoints of each cluster (EDS), with their health
    #[value(alias = "endpoint", alias = "ep", alias = "eds")]
    Endpoints,
    /// SDS secrets: the workload certificate and the root
    #[value(alias = "secrets", alias = "s")]
    Secret,
    /// Clusters, listeners, routes, endpoints and secrets
    #[value(alias = "a")]
    All,
    /// Envoy's bootstrap configuration
    #[value(alias = "b")]
    Bootstrap,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables
    Short,
    /// Envoy's JSON
    Json,
    /// Envoy's configuration as YAML
    Yaml,
}

/// Options of `proxy-config`.
#[derive(Debug, Args)]
pub struct ProxyConfigArgs {
    /// What to show
    #[arg(value_enum)]
    pub section: Section,
    /// The pod, as `NAME` or `NAME.NAMESPACE`
    #[arg(value_name = "POD[.NAMESPACE]")]
    pub pod: String,
    /// The pod's namespace (default: the kubeconfig's, `default` on the reference mesh)
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value = "short")]
    pub output: Output,
    /// Only this port (clusters, listeners, endpoints)
    #[arg(long)]
    pub port: Option<u16>,
    /// Only the route configuration of this name (routes)
    #[arg(long)]
    pub name: Option<String>,
    /// Only services whose FQDN contains this (clusters)
    #[arg(long)]
    pub fqdn: Option<String>,
    /// Only this subset (clusters)
    #[arg(long)]
    pub subset: Option<String>,
    /// Only this direction (clusters)
    #[arg(long, value_parser = ["inbound", "outbound"])]
    pub direction: Option<String>,
    /// Only this cluster (endpoints)
    #[arg(long)]
    pub cluster: Option<String>,
    /// Only this address (listeners, endpoints)
    #[arg(long)]
    pub address: Option<String>,
    /// Only endpoints with this status, e.g. HEALTHY (endpoints)
    #[arg(long)]
    pub status: Option<String>,
}

impl ProxyConfigArgs {
    fn filter(&self) -> Filter {
        Filter {
            fqdn: self.fqdn.clone(),
            port: self.port,
            subset: self.subset.clone(),
            direction: self.direction.clone(),
            name: self.name.clone(),
            cluster: self.cluster.clone(),
            address: self.address.clone(),
            status: self.status.clone(),
        }
    }
}

/// A pod's sidecar, ready to be asked.
pub struct Sidecar {
    exec: exec::PodExec,
    /// `name.namespace`.
    pub id: String,
}

/// Why a proxy cannot be asked: what to tell the user.
#[derive(Debug)]
pub struct ProxyError(pub String);

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProxyError {}

/// Splits `name.namespace`; `-n` wins over the default, not over an explicit suffix.
pub fn pod_and_namespace(pod: &str, namespace: Option<&str>, default: &str) -> (String, String) {
    match pod.split_once('.') {
        Some((name, ns)) if !ns.is_empty() => (name.to_owned(), ns.to_owned()),
        _ => (
            pod.trim_end_matches('.').to_owned(),
            namespace.unwrap_or(default).to_owned(),
        ),
    }
}

/// The pod `target` names, as istioctl reads it: `NAME`, `pod/NAME`, or `deployment/NAME`
/// (also `deploy/`), which means the Deployment's first running pod.
async fn workload_pod(
    client: &kube::Client,
    target: &str,
    namespace: &str,
) -> Result<String, ProxyError> {
    let Some((kind, name)) = target.split_once('/') else {
        return Ok(target.to_owned());
    };
    match kind {
        "pod" | "pods" | "po" => Ok(name.to_owned()),
        "deployment" | "deployments" | "deploy" => {
            use k8s_openapi::api::apps::v1::Deployment;
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            let explain = |e: kube::Error| {
                ProxyError(format!(
                    "cannot read deployment {name}.{namespace}: {}",
                    meshwork_checks::target::status::explain(&e)
                ))
            };
            let deployment = deployments
                .get_opt(name)
                .await
                .map_err(explain)?
                .ok_or_else(|| {
                    ProxyError(format!(
                        "deployments.apps \"{name}\" not found in namespace {namespace}; list them \
                     with `kubectl get deployments -n {namespace}`"
                    ))
                })?;
            let selector: Vec<String> = deployment
                .spec
                .and_then(|s| s.selector.match_labels)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
            let list = pods
                .list(&kube::api::ListParams::default().labels(&selector.join(",")))
                .await
                .map_err(explain)?;
            let mut running: Vec<String> = list
                .items
                .into_iter()
                .filter(|p| {
                    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                        && p.metadata.deletion_timestamp.is_none()
                })
                .filter_map(|p| p.metadata.name)
                .collect();
            running.sort();
            running.into_iter().next().ok_or_else(|| {
                ProxyError(format!(
                    "deployment {name}.{namespace} has no running pod; see why with `kubectl \
                     get pods -n {namespace}`"
                ))
            })
        }
        other => Err(ProxyError(format!(
            "{target}: istioctl takes a pod (NAME, pod/NAME) or a deployment \
             (deployment/NAME), not a {other}"
        ))),
    }
}

impl Sidecar {
    /// Finds the pod `name` names (see [`workload_pod`]) in `namespace` and checks it has an
    /// `istio-proxy` container.
    pub async fn find(
        client: &kube::Client,
        name: &str,
        namespace: &str,
    ) -> Result<Self, ProxyError> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let name = &workload_pod(client, name, namespace).await?;
        let pod = pods
            .get_opt(name)
            .await
            .map_err(|e| {
                ProxyError(format!(
                    "cannot read pod {name}.{namespace}: {}",
                    meshwork_checks::target::status::explain(&e)
                ))
            })?
            .ok_or_else(|| {
                ProxyError(format!(
                    "pods \"{name}\" not found in namespace {namespace}; list them with \
                     `kubectl get pods -n {namespace}`"
                ))
            })?;
        let has_proxy = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .any(|c| c.name == "istio-proxy");
        if !has_proxy {
            return Err(ProxyError(format!(
                "pod {name}.{namespace} does not have an istio-proxy container: it is not part \
                 of the mesh. Enable injection (`kubectl label namespace {namespace} \
                 istio-injection=enabled`) and recreate the pod (e.g. `kubectl rollout restart \
                 deployment`)"
            )));
        }
        let exec = exec::resolve(
            client,
            &PodRef {
                pod: name.to_owned(),
                namespace: Some(namespace.to_owned()),
                container: Some("istio-proxy".to_owned()),
            },
        )
        .await
        .map_err(|e| match e {
            ExecError::NoPod(m) | ExecError::Api(m) => ProxyError(m),
        })?;
        Ok(Self {
            exec,
            id: format!("{name}.{namespace}"),
        })
    }

    /// `GET path` on the Envoy admin, through `pilot-agent request` in the pod.
    pub async fn admin(&self, path: &str) -> Result<Value, ProxyError> {
        let argv: Vec<String> = ["pilot-agent", "request", "GET", path]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let out = self.exec.run(&argv).await.map_err(|e| match e {
            ExecError::NoPod(m) | ExecError::Api(m) => ProxyError(m),
        })?;
        if out.exit_code != 0 {
            return Err(ProxyError(format!(
                "failed to execute command on {} sidecar: `pilot-agent request GET {path}` \
                 exited with {}: {}",
                self.id,
                out.exit_code,
                out.stderr.trim()
            )));
        }
        serde_json::from_str(&out.stdout).map_err(|e| {
            ProxyError(format!(
                "the Envoy of {} answered GET {path} with something that is not JSON ({e})",
                self.id
            ))
        })
    }
}

/// DestinationRules and VirtualServices read from the cluster, to name the one that applies.
#[derive(Debug, Default)]
pub struct IstioObjects {
    destination_rules: Vec<(String, String, Value)>,
    virtual_services: Vec<(String, String, Value)>,
}

async fn list_istio(client: &kube::Client, kind: &str) -> Vec<(String, String, Value)> {
    let gvk = GroupVersionKind::gvk("networking.istio.io", "v1", kind);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
    // Without Istio's CRDs there is nothing to name: the columns stay empty.
    let Ok(list) = api.list(&ListParams::default()).await else {
        return Vec::new();
    };
    list.items
        .into_iter()
        .map(|o| {
            (
                o.metadata.name.clone().unwrap_or_default(),
                o.metadata.namespace.clone().unwrap_or_default(),
                o.data["spec"].clone(),
            )
        })
        .collect()
}

/// `host` of an object in `namespace` written as istiod reads it: short names are Services of
/// that namespace.
fn full_host(host: &str, namespace: &str) -> String {
    if host.contains('.') || host.contains('*') {
        host.to_owned()
    } else {
        format!("{host}.{namespace}.svc.cluster.local")
    }
}

fn host_matches(pattern: &str, fqdn: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => fqdn.ends_with(suffix),
        None => pattern == fqdn,
    }
}

impl IstioObjects {
    /// Reads the DestinationRules and VirtualServices of every namespace.
    pub async fn read(client: &kube::Client) -> Self {
        Self {
            destination_rules: list_istio(client, "DestinationRule").await,
            virtual_services: list_istio(client, "VirtualService").await,
        }
    }
}

impl ConfigSource for IstioObjects {
    fn destination_rule(&self, fqdn: &str) -> Option<String> {
        let mut found: Vec<&(String, String, Value)> = self
            .destination_rules
            .iter()
            .filter(|(_, ns, spec)| {
                spec["host"]
                    .as_str()
                    .is_some_and(|h| host_matches(&full_host(h, ns), fqdn))
            })
            .collect();
        // A rule in the service's own namespace comes first, as istiod picks it.
        found.sort_by_key(|(name, ns, _)| (!fqdn.contains(&format!(".{ns}.")), ns, name));
        found.first().map(|(name, ns, _)| format!("{name}.{ns}"))
    }

    fn virtual_service(&self, fqdn: &str, gateway: bool) -> Option<String> {
        self.virtual_services
            .iter()
            .filter(|(_, ns, spec)| {
                let gateways: Vec<&str> = spec["gateways"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let applies = if gateway {
                    gateways.iter().any(|g| *g != "mesh")
                } else {
                    gateways.is_empty() || gateways.contains(&"mesh")
                };
                applies
                    && spec["hosts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .any(|h| gateway || host_matches(&full_host(h, ns), fqdn))
            })
            .map(|(name, ns, _)| format!("{name}.{ns}"))
            .next()
    }
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}

fn print_value(value: &Value, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Yaml => emit(&serde_yaml::to_string(value)?),
        _ => emit(&format!("{}\n", serde_json::to_string_pretty(value)?)),
    }
}

/// Runs `proxy-config` against the cluster `client` talks to.
pub async fn run(client: kube::Client, args: &ProxyConfigArgs) -> CmdResult {
    let (name, namespace) = pod_and_namespace(
        &args.pod,
        args.namespace.as_deref(),
        client.default_namespace(),
    );
    let sidecar = match Sidecar::find(&client, &name, &namespace).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
        }
    };
    match show(&client, &sidecar, args).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_COULD_NOT_RUN))
        }
    }
}

async fn show(
    client: &kube::Client,
    sidecar: &Sidecar,
    args: &ProxyConfigArgs,
) -> anyhow::Result<()> {
    let filter = args.filter();
    let section = args.section;
    let needs_dump = section != Section::Endpoints;
    let needs_clusters = matches!(section, Section::Endpoints | Section::All);
    let dump = if needs_dump {
        sidecar.admin("config_dump").await?
    } else {
        Value::Null
    };
    let clusters = if needs_clusters {
        sidecar.admin("clusters?format=json").await?
    } else {
        Value::Null
    };
    if args.output != Output::Short {
        let value = match section {
            Section::Clusters => Value::from_iter(
                tables::filtered_clusters(&dump, &filter)
                    .into_iter()
                    .cloned(),
            ),
            Section::Listeners => Value::from_iter(
                tables::filtered_listeners(&dump, &filter)
                    .into_iter()
                    .cloned(),
            ),
            Section::Routes => {
                Value::from_iter(tables::filtered_routes(&dump, &filter).into_iter().cloned())
            }
            Section::Endpoints => Value::from_iter(tables::filtered_endpoints(&clusters, &filter)),
            Section::Secret => tables::section(&dump, "Secrets")
                .cloned()
                .unwrap_or(Value::Null),
            Section::Bootstrap => bootstrap(&dump)?,
            Section::All => dump,
        };
        return print_value(&value, args.output);
    }
    let needs_objects = matches!(section, Section::Clusters | Section::Routes | Section::All);
    let objects = if needs_objects {
        IstioObjects::read(client).await
    } else {
        IstioObjects::default()
    };
    let text = match section {
        Section::Clusters => tables::cluster_table(&dump, &filter, &objects),
        Section::Listeners => tables::listener_table(&dump, &filter),
        Section::Routes => tables::route_table(&dump, &filter, &objects),
        Section::Endpoints => tables::endpoint_table(&clusters, &filter),
        Section::Secret => tables::secret_table(&dump),
        Section::Bootstrap => {
            return print_value(&bootstrap(&dump)?, Output::Json);
        }
        Section::All => [
            tables::cluster_table(&dump, &filter, &objects),
            tables::listener_table(&dump, &filter),
            tables::route_table(&dump, &filter, &objects),
            tables::endpoint_table(&clusters, &filter),
            tables::secret_table(&dump),
        ]
        .join("\n"),
    };
    emit(&text)
}

fn bootstrap(dump: &Value) -> anyhow::Result<Value> {
    tables::section(dump, "Bootstrap")
        .cloned()
        .context("Envoy's config_dump has no bootstrap section")
}
