//! Applying a step's solution (key `a`) or resetting the step (key `r`).
//!
//! First a confirmation shows the plan — the commands in order, as a learner would type them
//! ([`Runner::plan`]) — and, for manifests, what each object becomes (created, changed and how,
//! unchanged), looked up in the background ([`Action::Preview`]). `y` runs it in the
//! background ([`Action::Solve`]) with progress per command; a failing command's output stays
//! on screen. When it succeeded the step's checks run again.

use super::App;
use super::overlay::OverlayKind;
use crate::event::Action;
use crate::keys::Command;
use crate::strings;
use crate::text::{self, wrap};
use meshwork_checks::course::Solution;
use meshwork_checks::solve::preview::{Change, ManifestPreview};
use meshwork_checks::solve::{self, Runner};
use ratatui::text::{Line, Span};

/// Spinner frames, one per tick.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// What the binary gives the TUI for the learning flow on one target.
#[derive(Debug, Clone)]
pub struct Workshop {
    /// Carries out solutions and resets against the target.
    pub runner: Runner,
    /// The shell line that points a second terminal at the target and the workshop folder.
    pub second_terminal: String,
}

/// Applying the solution or resetting the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolveKind {
    /// The step's solution (key `a`).
    Apply,
    /// The step's reset (key `r`).
    Reset,
}

/// Where a solution run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the learner's yes or no.
    Confirm,
    /// Running in the background.
    Running,
    /// A command failed: why, with the end of its output.
    Failed(String),
}

/// One solution run, from the confirmation to its end.
#[derive(Debug, Clone)]
pub struct Solve {
    /// Its id (events of other runs are stale).
    pub id: u64,
    /// Apply or reset.
    pub kind: SolveKind,
    /// The lab's index.
    pub lab: usize,
    /// The step's index.
    pub step: usize,
    /// The step's title.
    pub step_title: String,
    /// What runs.
    pub solution: Solution,
    /// The commands, in order.
    pub plan: Vec<solve::Action>,
    /// What the manifests change, once looked up (`None`: still looking).
    pub preview: Option<Vec<ManifestPreview>>,
    /// Where it is.
    pub phase: Phase,
    /// How many commands have started.
    pub started: usize,
}

impl Solve {
    fn is_reset(&self) -> bool {
        self.kind == SolveKind::Reset
    }
}

impl App {
    /// Adds what `a`, `r` and the second-terminal line need; without it `a` and `r` explain
    /// that they are not available.
    #[must_use]
    pub fn with_workshop(mut self, workshop: Workshop) -> Self {
        self.workshop = Some(workshop);
        self.rebuild_doc();
        self
    }

    /// The runner solutions go through, if the app has one.
    pub fn runner(&self) -> Option<Runner> {
        self.workshop.as_ref().map(|w| w.runner.clone())
    }

    /// The line that points a second terminal at the target, if known.
    pub fn second_terminal(&self) -> Option<&str> {
        self.workshop.as_ref().map(|w| w.second_terminal.as_str())
    }

    /// The solution run being confirmed, running or failed, if any.
    pub fn solve_state(&self) -> Option<&Solve> {
        self.solve.as_ref()
    }

    /// Whether a solution is running (the spinner turns).
    pub(super) fn solve_running(&self) -> bool {
        self.solve
            .as_ref()
            .is_some_and(|s| s.phase == Phase::Running)
    }

    /// `a` or `r`: opens the confirmation with the plan, and asks for the preview.
    pub(super) fn start_solve(&mut self, kind: SolveKind) -> Option<Action> {
        if self.switching.is_some() {
            self.set_status(strings::SOLVE_WAIT_FOR_SWITCH, false);
            return None;
        }
        if self.solve_running() {
            self.set_status(strings::SOLVE_BUSY, false);
            return None;
        }
        let reset = kind == SolveKind::Reset;
        let Some(runner) = self.runner() else {
            self.set_status(strings::SOLVE_UNAVAILABLE, true);
            return None;
        };
        let (view, _, step) = self.current()?;
        let (lab, step_i) = (view.lab, view.step);
        let solution = if reset {
            step.reset.clone()
        } else {
            step.solution.clone()
        };
        if reset && solution.manifests.is_empty() && solution.commands.is_empty() {
            self.set_status(strings::NO_RESET, false);
            return None;
        }
        let plan = runner.plan(&solution);
        if plan.is_empty() {
            self.set_status(strings::nothing_to_run(reset, runner.kind()), false);
            return None;
        }
        let step_title = step.title.clone();
        let id = self.next_solve;
        self.next_solve += 1;
        let manifests = solution.manifests.clone();
        let verb = solution.manifest_verb;
        self.solve = Some(Solve {
            id,
            kind,
            lab,
            step: step_i,
            step_title,
            solution,
            plan,
            preview: manifests.is_empty().then(Vec::new),
            phase: Phase::Confirm,
            started: 0,
        });
        self.open_overlay(OverlayKind::Solve);
        (!manifests.is_empty()).then_some(Action::Preview {
            id,
            manifests,
            verb,
        })
    }

