//! The home screen: every lab on one line with its progress, and the selected lab's details.

use super::{chrome, draw_lines, highlight_row};
use crate::app::App;
use crate::layout;
use crate::strings;
use crate::text::{self, line_width, truncate_spans, wrap};
use meshwork_checks::Lab;
use meshwork_checks::target::TargetStatus;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Widget};

/// Width of the progress bar in the lab list.
const BAR: usize = 8;

/// (done, total) steps of a lab.
pub fn lab_progress(app: &App, lab: &Lab) -> (usize, usize) {
    let done = app
        .progress
        .done_count(&lab.id, lab.steps.iter().map(|s| s.id.as_str()));
    (done, lab.steps.len())
}

/// `✔` all done, `◐` started, `·` not started.
pub fn lab_symbol(app: &App, done: usize, total: usize) -> Span<'static> {
    let t = &app.theme;
    if total > 0 && done == total {
        Span::styled("✔", t.ok)
    } else if done > 0 {
        Span::styled("◐", t.warn)
    } else {
        Span::styled("·", t.dim)
    }
}

fn bar(app: &App, done: usize, total: usize, width: usize) -> Vec<Span<'static>> {
    let filled = if total == 0 {
        0
    } else {
        (done * width).div_ceil(total).min(width)
    };
    let filled = if done < total {
        filled.min(width - 1)
    } else {
        filled
    };
    vec![
        Span::styled("█".repeat(filled), app.theme.gauge_done),
        Span::styled("░".repeat(width - filled), app.theme.gauge_todo),
    ]
}

/// Draws the home screen.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let l = layout::home(area);
    chrome::header(
        app,
        vec![Span::styled(strings::APP_TITLE, app.theme.accent)],
        l.header,
        buf,
    );
    list(app, l.list, buf);
    if let Some(details_area) = l.details {
        details(app, details_area, buf);
    }
    chrome::footer(app, l.footer, buf);
}

fn list(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    Block::bordered()
        .title(format!(" {} ", strings::LABS))
        .border_type(t.border_type(true))
        .border_style(t.border_style(true))
        .render(area, buf);
    let inner = layout::inner(area);
    let width = usize::from(inner.width);
    if app.course.labs.is_empty() {
        draw_lines(&[Line::styled(strings::NO_LABS, t.dim)], 0, inner, buf);
        return;
    }
    let offset = layout::list_offset(
        app.home_selected,
        app.course.labs.len(),
        usize::from(inner.height),
    );
    let mut lines = Vec::new();
    for lab in &app.course.labs {
        let (done, total) = lab_progress(app, lab);
        let count = format!("{done}/{total}");
        let mut right = Vec::new();
        if width >= 44 {
            right.extend(bar(app, done, total, BAR));
            right.push(Span::raw(" "));
        }
        if width >= 24 {
            right.push(Span::styled(
                format!("{count:>5}"),
                if done == total { t.ok } else { t.dim },
            ));
        }
        let right_w = line_width(&right);
        let mut left = vec![Span::raw(" "), lab_symbol(app, done, total), Span::raw(" ")];
        left.push(Span::raw(lab.label()));
        let left = truncate_spans(left, width.saturating_sub(right_w + 2));
        let gap = width.saturating_sub(line_width(&left) + right_w + 1);
        let mut spans = left;
        spans.push(Span::raw(" ".repeat(gap)));
        spans.extend(right);
        lines.push(Line::from(spans));
    }
    draw_lines(&lines, offset, inner, buf);
    let row = u16::try_from(app.home_selected - offset).unwrap_or(u16::MAX);
    highlight_row(inner, row, t.selected, buf);
}

