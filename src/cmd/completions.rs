//! `meshwork completions SHELL`: a completion script for the shell, on stdout.

use super::CmdResult;
use std::process::ExitCode;

/// Writes the completion script of `command` for `shell` to stdout.
pub fn run(shell: clap_complete::Shell, command: &mut clap::Command) -> CmdResult {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, command, "meshwork", &mut buffer);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &buffer)?;
    Ok(ExitCode::SUCCESS)
}
