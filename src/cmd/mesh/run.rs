//! `meshwork mesh run`: the reference mesh in the foreground, until Ctrl-C or SIGTERM.

use super::RunArgs;
use crate::cmd::{CmdResult, EXIT_COULD_NOT_RUN, runtime};
use anyhow::Context as _;
use meshwork_mesh::lifecycle;
use meshwork_mesh::{MeshConfig, shutdown_signal};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// The environment variable that sets the log level (`error` … `trace`; default `info`).
pub const LOG_ENV: &str = "MESHWORK_LOG";

/// Sends the mesh's `tracing` events to its log file, and to stderr unless `detached`.
fn init_logging(state_dir: &Path, detached: bool) -> anyhow::Result<()> {
    let path = state_dir.join(lifecycle::LOG_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("failed to open the mesh's log {}", path.display()))?;
    let level = std::env::var(LOG_ENV)
        .ok()
        .and_then(|v| tracing::Level::from_str(v.trim()).ok())
        .unwrap_or(tracing::Level::INFO);
    let file = Arc::new(file);
    let builder = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_target(false)
        .with_max_level(level);
    let installed = if detached {
        builder.with_writer(file).try_init()
    } else {
        builder.with_writer(file.and(std::io::stderr)).try_init()
    };
    installed.map_err(|e| anyhow::anyhow!("failed to set up the mesh's logging: {e}"))
}

/// Runs the mesh until Ctrl-C or SIGTERM (what `meshwork mesh down` sends).
pub fn run(args: RunArgs) -> CmdResult {
    let state_dir = match args.state_dir {
        Some(dir) => dir,
        None => super::state_dir()?,
    };
    let Some(_lock) = lifecycle::lock(&state_dir)? else {
        let running = lifecycle::read_server_info(&state_dir)
            .ok()
            .flatten()
            .map(|i| format!(" at {} (pid {})", i.url, i.pid))
            .unwrap_or_default();
        eprintln!(
            "error: a reference mesh already runs for {}{running}; use it, or stop it first with \
             `meshwork mesh down`",
            state_dir.display()
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    };
    init_logging(&state_dir, args.detached)?;
    let port = args.port.or_else(|| lifecycle::choose_port(&state_dir));
    let rt = runtime()?;
    let detached = args.detached;
    let explicit_port = args.port;
    rt.block_on(async move {
        let config = MeshConfig {
            state_dir: state_dir.clone(),
            port,
        };
        let started = match meshwork_mesh::start(config.clone()).await {
            // A port chosen for the learner (not with --port) was taken between choosing and
            // binding: any free port will do.
            Err(meshwork_mesh::Error::Bind { addr, .. })
                if explicit_port.is_none() && config.port.is_some() =>
            {
                tracing::info!("{addr} was taken just now; letting the system choose a port");
                meshwork_mesh::start(MeshConfig { port: None, ..config }).await
            }
            other => other,
        };
        // The error goes to stderr, which is the log file when detached.
        let mesh =
            started.map_err(|e| anyhow::anyhow!("the reference mesh could not start: {e}"))?;
        if let Some(notice) = mesh.notice() {
            tracing::warn!("{notice}");
            if !detached {
                eprintln!("warning: {notice}");
            }
        }
        if let Err(e) = lifecycle::remember_port(&state_dir, mesh.address().port()) {
            tracing::warn!("{e}");
        }
        if !detached {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "The reference mesh is running at {} (Ctrl-C stops it).\nIn another shell: eval \"$(meshwork mesh env)\"; kubectl get nodes",
                mesh.url()
            )?;
            out.flush()?;
        }
        shutdown_signal().await;
        tracing::info!("stopping the reference mesh");
        mesh.shutdown().await;
        tracing::info!("the reference mesh stopped");
        Ok(ExitCode::SUCCESS)
    })
}
