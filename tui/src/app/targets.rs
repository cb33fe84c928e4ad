//! Switching targets: the choices the binary offers, the picker and the confirmation a live
//! cluster needs, and swapping the check context and progress once the new target is connected.
//!
//! The app never connects to anything itself: choosing a target returns
//! [`Action::SwitchTarget`], the runtime calls [`TargetSwitch::connect`] on a task, and the
//! result comes back as [`Event::TargetSwitched`](crate::Event::TargetSwitched).

use super::App;
use super::overlay::OverlayKind;
use crate::event::Action;
use crate::layout;
use crate::strings;
use crate::text::{self, wrap};
use meshwork_checks::check::Context;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::target::Target;
use meshwork_checks::{TargetKind, TargetSpec};
use ratatui::text::{Line, Span};
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

/// Connects to a target (starting the reference mesh when needed) and opens its progress.
pub type Connect =
    Arc<dyn Fn(TargetSpec) -> Pin<Box<dyn Future<Output = Switched> + Send>> + Send + Sync>;

/// Remembers the chosen target for meshwork's next start; an error says what went wrong.
pub type Remember = Box<dyn FnMut(&TargetSpec) -> Result<(), String> + Send>;

/// One target the learner can switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetChoice {
    /// The target.
    pub spec: TargetSpec,
    /// One line about it (the cluster's address, whether it is kubectl's current context).
    pub description: String,
    /// It is the kubeconfig's current context (what a bare `cluster` target means).
    pub kubeconfig_current: bool,
}

impl TargetChoice {
    /// The bundled reference mesh.
    pub fn reference() -> Self {
        Self {
            spec: TargetSpec::Reference,
            description: strings::REFERENCE_DESCRIPTION.to_string(),
            kubeconfig_current: false,
        }
    }

    /// A kubeconfig context, described in one line (e.g. its server's address).
    pub fn cluster(context: &str, description: String, kubeconfig_current: bool) -> Self {
        Self {
            spec: TargetSpec::Cluster {
                context: Some(context.to_string()),
            },
            description,
            kubeconfig_current,
        }
    }

    /// Its name in the list: `reference mesh`, `cluster: kind-istio`.
    pub fn label(&self) -> String {
        strings::target_label(&self.spec)
    }
}

/// What the TUI needs to switch targets, supplied by the binary.
pub struct TargetSwitch {
    /// The target the app starts on.
    pub current: TargetSpec,
    /// The targets to offer, the reference mesh first.
    pub choices: Vec<TargetChoice>,
    /// Shown under the choices, e.g. why no cluster is listed.
    pub note: Option<String>,
    /// Builds a target in the background.
    pub connect: Connect,
    /// Remembers a switch for the next start.
    pub remember: Remember,
}

impl fmt::Debug for TargetSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetSwitch")
            .field("current", &self.current)
            .field("choices", &self.choices)
            .field("note", &self.note)
            .finish_non_exhaustive()
    }
}

/// A connected target and its progress, ready to be swapped in.
pub struct Switched {
    /// Where checks look from now on.
    pub target: Arc<dyn Target>,
    /// The learner's progress on that target.
    pub progress: ProgressStore,
    /// Shown once after the switch (e.g. the progress file had to be moved aside).
    pub notice: Option<String>,
    /// Solutions' runner and the second-terminal line for that target (`None`: `a` and `r`
    /// are not available there).
    pub workshop: Option<super::solve::Workshop>,
}

impl fmt::Debug for Switched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Switched")
            .field("target", &self.target.describe())
            .field("progress", &self.progress.path())
            .field("notice", &self.notice)
            .field("workshop", &self.workshop)
            .finish()
    }
}

/// A switch that was asked for and has not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switching {
    /// Its id (results of superseded switches are dropped).
    pub id: u64,
    /// Where to.
    pub spec: TargetSpec,
}

impl App {
    /// Adds the target switch (key `t`); without one, `t` explains that it is not available.
    #[must_use]
    pub fn with_target_switch(mut self, switch: TargetSwitch) -> Self {
        self.switch = Some(switch);
        self
    }

    /// The target the app is on, when it knows the switch's choices.
    pub fn target_spec(&self) -> Option<&TargetSpec> {
        self.switch.as_ref().map(|s| &s.current)
    }

    /// The switch in progress, if any.
    pub fn switching(&self) -> Option<&Switching> {
        self.switching.as_ref()
    }

    /// How the runtime builds a target for [`Action::SwitchTarget`].
    pub fn connector(&self) -> Option<Connect> {
        self.switch.as_ref().map(|s| Arc::clone(&s.connect))
    }

