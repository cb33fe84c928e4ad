//! `meshwork check LAB[/STEP]`: runs checks against the target, as text or JSON.
//!
//! A whole lab runs step by step, in order; the checks of one step run concurrently. A step
//! whose checks all pass is recorded as done in the target's progress.

use super::{CmdResult, EXIT_COULD_NOT_RUN, EXIT_FAILED, EXIT_OK, Global, Session, plural};
use super::{resolve, runtime, step_ref};
use meshwork_checks::check::Context;
use meshwork_checks::engine::{self, StepReport};
use meshwork_checks::explain::why;
use meshwork_checks::{CheckResult, Lab, Outcome, Step, TargetSpec};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The `--json` schema version; bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Shown by `meshwork check --help`: exit codes and the JSON schema.
pub const HELP: &str = "\
Exit codes:
  0  every check passed (warnings and skipped checks are fine)
  1  a check failed
  2  the checks could not run: bad arguments, unknown lab or step, invalid content,
     or a check that could not reach its target (the message says why)

A step whose checks all pass is marked done in your progress for the target.

With --json, stdout holds one JSON object (schema_version 1; fields are only ever added):
  schema_version  1
  target          the target as given: \"cluster\" or \"cluster:CONTEXT\"
  target_description  what was used, e.g. \"cluster (context kind-istio)\"
  lab             {id, number, title}
  steps[]         in lab order: {id, title, passed, results[]}
    passed        true when no check failed or errored and at least one ran
    results[]     in the step's order: {id, title, outcome, message, hint?, diff?, why?, elapsed_ms}
      outcome     \"pass\" | \"warn\" | \"fail\" | \"error\" | \"skipped\"
      hint        the check's own hint, present only on fail or error
      diff        unified diff (your object vs the reference), present only when there is one
      why         a failed traffic check's latest request as the proxies saw it (route rule
                  matched, upstream, response flags), when the access logs have it
  summary         {pass, warn, fail, error, skipped}: counts over all results
  exit_code       the process exit code, as above
Errors that stop the command before any check runs go to stderr, with exit code 2.";

/// Runs the checks of `what` (a lab or a step), prints the results and records progress.
pub fn run(global: &Global, what: &str, json: bool) -> CmdResult {
    let mut session = Session::open(global)?;
    let (lab, step) = resolve(&session.course, what)?;
    let lab = lab.clone();
    let steps: Vec<Step> = match step {
        Some(step) => vec![step.clone()],
        None => lab.steps.clone(),
    };
    let target_spec = session.target.clone();
    let rt = runtime()?;
    let target = rt.block_on(super::connect_target(&target_spec, true));
    let description = target.describe();
    let ctx = Arc::new(Context {
        target,
        content: Arc::clone(&session.content),
    });

    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(out, "Checking {} on {description}", lab.label())?;
    }
    let mut reports = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let report = rt.block_on(engine::run_step(Arc::clone(&ctx), step));
        let whys = rt.block_on(whys(&ctx, step, &report));
        if report.passed()
            && let Err(e) = session.progress.mark_done(&lab.id, &step.id)
        {
            eprintln!("warning: {e}; the result was not recorded");
        }
        if !json {
            let number = lab
                .steps
                .iter()
                .position(|s| s.id == step.id)
                .map_or(i + 1, |n| n + 1);
            write_step(&mut out, &lab, step, number, &report, &whys)?;
        }
        reports.push((report, whys));
    }
    drop(rt);
    let checked = reports;
    let reports: Vec<StepReport> = checked.iter().map(|(r, _)| r.clone()).collect();

    let summary = Summary::of(&reports);
    let code = summary.exit_code();
    if json {
        let doc = JsonReport::new(
            &target_spec,
            &description,
            &lab,
            &steps,
            &checked,
            &summary,
            code,
        );
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write_summary(&mut out, &lab, &steps, &reports, &summary, &session)?;
    }
    Ok(ExitCode::from(code))
}

