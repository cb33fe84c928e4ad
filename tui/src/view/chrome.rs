//! The header and footer shared by every screen.

use crate::app::overlay::OverlayKind;
use crate::app::{App, Screen};
use crate::strings;
use crate::text::{self, line_width, truncate_spans};
use meshwork_checks::target::TargetStatus;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

/// The target's state in a few words: `● ready · v1.32.4 · 3 nodes`.
pub fn target_state(app: &App) -> Vec<Span<'static>> {
    let t = &app.theme;
    if let Some(switching) = &app.switching {
        return vec![Span::styled(
            format!("◌ {}", strings::switching_to(&switching.spec)),
            t.running,
        )];
    }
    match &app.target {
        None => vec![Span::styled(
            format!("◌ {}", strings::TARGET_PROBING),
            t.dim,
        )],
        Some(TargetStatus::Ready {
            version,
            ready_nodes,
        }) => vec![
            Span::styled("● ", t.ok),
            Span::styled(strings::target_ready(version, *ready_nodes), t.ok),
        ],
        Some(TargetStatus::Unreachable(_)) => {
            vec![Span::styled(
                format!("✘ {}", strings::TARGET_UNREACHABLE),
                t.fail,
            )]
        }
        Some(TargetStatus::Unconfigured(_)) => {
            vec![Span::styled(
                format!("○ {}", strings::TARGET_UNCONFIGURED),
                t.warn,
            )]
        }
    }
}

/// Draws `left` and, right-aligned, the target: its description shrinks before its state does.
pub fn header(app: &App, left: Vec<Span<'static>>, area: Rect, buf: &mut Buffer) {
    let width = usize::from(area.width);
    if width == 0 || area.height == 0 {
        return;
    }
    let state = target_state(app);
    let state_w = line_width(&state);
    let describe = app.ctx.target.describe();
    let left_w = line_width(&left);
    // The target gets what the title leaves, but the title keeps at least half the row.
    let room = width.saturating_sub(left_w.min(width / 2) + 3);
    let mut right: Vec<Span<'static>> = Vec::new();
    let label = "target: ";
    let full = text::width(label) + text::width(&describe) + 1 + state_w;
    if full <= room {
        right.push(Span::styled(label, app.theme.dim));
        right.push(Span::styled(describe, app.theme.bold));
        right.push(Span::raw(" "));
    } else if state_w + 6 <= room {
        let d = text::truncate(&describe, room - state_w - 1);
        right.push(Span::styled(d, app.theme.bold));
        right.push(Span::raw(" "));
    }
    right.extend(state);
    let right = truncate_spans(right, room.max(state_w.min(width)));
    let right_w = line_width(&right);
    let left = truncate_spans(left, width.saturating_sub(right_w + 3));
    let mut spans = vec![Span::raw(" ")];
    spans.extend(left);
    let used = line_width(&spans);
    let gap = width.saturating_sub(used + right_w + 1);
    spans.push(Span::raw(" ".repeat(gap)));
    spans.extend(right);
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The keys that do something right now.
pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    match (&app.overlay, &app.screen) {
        (Some(o), _) => match o.kind {
            OverlayKind::Notice(_) => vec![strings::NOTICE_KEY],
            OverlayKind::Solution => strings::SOLUTION_KEYS.to_vec(),
            OverlayKind::Targets { .. } => strings::PICKER_KEYS.to_vec(),
            OverlayKind::ConfirmTarget { .. } => strings::CONFIRM_KEYS.to_vec(),
            OverlayKind::Explain => strings::EXPLAIN_KEYS.to_vec(),
            OverlayKind::Solve => match app.solve_state() {
                Some(s) if s.phase == crate::app::solve::Phase::Confirm => {
                    strings::solve_confirm_keys(s.kind == crate::app::solve::SolveKind::Reset)
                }
                _ => strings::SOLVE_RUNNING_KEYS.to_vec(),
            },
            OverlayKind::Complete { lab } => {
                if app.next_lab(lab).is_some() {
                    strings::COMPLETE_KEYS.to_vec()
                } else {
                    strings::COMPLETE_LAST_KEYS.to_vec()
                }
            }
            _ => strings::OVERLAY_KEYS.to_vec(),
        },
        (None, Screen::Home) => strings::HOME_KEYS.to_vec(),
        (None, Screen::Lab(view)) => {
            let mut keys = strings::LAB_KEYS.to_vec();
            let has_diff = app.checks.get(&(view.lab, view.step)).is_some_and(|run| {
                run.slots
                    .iter()
                    .filter_map(|s| s.result.as_ref())
                    .any(|r| r.diff.is_some() && !r.outcome.is_ok())
            });
            if has_diff {
                keys.insert(2, strings::DIFF_KEY);
            }
            if app.step_checks_traffic() {
                let at = keys
                    .iter()
                    .position(|(k, _)| *k == "s")
                    .map_or(0, |i| i + 1);
                keys.insert(at, strings::EXPLAIN_KEY);
            }
            keys
        }
    }
}

/// Draws the key bar, with the status message (if any) taking the right-hand side first.
pub fn footer(app: &App, area: Rect, buf: &mut Buffer) {
    let keys = keys(app);
    let width = usize::from(area.width);
    if width == 0 || area.height == 0 {
        return;
    }
    let t = &app.theme;
    let status: Vec<Span<'static>> = app
        .status
        .as_ref()
        .map(|s| {
            let style = if s.error {
                t.status_error
            } else {
                t.status_info
            };
            vec![Span::styled(s.text.clone(), style)]
        })
        .unwrap_or_default();
    let status = truncate_spans(status, width.saturating_sub(1));
    let status_w = line_width(&status);
    let mut bar = vec![Span::raw(" ")];
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            bar.push(Span::styled(" · ", t.dim));
        }
        bar.push(Span::styled(key.to_string(), t.key));
        bar.push(Span::raw(" "));
        bar.push(Span::styled(what.to_string(), t.dim));
    }
    let bar_room = width.saturating_sub(status_w + if status_w > 0 { 2 } else { 0 });
    let bar = if line_width(&bar) <= bar_room {
        bar
    } else {
        truncate_spans(bar, bar_room)
    };
    let mut spans = bar;
    let used = line_width(&spans);
    spans.push(Span::raw(
        " ".repeat(width.saturating_sub(used + status_w + 1)),
    ));
    spans.extend(status);
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}