    /// Whether `choice` is the target the app is on.
    pub(crate) fn is_current_choice(&self, choice: &TargetChoice) -> bool {
        let Some(switch) = &self.switch else {
            return false;
        };
        choice.spec == switch.current
            || (switch.current == (TargetSpec::Cluster { context: None })
                && choice.kubeconfig_current)
    }

    pub(super) fn open_target_picker(&mut self) {
        let Some(switch) = &self.switch else {
            self.set_status(strings::TARGET_SWITCH_UNAVAILABLE, false);
            return;
        };
        let selected = switch
            .choices
            .iter()
            .position(|c| self.is_current_choice(c))
            .unwrap_or(0);
        self.open_picker_at(selected);
    }

    fn open_picker_at(&mut self, selected: usize) {
        self.open_overlay(OverlayKind::Targets { selected });
        self.picker_follow(selected);
    }

    /// Keys while the picker is open.
    pub(super) fn picker_command(
        &mut self,
        command: crate::keys::Command,
        selected: usize,
    ) -> Option<Action> {
        use crate::keys::Command as C;
        let n = self.switch.as_ref().map_or(0, |s| s.choices.len());
        if n == 0 {
            self.overlay = None;
            return None;
        }
        let next = match command {
            C::Up => selected.saturating_sub(1),
            C::Down => (selected + 1).min(n - 1),
            C::PageUp | C::Top => 0,
            C::PageDown | C::Bottom => n - 1,
            C::Open => return self.choose_target(selected),
            C::Back => {
                self.overlay = None;
                return None;
            }
            C::Help => {
                self.open_overlay(OverlayKind::Help);
                return None;
            }
            _ => return None,
        };
        if next != selected {
            self.open_picker_at(next);
        }
        None
    }

    /// Keys while the cluster confirmation is open.
    pub(super) fn confirm_command(
        &mut self,
        command: crate::keys::Command,
        choice: usize,
    ) -> Option<Action> {
        use crate::keys::Command as C;
        match command {
            C::Confirm => {
                let spec = self.switch.as_ref()?.choices.get(choice)?.spec.clone();
                Some(self.start_switch(spec))
            }
            C::Back => {
                self.open_picker_at(choice);
                None
            }
            _ => None,
        }
    }

    fn choose_target(&mut self, index: usize) -> Option<Action> {
        let choice = self.switch.as_ref()?.choices.get(index)?.clone();
        let pending = self.switching.as_ref().map(|s| &s.spec);
        if pending == Some(&choice.spec) {
            self.overlay = None;
            self.set_status(strings::switching_to(&choice.spec), false);
            return None;
        }
        if pending.is_none() && self.is_current_choice(&choice) {
            self.overlay = None;
            self.set_status(strings::already_on(&choice.label()), false);
            return None;
        }
        match choice.spec.kind() {
            TargetKind::Cluster => {
                self.open_overlay(OverlayKind::ConfirmTarget { choice: index });
                None
            }
            TargetKind::Reference => Some(self.start_switch(choice.spec)),
        }
    }

    fn start_switch(&mut self, spec: TargetSpec) -> Action {
        self.overlay = None;
        let id = self.next_switch;
        self.next_switch += 1;
        self.set_status(strings::switching_to(&spec), false);
        self.switching = Some(Switching {
            id,
            spec: spec.clone(),
        });
        self.dirty = true;
        Action::SwitchTarget { id, spec }
    }

    /// A switch finished: swaps the target and progress in, drops results that belong to the
    /// old target, remembers the choice and asks for the new target to be looked at.
    pub(super) fn target_switched(
        &mut self,
        id: u64,
        spec: TargetSpec,
        switched: Switched,
    ) -> Option<Action> {
        if self.switching.as_ref().is_none_or(|s| s.id != id) {
            return None;
        }
        self.switching = None;
        let Switched {
            target,
            progress,
            notice,
            workshop,
        } = switched;
        self.workshop = workshop;
        self.ctx = Arc::new(Context {
            target,
            content: Arc::clone(&self.ctx.content),
        });
        self.progress = progress;
        self.target = None;
        self.checks.clear();
        self.dirty = true;
        let remembered = match &mut self.switch {
            Some(switch) => {
                switch.current = spec.clone();
                (switch.remember)(&spec)
            }
            None => Ok(()),
        };
        // The new target may show other commands, and its progress has no place yet.
        self.relayout();
        self.remember_position();
        match remembered {
            Ok(()) => self.set_status(strings::switched_to(&spec), false),
            Err(e) => self.set_status(strings::switch_not_remembered(&spec, &e), true),
        }
        if let Some(text) = notice {
            self.open_overlay(OverlayKind::Notice(text));
        }
        Some(Action::ProbeTarget)
    }

