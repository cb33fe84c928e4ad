//! `meshwork` without a subcommand: the terminal UI, with its target switch (key `t`).

use super::{CmdResult, EXIT_COULD_NOT_RUN, Global, Session, resolve, runtime, settings};
use anyhow::Context as _;
use meshwork_checks::TargetSpec;
use meshwork_checks::check::Context;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::target::cluster::KubeconfigSearch;
use meshwork_checks::target::{ClusterTarget, ReferenceTarget, Target, TargetError};
use meshwork_tui::{Switched, TargetChoice, TargetSwitch, Workshop};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Opens the terminal UI on the chosen target (on `open`, a lab or step, when given); without
/// a terminal, explains and prints `help`.
pub fn run(global: &Global, open: Option<&str>, help: impl FnOnce() -> String) -> CmdResult {
    if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
        eprintln!(
            "meshwork's terminal UI needs a terminal, and this is not one (input or output is redirected).\n\
             Run `meshwork` in a terminal, or use one of the subcommands below.\n"
        );
        std::io::stdout().lock().write_all(help().as_bytes())?;
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    let session = Session::open(global)?;
    if let Some(what) = open {
        resolve(&session.course, what)?;
    }
    let open = open.map(str::to_string);
    // The manifests the labs' commands name, written out once here, not on a key press.
    let (dir, workshop_notice) = match super::workshop::prepare(&session.content, None) {
        Ok(dir) => (Some(dir), None),
        Err(e) => (None, Some(strings_workshop_off(&format!("{e:#}")))),
    };
    let switch = target_switch(
        session.target.clone(),
        &KubeconfigSearch::from_env(),
        dir.clone(),
    );
    let rt = runtime()?;
    rt.block_on(async move {
        let target = super::connect_target(&session.target, true).await;
        let (workshop, runner_notice) = match &dir {
            Some(dir) => learning(&session.target, dir).await,
            None => (None, None),
        };
        let ctx = Arc::new(Context {
            target,
            content: Arc::clone(&session.content),
        });
        let notices: Vec<String> = [session.progress_notice, workshop_notice, runner_notice]
            .into_iter()
            .flatten()
            .collect();
        let options = meshwork_tui::Options {
            course: session.course,
            ctx,
            progress: session.progress,
            open,
            notice: (!notices.is_empty()).then(|| notices.join("\n\n")),
        };
        meshwork_tui::run(options, Some(switch), workshop).await
    })
    .context("the terminal UI stopped with an error")?;
    Ok(ExitCode::SUCCESS)
}

/// Why `a` and `r` are off, for the notice at start.
fn strings_workshop_off(why: &str) -> String {
    format!(
        "Applying solutions and resets (keys a and r) is off for this run: {why}. \
         Everything else works."
    )
}

/// The runner for `a` and `r` on `target` and the second-terminal line, or why there is none.
async fn learning(target: &TargetSpec, dir: &Path) -> (Option<Workshop>, Option<String>) {
    let (target, dir) = (target.clone(), dir.to_path_buf());
    // A named context is narrowed with kubectl (a process): not on the UI's thread.
    let built = tokio::task::spawn_blocking(move || {
        super::workshop::runner(&target, &dir).map(|runner| Workshop {
            second_terminal: super::workshop::second_terminal(&target, &dir),
            runner,
        })
    })
    .await;
    match built {
        Ok(Ok(workshop)) => (Some(workshop), None),
        Ok(Err(e)) => (None, Some(strings_workshop_off(&format!("{e:#}")))),
        Err(e) => (None, Some(strings_workshop_off(&e.to_string()))),
    }
}

/// What the TUI's `t` offers: the reference mesh and every context of the kubeconfig;
/// switching connects without printing (the TUI owns the terminal), prepares `a`/`r` for the
/// new target in the workshop folder `dir`, and remembers the choice.
fn target_switch(
    current: TargetSpec,
    search: &KubeconfigSearch,
    dir: Option<PathBuf>,
) -> TargetSwitch {
    let (clusters, note) = cluster_choices(search);
    let mut choices = vec![TargetChoice::reference()];
    choices.extend(clusters);
    TargetSwitch {
        current,
        choices,
        note,
        connect: Arc::new(move |spec| Box::pin(connect_quietly(spec, dir.clone()))),
        remember: Box::new(|spec| settings::remember_target(spec).map_err(|e| format!("{e:#}"))),
    }
}

