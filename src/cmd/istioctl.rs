//! `meshwork istioctl …`: the istioctl commands the workshop uses, for the reference mesh.
//!
//! On a live cluster learners run the real `istioctl`; these commands refuse a cluster target
//! and say so. On the reference mesh they work with the same words and output shapes:
//! - `install`: applies `manifests/istio/` for a profile ([`profile`]) through the kube crate
//!   ([`apply`]) and waits for the Deployments, component by component;
//! - `version`: client, control plane and data plane versions;
//! - `uninstall --purge` (also `x uninstall --purge`): removes everything `install` creates;
//! - `kube-inject`: manual sidecar injection of manifests ([`kube_inject`]);
//! - `proxy-config` and `proxy-status`: what each pod's Envoy holds ([`proxy_config`],
//!   [`proxy_status`]); these two read Envoy through `pods/exec` and work on a live cluster too;
//! - `analyze`: istioctl's first analyzers (IST0101, IST0102, IST0103) over the kube API
//!   ([`analyze`]), on a live cluster too.

pub mod analyze;
pub mod apply;
pub mod kube_inject;
pub mod profile;
pub mod proxy_config;
pub mod proxy_status;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use meshwork_checks::{Content, TargetSpec};
use meshwork_mesh::workloads::istiod::VERSION;
use serde_json::Value;

use self::apply::Applier;
use self::profile::{Component, Profile};
use super::{CmdResult, EXIT_COULD_NOT_RUN, EXIT_FAILED, Global, runtime};

/// Help text shown after `meshwork istioctl --help`.
pub const HELP: &str = "\
Examples:
  meshwork istioctl install --set profile=demo -y   install Istio (istiod, both gateways)
  meshwork istioctl install                         the default profile, after asking
  kubectl get pods -n istio-system                  see what runs
  meshwork istioctl version                         client, control plane and data plane versions
  meshwork istioctl proxy-status                    every sidecar and gateway, in sync or not
  meshwork istioctl proxy-config clusters POD       what one pod's Envoy holds (also listeners,
                                                    routes, endpoints, secret, bootstrap, all)
  meshwork istioctl analyze -A                      missing subsets, gateways, hosts, sidecars
  meshwork istioctl uninstall --purge -y            remove Istio again

These commands work on the reference mesh. On a live cluster use the real istioctl
(https://istio.io/latest/docs/setup/getting-started/).";

const INSTALL_HELP: &str = "\
Profiles: default (istiod and the ingress gateway), demo (also the egress gateway), minimal
(istiod only). The manifests are meshwork's own, in manifests/istio/ of the course content;
`kubectl apply -f` them works as well.

Examples:
  meshwork istioctl install --set profile=demo -y
  meshwork istioctl install -y --readiness-timeout 2m";

/// The `meshwork istioctl` subcommands.
#[derive(Debug, Subcommand)]
pub enum IstioctlCommand {
    /// Install Istio on the reference mesh: CRDs, istiod, gateways, the sidecar injector
    #[command(after_help = INSTALL_HELP)]
    Install(InstallArgs),
    /// Print the client, control plane and data plane versions
    Version,
    /// Remove Istio from the reference mesh (needs --purge)
    Uninstall(UninstallArgs),
    /// Print manifests with Istio's sidecar injected into their workloads (for `kubectl apply -f -`)
    #[command(after_help = kube_inject::EXAMPLES)]
    KubeInject(kube_inject::KubeInjectArgs),
    /// Show what a pod's Envoy holds: clusters, listeners, routes, endpoints, secrets, bootstrap
    #[command(visible_alias = "pc", after_help = proxy_config::EXAMPLES)]
    ProxyConfig(proxy_config::ProxyConfigArgs),
    /// List the sidecars and gateways with the sync state of each xDS type
    #[command(visible_alias = "ps", after_help = proxy_status::HELP)]
    ProxyStatus(proxy_status::ProxyStatusArgs),
    /// Find problems in the mesh's configuration: missing subsets, gateways, hosts, sidecars
    #[command(after_help = analyze::HELP)]
    Analyze(analyze::AnalyzeArgs),
    /// Experimental commands (`x uninstall`)
    X {
        #[command(subcommand)]
        command: Experimental,
    },
}

/// `meshwork istioctl x …`.
#[derive(Debug, Subcommand)]
pub enum Experimental {
    /// Remove Istio from the reference mesh (same as `istioctl uninstall`)
    Uninstall(UninstallArgs),
}

/// Options of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Choose what to install: `profile=default|demo|minimal`; set mesh config values with
    /// `meshConfig.PATH=VALUE` (e.g. `meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY`)
    #[arg(long, short = 's', value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Do not ask for confirmation
    #[arg(long = "skip-confirmation", short = 'y')]
    pub yes: bool,
    /// How long to wait for each component's Deployments to become available (`300s`, `5m`)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub readiness_timeout: Duration,
}