    /// A switch could not build its target.
    pub(super) fn switch_failed(&mut self, id: u64, reason: &str) {
        if self.switching.as_ref().is_none_or(|s| s.id != id) {
            return;
        }
        let spec = self.switching.take().map(|s| s.spec);
        if let Some(spec) = spec {
            self.set_status(strings::switch_failed(&spec, reason), true);
        }
    }

    /// Scrolls the picker so the selected choice is in view.
    fn picker_follow(&mut self, selected: usize) {
        let width = overlay_width(self);
        let rows = picker(self, selected, width).1;
        let page = self.overlay_page();
        if let Some(o) = &mut self.overlay {
            if rows.start < o.scroll {
                o.scroll = rows.start;
            } else if rows.end > o.scroll + page {
                o.scroll = rows.end.saturating_sub(page);
            }
        }
    }
}

fn overlay_width(app: &App) -> usize {
    usize::from(layout::padded_inner(layout::overlay(app.area, usize::MAX)).width)
}

/// The picker's lines at `width`, and the rows of the selected choice.
pub fn picker(app: &App, selected: usize, width: usize) -> (Vec<Line<'static>>, Range<usize>) {
    let t = &app.theme;
    let mut lines = wrap(
        &[Span::styled(strings::TARGET_PICKER_INTRO, t.dim)],
        width,
        &[],
        &[],
    );
    let mut rows = 0..0;
    let Some(switch) = &app.switch else {
        return (lines, rows);
    };
    let pending = app.switching.as_ref().map(|s| &s.spec);
    for (i, choice) in switch.choices.iter().enumerate() {
        lines.push(Line::default());
        let start = lines.len();
        let current = pending.is_none() && app.is_current_choice(choice);
        let (mark, mark_style) = if current {
            ("● ", t.ok)
        } else {
            ("○ ", t.dim)
        };
        let mut label = vec![
            Span::styled(mark, mark_style),
            Span::styled(choice.label(), t.bold),
        ];
        if current {
            label.push(Span::styled(
                format!(" ({})", strings::TARGET_CURRENT),
                t.ok,
            ));
        } else if pending == Some(&choice.spec) {
            label.push(Span::styled(
                format!(" ({})", strings::TARGET_SWITCHING),
                t.running,
            ));
        }
        lines.extend(wrap(&label, width, &[], &[Span::raw("  ")]));
        let indent = [Span::raw("  ")];
        lines.extend(wrap(
            &[Span::styled(choice.description.clone(), t.dim)],
            width,
            &indent,
            &indent,
        ));
        if i == selected {
            rows = start..lines.len();
            for line in &mut lines[rows.clone()] {
                let pad = width.saturating_sub(text::line_width(&line.spans));
                line.spans.push(Span::raw(" ".repeat(pad)));
                *line = std::mem::take(line).style(t.selected);
            }
        }
    }
    if let Some(note) = &switch.note {
        lines.push(Line::default());
        lines.extend(wrap(&[Span::styled(note.clone(), t.warn)], width, &[], &[]));
    }
    (lines, rows)
}

/// The confirmation before switching to a live cluster: which context, what meshwork will do.
pub fn confirm(app: &App, choice: usize, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some(choice) = app.switch.as_ref().and_then(|s| s.choices.get(choice)) else {
        return Vec::new();
    };
    let context = match &choice.spec {
        TargetSpec::Cluster { context: Some(c) } => c.clone(),
        _ => choice.label(),
    };
    let (before, after) = strings::CONFIRM_CLUSTER;
    let mut lines = wrap(
        &[
            Span::raw(before),
            Span::styled(context, t.warn.bold()),
            Span::raw(after),
        ],
        width,
        &[],
        &[],
    );
    lines.push(Line::default());
    lines.extend(wrap(
        &[Span::styled(choice.description.clone(), t.dim)],
        width,
        &[Span::raw("  ")],
        &[Span::raw("  ")],
    ));
    lines.push(Line::default());
    lines.extend(wrap(
        &[Span::raw(strings::CONFIRM_CLUSTER_CARE)],
        width,
        &[],
        &[],
    ));
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled("[y]", t.key),
        Span::raw(format!(" {}   ", strings::CONFIRM_YES)),
        Span::styled("[n]", t.key),
        Span::raw(format!(" {}", strings::CONFIRM_NO)),
    ]));
    lines
}