fn indent(text: &str, by: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{by}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// For each result of the step, why a failed traffic check failed: the latest of its
/// requests as the proxies saw it (see [`why::why`]).
async fn whys(ctx: &Context, step: &Step, report: &StepReport) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(report.results.len());
    for result in &report.results {
        let check = step.checks.iter().find(|c| c.id == result.id);
        let why = match check {
            Some(check) if result.outcome == Outcome::Fail => {
                why::why(
                    ctx.target.as_ref(),
                    check,
                    result.elapsed + Duration::from_secs(2),
                )
                .await
            }
            _ => None,
        };
        out.push(why);
    }
    out
}

fn write_step(
    out: &mut impl Write,
    lab: &Lab,
    step: &Step,
    number: usize,
    report: &StepReport,
    whys: &[Option<String>],
) -> std::io::Result<()> {
    writeln!(
        out,
        "\nStep {number}/{} {}: {}",
        lab.steps.len(),
        step.id,
        step.title
    )?;
    for (i, result) in report.results.iter().enumerate() {
        write_result(out, result)?;
        if let Some(why) = whys.get(i).and_then(Option::as_deref) {
            writeln!(out, "{}", indent(why, "      "))?;
        }
    }
    if report.passed() {
        writeln!(out, "  → step done")?;
    }
    Ok(())
}

fn write_result(out: &mut impl Write, r: &CheckResult) -> std::io::Result<()> {
    let mut lines = r.message.trim().lines();
    match lines.next() {
        Some(first) => writeln!(out, "  {} {} — {first}", r.outcome.symbol(), r.title)?,
        None => writeln!(out, "  {} {}", r.outcome.symbol(), r.title)?,
    }
    for line in lines {
        writeln!(out, "      {line}")?;
    }
    if let Some(diff) = &r.diff {
        writeln!(out, "{}", indent(diff, "      "))?;
    }
    if let Some(hint) = &r.hint {
        writeln!(
            out,
            "{}",
            indent(&format!("hint: {}", hint.trim()), "      ")
        )?;
    }
    Ok(())
}