/// Options of `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Remove every Istio resource, CRDs and `istio-system` included
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation
    #[arg(long = "skip-confirmation", short = 'y')]
    pub yes: bool,
}

/// Reads `300`, `300s`, `5m` or `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 300s or 5m"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("`{text}`: use s, m or h as the unit (300s, 5m)")),
    };
    Ok(Duration::from_secs(seconds))
}

/// Carries out a `meshwork istioctl` subcommand.
pub fn dispatch(global: &Global, command: IstioctlCommand) -> CmdResult {
    let target = global.target()?;
    // Reading a proxy's configuration works the same on a live cluster.
    let command = match command {
        IstioctlCommand::ProxyConfig(args) => {
            return runtime()?.block_on(async {
                proxy_config::run(inspect_client(&target).await?, &args).await
            });
        }
        IstioctlCommand::ProxyStatus(args) => {
            return runtime()?.block_on(async {
                proxy_status::run(inspect_client(&target).await?, &args).await
            });
        }
        IstioctlCommand::Analyze(args) => {
            return runtime()?
                .block_on(async { analyze::run(inspect_client(&target).await?, &args).await });
        }
        other => other,
    };
    if let TargetSpec::Cluster { context } = &target {
        let on = context.as_deref().map_or_else(
            || "the current kubeconfig context".to_owned(),
            |c| format!("context `{c}`"),
        );
        eprintln!(
            "error: `meshwork istioctl` works on the reference mesh only; the target is a live \
             cluster ({on}). There, use the real istioctl, e.g. `istioctl install --set \
             profile=demo -y` (https://istio.io/latest/docs/setup/getting-started/), or choose \
             --target reference."
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    match command {
        IstioctlCommand::Install(args) => install(global, &args),
        IstioctlCommand::Version => version(),
        IstioctlCommand::KubeInject(args) => kube_inject::run(&args),
        IstioctlCommand::ProxyConfig(_)
        | IstioctlCommand::ProxyStatus(_)
        | IstioctlCommand::Analyze(_) => Ok(ExitCode::SUCCESS),
        IstioctlCommand::Uninstall(args)
        | IstioctlCommand::X {
            command: Experimental::Uninstall(args),
        } => uninstall(global, &args),
    }
}

/// Asks `question` on the terminal; `None` when there is no terminal to ask on.
fn confirm(question: &str) -> anyhow::Result<Option<bool>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{question} Proceed? (y/N) ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(Some(matches!(
        answer.trim(),
        "y" | "Y" | "yes" | "Yes" | "YES"
    )))
}

/// A component's objects, read from the course content.
fn objects(content: &Content, component: &Component) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for file in component.files {
        let path = format!("{}/{file}", profile::DIR);
        out.extend(
            meshwork_checks::manifest::objects(content, &path)
                .with_context(|| format!("the install manifest {path} cannot be used"))?,
        );
    }
    Ok(out)
}

