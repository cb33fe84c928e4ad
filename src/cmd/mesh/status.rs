//! `meshwork mesh status`: whether the reference mesh runs, where, since when and what it
//! holds (counted through the kube crate, as the checks see it), and once Istio is installed,
//! its control plane: proxies connected and in sync, and every current problem istiod reports
//! (a rejected configuration, a translation warning, a malformed Istio resource) with the
//! resource it names and what to do — read from istiod's `/debug/problemz` through the API
//! server's pod proxy, as the `istio_config` check reads it.

use crate::cmd::{CmdResult, runtime};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{Api, ListParams};
use meshwork_checks::Target;
use meshwork_checks::check::istio_config::{self, Problem, ProxyCounts};
use meshwork_checks::target::ReferenceTarget;
use meshwork_mesh::lifecycle::{self, ServerInfo, State};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// What the mesh holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Objects {
    namespaces: usize,
    pods: usize,
    pods_running: usize,
    services: usize,
}

/// A Service port a browser on this machine can open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Exposed {
    namespace: String,
    service: String,
    /// The Service's port.
    port: i32,
    /// `http://127.0.0.1:<nodePort>`.
    url: String,
}

/// istiod's view of the mesh's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ControlPlane {
    /// The istiod pod asked.
    istiod: String,
    /// Proxies connected and in sync.
    proxies: ProxyCounts,
    /// Every current problem (empty when all is well).
    problems: Vec<Problem>,
}

/// The `--json` document.
#[derive(Debug, Serialize)]
struct Report {
    /// `running`, `stopped`, `stale` (killed without cleaning up) or `unresponsive`.
    state: &'static str,
    running: bool,
    state_dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubeconfig: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects: Option<Objects>,
    /// Service ports reachable from this machine (NodePort and LoadBalancer Services).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exposed: Vec<Exposed>,
    /// Why the objects could not be counted, or why the mesh does not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// istiod's report, once Istio runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<ControlPlane>,
    /// Why istiod's report could not be read although istiod runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane_problem: Option<String>,
}

impl Report {
    fn new(state: &'static str, state_dir: PathBuf, info: Option<&ServerInfo>) -> Self {
        Self {
            state,
            running: state == "running",
            state_dir,
            pid: info.map(|i| i.pid),
            url: info.map(|i| i.url.clone()),
            kubeconfig: info.map(|i| i.kubeconfig.clone()),
            started_at: info.map(|i| i.started_at.clone()),
            uptime_seconds: info.and_then(ServerInfo::uptime_seconds),
            objects: None,
            exposed: Vec::new(),
            problem: None,
            control_plane: None,
            control_plane_problem: None,
        }
    }
}

/// The NodePort (and LoadBalancer) Service ports, which listen on 127.0.0.1:<nodePort>.
fn exposed(services: &[Service]) -> Vec<Exposed> {
    let mut out = Vec::new();
    for s in services {
        let Some(spec) = &s.spec else { continue };
        if !matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer")) {
            continue;
        }
        for p in spec.ports.iter().flatten() {
            let Some(node_port) = p.node_port else {
                continue;
            };
            out.push(Exposed {
                namespace: s.metadata.namespace.clone().unwrap_or_default(),
                service: s.metadata.name.clone().unwrap_or_default(),
                port: p.port,
                url: format!("http://127.0.0.1:{node_port}"),
            });
        }
    }
    out
}

async fn count(info: &ServerInfo) -> Result<(Objects, Vec<Exposed>), String> {
    let target = ReferenceTarget::connect(&info.kubeconfig).await;
    let client = target.client().map_err(ToString::to_string)?.clone();
    let lp = ListParams::default();
    let why = |what: &str, e: kube::Error| format!("could not list {what}: {e}");
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&lp)
        .await
        .map_err(|e| why("namespaces", e))?;
    let pods = Api::<Pod>::all(client.clone())
        .list(&lp)
        .await
        .map_err(|e| why("pods", e))?;
    let services = Api::<Service>::all(client)
        .list(&lp)
        .await
        .map_err(|e| why("services", e))?;
    let pods_running = pods
        .items
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|phase| phase == "Running")
        })
        .count();
    let objects = Objects {
        namespaces: namespaces.items.len(),
        pods: pods.items.len(),
        pods_running,
        services: services.items.len(),
    };
    Ok((objects, exposed(&services.items)))
}

/// istiod's report: `Ok(None)` when Istio is not running (nothing to report).
async fn control_plane(info: &ServerInfo) -> Result<Option<ControlPlane>, String> {
    let target = ReferenceTarget::connect(&info.kubeconfig).await;
    let client = target.client().map_err(ToString::to_string)?;
    let Ok(istiod) = istio_config::istiod_pod(client).await else {
        return Ok(None);
    };
    let (report, _) = istio_config::read_report(client, &istiod, true).await?;
    Ok(Some(ControlPlane {
        istiod,
        proxies: report.proxies,
        problems: report.problems,
    }))
}

/// What a problem is, in a few words.
fn what(kind: &str) -> &'static str {
    match kind {
        "invalid" => "malformed, ignored by istiod",
        "rejected" => "rejected by Envoy",
        _ => "warning",
    }
}

