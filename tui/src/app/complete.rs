//! Finishing a lab: what it taught (its summary, its steps, what it used) and what comes next
//! (the next lab by number whose prerequisites are done, or that every lab is done).

use super::App;
use super::overlay::OverlayKind;
use crate::keys::Command;
use crate::strings;
use crate::text::wrap;
use ratatui::text::{Line, Span};

impl App {
    /// Whether every step of lab `lab` is done on this target.
    pub(crate) fn lab_complete(&self, lab: usize) -> bool {
        self.course
            .labs
            .get(lab)
            .is_some_and(|l| l.steps.iter().all(|s| self.progress.is_done(&l.id, &s.id)))
    }

    /// The lab to do after `lab`: the first by number after it (then from the start) that is
    /// not done and whose prerequisites are; `None` when no such lab is left.
    pub fn next_lab(&self, lab: usize) -> Option<usize> {
        let labs = &self.course.labs;
        let number = labs.get(lab).map_or(0, |l| l.number);
        let mut order: Vec<usize> = (0..labs.len()).filter(|&i| i != lab).collect();
        order.sort_by_key(|&i| (labs[i].number <= number, labs[i].number));
        // Finishing a lab shows its prerequisites are in place on the target, done here or not.
        let implied: Vec<&str> = labs
            .get(lab)
            .map(|l| self.course.prerequisites_of(l))
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.id.as_str())
            .collect();
        order.into_iter().find(|&i| {
            !self.lab_complete(i)
                && !implied.contains(&labs[i].id.as_str())
                && labs[i].prerequisites.iter().all(|p| {
                    implied.contains(&p.as_str())
                        || labs
                            .iter()
                            .position(|l| &l.id == p)
                            .is_none_or(|j| self.lab_complete(j))
                })
        })
    }

    /// Opens the completion window for `lab`.
    pub(super) fn open_complete(&mut self, lab: usize) {
        self.open_overlay(OverlayKind::Complete { lab });
    }

    /// Keys in the completion window: enter opens the next lab.
    pub(super) fn complete_command(&mut self, command: Command, lab: usize) {
        match command {
            Command::Open => {
                self.overlay = None;
                if let Some(next) = self.next_lab(lab) {
                    self.home_selected = next;
                    self.open_lab(next, None);
                }
            }
            Command::Back => self.overlay = None,
            Command::Up => self.scroll_overlay(-1),
            Command::Down => self.scroll_overlay(1),
            Command::PageUp | Command::Top => self.scroll_overlay(isize::MIN),
            Command::PageDown | Command::Bottom => self.scroll_overlay(isize::MAX),
            _ => {}
        }
    }
}

/// The completion window's title.
pub fn title(app: &App, lab: usize) -> String {
    app.course
        .labs
        .get(lab)
        .map_or_else(String::new, |l| strings::complete_title(&l.label()))
}

/// The completion window's content at `width` columns.
pub fn lines(app: &App, lab: usize, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some(l) = app.course.labs.get(lab) else {
        return Vec::new();
    };
    let plain = |text: String, style| wrap(&[Span::styled(text, style)], width, &[], &[]);
    let indent = [Span::raw("  ")];
    let mut lines = plain(strings::complete_headline(&l.label()), t.ok.bold());
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(strings::COMPLETE_LEARNED, t.h2)));
    lines.extend(wrap(
        &[Span::raw(l.summary.trim().to_string())],
        width,
        &indent,
        &indent,
    ));
    for step in &l.steps {
        let first = [Span::raw("  "), Span::styled("✔ ", t.ok)];
        lines.extend(wrap(
            &[Span::raw(step.title.clone())],
            width,
            &first,
            &[Span::raw("    ")],
        ));
    }
    if !l.uses.is_empty() {
        let spans = [
            Span::styled(strings::COMPLETE_USED, t.dim),
            Span::styled(l.uses.join(", "), t.bold),
        ];
        lines.extend(wrap(&spans, width, &indent, &indent));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(strings::COMPLETE_NEXT, t.h2)));
    match app.next_lab(lab).and_then(|i| app.course.labs.get(i)) {
        Some(next) => {
            lines.extend(wrap(
                &[Span::styled(next.label(), t.accent.bold())],
                width,
                &indent,
                &indent,
            ));
            lines.extend(wrap(
                &[Span::styled(next.summary.trim().to_string(), t.dim)],
                width,
                &indent,
                &indent,
            ));
            lines.push(Line::default());
            lines.extend(plain(strings::COMPLETE_OPEN_NEXT.into(), t.dim));
        }
        None => lines.extend(wrap(
            &[Span::raw(strings::COMPLETE_ALL_DONE)],
            width,
            &indent,
            &indent,
        )),
    }
    lines
}
