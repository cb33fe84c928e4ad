//! Runs of a step's checks: starting them, collecting results as they arrive, and what the
//! check pane shows.

use super::{App, Focus, Screen};
use crate::event::Action;
use crate::layout;
use crate::markdown;
use crate::strings;
use crate::text::wrap;
use meshwork_checks::engine::StepReport;
use meshwork_checks::{CheckResult, Outcome};
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use std::time::Duration;

/// Spinner frames, one per tick.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// One check of a run: its title, and its result once it arrived.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The check's title (shown while it runs).
    pub title: String,
    /// The result; `None` while running.
    pub result: Option<CheckResult>,
}

/// How a finished run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed (warnings and skips allowed).
    Passed {
        /// The step was the lab's last.
        last_step: bool,
    },
    /// Some checks failed or could not run.
    Failed {
        /// Checks that failed.
        failed: usize,
        /// Checks that could not run.
        errors: usize,
        /// All checks.
        total: usize,
    },
}

/// The latest run of one step's checks.
#[derive(Debug, Clone)]
pub struct StepChecks {
    /// The run's id; results of other runs are stale.
    pub run: u64,
    /// One per check, in step order.
    pub slots: Vec<Slot>,
    /// Set when every check reported.
    pub verdict: Option<Verdict>,
}

impl StepChecks {
    /// Some check has not reported yet.
    pub fn is_running(&self) -> bool {
        self.verdict.is_none()
    }
}

/// The check pane's content at a width, and which check each line belongs to.
#[derive(Debug, Default)]
pub struct Pane {
    /// The lines.
    pub lines: Vec<Line<'static>>,
    /// For each line, the index of the check it shows.
    pub owners: Vec<Option<usize>>,
}

impl Pane {
    fn push(&mut self, lines: Vec<Line<'static>>, owner: Option<usize>) {
        self.owners.extend(std::iter::repeat_n(owner, lines.len()));
        self.lines.extend(lines);
    }

    /// The first and last line of a check.
    pub fn rows_of(&self, check: usize) -> Option<(usize, usize)> {
        let first = self.owners.iter().position(|o| *o == Some(check))?;
        let last = self.owners.iter().rposition(|o| *o == Some(check))?;
        Some((first, last))
    }
}

/// The style and symbol of an outcome.
pub fn outcome_style(app: &App, outcome: Outcome) -> Style {
    let t = &app.theme;
    match outcome {
        Outcome::Pass => t.ok,
        Outcome::Warn => t.warn,
        Outcome::Fail => t.fail,
        Outcome::Error => t.error,
        Outcome::Skipped => t.dim,
    }
}

