//! The subcommands, one module each, and what they share: the global options, opening the
//! course and the progress of the chosen target, exit codes.
//!
//! - [`tui`]: `meshwork` without a subcommand.
//! - [`labs`], [`show`], [`check`], [`hint`], [`progress`]: a learner's commands.
//! - [`explain`]: recent requests hop by hop, from the proxies' access logs.
//! - [`mesh`]: the bundled reference mesh's lifecycle (`up`, `down`, `status`, …).
//! - [`istioctl`]: istioctl's commands for the reference mesh (`install`, `version`, …).
//! - [`lint`], [`lab_test`]: for lab authors.
//! - [`settings`]: what is remembered between runs (the target chosen in the TUI).
//! - [`workshop`]: the folder where the labs' commands run, and carrying out solutions there.
//! - [`completions`], [`bench`]: for the shell and for us.

pub mod bench;
pub mod check;
pub mod completions;
pub mod explain;
pub mod hint;
pub mod istioctl;
pub mod lab_test;
pub mod labs;
pub mod lint;
pub mod mesh;
pub mod progress;
pub mod settings;
pub mod show;
mod spinner;
pub mod tui;
pub mod workshop;

use crate::content;
use anyhow::Context as _;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::target::ClusterTarget;
use meshwork_checks::{Content, Course, Target, TargetSpec};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code: everything passed (or the command simply worked).
pub const EXIT_OK: u8 = 0;
/// Exit code: a check failed, or `lint` found problems.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the command could not run (bad arguments, unknown lab, a check errored, invalid content).
pub const EXIT_COULD_NOT_RUN: u8 = 2;

/// The environment variable naming the default target.
pub const TARGET_ENV: &str = "MESHWORK_TARGET";

/// What a command returns: an exit code, or an error that is printed and exits with 2.
pub type CmdResult = anyhow::Result<ExitCode>;

/// The options every subcommand accepts.
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `--content DIR`.
    pub content: Option<PathBuf>,
    /// `--target`.
    pub target: Option<TargetSpec>,
    /// `--context NAME`.
    pub context: Option<String>,
}

impl Global {
    /// The chosen target: `--context`, else `--target`, else `$MESHWORK_TARGET`, else the
    /// target last chosen in the TUI, else the reference mesh (a live cluster is only ever
    /// used when chosen explicitly). An unreadable settings file is reported and skipped.
    pub fn target(&self) -> anyhow::Result<TargetSpec> {
        if let Some(context) = &self.context {
            return TargetSpec::parse(&format!("cluster:{context}"))
                .map_err(|e| anyhow::anyhow!("--context {context}: {e}"));
        }
        if let Some(target) = &self.target {
            return Ok(target.clone());
        }
        match std::env::var(TARGET_ENV) {
            Ok(value) if !value.trim().is_empty() => TargetSpec::parse(value.trim()).map_err(|e| {
                anyhow::anyhow!("{TARGET_ENV}={value} is not a target: {e}; fix or unset it")
            }),
            _ => match settings::remembered_target() {
                Ok(remembered) => Ok(remembered.unwrap_or(TargetSpec::Reference)),
                Err(e) => {
                    eprintln!(
                        "warning: {e:#}; using the reference mesh. Choose a target with --target \
                         or with `t` in meshwork's terminal UI (that rewrites the file)"
                    );
                    Ok(TargetSpec::Reference)
                }
            },
        }
    }

    /// The course content: `--content DIR` or the built-in copy.
    pub fn content(&self) -> anyhow::Result<Content> {
        content::open(self.content.as_deref())
    }
}

/// A command's view of the world: the validated course, the target and its progress.
pub struct Session {
    /// The course's files.
    pub content: Arc<Content>,
    /// The validated course.
    pub course: Course,
    /// The chosen target.
    pub target: TargetSpec,
    /// The target's progress.
    pub progress: ProgressStore,
    /// Why the progress file had to be set aside, if it did (already printed to stderr).
    pub progress_notice: Option<String>,
}

impl Session {
    /// Reads the content, validates it and opens the target's progress; a progress file that
    /// could not be read is reported on stderr.
    pub fn open(global: &Global) -> anyhow::Result<Self> {
        let target = global.target()?;
        let content = global.content()?;
        let course = content::course(&content)?;
        let (progress, progress_notice) = open_progress(&target)?;
        Ok(Self {
            content: Arc::new(content),
            course,
            target,
            progress,
            progress_notice,
        })
    }
}

/// Opens the progress file of `target`, printing a warning when it had to be moved aside.
pub fn open_progress(target: &TargetSpec) -> anyhow::Result<(ProgressStore, Option<String>)> {
    let path = ProgressStore::default_path(&target.key())
        .context("failed to find where to keep your progress")?;
    let (store, warning) = ProgressStore::open(path);
    if let Some(warning) = &warning {
        eprintln!("warning: {warning}");
    }
    Ok((store, warning))
}

/// Connects to `spec`: a cluster through its kubeconfig context, or the reference mesh,
/// started first when `start_mesh` is set and it does not run. Never fails: a target that
/// cannot be used carries the reason, which every check reports.
pub async fn connect_target(spec: &TargetSpec, start_mesh: bool) -> Arc<dyn Target> {
    match spec {
        TargetSpec::Cluster { context } => Arc::new(ClusterTarget::connect(context.clone()).await),
        TargetSpec::Reference => Arc::new(mesh::reference_target(start_mesh).await),
    }
}

/// A multi-threaded tokio runtime with two workers, for the commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start meshwork's async runtime")
}

/// Turns a command's result into the process exit code; errors go to stderr with code 2.
/// Output cut short by a closed pipe (`meshwork labs | head -1`) is not an error.
pub fn finish(result: CmdResult) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {e:#}");
            ExitCode::from(EXIT_COULD_NOT_RUN)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Resolves `LAB` or `LAB/STEP` with the course's own explanation when it does not exist.
pub fn resolve<'c>(
    course: &'c Course,
    what: &str,
) -> anyhow::Result<(&'c meshwork_checks::Lab, Option<&'c meshwork_checks::Step>)> {
    course
        .resolve(what)
        .map_err(|e| anyhow::anyhow!("{e} (see `meshwork labs`)"))
}

/// `s` when `n` is not one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How to name a lab and step on the command line: `00/cluster`.
pub fn step_ref(lab: &meshwork_checks::Lab, step: &meshwork_checks::Step) -> String {
    format!("{}/{}", lab.id, step.id)
}
