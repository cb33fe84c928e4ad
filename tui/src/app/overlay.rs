//! Windows drawn over a screen: key help, a check's diff, the step's solution, a notice, the
//! target picker and its confirmation, and the explain view.

use super::App;
use crate::layout;
use crate::markdown;
use crate::strings;
use crate::text::{self, wrap};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Which window is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayKind {
    /// The key help.
    Help,
    /// A message shown once at start (e.g. progress was moved aside).
    Notice(String),
    /// A failed check's diff.
    Diff {
        /// The check's title.
        title: String,
        /// The unified diff.
        diff: String,
    },
    /// The solution of the step on screen.
    Solution,
    /// The target picker, with the selected choice.
    Targets {
        /// Index into the switch's choices.
        selected: usize,
    },
    /// The question before switching to a live cluster.
    ConfirmTarget {
        /// Index into the switch's choices.
        choice: usize,
    },
    /// Recent requests hop by hop (its state is [`App`]'s explain view).
    Explain,
    /// Applying the solution or resetting the step: the confirmation, then the progress.
    Solve,
    /// A lab was just completed.
    Complete {
        /// Index of the lab in the course.
        lab: usize,
    },
}

impl OverlayKind {
    /// The window's title.
    pub fn title(&self, app: &App) -> String {
        match self {
            OverlayKind::Help => strings::HELP_TITLE.to_string(),
            OverlayKind::Notice(_) => strings::NOTICE_TITLE.to_string(),
            OverlayKind::Diff { title, .. } => strings::diff_title(title),
            OverlayKind::Solution => {
                let step = app
                    .current()
                    .map(|(_, _, s)| s.title.clone())
                    .unwrap_or_default();
                strings::solution_title(&step)
            }
            OverlayKind::Targets { .. } => strings::TARGET_PICKER_TITLE.to_string(),
            OverlayKind::ConfirmTarget { .. } => strings::CONFIRM_CLUSTER_TITLE.to_string(),
            OverlayKind::Explain => strings::EXPLAIN_TITLE.to_string(),
            OverlayKind::Solve => super::solve::title(app),
            OverlayKind::Complete { lab } => super::complete::title(app, *lab),
        }
    }
}

/// An open window.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// What it shows.
    pub kind: OverlayKind,
    /// Its content, wrapped to its width.
    pub lines: Vec<Line<'static>>,
    /// First visible row.
    pub scroll: usize,
}

/// The window's content for the app's current size.
pub fn lines(app: &App, kind: &OverlayKind) -> Vec<Line<'static>> {
    let width = usize::from(layout::padded_inner(layout::overlay(app.area, usize::MAX)).width);
    match kind {
        OverlayKind::Help => help(app, width),
        OverlayKind::Notice(text) => {
            let mut lines = wrap(&[Span::raw(text.clone())], width, &[], &[]);
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                strings::NOTICE_DISMISS,
                app.theme.dim,
            )));
            lines
        }
        OverlayKind::Diff { diff, .. } => diff_lines(app, diff, width),
        OverlayKind::Solution => solution(app, width),
        OverlayKind::Targets { selected } => super::targets::picker(app, *selected, width).0,
        OverlayKind::ConfirmTarget { choice } => super::targets::confirm(app, *choice, width),
        OverlayKind::Explain => super::explain::content(app, width).lines,
        OverlayKind::Solve => super::solve::lines(app, width),
        OverlayKind::Complete { lab } => super::complete::lines(app, *lab, width),
    }
}

fn help(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let key_w = strings::HELP
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(|(k, _)| text::width(k)))
        .max()
        .unwrap_or(0)
        + 2;
    let mut lines = Vec::new();
    for (i, (section, keys)) in strings::HELP.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(*section, t.h2)));
        for (key, what) in *keys {
            let pad = " ".repeat(key_w.saturating_sub(text::width(key)));
            let first = [Span::raw("  "), Span::styled(*key, t.key), Span::raw(pad)];
            let rest = [Span::raw(" ".repeat(key_w + 2))];
            lines.extend(wrap(&[Span::raw(*what)], width, &first, &rest));
        }
    }
    lines
}

/// The style of one line of a unified diff.
pub fn diff_style(app: &App, line: &str) -> Style {
    let t = &app.theme;
    if line.starts_with("+++") || line.starts_with("---") {
        t.diff_header
    } else if line.starts_with("@@") {
        t.diff_hunk
    } else if line.starts_with('+') {
        t.diff_add
    } else if line.starts_with('-') {
        t.diff_del
    } else {
        Style::new()
    }
}

fn diff_lines(app: &App, diff: &str, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for raw in diff.lines() {
        let style = diff_style(app, raw);
        let expanded = raw.replace('\t', "    ");
        for piece in text::hard_split(&expanded, width) {
            lines.push(Line::from(Span::styled(piece, style)));
        }
    }
    lines
}

fn solution(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some((_, _, step)) = app.current() else {
        return Vec::new();
    };
    let kind = app.kind();
    let solution = &step.solution;
    let mut lines = Vec::new();
    if let Some(text) = &solution.text {
        lines.extend(markdown::render(text, width, t));
    }
    let section = |lines: &mut Vec<Line<'static>>, title: &'static str| {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(title, t.h2)));
    };
    if !solution.manifests.is_empty() {
        section(&mut lines, strings::SOLUTION_MANIFESTS);
        for path in &solution.manifests {
            lines.push(Line::default());
            match app.ctx.content.text(path) {
                Some(yaml) => {
                    let body: Vec<String> = yaml.trim_end().lines().map(str::to_string).collect();
                    lines.extend(markdown::boxed(
                        &body,
                        width,
                        Some((path, t.bold)),
                        None,
                        t.code_border,
                        t.code,
                    ));
                }
                None => lines.extend(wrap(
                    &[Span::styled(strings::manifest_missing(path), t.warn)],
                    width,
                    &[],
                    &[],
                )),
            }
        }
    }
    if !solution.commands.is_empty() {
        section(&mut lines, strings::SOLUTION_COMMANDS);
        let mut any = false;
        for command in &solution.commands {
            let Some(text) = command.for_target(kind) else {
                continue;
            };
            any = true;
            lines.push(Line::default());
            if let Some(note) = &command.note {
                let spans = markdown::inline(note, t.dim.italic(), t);
                lines.extend(wrap(&spans, width, &[], &[]));
            }
            let body: Vec<String> = text.trim_end().lines().map(str::to_string).collect();
            lines.extend(markdown::boxed(
                &body,
                width,
                None,
                None,
                t.code_border,
                t.command,
            ));
        }
        if !any {
            lines.push(Line::from(Span::styled(
                strings::solution_nothing_for(kind),
                t.dim,
            )));
        }
    }
    lines
}