fn write_summary(
    out: &mut impl Write,
    lab: &Lab,
    steps: &[Step],
    reports: &[StepReport],
    summary: &Summary,
    session: &Session,
) -> std::io::Result<()> {
    let done = reports.iter().filter(|r| r.passed()).count();
    let mut parts = vec![format!("{} passed", summary.pass)];
    for (n, what) in [
        (summary.warn, "with a warning"),
        (summary.fail, "failed"),
        (summary.error, "could not run"),
        (summary.skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let total = summary.total();
    writeln!(
        out,
        "\n{total} check{}: {}. {done} of {} step{} done.",
        plural(total),
        parts.join(", "),
        steps.len(),
        plural(steps.len())
    )?;
    let stuck = steps.iter().zip(reports).find(|(_, r)| !r.passed());
    if let Some((step, _)) = stuck
        && !step.hints.is_empty()
    {
        let revealed = session
            .progress
            .hints_revealed(&lab.id, &step.id)
            .min(step.hints.len());
        writeln!(
            out,
            "Stuck? `meshwork hint {}` reveals a hint ({revealed} of {} revealed).",
            step_ref(lab, step),
            step.hints.len()
        )?;
    }
    Ok(())
}

/// Counts of outcomes over all results.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
struct Summary {
    pass: usize,
    warn: usize,
    fail: usize,
    error: usize,
    skipped: usize,
}

impl Summary {
    fn of(reports: &[StepReport]) -> Self {
        let mut s = Self::default();
        for r in reports.iter().flat_map(|r| &r.results) {
            *match r.outcome {
                Outcome::Pass => &mut s.pass,
                Outcome::Warn => &mut s.warn,
                Outcome::Fail => &mut s.fail,
                Outcome::Error => &mut s.error,
                Outcome::Skipped => &mut s.skipped,
            } += 1;
        }
        s
    }

    fn total(&self) -> usize {
        self.pass + self.warn + self.fail + self.error + self.skipped
    }

    /// A check that could not run outranks a failure: the learner must fix the setup first.
    fn exit_code(&self) -> u8 {
        if self.error > 0 {
            EXIT_COULD_NOT_RUN
        } else if self.fail > 0 {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// The `--json` document (see [`HELP`]); written from our own types so the schema stays put
/// when the engine's types change.
#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    target: String,
    target_description: &'a str,
    lab: JsonLab<'a>,
    steps: Vec<JsonStep<'a>>,
    summary: Summary,
    exit_code: u8,
}

#[derive(Serialize)]
struct JsonLab<'a> {
    id: &'a str,
    number: u32,
    title: &'a str,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    id: &'a str,
    title: &'a str,
    passed: bool,
    results: Vec<JsonResult<'a>>,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    id: &'a str,
    title: &'a str,
    outcome: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    elapsed_ms: u64,
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "fail",
        Outcome::Error => "error",
        Outcome::Skipped => "skipped",
    }
}

impl<'a> JsonReport<'a> {
    fn new(
        target: &TargetSpec,
        description: &'a str,
        lab: &'a Lab,
        steps: &'a [Step],
        checked: &'a [(StepReport, Vec<Option<String>>)],
        summary: &Summary,
        exit_code: u8,
    ) -> Self {
        let steps = steps
            .iter()
            .zip(checked)
            .map(|(step, (report, whys))| JsonStep {
                id: &step.id,
                title: &step.title,
                passed: report.passed(),
                results: report
                    .results
                    .iter()
                    .enumerate()
                    .map(|(i, r)| JsonResult {
                        id: &r.id,
                        title: &r.title,
                        outcome: outcome_name(r.outcome),
                        message: &r.message,
                        hint: r.hint.as_deref(),
                        diff: r.diff.as_deref(),
                        why: whys.get(i).and_then(Option::as_deref),
                        elapsed_ms: u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
                    })
                    .collect(),
            })
            .collect();
        Self {
            schema_version: SCHEMA_VERSION,
            target: target.to_string(),
            target_description: description,
            lab: JsonLab {
                id: &lab.id,
                number: lab.number,
                title: &lab.title,
            },
            steps,
            summary: *summary,
            exit_code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(outcome: Outcome) -> CheckResult {
        CheckResult {
            id: "c".into(),
            title: "t".into(),
            outcome,
            message: "m".into(),
            hint: None,
            diff: None,
            elapsed: Duration::from_millis(3),
        }
    }

    fn report(outcomes: &[Outcome]) -> StepReport {
        StepReport {
            results: outcomes.iter().map(|&o| result(o)).collect(),
        }
    }

    #[test]
    fn exit_code_ranks_errors_over_failures_over_passes() {
        use Outcome::*;
        let code = |o: &[Outcome]| Summary::of(&[report(o)]).exit_code();
        assert_eq!(code(&[Pass, Warn, Skipped]), EXIT_OK);
        assert_eq!(code(&[Pass, Fail]), EXIT_FAILED);
        assert_eq!(code(&[Fail, Error]), EXIT_COULD_NOT_RUN);
        assert_eq!(Summary::of(&[report(&[Pass]), report(&[Error])]).error, 1);
    }

    #[test]
    fn results_show_message_diff_and_hint_indented() {
        let mut r = result(Outcome::Fail);
        r.title = "reviews routes to v1".into();
        r.message = "expected subset v1\nfound v2".into();
        r.diff = Some("-  subset: v1\n+  subset: v2\n".into());
        r.hint = Some("Look at the route.".into());
        let mut out = Vec::new();
        write_result(&mut out, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  ✘ reviews routes to v1 — expected subset v1\n      found v2\n      -  subset: v1\n      +  subset: v2\n      hint: Look at the route.\n"
        );
    }
}
