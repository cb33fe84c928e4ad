//! Windows drawn over the screen.

use super::draw_lines;
use crate::app::App;
use crate::app::overlay::Overlay;
use crate::layout;
use crate::text::truncate;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Widget};

/// Draws an open window and, when it scrolls, where in its content it is.
pub fn render(app: &App, overlay: &Overlay, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let rect = layout::overlay(area, overlay.lines.len());
    if rect.width < 3 || rect.height < 3 {
        return;
    }
    Clear.render(rect, buf);
    let inner = layout::padded_inner(rect);
    let height = usize::from(inner.height);
    let title = truncate(
        &format!(" {} ", overlay.kind.title(app)),
        usize::from(rect.width).saturating_sub(4),
    );
    let mut block = Block::bordered()
        .title(Line::from(Span::styled(title, t.accent)))
        .border_type(BorderType::Double)
        .border_style(t.border_focused)
        .padding(Padding::horizontal(1));
    if overlay.lines.len() > height {
        let last = (overlay.scroll + height).min(overlay.lines.len());
        let pos = format!(
            " {}-{} of {} ",
            overlay.scroll + 1,
            last,
            overlay.lines.len()
        );
        block = block.title_bottom(Line::from(Span::styled(pos, t.dim)).right_aligned());
    }
    block.render(rect, buf);
    draw_lines(&overlay.lines, overlay.scroll, inner, buf);
}