    /// Keys while the apply/reset window is open.
    pub(super) fn solve_command(&mut self, command: Command) -> Option<Action> {
        let phase = self.solve.as_ref().map(|s| s.phase.clone());
        match (phase, command) {
            (Some(Phase::Confirm), Command::Confirm) => {
                let solve = self.solve.as_mut()?;
                solve.phase = Phase::Running;
                let action = Action::Solve {
                    id: solve.id,
                    solution: solve.solution.clone(),
                };
                self.rebuild_overlay();
                return Some(action);
            }
            (Some(Phase::Running), Command::Back) => {
                self.overlay = None;
                self.set_status(strings::SOLVE_HIDDEN, false);
            }
            (Some(Phase::Failed(_)), Command::Back) => {
                self.overlay = None;
                self.solve = None;
            }
            (_, Command::Back) => {
                self.overlay = None;
                self.solve = None;
                self.set_status(strings::SOLVE_CANCELLED, false);
            }
            (_, Command::Up) => self.scroll_overlay(-1),
            (_, Command::Down) => self.scroll_overlay(1),
            (_, Command::PageUp) => self.scroll_overlay(-self.page_delta()),
            (_, Command::PageDown) => self.scroll_overlay(self.page_delta()),
            (_, Command::Top) => self.scroll_overlay(isize::MIN),
            (_, Command::Bottom) => self.scroll_overlay(isize::MAX),
            _ => {}
        }
        None
    }

    fn page_delta(&self) -> isize {
        isize::try_from(self.overlay_page()).unwrap_or(1)
    }

    fn solve_window_open(&self) -> bool {
        self.overlay
            .as_ref()
            .is_some_and(|o| o.kind == OverlayKind::Solve)
    }

    /// The preview of a run arrived.
    pub(super) fn previewed(&mut self, id: u64, previews: Vec<ManifestPreview>) {
        let Some(solve) = self.solve.as_mut().filter(|s| s.id == id) else {
            return;
        };
        solve.preview = Some(previews);
        self.dirty = true;
        if self.solve_window_open() {
            self.rebuild_overlay();
        }
    }

    /// A command of a run started.
    pub(super) fn solve_progress(&mut self, id: u64, index: usize) {
        let Some(solve) = self.solve.as_mut().filter(|s| s.id == id) else {
            return;
        };
        solve.started = solve.started.max(index + 1);
        self.dirty = true;
        if self.solve_window_open() {
            self.rebuild_overlay();
        }
    }

    /// A run ended: on success the window closes and the step's checks run again; on failure
    /// the window (opened again if it was hidden) shows what failed.
    pub(super) fn solved(&mut self, id: u64, result: Result<(), String>) -> Option<Action> {
        let solve = self.solve.as_mut().filter(|s| s.id == id)?;
        let reset = solve.is_reset();
        self.dirty = true;
        match result {
            Ok(()) => {
                let (lab, step) = (solve.lab, solve.step);
                self.solve = None;
                if self.solve_window_open() {
                    self.overlay = None;
                }
                self.set_status(strings::solved(reset), false);
                // A reset step is not done any more, whatever its checks say next.
                let ids = self.course.labs.get(lab).and_then(|l| {
                    let s = l.steps.get(step)?;
                    Some((l.id.clone(), s.id.clone()))
                });
                if reset
                    && let Some((lab_id, step_id)) = ids
                    && let Err(e) = self.progress.mark_undone(&lab_id, &step_id)
                {
                    self.set_status(strings::save_failed(&e), true);
                }
                self.run_checks_at(lab, step)
            }
            Err(why) => {
                solve.phase = Phase::Failed(why);
                self.set_status(strings::solve_failed(reset), true);
                self.open_overlay(OverlayKind::Solve);
                // The failure is at the end: show it.
                self.scroll_overlay(isize::MAX);
                None
            }
        }
    }
}

/// The window's title.
pub fn title(app: &App) -> String {
    app.solve.as_ref().map_or_else(String::new, |s| {
        strings::solve_title(s.is_reset(), &s.step_title)
    })
}