/// The reference mesh's client. `install` starts the mesh when it does not run; the other
/// commands have nothing to look at then, and say so.
async fn mesh_client(start: bool) -> anyhow::Result<kube::Client> {
    use meshwork_checks::Target as _;
    if !start {
        let dir = super::mesh::state_dir()?;
        match meshwork_mesh::lifecycle::status(&dir).await? {
            meshwork_mesh::lifecycle::State::Running(_) => {}
            _ => anyhow::bail!(
                "the reference mesh is not running, so there is no Istio to look at; start it \
                 with `meshwork mesh up` (or install Istio with `meshwork istioctl install`)"
            ),
        }
    }
    let target = super::mesh::reference_target(start).await;
    target.client().cloned().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The client of the target to read proxies from: the running reference mesh or the live
/// cluster.
async fn inspect_client(target: &TargetSpec) -> anyhow::Result<kube::Client> {
    use meshwork_checks::Target as _;
    match target {
        TargetSpec::Cluster { context } => {
            let cluster = meshwork_checks::target::ClusterTarget::connect(context.clone()).await;
            cluster
                .client()
                .cloned()
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        _ => mesh_client(false).await,
    }
}

fn install(global: &Global, args: &InstallArgs) -> CmdResult {
    let settings = match profile::settings(&args.set) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
        }
    };
    let profile = settings.profile;
    let content = global.content()?;
    // Read every manifest before touching the mesh, so a broken one changes nothing.
    let mut parts = Vec::new();
    for component in profile.components {
        let mut objects = objects(&content, component)?;
        if component == &profile::CORE
            && let Err(e) = profile::apply_mesh_config(&mut objects, &settings.mesh_config)
        {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
        }
        parts.push((*component, objects));
    }
    let question = format!(
        "This will install the Istio {VERSION} {:?} profile (with components: {}) into the \
         reference mesh.",
        profile.name,
        profile.component_list()
    );
    if !args.yes {
        match confirm(&question)? {
            None => {
                eprintln!(
                    "error: {question} That needs a confirmation and there is no terminal to ask \
                     on; pass -y (--skip-confirmation) to go ahead."
                );
                return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
            }
            Some(false) => {
                println!("Cancelled.");
                return Ok(ExitCode::SUCCESS);
            }
            Some(true) => {}
        }
    }
    let rt = runtime()?;
    rt.block_on(install_parts(profile, &parts, args.readiness_timeout))
}

async fn install_parts(
    profile: Profile,
    parts: &[(Component, Vec<Value>)],
    timeout: Duration,
) -> CmdResult {
    let client = mesh_client(true).await?;
    let mut applier = Applier::new(client);
    let mut spinner = super::spinner::Spinner::new(false);
    let mut failed = Vec::new();
    // Components of one stage (the gateways) are applied together and come up side by side,
    // as istioctl installs them in parallel once istiod is there.
    for stage in parts.chunk_by(|a, b| a.0.stage == b.0.stage) {
        for (component, objects) in stage {
            spinner.tick(&format!("Processing resources for {}.", component.name));
            for obj in objects {
                if let Err(e) = applier.apply(obj).await {
                    spinner.clear();
                    println!("✘ {} encountered an error: {e:#}", component.name);
                    return Err(e.context(format!(
                        "installing the {:?} profile stopped at {}; fix the cause and run the \
                         same command again (it is safe to repeat)",
                        profile.name, component.name
                    )));
                }
            }
        }
        for (component, _) in stage {
            // As in istioctl, the readiness timeout is per component.
            let deadline = Instant::now() + timeout;
            let pending =
                apply::wait_available(&applier, component.deployments, deadline, |what| {
                    spinner.tick(&format!(
                        "Processing resources for {}. Waiting for {what}",
                        component.name
                    ));
                })
                .await?;
            spinner.clear();
            if pending.is_empty() {
                println!("✔ {} installed {}", component.name, component.emoji);
                continue;
            }
            println!(
                "✘ {} encountered an error: failed to wait for resource: resources not ready \
                 after {}: context deadline exceeded",
                component.name,
                go_duration(timeout)
            );
            for (ns, name) in &pending {
                let why = applier
                    .why_not_ready(ns, name)
                    .await
                    .unwrap_or_else(|| "not available".to_owned());
                println!("  Deployment/{ns}/{name} ({why})");
            }
            failed.push(component.name);
        }
    }
    if failed.is_empty() {
        println!("✔ Installation complete");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "✘ Installation incomplete: The following components are not ready: [{}]",
        failed.join(" ")
    );
    eprintln!(
        "hint: see why with `kubectl get pods -n istio-system` and `kubectl describe pod -n \
         istio-system <pod>`; running the install again waits once more"
    );
    Ok(ExitCode::from(EXIT_FAILED))
}

