//! `meshwork lint [DIR]`: validates course content and names every problem's file and line.

use super::{CmdResult, EXIT_FAILED, Global, plural};
use crate::content;
use meshwork_checks::course::lint::{self, Severity};
use meshwork_checks::course::load;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Loads `dir` (else `--content`, else the built-in content), prints every error and
/// warning, and exits with 1 when there are errors.
pub fn run(global: &Global, dir: Option<&Path>) -> CmdResult {
    let dir = dir.or(global.content.as_deref());
    let content = content::open(dir)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Checking the {}", content.origin())?;
    let course = match load::load(&content) {
        Ok(course) => course,
        Err(errors) => {
            for error in &errors.0 {
                writeln!(out, "error: {error}")?;
            }
            let n = errors.0.len();
            writeln!(
                out,
                "\n{n} problem{} found: fix {} and run `meshwork lint` again.",
                plural(n),
                if n == 1 { "it" } else { "them" }
            )?;
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let issues = lint::lint(&content, &course);
    for issue in &issues {
        writeln!(out, "{issue}")?;
    }
    let errors = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    let warnings = issues.len() - errors;
    let labs = course.labs.len();
    let steps: usize = course.labs.iter().map(|l| l.steps.len()).sum();
    let checks: usize = course
        .labs
        .iter()
        .flat_map(|l| &l.steps)
        .map(|s| s.checks.len())
        .sum();
    let verdict = match (errors, warnings) {
        (0, 0) => "all good".to_string(),
        (0, w) => format!("{w} warning{}", plural(w)),
        (e, 0) => format!("{e} error{}", plural(e)),
        (e, w) => format!("{e} error{}, {w} warning{}", plural(e), plural(w)),
    };
    if !issues.is_empty() {
        writeln!(out)?;
    }
    writeln!(
        out,
        "{labs} lab{}, {steps} step{}, {checks} check{}: {verdict}",
        plural(labs),
        plural(steps),
        plural(checks)
    )?;
    Ok(ExitCode::from(if errors > 0 { EXIT_FAILED } else { 0 }))
}