/// The apply/reset window's content at `width` columns.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some(solve) = &app.solve else {
        return Vec::new();
    };
    let reset = solve.is_reset();
    let plain = |text: String, style| wrap(&[Span::styled(text, style)], width, &[], &[]);
    let spinner = SPINNER[usize::try_from(app.tick % 10).unwrap_or(0)];
    let mut lines = plain(
        strings::solve_intro(reset, &app.ctx.target.describe()),
        t.dim,
    );
    let current = solve.started.checked_sub(1);
    for (i, action) in solve.plan.iter().enumerate() {
        lines.push(Line::default());
        let (mark, style) = match (&solve.phase, current) {
            (Phase::Confirm, _) => (format!("{}.", i + 1), t.bold),
            (_, Some(c)) if i < c => ("✔".to_string(), t.ok),
            (Phase::Running, Some(c)) if i == c => (spinner.to_string(), t.running),
            (Phase::Failed(_), Some(c)) if i == c => ("✘".to_string(), t.fail),
            _ => ("·".to_string(), t.dim),
        };
        let first = [Span::styled(mark, style), Span::raw(" ")];
        let rest = [Span::raw("   ")];
        lines.extend(wrap(
            &[Span::styled(action.command.clone(), t.command)],
            width,
            &first,
            &rest,
        ));
        if let Some(path) = &action.manifest {
            lines.extend(preview_lines(app, solve, path, width, spinner));
        }
    }
    lines.push(Line::default());
    match &solve.phase {
        Phase::Confirm => {
            lines.extend(plain(strings::SOLVE_THEN_CHECK.into(), t.dim));
            lines.push(Line::default());
            let (yes, no) = strings::solve_question(reset);
            lines.push(Line::from(vec![
                Span::styled("[y]", t.key),
                Span::raw(format!(" {yes}   ")),
                Span::styled("[n]", t.key),
                Span::raw(format!(" {no}")),
            ]));
        }
        Phase::Running => lines.push(Line::from(vec![
            Span::styled(spinner, t.running),
            Span::raw(" "),
            Span::styled(
                strings::solve_running(solve.started.max(1), solve.plan.len()),
                t.dim,
            ),
        ])),
        Phase::Failed(why) => {
            lines.extend(plain(strings::SOLVE_FAILED.into(), t.fail.bold()));
            for raw in why.lines() {
                let expanded = raw.replace('\t', "    ");
                for piece in text::hard_split(&expanded, width.saturating_sub(2).max(1)) {
                    lines.push(Line::from(vec![
                        Span::raw("  "),
                        Span::styled(piece, t.fail),
                    ]));
                }
            }
            lines.push(Line::default());
            lines.extend(plain(strings::SOLVE_FAILED_NEXT.into(), t.dim));
        }
    }
    lines
}

/// Under `kubectl apply -f PATH`: each object and what applying does to it.
fn preview_lines(
    app: &App,
    solve: &Solve,
    path: &str,
    width: usize,
    spinner: &str,
) -> Vec<Line<'static>> {
    let t = &app.theme;
    let indent = [Span::raw("   ")];
    let deeper = [Span::raw("     ")];
    let mut lines = Vec::new();
    let Some(previews) = &solve.preview else {
        let spans = [
            Span::styled(spinner.to_string(), t.running),
            Span::raw(" "),
            Span::styled(strings::PREVIEW_LOADING, t.dim),
        ];
        lines.extend(wrap(&spans, width, &indent, &deeper));
        return lines;
    };
    let Some(preview) = previews.iter().find(|p| p.path == path) else {
        return lines;
    };
    let objects = match &preview.objects {
        Ok(objects) => objects,
        Err(why) => {
            let text = strings::preview_bad_manifest(why);
            lines.extend(wrap(&[Span::styled(text, t.fail)], width, &indent, &deeper));
            return lines;
        }
    };
    for object in objects {
        let label = object.label();
        let (mark, style, text) = match &object.change {
            Change::Create => ("+ ", t.diff_add, strings::preview_create(&label)),
            Change::Update { .. } => ("~ ", t.warn, strings::preview_update(&label)),
            Change::Unchanged => ("= ", t.dim, strings::preview_unchanged(&label)),
            Change::Delete => ("- ", t.diff_del, strings::preview_delete(&label)),
            Change::Absent => ("= ", t.dim, strings::preview_absent(&label)),
            Change::Unknown { reason } => ("? ", t.warn, strings::preview_unknown(&label, reason)),
        };
        let first = [indent[0].clone(), Span::styled(mark, style)];
        lines.extend(wrap(&[Span::styled(text, style)], width, &first, &deeper));
        if let Change::Update { diff } = &object.change {
            for raw in diff.lines() {
                let style = super::overlay::diff_style(app, raw);
                let room = width.saturating_sub(5).max(1);
                for piece in text::hard_split(&raw.replace('\t', "    "), room) {
                    lines.push(Line::from(vec![
                        Span::raw("     "),
                        Span::styled(piece, style),
                    ]));
                }
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests;