/// The control plane section of the text output.
fn write_control_plane(out: &mut impl Write, cp: &ControlPlane) -> std::io::Result<()> {
    writeln!(
        out,
        "  istiod      {}: {} connected, {} in sync",
        cp.istiod,
        plural(cp.proxies.connected, "proxy", "proxies"),
        cp.proxies.synced
    )?;
    if cp.problems.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  control plane: {} (istiod keeps serving the rest)",
        plural(cp.problems.len(), "problem", "problems")
    )?;
    for p in &cp.problems {
        writeln!(out, "    {} ({}): {}", p.resource, what(&p.kind), p.message)?;
        if !p.fix.is_empty() {
            writeln!(out, "      fix: {}", p.fix)?;
        }
    }
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Prints the mesh's status as text or JSON. Exit code 0 whether or not it runs.
pub fn run(json: bool) -> CmdResult {
    let state_dir = super::state_dir()?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let state = lifecycle::status(&state_dir).await?;
        let report = match state {
            State::Stopped => Report::new("stopped", state_dir.clone(), None),
            State::Stale(info) => Report::new("stale", state_dir.clone(), Some(&info)),
            State::Unresponsive(info, why) => {
                let mut r = Report::new("unresponsive", state_dir.clone(), Some(&info));
                r.problem = Some(why);
                r
            }
            State::Running(info) => {
                let mut r = Report::new("running", state_dir.clone(), Some(&info));
                match count(&info).await {
                    Ok((o, e)) => {
                        r.objects = Some(o);
                        r.exposed = e;
                    }
                    Err(why) => r.problem = Some(why),
                }
                match control_plane(&info).await {
                    Ok(cp) => r.control_plane = cp,
                    Err(why) => r.control_plane_problem = Some(why),
                }
                r
            }
        };
        anyhow::Ok(report)
    })?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    match report.state {
        "stopped" => writeln!(
            out,
            "The reference mesh is not running. Start it with `meshwork mesh up`.\n  state  {}",
            report.state_dir.display()
        )?,
        "stale" => writeln!(
            out,
            "The reference mesh is not running: it was stopped without cleaning up (pid {} is gone).\n\
             `meshwork mesh up` starts it again with the objects it had.",
            report.pid.unwrap_or_default()
        )?,
        state => {
            if state == "running" {
                writeln!(out, "The reference mesh is running.")?;
            } else {
                writeln!(
                    out,
                    "The reference mesh's process runs but its API does not answer ({}).\n\
                     It may still be starting; otherwise see `meshwork mesh logs`, then `meshwork mesh down` and `meshwork mesh up`.",
                    report.problem.as_deref().unwrap_or("no answer")
                )?;
            }
            writeln!(out, "  pid         {}", report.pid.unwrap_or_default())?;
            writeln!(
                out,
                "  API         {}",
                report.url.as_deref().unwrap_or("?")
            )?;
            if let Some(up) = report.uptime_seconds {
                writeln!(
                    out,
                    "  uptime      {}",
                    meshwork_mesh::meta::human_duration(up)
                )?;
            }
            if let Some(k) = &report.kubeconfig {
                writeln!(out, "  kubeconfig  {}", k.display())?;
            }
            if let Some(o) = report.objects {
                writeln!(
                    out,
                    "  objects     {}, {} ({} running), {}",
                    plural(o.namespaces, "namespace", "namespaces"),
                    plural(o.pods, "pod", "pods"),
                    o.pods_running,
                    plural(o.services, "service", "services"),
                )?;
            } else if state == "running"
                && let Some(problem) = &report.problem
            {
                writeln!(out, "  objects     unknown: {problem}")?;
            }
            for (i, e) in report.exposed.iter().enumerate() {
                let label = if i == 0 { "exposed" } else { "" };
                writeln!(
                    out,
                    "  {label:<10}  {}  (service {}/{} port {})",
                    e.url, e.namespace, e.service, e.port
                )?;
            }
            if let Some(cp) = &report.control_plane {
                write_control_plane(&mut out, cp)?;
            } else if let Some(why) = &report.control_plane_problem {
                writeln!(out, "  istiod      its report could not be read: {why}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cp: &ControlPlane) -> String {
        let mut out = Vec::new();
        write_control_plane(&mut out, cp).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_healthy_control_plane_is_one_line() {
        let cp = ControlPlane {
            istiod: "istiod-abc".into(),
            proxies: ProxyCounts {
                connected: 7,
                synced: 7,
            },
            problems: Vec::new(),
        };
        assert_eq!(
            text(&cp),
            "  istiod      istiod-abc: 7 proxies connected, 7 in sync\n"
        );
    }

    #[test]
    fn problems_name_the_resource_and_the_fix() {
        let cp = ControlPlane {
            istiod: "istiod-abc".into(),
            proxies: ProxyCounts {
                connected: 1,
                synced: 1,
            },
            problems: vec![Problem {
                kind: "invalid".into(),
                resource: "VirtualService default/bad".into(),
                namespace: "default".into(),
                message: "field `spec.hosts`: expected a list".into(),
                fix: "correct the field".into(),
            }],
        };
        assert_eq!(
            text(&cp),
            "  istiod      istiod-abc: 1 proxy connected, 1 in sync\n  \
             control plane: 1 problem (istiod keeps serving the rest)\n    \
             VirtualService default/bad (malformed, ignored by istiod): field `spec.hosts`: expected a list\n      \
             fix: correct the field\n"
        );
    }
}
