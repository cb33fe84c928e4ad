//! The application state and its one way of changing: [`App::update`].
//!
//! - [`doc`]: a step's instructions and commands, laid out for the current width.
//! - [`checks`]: runs of a step's checks, their results and the check pane's content.
//! - [`overlay`]: the windows drawn on top (help, diff, solution, notice, target picker).
//! - [`explain`]: the explain view (key `x`): recent requests hop by hop.
//! - [`targets`]: switching to another target (key `t`).
//! - [`solve`]: applying the step's solution (key `a`) or resetting it (key `r`).
//! - [`complete`]: the window a finished lab shows, and which lab comes next.

pub mod checks;
pub mod complete;
pub mod doc;
pub mod explain;
pub mod overlay;
pub mod solve;
pub mod targets;

use crate::Options;
use crate::event::{Action, Event};
use crate::keys::{self, Command, KeyContext};
use crate::layout;
use crate::strings;
use crate::theme::Theme;
use checks::StepChecks;
use crossterm::event::{KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use doc::Doc;
use meshwork_checks::check::Context;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::target::TargetStatus;
use meshwork_checks::{Course, Lab, Step, TargetKind};
use overlay::{Overlay, OverlayKind};
use ratatui::layout::{Position, Rect};
use std::collections::HashMap;
use std::sync::Arc;
use targets::{Switching, TargetSwitch};

/// Ticks an information message stays in the status line.
const INFO_TICKS: u64 = 40;
/// Ticks an error message stays in the status line.
const ERROR_TICKS: u64 = 150;
/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;
/// The same, signed.
const WHEEL_DELTA: isize = 3;

/// Which screen is showing.
#[derive(Debug)]
pub enum Screen {
    /// The lab list.
    Home,
    /// One step of one lab.
    Lab(LabView),
}

/// The lab screen's state.
#[derive(Debug)]
pub struct LabView {
    /// Index of the lab in the course.
    pub lab: usize,
    /// Index of the step in the lab.
    pub step: usize,
    /// The focused pane.
    pub focus: Focus,
    /// First visible row of the instructions.
    pub scroll: usize,
    /// The selected command.
    pub command: usize,
    /// The selected check.
    pub check: usize,
    /// First visible row of the check pane.
    pub check_scroll: usize,
    /// The instructions laid out for the current width.
    pub doc: Doc,
}

/// The panes of the lab screen that take keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The step list.
    Steps,
    /// The instructions.
    Instructions,
    /// The check results.
    Checks,
}

impl Focus {
    fn next(self) -> Self {
        match self {
            Focus::Steps => Focus::Instructions,
            Focus::Instructions => Focus::Checks,
            Focus::Checks => Focus::Steps,
        }
    }
    fn prev(self) -> Self {
        match self {
            Focus::Steps => Focus::Checks,
            Focus::Instructions => Focus::Steps,
            Focus::Checks => Focus::Instructions,
        }
    }
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What to say.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
    /// The tick after which it disappears.
    pub until: u64,
}

/// All of meshwork's UI state.
pub struct App {
    pub(crate) course: Course,
    pub(crate) ctx: Arc<Context>,
    pub(crate) progress: ProgressStore,
    pub(crate) theme: Theme,
    pub(crate) area: Rect,
    pub(crate) screen: Screen,
    pub(crate) home_selected: usize,
    pub(crate) target: Option<TargetStatus>,
    pub(crate) overlay: Option<Overlay>,
    pub(crate) status: Option<Status>,
    pub(crate) tick: u64,
    pub(crate) checks: HashMap<(usize, usize), StepChecks>,
    pub(crate) switch: Option<TargetSwitch>,
    pub(crate) switching: Option<Switching>,
    pub(crate) explain: Option<explain::Explain>,
    pub(crate) workshop: Option<solve::Workshop>,
    pub(crate) solve: Option<solve::Solve>,
    next_solve: u64,
    next_explain: u64,
    next_switch: u64,
    next_run: u64,
    quit: bool,
    dirty: bool,
}

