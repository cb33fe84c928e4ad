//! The lab screen: step list, the step's instructions and commands, and the check pane.

use super::{chrome, draw_lines, highlight_row};
use crate::app::{App, Focus, LabView, checks};
use crate::layout;
use crate::strings;
use crate::text::{line_width, truncate_spans};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Widget};

/// Draws the lab screen.
pub fn render(app: &App, view: &LabView, area: Rect, buf: &mut Buffer) {
    let Some((lab, step)) = app.lab_step(view.lab, view.step) else {
        return;
    };
    let t = &app.theme;
    let pane = checks::pane(app, app.check_pane_width());
    let l = layout::lab(area, pane.lines.len());
    let title = vec![
        Span::styled(lab.label(), t.accent),
        Span::styled(" › ", t.dim),
        Span::raw(format!("{}/{} ", view.step + 1, lab.steps.len())),
        Span::styled(step.title.clone(), t.bold),
    ];
    chrome::header(app, title, l.header, buf);

    if let Some(steps_area) = l.steps {
        let focused = view.focus == Focus::Steps;
        Block::bordered()
            .title(format!(" {} ", strings::STEPS))
            .border_type(t.border_type(focused))
            .border_style(t.border_style(focused))
            .render(steps_area, buf);
        let inner = layout::inner(steps_area);
        let width = usize::from(inner.width);
        let lines: Vec<Line<'static>> = lab
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let done = app.progress.is_done(&lab.id, &s.id);
                let symbol = match (i == view.step, done) {
                    (true, true) => Span::styled("▶", t.ok),
                    (true, false) => Span::styled("▶", t.accent),
                    (false, true) => Span::styled("✔", t.ok),
                    (false, false) => Span::styled("·", t.dim),
                };
                let spans = vec![
                    Span::raw(" "),
                    symbol,
                    Span::raw(format!(" {} ", i + 1)),
                    Span::raw(s.title.clone()),
                ];
                Line::from(truncate_spans(spans, width))
            })
            .collect();
        let offset = layout::list_offset(view.step, lines.len(), usize::from(inner.height));
        draw_lines(&lines, offset, inner, buf);
        let style = if focused {
            t.selected
        } else {
            t.selected_unfocused
        };
        let row = u16::try_from(view.step - offset).unwrap_or(u16::MAX);
        highlight_row(inner, row, style, buf);
    }

    let focused = view.focus == Focus::Instructions;
    let inner = layout::padded_inner(l.instructions);
    let below = view
        .doc
        .lines
        .len()
        .saturating_sub(view.scroll + usize::from(inner.height));
    let mut block = Block::bordered()
        .title(format!(" Step {} of {} ", view.step + 1, lab.steps.len()))
        .border_type(t.border_type(focused))
        .border_style(t.border_style(focused))
        .padding(Padding::horizontal(1));
    if below > 0 {
        block = block.title_bottom(
            Line::from(Span::styled(format!(" ↓ {below} more "), t.dim)).right_aligned(),
        );
    }
    if view.scroll > 0 {
        block = block.title_top(
            Line::from(Span::styled(format!(" ↑ {} ", view.scroll), t.dim)).right_aligned(),
        );
    }
    block.render(l.instructions, buf);
    draw_lines(&view.doc.lines, view.scroll, inner, buf);

    let focused = view.focus == Focus::Checks;
    let inner = layout::padded_inner(l.checks);
    let scroll = view
        .check_scroll
        .min(pane.lines.len().saturating_sub(usize::from(inner.height)));
    let mut block = Block::bordered()
        .title(format!(" {} ", strings::CHECKS))
        .border_type(t.border_type(focused))
        .border_style(t.border_style(focused))
        .padding(Padding::horizontal(1));
    if let Some(run) = app.checks.get(&(view.lab, view.step)) {
        let summary = summary(app, run);
        if line_width(&summary) > 0 {
            block = block.title_top(Line::from(summary).right_aligned());
        }
    }
    let more = pane
        .lines
        .len()
        .saturating_sub(scroll + usize::from(inner.height));
    if more > 0 {
        block = block.title_bottom(
            Line::from(Span::styled(format!(" ↓ {more} more "), t.dim)).right_aligned(),
        );
    }
    block.render(l.checks, buf);
    draw_lines(&pane.lines, scroll, inner, buf);

    chrome::footer(app, l.footer, buf);
}

/// `✔ 2 ✘ 1 ⠋ 1` in the check pane's border.
fn summary(app: &App, run: &checks::StepChecks) -> Vec<Span<'static>> {
    use meshwork_checks::Outcome;
    let mut spans = Vec::new();
    let running = run.slots.iter().filter(|s| s.result.is_none()).count();
    for outcome in [
        Outcome::Pass,
        Outcome::Warn,
        Outcome::Fail,
        Outcome::Error,
        Outcome::Skipped,
    ] {
        let n = run
            .slots
            .iter()
            .filter(|s| s.result.as_ref().is_some_and(|r| r.outcome == outcome))
            .count();
        if n > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                format!("{} {n}", outcome.symbol()),
                checks::outcome_style(app, outcome),
            ));
        }
    }
    if running > 0 {
        spans.push(Span::styled(
            format!(" {} {running}", strings::RUNNING),
            app.theme.running,
        ));
    }
    if !spans.is_empty() {
        spans.push(Span::raw(" "));
    }
    spans
}
