//! Where each pane goes, as pure functions of the terminal size.
//!
//! Both rendering and `update` use these, so scrolling, paging and mouse clicks agree with
//! what is on screen.

use ratatui::layout::{Constraint, Layout, Rect};

/// The home screen's areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home {
    /// Title and target, one row.
    pub header: Rect,
    /// The lab list (with its border).
    pub list: Rect,
    /// The selected lab's details (hidden on narrow terminals).
    pub details: Option<Rect>,
    /// Key bar and status, one row.
    pub footer: Rect,
}

/// The lab screen's areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lab {
    /// Lab, step and target, one row.
    pub header: Rect,
    /// The step list (hidden on narrow terminals).
    pub steps: Option<Rect>,
    /// The step's instructions and commands.
    pub instructions: Rect,
    /// The check pane.
    pub checks: Rect,
    /// Key bar and status, one row.
    pub footer: Rect,
}

fn frame(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Splits the home screen.
pub fn home(area: Rect) -> Home {
    let [header, body, footer] = frame(area);
    if body.width < 70 {
        return Home {
            header,
            list: body,
            details: None,
            footer,
        };
    }
    let [list, details] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    Home {
        header,
        list,
        details: Some(details),
        footer,
    }
}

/// Splits the lab screen; the check pane wants `check_rows` rows of content.
pub fn lab(area: Rect, check_rows: usize) -> Lab {
    let [header, body, footer] = frame(area);
    // Two fifths at most; on very short terminals the instructions get everything.
    let max_checks = body.height * 2 / 5;
    let want = u16::try_from(check_rows.saturating_add(2)).unwrap_or(u16::MAX);
    let checks_h = if max_checks < 3 {
        0
    } else {
        want.clamp(3, max_checks)
    };
    let [top, checks] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(checks_h)]).areas(body);
    if top.width < 60 {
        return Lab {
            header,
            steps: None,
            instructions: top,
            checks,
            footer,
        };
    }
    let steps_w = (top.width / 4).clamp(18, 32);
    let [steps, instructions] =
        Layout::horizontal([Constraint::Length(steps_w), Constraint::Fill(1)]).areas(top);
    Lab {
        header,
        steps: Some(steps),
        instructions,
        checks,
        footer,
    }
}

/// The inner area of a bordered pane with one column of padding on each side.
pub fn padded_inner(area: Rect) -> Rect {
    Rect {
        x: area.x.saturating_add(2),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(2),
    }
}

/// The inner area of a bordered pane.
pub fn inner(area: Rect) -> Rect {
    Rect {
        x: area.x.saturating_add(1),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    }
}

/// A window over the screen, no taller than `rows` of content needs.
pub fn overlay(area: Rect, rows: usize) -> Rect {
    let width = area.width.saturating_sub(4).min(100);
    let height = area
        .height
        .saturating_sub(2)
        .min(u16::try_from(rows.saturating_add(2)).unwrap_or(u16::MAX));
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The first visible row of a list of `len` rows, `height` high, keeping `selected` in view
/// (the selection sits as low as needed, never lower).
pub fn list_offset(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    selected
        .saturating_add(1)
        .saturating_sub(height)
        .min(len - height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_pane_grows_with_its_content_up_to_two_fifths() {
        let area = Rect::new(0, 0, 100, 30);
        assert_eq!(lab(area, 1).checks.height, 3);
        assert_eq!(lab(area, 5).checks.height, 7);
        assert_eq!(lab(area, 50).checks.height, 11);
        assert_eq!(
            lab(Rect::new(0, 0, 20, 5), 5).checks.height,
            0,
            "too short for checks"
        );
        assert!(lab(area, 1).steps.is_some());
        assert!(lab(Rect::new(0, 0, 50, 20), 1).steps.is_none());
    }

    #[test]
    fn tiny_terminals_get_empty_areas_not_panics() {
        for (w, h) in [(0, 0), (1, 1), (20, 5), (5, 20)] {
            let area = Rect::new(0, 0, w, h);
            let l = lab(area, 10);
            assert!(l.checks.bottom() <= area.bottom().max(l.checks.y));
            let _ = home(area);
            let o = overlay(area, 3);
            assert!(o.width <= w && o.height <= h);
            let _ = padded_inner(o);
        }
    }

    #[test]
    fn list_offset_keeps_the_selection_visible() {
        assert_eq!(list_offset(0, 10, 4), 0);
        assert_eq!(list_offset(3, 10, 4), 0);
        assert_eq!(list_offset(4, 10, 4), 1);
        assert_eq!(list_offset(9, 10, 4), 6);
        assert_eq!(list_offset(5, 3, 4), 0);
    }
}
