//! Colours and text styles, in one place, with a colourless variant for `NO_COLOR`.
//!
//! With colours off every distinction is made with modifiers only (bold, italic, dim,
//! underline, reverse), and focused panes get thick borders instead of a coloured one.

use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::BorderType;

/// Every style the UI uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Whether colours are used at all.
    pub color: bool,
    /// Secondary text: key descriptions, notes, urls.
    pub dim: Style,
    /// The application title and other accents.
    pub accent: Style,
    /// Bold text (titles in lists).
    pub bold: Style,
    /// Markdown heading, level 1.
    pub h1: Style,
    /// Markdown heading, level 2.
    pub h2: Style,
    /// Markdown heading, level 3 and below.
    pub h3: Style,
    /// Text inside a code block.
    pub code: Style,
    /// `inline code`.
    pub inline_code: Style,
    /// The box around code blocks and unselected commands.
    pub code_border: Style,
    /// A command the learner can copy.
    pub command: Style,
    /// The box around the selected command.
    pub command_selected: Style,
    /// Link text.
    pub link: Style,
    /// A block quote's bar and text.
    pub quote: Style,
    /// Passed checks, done labs and steps.
    pub ok: Style,
    /// Failed checks.
    pub fail: Style,
    /// Warnings.
    pub warn: Style,
    /// Checks that could not run.
    pub error: Style,
    /// A check or step in progress.
    pub running: Style,
    /// Revealed hints.
    pub hint: Style,
    /// The selected row of a focused list.
    pub selected: Style,
    /// The selected row of an unfocused list.
    pub selected_unfocused: Style,
    /// Unfocused pane borders.
    pub border: Style,
    /// The focused pane's border.
    pub border_focused: Style,
    /// Key names in the key bar and help.
    pub key: Style,
    /// Informational status messages.
    pub status_info: Style,
    /// Error status messages.
    pub status_error: Style,
    /// Added diff lines.
    pub diff_add: Style,
    /// Removed diff lines.
    pub diff_del: Style,
    /// Diff hunk headers.
    pub diff_hunk: Style,
    /// Diff file headers.
    pub diff_header: Style,
    /// The filled part of a progress bar.
    pub gauge_done: Style,
    /// The empty part of a progress bar.
    pub gauge_todo: Style,
}

impl Theme {
    /// The theme for a terminal with (`true`) or without colours.
    pub fn new(color: bool) -> Self {
        if color {
            Self::colored()
        } else {
            Self::plain()
        }
    }

    /// Reads `NO_COLOR` (set and not empty: no colours, see <https://no-color.org>).
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::new(!no_color)
    }

    fn colored() -> Self {
        let fg = |c: Color| Style::new().fg(c);
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Self {
            color: true,
            dim: fg(Color::DarkGray),
            accent: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            bold,
            h1: fg(Color::Cyan).add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            h2: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            h3: fg(Color::LightBlue).add_modifier(Modifier::BOLD),
            code: fg(Color::Yellow),
            inline_code: fg(Color::Yellow),
            code_border: fg(Color::DarkGray),
            command: fg(Color::LightGreen),
            command_selected: fg(Color::LightGreen).add_modifier(Modifier::BOLD),
            link: fg(Color::LightBlue).add_modifier(Modifier::UNDERLINED),
            quote: fg(Color::Gray).add_modifier(Modifier::ITALIC),
            ok: fg(Color::Green),
            fail: fg(Color::Red).add_modifier(Modifier::BOLD),
            warn: fg(Color::Yellow),
            error: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            running: fg(Color::Cyan),
            hint: fg(Color::Yellow),
            selected: Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            selected_unfocused: bold,
            border: fg(Color::DarkGray),
            border_focused: fg(Color::Cyan),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            status_info: fg(Color::Green),
            status_error: fg(Color::Red).add_modifier(Modifier::BOLD),
            diff_add: fg(Color::Green),
            diff_del: fg(Color::Red),
            diff_hunk: fg(Color::Cyan),
            diff_header: bold,
            gauge_done: fg(Color::Green),
            gauge_todo: fg(Color::DarkGray),
        }
    }

    fn plain() -> Self {
        let m = |m: Modifier| Style::new().add_modifier(m);
        let none = Style::new();
        Self {
            color: false,
            dim: m(Modifier::DIM),
            accent: m(Modifier::BOLD),
            bold: m(Modifier::BOLD),
            h1: m(Modifier::BOLD | Modifier::UNDERLINED),
            h2: m(Modifier::BOLD),
            h3: m(Modifier::BOLD | Modifier::ITALIC),
            code: none,
            inline_code: m(Modifier::REVERSED),
            code_border: m(Modifier::DIM),
            command: none,
            command_selected: m(Modifier::BOLD),
            link: m(Modifier::UNDERLINED),
            quote: m(Modifier::ITALIC),
            ok: none,
            fail: m(Modifier::BOLD),
            warn: m(Modifier::BOLD),
            error: m(Modifier::BOLD),
            running: none,
            hint: m(Modifier::ITALIC),
            selected: m(Modifier::REVERSED),
            selected_unfocused: m(Modifier::BOLD),
            border: none,
            border_focused: m(Modifier::BOLD),
            key: m(Modifier::BOLD),
            status_info: none,
            status_error: m(Modifier::BOLD),
            diff_add: m(Modifier::BOLD),
            diff_del: m(Modifier::DIM),
            diff_hunk: m(Modifier::ITALIC),
            diff_header: m(Modifier::BOLD),
            gauge_done: none,
            gauge_todo: m(Modifier::DIM),
        }
    }

    /// The border type of a pane: thick when focused and colours are off (colour marks focus otherwise).
    pub fn border_type(&self, focused: bool) -> BorderType {
        if focused && !self.color {
            BorderType::Thick
        } else {
            BorderType::Rounded
        }
    }

    /// The border style of a pane.
    pub fn border_style(&self, focused: bool) -> Style {
        if focused {
            self.border_focused
        } else {
            self.border
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_theme_uses_no_colour_anywhere() {
        let t = Theme::new(false);
        let styles = [
            t.dim,
            t.accent,
            t.bold,
            t.h1,
            t.h2,
            t.h3,
            t.code,
            t.inline_code,
            t.code_border,
            t.command,
            t.command_selected,
            t.link,
            t.quote,
            t.ok,
            t.fail,
            t.warn,
            t.error,
            t.running,
            t.hint,
            t.selected,
            t.selected_unfocused,
            t.border,
            t.border_focused,
            t.key,
            t.status_info,
            t.status_error,
            t.diff_add,
            t.diff_del,
            t.diff_hunk,
            t.diff_header,
            t.gauge_done,
            t.gauge_todo,
        ];
        for s in styles {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
        assert_eq!(t.border_type(true), BorderType::Thick);
        assert_ne!(Theme::new(true).fail.fg, None);
    }
}