/// A duration as Go prints it (`5m0s`), as istioctl's messages show it.
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

/// The tag of an image (`docker.io/istio/pilot:1.24.0` → `1.24.0`).
fn tag(image: &str) -> &str {
    image
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .map_or("latest", |(_, t)| t)
}

fn version() -> CmdResult {
    println!("client version: {VERSION}");
    let rt = runtime()?;
    rt.block_on(async {
        let client = mesh_client(false).await?;
        let explain = |e: kube::Error| anyhow::anyhow!(meshwork_checks::target::status::explain(&e));
        let running = |p: &Pod| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        };
        let system: Api<Pod> = Api::namespaced(client.clone(), "istio-system");
        let istiods = system
            .list(&ListParams::default().labels("app=istiod"))
            .await
            .map_err(explain)?;
        let mut control: Vec<&str> = istiods
            .items
            .iter()
            .filter(|p| running(p))
            .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter()))
            .filter(|c| c.name == "discovery")
            .filter_map(|c| c.image.as_deref().map(tag))
            .collect();
        control.dedup();
        if control.is_empty() {
            println!(
                "Istio is not present in the cluster: no running Istio pods in namespace \"istio-system\""
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!("control plane version: {}", control.join(", "));
        let all: Api<Pod> = Api::all(client);
        let pods = all.list(&ListParams::default()).await.map_err(explain)?;
        let mut proxies: Vec<String> = Vec::new();
        for p in pods.items.iter().filter(|p| running(p)) {
            let spec = p.spec.iter().flat_map(|s| s.containers.iter());
            if let Some(image) = spec
                .filter(|c| c.name == "istio-proxy")
                .find_map(|c| c.image.as_deref())
            {
                proxies.push(tag(image).to_owned());
            }
        }
        if proxies.is_empty() {
            println!("data plane version: none");
        } else {
            let n = proxies.len();
            proxies.sort();
            proxies.dedup();
            println!(
                "data plane version: {} ({n} prox{})",
                proxies.join(", "),
                if n == 1 { "y" } else { "ies" }
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn uninstall(global: &Global, args: &UninstallArgs) -> CmdResult {
    if !args.purge {
        eprintln!(
            "error: at least one of the --revision (or --set revision=<revision>), --filename or \
             --purge flags must be set; on the reference mesh use --purge, which removes \
             everything `meshwork istioctl install` created"
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    let content = global.content()?;
    let mut all = Vec::new();
    for component in profile::ALL {
        all.extend(objects(&content, component)?);
    }
    if !args.yes {
        match confirm("All Istio resources will be pruned from the reference mesh.")? {
            None => {
                eprintln!(
                    "error: uninstalling Istio needs a confirmation and there is no terminal to \
                     ask on; pass -y (--skip-confirmation) to go ahead."
                );
                return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
            }
            Some(false) => {
                println!("Cancelled.");
                return Ok(ExitCode::SUCCESS);
            }
            Some(true) => {}
        }
    }
    let rt = runtime()?;
    rt.block_on(async {
        let mut applier = Applier::new(mesh_client(false).await?);
        let mut removed = 0;
        // Workloads first, CRDs and the namespace last, as they were created in reverse.
        for obj in all.iter().rev() {
            if applier.delete(obj).await? {
                println!("  Removed {}.", apply::describe(obj));
                removed += 1;
            }
        }
        if removed == 0 {
            println!("Istio is not installed on the reference mesh: nothing to remove.");
        }
        println!("✔ Uninstall complete");
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_istioctl_writes_them() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
    }

    #[test]
    fn image_tags() {
        assert_eq!(tag("docker.io/istio/pilot:1.24.0"), "1.24.0");
        assert_eq!(tag("localhost:5000/istio/pilot"), "latest");
    }
}
