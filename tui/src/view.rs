//! Drawing: read-only functions of [`App`] into a buffer.
//!
//! - [`chrome`]: the header (title, target) and footer (keys, status) every screen shares.
//! - [`home`]: the lab list and the selected lab's details.
//! - [`lab`]: step list, instructions, check pane.
//! - [`overlay`]: windows on top.

pub mod chrome;
pub mod home;
pub mod lab;
pub mod overlay;

use crate::app::{App, Screen};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Widget;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        match &self.screen {
            Screen::Home => home::render(self, area, buf),
            Screen::Lab(view) => lab::render(self, view, area, buf),
        }
        if let Some(o) = &self.overlay {
            overlay::render(self, o, area, buf);
        }
    }
}

/// Draws pre-wrapped lines from row `scroll` into `area`, cutting what does not fit.
pub(crate) fn draw_lines(lines: &[Line<'_>], scroll: usize, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    for (row, line) in lines
        .iter()
        .skip(scroll)
        .take(usize::from(area.height))
        .enumerate()
    {
        let y = area.y + u16::try_from(row).unwrap_or(0);
        buf.set_line(area.x, y, line, area.width);
    }
}

/// Styles a whole row (a list selection).
pub(crate) fn highlight_row(area: Rect, row: u16, style: Style, buf: &mut Buffer) {
    if row < area.height {
        let rect = Rect {
            y: area.y + row,
            height: 1,
            ..area
        }
        .intersection(buf.area);
        buf.set_style(rect, style);
    }
}
