//! `meshwork hint LAB/STEP`: reveals hints one at a time and remembers how many.

use super::{CmdResult, Global, Session, plural, resolve, step_ref};
use std::io::Write;
use std::process::ExitCode;

/// Reveals the step's next hint (saved in the target's progress) and prints all revealed ones.
pub fn run(global: &Global, what: &str) -> CmdResult {
    let mut session = Session::open(global)?;
    let (lab, step) = resolve(&session.course, what)?;
    let Some(step) = step else {
        let steps: Vec<String> = lab.steps.iter().map(|s| step_ref(lab, s)).collect();
        anyhow::bail!(
            "`meshwork hint` needs a step, not a whole lab: one of {}",
            steps.join(", ")
        );
    };
    let (lab, step) = (lab.clone(), step.clone());
    let available = step.hints.len();
    let mut out = std::io::stdout().lock();
    if available == 0 {
        writeln!(
            out,
            "Step `{}` has no hints. `meshwork show {}` has the instructions and commands again.",
            step.id,
            step_ref(&lab, &step)
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let before = session
        .progress
        .hints_revealed(&lab.id, &step.id)
        .min(available);
    let revealed = session
        .progress
        .reveal_hint(&lab.id, &step.id, available)?
        .min(available);
    writeln!(out, "Hints for {} — {}:", lab.label(), step.title)?;
    for (i, hint) in step.hints.iter().take(revealed).enumerate() {
        let mut lines = hint.trim().lines();
        writeln!(out, "\n{}. {}", i + 1, lines.next().unwrap_or_default())?;
        for line in lines {
            writeln!(out, "   {line}")?;
        }
    }
    let left = available - revealed;
    writeln!(out)?;
    if before == available {
        writeln!(out, "No hints left: all {available} are shown above.")?;
    } else if left == 0 {
        writeln!(out, "That was the last hint.")?;
    } else {
        writeln!(
            out,
            "{left} more hint{} left: run this command again.",
            plural(left)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
