//! A step's instructions and commands, laid out for the instructions pane.

use crate::markdown;
use crate::strings;
use crate::text::wrap;
use crate::theme::Theme;
use meshwork_checks::{Step, TargetKind};
use ratatui::text::{Line, Span};
use std::ops::Range;

/// The instructions pane's content: markdown, then one box per command.
#[derive(Debug, Default, Clone)]
pub struct Doc {
    /// Every line, wrapped to the pane's width.
    pub lines: Vec<Line<'static>>,
    /// The commands for this target, in order.
    pub commands: Vec<DocCommand>,
}

/// A command block in a [`Doc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocCommand {
    /// The text copied by `y`.
    pub text: String,
    /// The rows of its box.
    pub lines: Range<usize>,
    /// Rows of the note right above the box (0: no note).
    pub note_rows: usize,
}

impl Doc {
    /// Lays out `step` for a target kind at `width` columns, with command `selected` marked.
    ///
    /// `second_terminal` is the line that points a second terminal at the target, and whether
    /// this is the lab's first step: there it opens the step, above the instructions (the first
    /// thing to do); on the other steps it comes after the step's commands (at hand, out of
    /// the way).
    pub fn build(
        step: &Step,
        kind: TargetKind,
        theme: &Theme,
        width: usize,
        selected: usize,
        second_terminal: Option<(&str, bool)>,
    ) -> Self {
        let mut doc = Self::default();
        if let Some((line, true)) = second_terminal {
            doc.push_command(
                Some(strings::SECOND_TERMINAL_NOTE),
                line,
                selected,
                width,
                theme,
            );
            doc.lines.push(Line::default());
        }
        doc.lines.extend(markdown::render(&step.body, width, theme));
        let mut applicable: Vec<_> = step
            .commands
            .iter()
            .filter_map(|c| c.for_target(kind).map(|text| (c.note.as_deref(), text)))
            .collect();
        let skipped = step.commands.len() - applicable.len();
        if let Some((line, false)) = second_terminal {
            applicable.push((Some(strings::SECOND_TERMINAL_NOTE), line));
        }
        if !applicable.is_empty() || skipped > 0 {
            if !doc.lines.is_empty() {
                doc.lines.push(Line::default());
            }
            doc.lines.push(Line::from(Span::styled(
                strings::COMMANDS_HEADING,
                theme.h2,
            )));
        }
        for (note, text) in applicable {
            doc.lines.push(Line::default());
            doc.push_command(note, text, selected, width, theme);
        }
        let (mut lines, commands) = (doc.lines, doc.commands);
        if skipped > 0 {
            lines.push(Line::default());
            lines.extend(wrap(
                &[Span::styled(
                    strings::commands_other_target(skipped, kind),
                    theme.dim,
                )],
                width,
                &[],
                &[],
            ));
        }
        Self { lines, commands }
    }

    /// Adds a command's note and box; it is marked when it is command number `selected`.
    fn push_command(
        &mut self,
        note: Option<&str>,
        text: &str,
        selected: usize,
        width: usize,
        theme: &Theme,
    ) {
        let is_selected = self.commands.len() == selected;
        let lines = &mut self.lines;
        let before_note = lines.len();
        if let Some(note) = note {
            let spans = markdown::inline(note, theme.dim.italic(), theme);
            lines.extend(wrap(&spans, width, &[], &[]));
        }
        let note_rows = lines.len() - before_note;
        let body: Vec<String> = text.trim_end().lines().map(str::to_string).collect();
        let (border, content, title) = if is_selected {
            (
                theme.command_selected,
                theme.command_selected,
                Some((strings::COPY_HINT, theme.key)),
            )
        } else {
            (theme.code_border, theme.command, None)
        };
        let start = lines.len();
        lines.extend(markdown::boxed(&body, width, None, title, border, content));
        self.commands.push(DocCommand {
            text: text.trim_end().to_string(),
            lines: start..lines.len(),
            note_rows,
        });
    }
}
