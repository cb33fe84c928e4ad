//! Runs checks: concurrently, each with its own timeout, results reported as they arrive.
//!
//! The TUI consumes [`run_checks`] as a stream (one event per finished check); the CLI
//! collects a whole [`StepReport`] with [`run_step`].

use crate::check::{self, Context, Finding};
use crate::course::{Check, Step};
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// What was expected was found.
    Pass,
    /// Acceptable, with a caveat worth reading (e.g. less memory than Istio recommends).
    Warn,
    /// What was expected was not found.
    Fail,
    /// The check could not run (no cluster, timeout, API error).
    Error,
    /// The check does not apply to this target.
    Skipped,
}

impl Outcome {
    /// Pass, Warn and Skipped do not hold a learner back.
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Warn | Outcome::Skipped)
    }

    /// The symbol shown in text output.
    pub fn symbol(self) -> &'static str {
        match self {
            Outcome::Pass => "✔",
            Outcome::Warn => "!",
            Outcome::Fail => "✘",
            Outcome::Error => "?",
            Outcome::Skipped => "-",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Check id (unique in its step).
    pub id: String,
    /// Check title.
    pub title: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What was expected and what was found, for a learner.
    pub message: String,
    /// The check's own hint, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Unified diff of the learner's object against the reference, on mismatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Time taken.
    #[serde(serialize_with = "millis")]
    #[serde(rename = "elapsed_ms")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// All results of a step, in the step's check order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// One result per check.
    pub results: Vec<CheckResult>,
}

impl StepReport {
    /// Every check passed (warnings and skips allowed) and at least one ran.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.outcome.is_ok())
            && self.results.iter().any(|r| r.outcome != Outcome::Skipped)
    }

    /// Some check could not run at all.
    pub fn has_errors(&self) -> bool {
        self.results.iter().any(|r| r.outcome == Outcome::Error)
    }
}

/// Runs one check with its timeout; never panics, never hangs.
pub async fn run_check(ctx: &Context, check: &Check) -> CheckResult {
    let start = Instant::now();
    let finding = if check.only.is_some_and(|k| k != ctx.target.kind()) {
        Finding {
            outcome: Outcome::Skipped,
            message: format!(
                "only checked on the {} target",
                check.only.map(|k| k.to_string()).unwrap_or_default()
            ),
            diff: None,
        }
    } else {
        match tokio::time::timeout(check.timeout, check::evaluate(ctx, &check.spec)).await {
            Ok(finding) => finding,
            Err(_) => Finding::error(format!(
                "no answer within {:.0?}: the target is slow or unreachable",
                check.timeout
            )),
        }
    };
    let hint = match finding.outcome {
        Outcome::Fail | Outcome::Error => check.hint.clone(),
        _ => None,
    };
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        outcome: finding.outcome,
        message: finding.message,
        hint,
        diff: finding.diff,
        elapsed: start.elapsed(),
    }
}

/// Runs checks concurrently; yields `(index, result)` as each finishes.
pub fn run_checks(
    ctx: Arc<Context>,
    checks: Vec<Check>,
) -> impl Stream<Item = (usize, CheckResult)> + Send + 'static {
    checks
        .into_iter()
        .enumerate()
        .map(|(i, check)| {
            let ctx = Arc::clone(&ctx);
            async move { (i, run_check(&ctx, &check).await) }
        })
        .collect::<FuturesUnordered<_>>()
}

/// Runs all checks of a step and returns the results in step order.
pub async fn run_step(ctx: Arc<Context>, step: &Step) -> StepReport {
    let mut slots: Vec<Option<CheckResult>> = vec![None; step.checks.len()];
    let mut stream = std::pin::pin!(run_checks(ctx, step.checks.clone()));
    while let Some((i, result)) = stream.next().await {
        slots[i] = Some(result);
    }
    StepReport {
        results: slots.into_iter().flatten().collect(),
    }
}