impl App {
    /// The app for a terminal of `width` × `height`, on the home screen or at `options.open`.
    pub fn new(options: Options, width: u16, height: u16, theme: Theme) -> Self {
        let Options {
            course,
            ctx,
            progress,
            open,
            notice,
        } = options;
        let last_lab = progress
            .data()
            .last
            .as_ref()
            .and_then(|(lab, _)| course.labs.iter().position(|l| &l.id == lab));
        let mut app = Self {
            course,
            ctx,
            progress,
            theme,
            area: Rect::new(0, 0, width, height),
            screen: Screen::Home,
            home_selected: last_lab.unwrap_or(0),
            target: None,
            overlay: None,
            status: None,
            tick: 0,
            checks: HashMap::new(),
            switch: None,
            switching: None,
            explain: None,
            workshop: None,
            solve: None,
            next_solve: 1,
            next_explain: 1,
            next_switch: 1,
            next_run: 1,
            quit: false,
            dirty: true,
        };
        if let Some(spec) = open {
            let found = app
                .course
                .resolve(&spec)
                .map(|(lab, step)| (lab.id.clone(), step.map(|s| s.id.clone())));
            match found {
                Ok((lab_id, step_id)) => {
                    let lab = app
                        .course
                        .labs
                        .iter()
                        .position(|l| l.id == lab_id)
                        .unwrap_or(0);
                    let step = step_id
                        .and_then(|id| app.course.labs[lab].steps.iter().position(|s| s.id == id));
                    app.home_selected = lab;
                    app.open_lab(lab, step);
                }
                Err(e) => app.set_status(strings::open_failed(&e), true),
            }
        }
        if let Some(text) = notice {
            app.open_overlay(OverlayKind::Notice(text));
        }
        app
    }

    /// The check context (target and content) background work uses.
    pub fn context(&self) -> Arc<Context> {
        Arc::clone(&self.ctx)
    }

    /// The learner's progress.
    pub fn progress(&self) -> &ProgressStore {
        &self.progress
    }

    /// The current screen.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The status line's message, if any.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// The window on top, if any.
    pub fn overlay_kind(&self) -> Option<&OverlayKind> {
        self.overlay.as_ref().map(|o| &o.kind)
    }

