//! `meshwork labs`: the labs with the learner's progress on the chosen target.

use super::{CmdResult, Global, Session};
use std::io::Write;
use std::process::ExitCode;

/// Lists every lab: done marker, number, title, steps done out of all steps.
pub fn run(global: &Global) -> CmdResult {
    let session = Session::open(global)?;
    let mut out = std::io::stdout().lock();
    let width = session
        .course
        .labs
        .iter()
        .map(|lab| lab.label().chars().count())
        .max()
        .unwrap_or(0);
    for lab in &session.course.labs {
        let total = lab.steps.len();
        let done = session
            .progress
            .done_count(&lab.id, lab.steps.iter().map(|s| s.id.as_str()));
        let mark = match done {
            0 => ' ',
            d if d == total => '✔',
            _ => '◐',
        };
        writeln!(out, "{mark} {:<width$}  {done}/{total}", lab.label())?;
    }
    writeln!(
        out,
        "\nTarget: {} (progress in {}). Open a lab with `meshwork`, or `meshwork show LAB`.",
        session.target,
        session.progress.path().display()
    )?;
    Ok(ExitCode::SUCCESS)
}