/// The details of the selected lab, as lines for `width` columns.
pub fn details_lines(app: &App, lab: &Lab, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = wrap(&[Span::raw(lab.summary.clone())], width, &[], &[]);
    lines.push(Line::default());
    let label_w = [
        strings::NEEDS,
        strings::TIME,
        strings::USES,
        strings::PROGRESS,
    ]
    .iter()
    .map(|s| text::width(s))
    .max()
    .unwrap_or(0)
        + 2;
    let mut field = |label: &str, value: Vec<Span<'static>>| {
        let pad = " ".repeat(label_w - text::width(label));
        let first = [Span::styled(format!("{label}{pad}"), t.dim)];
        let rest = [Span::raw(" ".repeat(label_w))];
        lines.extend(wrap(&value, width, &first, &rest));
    };
    if !lab.prerequisites.is_empty() {
        let mut value = Vec::new();
        for (i, id) in lab.prerequisites.iter().enumerate() {
            if i > 0 {
                value.push(Span::raw(", "));
            }
            match app.course.labs.iter().find(|l| &l.id == id) {
                Some(pre) => {
                    let (done, total) = lab_progress(app, pre);
                    value.push(Span::raw(format!("{:02} {} ", pre.number, pre.title)));
                    value.push(lab_symbol(app, done, total));
                }
                None => value.push(Span::raw(id.clone())),
            }
        }
        field(strings::NEEDS, value);
    }
    if let Some(m) = lab.minutes {
        field(strings::TIME, vec![Span::raw(strings::minutes(m))]);
    }
    if !lab.uses.is_empty() {
        field(strings::USES, vec![Span::raw(lab.uses.join(", "))]);
    }
    let (done, total) = lab_progress(app, lab);
    field(
        strings::PROGRESS,
        vec![Span::raw(strings::steps_done(done, total))],
    );
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(strings::STEPS, t.h2)));
    for (i, step) in lab.steps.iter().enumerate() {
        let symbol = if app.progress.is_done(&lab.id, &step.id) {
            Span::styled("✔", t.ok)
        } else {
            Span::styled("·", t.dim)
        };
        let first = [symbol, Span::raw(format!(" {:>2} ", i + 1))];
        lines.extend(wrap(
            &[Span::raw(step.title.clone())],
            width,
            &first,
            &[Span::raw("     ")],
        ));
    }
    lines
}

fn target_problem(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let (reason, style) = match &app.target {
        Some(TargetStatus::Unreachable(r)) => (r, t.fail),
        Some(TargetStatus::Unconfigured(r)) => (r, t.warn),
        _ => return Vec::new(),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(strings::TARGET_HEADING, t.h2),
        Span::styled(format!(" · {}", app.ctx.target.describe()), t.dim),
    ])];
    lines.extend(wrap(
        &[Span::styled(reason.clone(), style)],
        width,
        &[],
        &[],
    ));
    lines
}

fn details(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(lab) = app.course.labs.get(app.home_selected) else {
        Block::bordered()
            .border_type(t.border_type(false))
            .border_style(t.border)
            .render(area, buf);
        return;
    };
    Block::bordered()
        .title(Line::from(Span::styled(
            format!(" {} ", lab.label()),
            t.accent,
        )))
        .border_type(t.border_type(false))
        .border_style(t.border)
        .padding(Padding::horizontal(1))
        .render(area, buf);
    let inner = layout::padded_inner(area);
    let width = usize::from(inner.width);
    let lines = details_lines(app, lab, width);
    let problem = target_problem(app, width);
    // The target's problem sits at the bottom when there is room, else after the details.
    let height = usize::from(inner.height);
    let body_rows = height.saturating_sub(problem.len() + usize::from(!problem.is_empty()));
    if lines.len() <= body_rows {
        draw_lines(&lines, 0, inner, buf);
        let y = inner.y + u16::try_from(height - problem.len()).unwrap_or(0);
        let rect = Rect {
            y,
            height: u16::try_from(problem.len()).unwrap_or(0),
            ..inner
        };
        draw_lines(&problem, 0, rect, buf);
    } else {
        let mut all = lines;
        if !problem.is_empty() {
            all.push(Line::default());
            all.extend(problem);
        }
        draw_lines(&all, 0, inner, buf);
    }
}