/// What the check pane shows for the step on screen.
pub fn pane(app: &App, width: usize) -> Pane {
    let mut pane = Pane::default();
    let Some((view, lab, step)) = app.current() else {
        return pane;
    };
    let t = &app.theme;
    let indent = [Span::raw("  ")];
    let deeper = [Span::raw("    ")];
    match app.checks.get(&(view.lab, view.step)) {
        None => {
            let text = if app.progress.is_done(&lab.id, &step.id) {
                strings::CHECKS_NOT_RUN_DONE
            } else {
                strings::CHECKS_NOT_RUN
            };
            pane.push(wrap(&[Span::styled(text, t.dim)], width, &[], &[]), None);
        }
        Some(run) => {
            for (i, slot) in run.slots.iter().enumerate() {
                let selected = view.focus == Focus::Checks && view.check == i;
                let title_style = if selected { t.selected } else { t.bold };
                let (symbol, symbol_style) = match &slot.result {
                    None => (
                        SPINNER[usize::try_from(app.tick % 10).unwrap_or(0)],
                        t.running,
                    ),
                    Some(r) => (r.outcome.symbol(), outcome_style(app, r.outcome)),
                };
                let first = [
                    Span::styled(symbol.to_string(), symbol_style),
                    Span::raw(" "),
                ];
                let mut spans = vec![Span::styled(slot.title.clone(), title_style)];
                // Short news on the title's line; what needs reading on lines of its own.
                let below = match &slot.result {
                    None => {
                        spans.push(Span::styled(format!(" · {}", strings::RUNNING), t.dim));
                        None
                    }
                    Some(r) if matches!(r.outcome, Outcome::Pass | Outcome::Skipped) => {
                        if !r.message.is_empty() {
                            spans.push(Span::styled(format!(" · {}", r.message), t.dim));
                        }
                        None
                    }
                    Some(r) => Some(r.message.trim().to_string()).filter(|m| !m.is_empty()),
                };
                pane.push(wrap(&spans, width, &first, &indent), Some(i));
                if let Some(message) = below {
                    pane.push(
                        wrap(&[Span::raw(message)], width, &indent, &indent),
                        Some(i),
                    );
                }
                if let Some(r) = &slot.result {
                    if let Some(hint) = &r.hint {
                        let mut spans = vec![Span::styled("hint: ", t.hint.bold())];
                        spans.extend(markdown::inline(hint, t.hint, t));
                        pane.push(wrap(&spans, width, &indent, &deeper), Some(i));
                    }
                    if r.diff.is_some() && !r.outcome.is_ok() {
                        let spans = [
                            Span::styled("[d]", t.key),
                            Span::styled(" show what differs", t.dim),
                        ];
                        pane.push(wrap(&spans, width, &indent, &deeper), Some(i));
                    }
                    let traffic = step
                        .checks
                        .get(i)
                        .is_some_and(super::explain::checks_traffic);
                    if traffic && !r.outcome.is_ok() {
                        let (before, key, after) = strings::EXPLAIN_FAILED_CHECK;
                        let spans = [
                            Span::styled(before, t.dim),
                            Span::styled(key, t.key),
                            Span::styled(after, t.dim),
                        ];
                        pane.push(wrap(&spans, width, &indent, &deeper), Some(i));
                    }
                }
            }
            if let Some(verdict) = &run.verdict {
                let (text, style) = match verdict {
                    Verdict::Passed { last_step } => {
                        (strings::step_passed(*last_step).to_string(), t.ok.bold())
                    }
                    Verdict::Failed {
                        failed,
                        errors,
                        total,
                    } => (strings::step_failed(*failed, *errors, *total), t.fail),
                };
                pane.push(wrap(&[Span::styled(text, style)], width, &[], &[]), None);
            }
        }
    }
    let revealed = app
        .progress
        .hints_revealed(&lab.id, &step.id)
        .min(step.hints.len());
    for (i, hint) in step.hints.iter().take(revealed).enumerate() {
        let label = strings::hint_label(i + 1, step.hints.len());
        let mut spans = vec![Span::styled(label, t.hint.bold())];
        spans.extend(markdown::inline(hint, t.hint, t));
        pane.push(wrap(&spans, width, &[], &indent), None);
    }
    pane
}

impl App {
    /// Starts a run of the current step's checks, unless one is going.
    pub(super) fn run_checks(&mut self) -> Option<Action> {
        let (view, _, _) = self.current()?;
        let key = (view.lab, view.step);
        if self.checks.get(&key).is_some_and(StepChecks::is_running) {
            self.set_status(strings::CHECKS_ALREADY_RUNNING, false);
            return None;
        }
        self.run_checks_at(key.0, key.1)
    }

    /// Starts a run of step `step` of lab `lab`'s checks; a run of them still going is
    /// superseded (its results are dropped).
    pub(super) fn run_checks_at(&mut self, lab: usize, step: usize) -> Option<Action> {
        let key = (lab, step);
        let (_, step) = self.lab_step(lab, step)?;
        let checks = step.checks.clone();
        let run = self.next_run;
        self.next_run += 1;
        let slots = checks
            .iter()
            .map(|c| Slot {
                title: c.title.clone(),
                result: None,
            })
            .collect();
        self.checks.insert(
            key,
            StepChecks {
                run,
                slots,
                verdict: None,
            },
        );
        let on_screen = matches!(&self.screen, Screen::Lab(v) if (v.lab, v.step) == key);
        if on_screen && let Some(v) = self.view_mut() {
            v.check = 0;
            v.check_scroll = 0;
        }
        self.dirty = true;
        Some(Action::RunChecks { run, checks })
    }

    fn find_run(&mut self, run: u64) -> Option<((usize, usize), &mut StepChecks)> {
        self.checks
            .iter_mut()
            .find(|(_, c)| c.run == run)
            .map(|(k, c)| (*k, c))
    }

    pub(super) fn check_result(&mut self, run: u64, index: usize, result: CheckResult) {
        let Some((key, checks)) = self.find_run(run) else {
            return;
        };
        if let Some(slot) = checks.slots.get_mut(index) {
            slot.result = Some(result);
        }
        let complete = checks.slots.iter().all(|s| s.result.is_some());
        self.dirty = true;
        if complete {
            self.finish_run(key);
        }
    }

