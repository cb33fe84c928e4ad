//! What `meshwork lab test` found: problems with exactly what happened, one lab's outcome, and
//! the closing table.

use meshwork_checks::CheckResult;
use std::fmt::Write as _;
use std::time::Duration;

/// Where in a lab's test something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Carrying out a prerequisite lab's solutions.
    Prerequisites,
    /// A step that checks the learner's machine, run once without a solution.
    Environment,
    /// The step's checks before its solution.
    Before,
    /// Carrying out the solution.
    Solution,
    /// The step's checks after its solution.
    After,
    /// Carrying out the reset.
    Reset,
    /// The step's checks after its reset.
    AfterReset,
    /// The earlier step's checks after this step's reset.
    EarlierAfterReset,
}

impl Phase {
    /// How the phase reads in a report.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Prerequisites => "carrying out the prerequisite labs' solutions",
            Phase::Environment => "checking the machine (no solution)",
            Phase::Before => "before the solution",
            Phase::Solution => "carrying out the solution",
            Phase::After => "after the solution",
            Phase::Reset => "carrying out the reset",
            Phase::AfterReset => "after the reset",
            Phase::EarlierAfterReset => "the earlier step, after this step's reset",
        }
    }
}

/// One thing in a lab that is not as it should be.
#[derive(Debug, Clone)]
pub struct Problem {
    /// `05/all-v1` (or the prerequisite step).
    pub place: String,
    /// When it happened.
    pub phase: Phase,
    /// One line: what is wrong.
    pub summary: String,
    /// The details: the check's message, a command's output.
    pub detail: String,
}

impl Problem {
    /// A problem with a check's result.
    pub fn check(place: &str, phase: Phase, what: &str, result: &CheckResult) -> Self {
        Self {
            place: place.to_string(),
            phase,
            summary: format!(
                "check `{}` ({}) {what}: {} {}",
                result.id,
                result.title,
                result.outcome.symbol(),
                outcome_word(result.outcome)
            ),
            detail: result.message.clone(),
        }
    }

    /// The problem as printed under its step: a line, then the details indented.
    pub fn render(&self) -> String {
        let mut text = format!(
            "    ✘ {} — {}: {}",
            self.place,
            self.phase.describe(),
            self.summary
        );
        for line in self.detail.trim().lines() {
            let _ = write!(text, "\n        {line}");
        }
        text
    }
}

/// `pass`, `fail`, … as a word.
pub fn outcome_word(outcome: meshwork_checks::Outcome) -> &'static str {
    use meshwork_checks::Outcome;
    match outcome {
        Outcome::Pass => "passed",
        Outcome::Warn => "passed with a warning",
        Outcome::Fail => "failed",
        Outcome::Error => "could not run",
        Outcome::Skipped => "skipped",
    }
}

/// How one lab's test ended.
#[derive(Debug, Clone)]
pub struct LabOutcome {
    /// `05 Request routing and canaries`.
    pub label: String,
    /// How long it took, prerequisites and the scratch mesh included.
    pub elapsed: Duration,
    /// What was wrong with the content.
    pub problems: Vec<Problem>,
    /// Why the test could not run (the mesh did not start, …).
    pub error: Option<String>,
}

impl LabOutcome {
    /// The result column of the summary.
    pub fn result(&self) -> String {
        match (&self.error, self.problems.len()) {
            (Some(_), _) => "could not run".into(),
            (None, 0) => "ok".into(),
            (None, 1) => "1 problem".into(),
            (None, n) => format!("{n} problems"),
        }
    }
}

/// `3.1 s`, or `2m 05s` from a minute on.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// The closing table: per lab its result and time, then the total, then every problem again
/// in one line each.
pub fn summary(labs: &[LabOutcome], total: Duration) -> String {
    let width = labs
        .iter()
        .map(|l| l.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut text = String::new();
    let _ = writeln!(text, "{:<width$}  {:<14}  {:>8}", "Lab", "Result", "Time");
    for lab in labs {
        let _ = writeln!(
            text,
            "{:<width$}  {:<14}  {:>8}",
            lab.label,
            lab.result(),
            secs(lab.elapsed)
        );
    }
    let _ = writeln!(text, "{:<width$}  {:<14}  {:>8}", "Total", "", secs(total));
    let problems: Vec<&Problem> = labs.iter().flat_map(|l| &l.problems).collect();
    let errors: Vec<(&str, &str)> = labs
        .iter()
        .filter_map(|l| l.error.as_deref().map(|e| (l.label.as_str(), e)))
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(text, "\nProblems:");
        for p in problems {
            let _ = writeln!(
                text,
                "  {} — {}: {}",
                p.place,
                p.phase.describe(),
                p.summary
            );
        }
    }
    if !errors.is_empty() {
        let _ = writeln!(text, "\nCould not run:");
        for (label, error) in errors {
            let _ = writeln!(text, "  {label}: {error}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_seconds_then_minutes() {
        assert_eq!(secs(Duration::from_millis(3140)), "3.1 s");
        assert_eq!(secs(Duration::from_secs(125)), "2m 05s");
    }

    #[test]
    fn the_summary_lists_each_lab_then_each_problem() {
        let labs = vec![
            LabOutcome {
                label: "00 Prerequisites".into(),
                elapsed: Duration::from_secs(2),
                problems: vec![],
                error: None,
            },
            LabOutcome {
                label: "05 Request routing".into(),
                elapsed: Duration::from_secs(61),
                problems: vec![Problem {
                    place: "05/all-v1".into(),
                    phase: Phase::Before,
                    summary: "check `x` (X) passed".into(),
                    detail: "found it".into(),
                }],
                error: None,
            },
        ];
        let text = summary(&labs, Duration::from_secs(63));
        assert!(text.contains("00 Prerequisites    ok"), "{text}");
        assert!(text.contains("05 Request routing  1 problem"), "{text}");
        assert!(text.contains("Total"), "{text}");
        assert!(text.contains("1m 03s"), "{text}");
        assert!(
            text.contains("  05/all-v1 — before the solution: check `x` (X) passed"),
            "{text}"
        );
    }
}
