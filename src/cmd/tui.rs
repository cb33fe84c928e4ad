//! `meshwork` without a subcommand: the terminal UI.

use super::{CmdResult, EXIT_COULD_NOT_RUN, Global, Session, resolve, runtime};
use anyhow::Context as _;
use meshwork_checks::check::Context;
use std::io::{IsTerminal, Write};
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
    let rt = runtime()?;
    rt.block_on(async move {
        let target = super::connect_target(&session.target, true).await;
        let ctx = Arc::new(Context {
            target,
            content: Arc::clone(&session.content),
        });
        meshwork_tui::run(meshwork_tui::Options {
            course: session.course,
            ctx,
            progress: session.progress,
            open,
            notice: session.progress_notice,
        })
        .await
    })
    .context("the terminal UI stopped with an error")?;
    Ok(ExitCode::SUCCESS)
}