    pub(super) fn checks_stopped(&mut self, run: u64, reason: &str) {
        let Some((key, checks)) = self.find_run(run) else {
            return;
        };
        if checks.verdict.is_some() {
            return;
        }
        for slot in &mut checks.slots {
            if slot.result.is_none() {
                slot.result = Some(CheckResult {
                    id: String::new(),
                    title: slot.title.clone(),
                    outcome: Outcome::Error,
                    message: strings::check_lost(reason),
                    hint: None,
                    diff: None,
                    elapsed: Duration::ZERO,
                });
            }
        }
        self.dirty = true;
        self.finish_run(key);
    }

    fn finish_run(&mut self, key: (usize, usize)) {
        let Some(checks) = self.checks.get(&key) else {
            return;
        };
        let report = StepReport {
            results: checks
                .slots
                .iter()
                .filter_map(|s| s.result.clone())
                .collect(),
        };
        let total = report.results.len();
        let count = |o: Outcome| report.results.iter().filter(|r| r.outcome == o).count();
        let first_problem = report.results.iter().position(|r| !r.outcome.is_ok());
        let verdict = if report.passed() {
            let Some((lab, step)) = self.lab_step(key.0, key.1) else {
                return;
            };
            let last_step = key.1 + 1 == lab.steps.len();
            let (lab_id, step_id) = (lab.id.clone(), step.id.clone());
            let was_complete = self.lab_complete(key.0);
            match self.progress.mark_done(&lab_id, &step_id) {
                Ok(()) => self.set_status(strings::step_saved(last_step), false),
                Err(e) => self.set_status(strings::save_failed(&e), true),
            }
            let on_screen = matches!(&self.screen, Screen::Lab(v) if v.lab == key.0);
            if on_screen && !was_complete && self.lab_complete(key.0) {
                self.open_complete(key.0);
            }
            Verdict::Passed { last_step }
        } else {
            Verdict::Failed {
                failed: count(Outcome::Fail),
                errors: count(Outcome::Error),
                total,
            }
        };
        if let Some(c) = self.checks.get_mut(&key) {
            c.verdict = Some(verdict);
        }
        // Point at the first problem, so `d` and the hint below it are at hand.
        let on_screen = matches!(&self.screen, Screen::Lab(v) if (v.lab, v.step) == key);
        if on_screen && let Some(i) = first_problem {
            if let Some(v) = self.view_mut() {
                v.check = i;
            }
            self.check_pane_follow_selection();
        }
    }

    fn check_pane_rows(&self) -> (Pane, usize, Rect) {
        let pane = pane(self, self.check_pane_width());
        let area = layout::lab(self.area, pane.lines.len()).checks;
        let height = usize::from(layout::padded_inner(area).height);
        (pane, height, area)
    }

    /// Scrolls the check pane so the selected check is visible.
    pub(super) fn check_pane_follow_selection(&mut self) {
        let Some((view, _, _)) = self.current() else {
            return;
        };
        let selected = view.check;
        let (pane, height, _) = self.check_pane_rows();
        let Some((first, last)) = pane.rows_of(selected) else {
            return;
        };
        let max = pane.lines.len().saturating_sub(height);
        if let Some(v) = self.view_mut() {
            if first < v.check_scroll {
                v.check_scroll = first;
            } else if last >= v.check_scroll + height {
                v.check_scroll = (last + 1).saturating_sub(height).min(first);
            }
            v.check_scroll = v.check_scroll.min(max);
        }
    }

    /// Scrolls the check pane to its end (where hints appear).
    pub(super) fn check_pane_to_bottom(&mut self) {
        let (pane, height, _) = self.check_pane_rows();
        if let Some(v) = self.view_mut() {
            v.check_scroll = pane.lines.len().saturating_sub(height);
        }
    }

    pub(super) fn scroll_check_pane(&mut self, delta: isize) {
        let (pane, height, _) = self.check_pane_rows();
        if let Some(v) = self.view_mut() {
            let max = pane.lines.len().saturating_sub(height);
            v.check_scroll = v.check_scroll.saturating_add_signed(delta).min(max);
        }
    }

    pub(super) fn click_check(&mut self, at: Position, area: Rect) {
        let inner = layout::padded_inner(area);
        if !inner.contains(at) {
            return;
        }
        let (pane, _, _) = self.check_pane_rows();
        let Some(v) = self.view_mut() else {
            return;
        };
        let row = v.check_scroll + usize::from(at.y - inner.y);
        if let Some(Some(check)) = pane.owners.get(row) {
            v.check = *check;
        }
    }
}