/// One choice per kubeconfig context, or why there are none.
fn cluster_choices(search: &KubeconfigSearch) -> (Vec<TargetChoice>, Option<String>) {
    let config = match search.read() {
        Ok(config) => config,
        Err(e) => return (Vec::new(), Some(format!("No cluster to offer: {e}"))),
    };
    let current = config.current_context.as_deref();
    let choices: Vec<TargetChoice> = config
        .contexts
        .iter()
        .map(|named| {
            let context = named.context.as_ref();
            let server = context.and_then(|c| {
                config
                    .clusters
                    .iter()
                    .find(|cl| cl.name == c.cluster)
                    .and_then(|cl| cl.cluster.as_ref())
                    .and_then(|cl| cl.server.clone())
            });
            let is_current = current == Some(named.name.as_str());
            let mut parts = vec![server.unwrap_or_else(|| "no server address".into())];
            if let Some(ns) = context.and_then(|c| c.namespace.as_deref()) {
                parts.push(format!("namespace {ns}"));
            }
            if is_current {
                parts.push("kubectl's current context".into());
            }
            TargetChoice::cluster(&named.name, parts.join(" · "), is_current)
        })
        .collect();
    let note = choices
        .is_empty()
        .then(|| "No cluster to offer: the kubeconfig has no contexts.".to_string());
    (choices, note)
}

/// Connects to `spec` for a switch: starts the reference mesh when needed without writing to
/// the terminal, and opens the target's progress (a problem with it becomes the notice).
async fn connect_quietly(spec: TargetSpec, dir: Option<PathBuf>) -> Switched {
    let target: Arc<dyn Target> = match &spec {
        TargetSpec::Cluster { context } => Arc::new(ClusterTarget::connect(context.clone()).await),
        TargetSpec::Reference => {
            match super::mesh::ensure_running(meshwork_mesh::lifecycle::START_TIMEOUT, true).await {
                Ok(ensured) => Arc::new(ReferenceTarget::connect(&ensured.info().kubeconfig).await),
                Err(e) => Arc::new(ReferenceTarget::from_error(TargetError::MeshUnavailable(
                    format!(
                        "{e:#}. Start it by hand with `meshwork mesh up`, or switch to a cluster"
                    ),
                ))),
            }
        }
    };
    let (progress, notice) = match ProgressStore::default_path(&spec.key()) {
        Ok(path) => ProgressStore::open(path),
        Err(e) => {
            // No data folder: progress goes to a scratch file for this run, and the learner is told.
            let scratch = std::env::temp_dir().join(format!(
                "meshwork-progress-{}-{}.json",
                std::process::id(),
                spec.key()
            ));
            let notice = format!(
                "{e}; progress on {spec} is kept in {} for this run only",
                scratch.display()
            );
            (ProgressStore::open(scratch).0, Some(notice))
        }
    };
    let (workshop, workshop_notice) = match &dir {
        Some(dir) => learning(&spec, dir).await,
        None => (None, None),
    };
    let notice = match (notice, workshop_notice) {
        (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
        (a, b) => a.or(b),
    };
    Switched {
        target,
        progress,
        notice,
        workshop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kubeconfig_context_is_offered_after_the_reference_mesh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n\
             - name: dev\n  cluster: {server: 'https://127.0.0.1:1'}\n\
             - name: prod\n  cluster: {server: 'https://127.0.0.1:2'}\n\
             users:\n- name: u\n  user: {token: t}\ncontexts:\n\
             - name: dev\n  context: {cluster: dev, user: u}\n\
             - name: prod\n  context: {cluster: prod, user: u, namespace: shop}\n",
        )
        .unwrap();
        let search = KubeconfigSearch {
            kubeconfig_env: Some(path.into_os_string()),
            home: None,
        };
        let switch = target_switch(TargetSpec::Reference, &search, None);
        let offered: Vec<(String, String)> = switch
            .choices
            .iter()
            .map(|c| (c.spec.to_string(), c.description.clone()))
            .collect();
        assert_eq!(offered[0].0, "reference");
        assert_eq!(
            offered[1..],
            [
                (
                    "cluster:dev".to_string(),
                    "https://127.0.0.1:1 · kubectl's current context".to_string()
                ),
                (
                    "cluster:prod".to_string(),
                    "https://127.0.0.1:2 · namespace shop".to_string()
                ),
            ]
        );
        assert!(switch.choices[1].kubeconfig_current);
        assert_eq!(switch.note, None);
    }

    #[test]
    fn without_a_kubeconfig_only_the_reference_mesh_is_offered_and_the_picker_says_why() {
        let home = tempfile::tempdir().unwrap();
        let search = KubeconfigSearch {
            kubeconfig_env: None,
            home: Some(home.path().to_path_buf()),
        };
        let switch = target_switch(TargetSpec::Reference, &search, None);
        assert_eq!(switch.choices.len(), 1);
        let note = switch.note.unwrap();
        assert!(
            note.starts_with("No cluster to offer: no Kubernetes cluster is configured"),
            "{note}"
        );
    }
}
