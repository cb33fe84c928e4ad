//! `meshwork progress [reset [LAB] [--yes]]`: what is done on the chosen target.

use super::{CmdResult, EXIT_FAILED, Global, Session, plural};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Prints every lab with its steps: done or not, hints revealed.
pub fn show(global: &Global) -> CmdResult {
    let session = Session::open(global)?;
    let progress = &session.progress;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Progress on target {} ({})",
        session.target,
        progress.path().display()
    )?;
    let width = session
        .course
        .labs
        .iter()
        .flat_map(|lab| &lab.steps)
        .map(|s| s.id.chars().count())
        .max()
        .unwrap_or(0);
    for lab in &session.course.labs {
        let ids = lab.steps.iter().map(|s| s.id.as_str());
        let done = progress.done_count(&lab.id, ids);
        writeln!(out, "\n{}  {done}/{}", lab.label(), lab.steps.len())?;
        for step in &lab.steps {
            let mark = if progress.is_done(&lab.id, &step.id) {
                '✔'
            } else {
                ' '
            };
            let hints = progress
                .hints_revealed(&lab.id, &step.id)
                .min(step.hints.len());
            let hints = if hints > 0 {
                format!("  ({hints} hint{} revealed)", plural(hints))
            } else {
                String::new()
            };
            writeln!(out, "  {mark} {:<width$}  {}{hints}", step.id, step.title)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Forgets one lab's progress (or all), after asking on a terminal unless `yes`.
pub fn reset(global: &Global, lab_key: Option<&str>, yes: bool) -> CmdResult {
    let mut session = Session::open(global)?;
    let lab = match lab_key {
        Some(key) => Some(
            session
                .course
                .lab(key)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no lab called `{key}` (see `meshwork labs`); nothing was reset"
                    )
                })?
                .clone(),
        ),
        None => None,
    };
    let what = match &lab {
        Some(lab) => format!("your progress in {}", lab.label()),
        None => "your progress in all labs".to_string(),
    };
    let question = format!(
        "Forget {what} on target {} (done steps and revealed hints)?",
        session.target
    );
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "not resetting: this would forget {what} on target {}, and there is no terminal to confirm it. Add --yes to reset without asking",
                session.target
            );
        }
        if !confirm(&question)? {
            eprintln!("Nothing was reset.");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    }
    session
        .progress
        .reset(lab.as_ref().map(|l| l.id.as_str()))?;
    writeln!(
        std::io::stdout().lock(),
        "Reset {what} on target {}.",
        session.target
    )?;
    Ok(ExitCode::SUCCESS)
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