    /// Whether the learner asked to leave.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether something changed since the last call (the runtime redraws then).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub(crate) fn kind(&self) -> TargetKind {
        self.ctx.target.kind()
    }

    pub(crate) fn lab_step(&self, lab: usize, step: usize) -> Option<(&Lab, &Step)> {
        let lab = self.course.labs.get(lab)?;
        Some((lab, lab.steps.get(step)?))
    }

    /// The lab and step on screen, if a lab is open.
    pub(crate) fn current(&self) -> Option<(&LabView, &Lab, &Step)> {
        let Screen::Lab(view) = &self.screen else {
            return None;
        };
        let (lab, step) = self.lab_step(view.lab, view.step)?;
        Some((view, lab, step))
    }

    fn view_mut(&mut self) -> Option<&mut LabView> {
        match &mut self.screen {
            Screen::Lab(v) => Some(v),
            Screen::Home => None,
        }
    }

    pub(crate) fn set_status(&mut self, text: impl Into<String>, error: bool) {
        let ticks = if error { ERROR_TICKS } else { INFO_TICKS };
        self.status = Some(Status {
            text: text.into(),
            error,
            until: self.tick + ticks,
        });
        self.dirty = true;
    }

    /// Applies one event; returns work for the runtime, if any.
    pub fn update(&mut self, event: Event) -> Option<Action> {
        match event {
            Event::Tick => {
                self.tick += 1;
                if self.status.as_ref().is_some_and(|s| self.tick > s.until) {
                    self.status = None;
                    self.dirty = true;
                }
                if self.is_animating() {
                    self.dirty = true;
                }
                let solve_spinner = self.overlay.as_ref().is_some_and(|o| {
                    o.kind == OverlayKind::Solve
                        && self.solve.as_ref().is_some_and(|s| {
                            s.phase == solve::Phase::Running || s.preview.is_none()
                        })
                });
                if self.explain_loading() || solve_spinner {
                    // The spinner is part of the window's lines.
                    self.rebuild_overlay();
                }
                None
            }
            Event::Key(key) => {
                if key.kind == KeyEventKind::Release {
                    return None;
                }
                let command = keys::map(self.key_context(), key)?;
                self.dirty = true;
                self.command(command)
            }
            Event::Mouse(mouse) => {
                self.mouse(mouse);
                None
            }
            Event::Resize(width, height) => {
                self.area = Rect::new(0, 0, width, height);
                self.relayout();
                self.dirty = true;
                None
            }
            Event::CheckResult { run, index, result } => {
                self.check_result(run, index, result);
                None
            }
            // Nothing to show: the spinners already turn.
            Event::ChecksStarted { .. } => None,
            Event::ChecksStopped { run, reason } => {
                self.checks_stopped(run, &reason);
                None
            }
            Event::TargetStatus(status) => {
                self.target = Some(status);
                self.dirty = true;
                None
            }
            Event::TargetSwitched { id, spec, switched } => {
                self.target_switched(id, spec, *switched)
            }
            Event::SwitchFailed { id, reason } => {
                self.switch_failed(id, &reason);
                None
            }
            Event::Explained { id, result } => {
                self.explained(id, result);
                None
            }
            Event::Previewed { id, previews } => {
                self.previewed(id, previews);
                None
            }
            Event::SolveProgress { id, index } => {
                self.solve_progress(id, index);
                None
            }
            Event::Solved { id, result } => self.solved(id, result),
            Event::InputClosed => Some(self.quit()),
        }
    }

    fn is_animating(&self) -> bool {
        self.target.is_none()
            || self.switching.is_some()
            || self.checks.values().any(StepChecks::is_running)
            || self.explain_loading()
            || self.solve_running()
    }

    fn key_context(&self) -> KeyContext {
        match (&self.overlay, &self.screen) {
            (Some(o), _) if matches!(o.kind, OverlayKind::Notice(_)) => KeyContext::Notice,
            (Some(o), _) if matches!(o.kind, OverlayKind::Targets { .. }) => KeyContext::Picker,
            (Some(o), _) if o.kind == OverlayKind::Explain => KeyContext::Explain,
            (Some(o), _) if matches!(o.kind, OverlayKind::ConfirmTarget { .. }) => {
                KeyContext::Confirm
            }
            (Some(o), _)
                if o.kind == OverlayKind::Solve
                    && self
                        .solve
                        .as_ref()
                        .is_some_and(|s| s.phase == solve::Phase::Confirm) =>
            {
                KeyContext::Confirm
            }
            (Some(o), _) if matches!(o.kind, OverlayKind::Complete { .. }) => KeyContext::Complete,
            (Some(_), _) => KeyContext::Overlay,
            (None, Screen::Home) => KeyContext::Home,
            (None, Screen::Lab(_)) => KeyContext::Lab,
        }
    }

    fn quit(&mut self) -> Action {
        self.remember_position();
        self.quit = true;
        Action::Quit
    }

    fn command(&mut self, command: Command) -> Option<Action> {
        if command == Command::Quit {
            return Some(self.quit());
        }
        if self.overlay.is_some() {
            return self.overlay_command(command);
        }
        if command == Command::Help {
            self.open_overlay(OverlayKind::Help);
            return None;
        }
        if command == Command::Target {
            self.open_target_picker();
            return None;
        }
        match self.screen {
            Screen::Home => {
                self.home_command(command);
                None
            }
            Screen::Lab(_) => self.lab_command(command),
        }
    }

    fn home_command(&mut self, command: Command) {
        let n = self.course.labs.len();
        if n == 0 {
            return;
        }
        let page = usize::from(layout::inner(layout::home(self.area).list).height).max(1);
        let sel = &mut self.home_selected;
        match command {
            Command::Up => *sel = sel.saturating_sub(1),
            Command::Down => *sel = (*sel + 1).min(n - 1),
            Command::PageUp => *sel = sel.saturating_sub(page),
            Command::PageDown => *sel = (*sel + page).min(n - 1),
            Command::Top => *sel = 0,
            Command::Bottom => *sel = n - 1,
            Command::Open => self.open_lab(self.home_selected, None),
            _ => {}
        }
    }

    /// Where to resume a lab: the remembered step, else the first not done, else the first.
    fn resume_step(&self, lab: usize) -> usize {
        let Some(l) = self.course.labs.get(lab) else {
            return 0;
        };
        if let Some((last_lab, last_step)) = &self.progress.data().last
            && last_lab == &l.id
            && let Some(i) = l.steps.iter().position(|s| &s.id == last_step)
        {
            return i;
        }
        l.steps
            .iter()
            .position(|s| !self.progress.is_done(&l.id, &s.id))
            .unwrap_or(0)
    }

    pub(crate) fn open_lab(&mut self, lab: usize, step: Option<usize>) {
        if self.course.labs.get(lab).is_none() {
            return;
        }
        let step = step.unwrap_or_else(|| self.resume_step(lab));
        self.screen = Screen::Lab(LabView {
            lab,
            step,
            focus: Focus::Instructions,
            scroll: 0,
            command: 0,
            check: 0,
            check_scroll: 0,
            doc: Doc::default(),
        });
        self.rebuild_doc();
        self.remember_position();
    }

    fn remember_position(&mut self) {
        let Some((_, lab, step)) = self.current() else {
            return;
        };
        let (lab, step) = (lab.id.clone(), step.id.clone());
        if let Err(e) = self.progress.set_last(&lab, &step) {
            self.set_status(strings::save_failed(&e), true);
        }
    }

    fn go_to_step(&mut self, step: usize) {
        let Some(view) = self.view_mut() else {
            return;
        };
        if view.step == step {
            return;
        }
        view.step = step;
        view.scroll = 0;
        view.command = 0;
        view.check = 0;
        view.check_scroll = 0;
        self.rebuild_doc();
        // Saved on every move: closing the terminal window must not lose the place.
        self.remember_position();
    }

    fn lab_command(&mut self, command: Command) -> Option<Action> {
        let (view, lab, step) = self.current()?;
        let (focus, step_i, steps) = (view.focus, view.step, lab.steps.len());
        let n_commands = view.doc.commands.len();
        let n_checks = step.checks.len();
        let lab_layout = self.lab_layout();
        let page = usize::from(layout::padded_inner(lab_layout.instructions).height).max(1);
        match command {
            Command::Back => {
                self.remember_position();
                self.screen = Screen::Home;
            }
            Command::FocusNext | Command::FocusPrev => {
                let has_steps = lab_layout.steps.is_some();
                if let Some(v) = self.view_mut() {
                    let mut f = if command == Command::FocusNext {
                        focus.next()
                    } else {
                        focus.prev()
                    };
                    if f == Focus::Steps && !has_steps {
                        f = if command == Command::FocusNext {
                            f.next()
                        } else {
                            f.prev()
                        };
                    }
                    v.focus = f;
                }
            }
            Command::Open if focus == Focus::Steps => {
                if let Some(v) = self.view_mut() {
                    v.focus = Focus::Instructions;
                }
            }
            Command::NextStep => self.go_to_step((step_i + 1).min(steps - 1)),
            Command::PrevStep => self.go_to_step(step_i.saturating_sub(1)),
            Command::Up | Command::Down | Command::Top | Command::Bottom => match focus {
                Focus::Steps => {
                    let target = match command {
                        Command::Up => step_i.saturating_sub(1),
                        Command::Down => (step_i + 1).min(steps - 1),
                        Command::Top => 0,
                        _ => steps - 1,
                    };
                    self.go_to_step(target);
                }
                Focus::Instructions => {
                    let delta = match command {
                        Command::Up => -1,
                        Command::Down => 1,
                        Command::Top => isize::MIN,
                        _ => isize::MAX,
                    };
                    self.scroll_instructions(delta);
                }
                Focus::Checks => {
                    let last = n_checks.saturating_sub(1);
                    if let Some(v) = self.view_mut() {
                        v.check = match command {
                            Command::Up => v.check.saturating_sub(1),
                            Command::Down => (v.check + 1).min(last),
                            Command::Top => 0,
                            _ => last,
                        };
                    }
                    self.check_pane_follow_selection();
                }
            },
            Command::PageUp => self.scroll_instructions(-isize::try_from(page).unwrap_or(1)),
            Command::PageDown => self.scroll_instructions(isize::try_from(page).unwrap_or(1)),
            Command::NextCommand | Command::PrevCommand => {
                if n_commands > 0 {
                    let cur = view.command;
                    let next = if command == Command::NextCommand {
                        (cur + 1).min(n_commands - 1)
                    } else {
                        cur.saturating_sub(1)
                    };
                    if let Some(v) = self.view_mut() {
                        v.command = next;
                    }
                    self.rebuild_doc();
                    self.scroll_to_command();
                }
            }
            Command::Copy => {
                let text = view.doc.commands.get(view.command).map(|c| c.text.clone());
                return match text {
                    Some(text) => {
                        self.set_status(strings::copied(&text), false);
                        Some(Action::Copy(text))
                    }
                    None => {
                        self.set_status(strings::NOTHING_TO_COPY, false);
                        None
                    }
                };
            }
            Command::RunChecks if self.switching.is_some() => {
                self.set_status(strings::CHECKS_WAIT_FOR_SWITCH, false);
            }
            Command::RunChecks => return self.run_checks(),
            Command::Hint => self.reveal_hint(),
            Command::Diff => self.open_diff(),
            Command::Solution => self.open_overlay(OverlayKind::Solution),
            Command::Explain => return self.open_explain(),
            Command::Apply => return self.start_solve(solve::SolveKind::Apply),
            Command::Reset => return self.start_solve(solve::SolveKind::Reset),
            Command::Quit
            | Command::Help
            | Command::Open
            | Command::Target
            | Command::Confirm
            | Command::Refresh => {}
        }
        None
    }

    pub(crate) fn lab_layout(&self) -> layout::Lab {
        let rows = checks::pane(self, self.check_pane_width()).lines.len();
        layout::lab(self.area, rows)
    }

    /// Width of the check pane's content (it does not depend on its height).
    pub(crate) fn check_pane_width(&self) -> usize {
        usize::from(layout::padded_inner(layout::lab(self.area, 0).checks).width)
    }

    fn instructions_height(&self) -> usize {
        usize::from(layout::padded_inner(self.lab_layout().instructions).height)
    }

    fn scroll_instructions(&mut self, delta: isize) {
        let height = self.instructions_height();
        let Some(v) = self.view_mut() else {
            return;
        };
        let max = v.doc.lines.len().saturating_sub(height);
        v.scroll = v.scroll.saturating_add_signed(delta).min(max);
    }

    fn scroll_to_command(&mut self) {
        let height = self.instructions_height();
        let Some(v) = self.view_mut() else {
            return;
        };
        let Some(c) = v.doc.commands.get(v.command) else {
            return;
        };
        // Show the note above the box too, when it has one.
        let start = c.lines.start.saturating_sub(c.note_rows);
        if start < v.scroll {
            v.scroll = start;
        } else if c.lines.end > v.scroll + height {
            v.scroll = c.lines.end.saturating_sub(height).min(start);
        }
    }

    /// Lays the instructions out again (new step, width or selected command).
    pub(crate) fn rebuild_doc(&mut self) {
        let width = usize::from(layout::padded_inner(self.lab_layout().instructions).width);
        let kind = self.kind();
        let Screen::Lab(view) = &self.screen else {
            return;
        };
        let Some((_, step)) = self.lab_step(view.lab, view.step) else {
            return;
        };
        let second = self
            .workshop
            .as_ref()
            .map(|w| (w.second_terminal.as_str(), view.step == 0));
        let doc = Doc::build(step, kind, &self.theme, width, view.command, second);
        if let Screen::Lab(view) = &mut self.screen {
            view.doc = doc;
        }
        let height = self.instructions_height();
        if let Some(v) = self.view_mut() {
            v.scroll = v.scroll.min(v.doc.lines.len().saturating_sub(height));
        }
    }

    fn relayout(&mut self) {
        self.rebuild_doc();
        self.rebuild_overlay();
        self.check_pane_follow_selection();
    }

    fn reveal_hint(&mut self) {
        let Some((_, lab, step)) = self.current() else {
            return;
        };
        let total = step.hints.len();
        if total == 0 {
            self.set_status(strings::NO_HINTS, false);
            return;
        }
        let (lab_id, step_id) = (lab.id.clone(), step.id.clone());
        let before = self.progress.hints_revealed(&lab_id, &step_id);
        if before >= total {
            self.set_status(strings::all_hints_shown(total), false);
            return;
        }
        if let Err(e) = self.progress.reveal_hint(&lab_id, &step_id, total) {
            self.set_status(strings::save_failed(&e), true);
        }
        // Bring the new hint into view at the bottom of the check pane.
        self.check_pane_to_bottom();
    }

    fn open_diff(&mut self) {
        let Some((view, _, _)) = self.current() else {
            return;
        };
        let key = (view.lab, view.step);
        let selected = view.check;
        let found = self.checks.get(&key).and_then(|run| {
            let with_diff = |i: usize| {
                let r = run.slots.get(i)?.result.as_ref()?;
                let diff = r.diff.as_ref().filter(|_| !r.outcome.is_ok())?;
                Some((r.title.clone(), diff.clone()))
            };
            with_diff(selected).or_else(|| (0..run.slots.len()).find_map(with_diff))
        });
        match found {
            Some((title, diff)) => self.open_overlay(OverlayKind::Diff { title, diff }),
            None => self.set_status(strings::NO_DIFF, false),
        }
    }

    fn overlay_command(&mut self, command: Command) -> Option<Action> {
        match self.overlay.as_ref().map(|o| &o.kind) {
            Some(OverlayKind::Targets { selected }) => {
                let selected = *selected;
                return self.picker_command(command, selected);
            }
            Some(OverlayKind::ConfirmTarget { choice }) => {
                let choice = *choice;
                return self.confirm_command(command, choice);
            }
            Some(OverlayKind::Explain) => return self.explain_command(command),
            Some(OverlayKind::Solve) => return self.solve_command(command),
            Some(OverlayKind::Complete { lab }) => {
                let lab = *lab;
                self.complete_command(command, lab);
                return None;
            }
            _ => {}
        }
        let page = self.overlay_page();
        let Some(o) = &mut self.overlay else {
            return None;
        };
        let max = o.lines.len().saturating_sub(page);
        match command {
            Command::Back => self.overlay = None,
            Command::Help if o.kind == OverlayKind::Help => self.overlay = None,
            Command::Help => self.open_overlay(OverlayKind::Help),
            Command::Up => o.scroll = o.scroll.saturating_sub(1),
            Command::Down => o.scroll = (o.scroll + 1).min(max),
            Command::PageUp => o.scroll = o.scroll.saturating_sub(page),
            Command::PageDown => o.scroll = (o.scroll + page).min(max),
            Command::Top => o.scroll = 0,
            Command::Bottom => o.scroll = max,
            Command::Copy if o.kind == OverlayKind::Solution => {
                let kind = self.kind();
                let text = self.current().map(|(_, _, step)| {
                    step.solution
                        .commands
                        .iter()
                        .filter_map(|c| c.for_target(kind))
                        .collect::<Vec<_>>()
                        .join("\n")
                });
                return match text.filter(|t| !t.is_empty()) {
                    Some(text) => {
                        self.set_status(strings::copied(&text), false);
                        Some(Action::Copy(text))
                    }
                    None => {
                        self.set_status(strings::SOLUTION_NOTHING_TO_COPY, false);
                        None
                    }
                };
            }
            _ => {}
        }
        None
    }

    fn overlay_page(&self) -> usize {
        self.overlay.as_ref().map_or(1, |o| {
            usize::from(layout::padded_inner(layout::overlay(self.area, o.lines.len())).height)
                .max(1)
        })
    }

    fn open_overlay(&mut self, kind: OverlayKind) {
        let lines = overlay::lines(self, &kind);
        self.overlay = Some(Overlay {
            kind,
            lines,
            scroll: 0,
        });
        self.dirty = true;
    }

    fn rebuild_overlay(&mut self) {
        if let Some(o) = self.overlay.take() {
            let lines = overlay::lines(self, &o.kind);
            let page =
                usize::from(layout::padded_inner(layout::overlay(self.area, lines.len())).height);
            let scroll = o.scroll.min(lines.len().saturating_sub(page));
            self.overlay = Some(Overlay {
                kind: o.kind,
                lines,
                scroll,
            });
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) {
        let at = Position::new(mouse.column, mouse.row);
        let delta = match mouse.kind {
            MouseEventKind::ScrollUp => -1,
            MouseEventKind::ScrollDown => 1,
            MouseEventKind::Down(MouseButton::Left) => 0,
            _ => return,
        };
        self.dirty = true;
        if self.explain_open() {
            // The wheel scrolls; arrows choose a request.
            self.scroll_overlay(delta * WHEEL_DELTA);
            return;
        }
        if self.overlay.is_some() {
            if delta != 0 {
                let cmd = if delta < 0 {
                    Command::Up
                } else {
                    Command::Down
                };
                for _ in 0..WHEEL_ROWS {
                    self.overlay_command(cmd);
                }
            }
            return;
        }
        match &self.screen {
            Screen::Home => {
                let list = layout::home(self.area).list;
                if !list.contains(at) {
                    return;
                }
                let n = self.course.labs.len();
                if n == 0 {
                    return;
                }
                if delta != 0 {
                    self.home_command(if delta < 0 {
                        Command::Up
                    } else {
                        Command::Down
                    });
                    return;
                }
                let inner = layout::inner(list);
                if !inner.contains(at) {
                    return;
                }
                let offset = layout::list_offset(self.home_selected, n, usize::from(inner.height));
                let row = offset + usize::from(at.y - inner.y);
                if row == self.home_selected {
                    self.open_lab(row, None);
                } else if row < n {
                    self.home_selected = row;
                }
            }
            Screen::Lab(view) => {
                let l = self.lab_layout();
                let steps = self
                    .lab_step(view.lab, 0)
                    .map_or(0, |(lab, _)| lab.steps.len());
                let step = view.step;
                if let Some(area) = l.steps.filter(|a| a.contains(at)) {
                    let target = if delta == 0 {
                        let inner = layout::inner(area);
                        let offset = layout::list_offset(step, steps, usize::from(inner.height));
                        if !inner.contains(at) {
                            return;
                        }
                        offset + usize::from(at.y - inner.y)
                    } else {
                        step.saturating_add_signed(delta)
                    };
                    if target < steps {
                        self.go_to_step(target);
                    }
                    if let Some(v) = self.view_mut() {
                        v.focus = Focus::Steps;
                    }
                } else if l.instructions.contains(at) {
                    if delta != 0 {
                        self.scroll_instructions(delta * WHEEL_DELTA);
                    }
                    if let Some(v) = self.view_mut() {
                        v.focus = Focus::Instructions;
                    }
                } else if l.checks.contains(at) {
                    if delta != 0 {
                        self.scroll_check_pane(delta * WHEEL_DELTA);
                    } else {
                        self.click_check(at, l.checks);
                    }
                    if let Some(v) = self.view_mut() {
                        v.focus = Focus::Checks;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
