//! The explain view (key `x`): the recent requests from the proxies' access logs, one
//! headline each, and the chosen request's hops below — the same report `meshwork explain`
//! prints, read by `meshwork_checks::explain` on a background task.

use super::App;
use super::overlay::{Overlay, OverlayKind};
use crate::event::Action;
use crate::keys::Command;
use crate::layout;
use crate::strings;
use crate::text::{truncate_spans, wrap};
use meshwork_checks::course::{Check, CheckSpec};
use meshwork_checks::explain::{self, Hop, Query, Report, Request, why};
use ratatui::text::{Line, Span};

/// Spinner frames, one per tick.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// What the explain view knows.
#[derive(Debug, Clone, Default)]
pub struct Explain {
    /// The read in flight, or the last one.
    pub id: u64,
    /// A read is in flight.
    pub loading: bool,
    /// The last report (kept on screen while reading again).
    pub report: Option<Box<Report>>,
    /// Why the last read failed.
    pub error: Option<String>,
    /// Index of the chosen request in the report.
    pub selected: usize,
}

impl Explain {
    /// The requests of the last report (oldest first).
    pub fn requests(&self) -> &[Request] {
        self.report.as_ref().map_or(&[], |r| r.requests.as_slice())
    }
}

/// The view's lines, and where the parts a key jumps to are.
#[derive(Debug, Default)]
pub struct Content {
    /// Everything, wrapped to the width.
    pub lines: Vec<Line<'static>>,
    /// The row of the chosen request's headline.
    pub selected_row: Option<usize>,
    /// The row of the heading above the chosen request's hops.
    pub hops_row: Option<usize>,
}

/// The most recent failed request, else the most recent one.
fn default_selection(requests: &[Request]) -> usize {
    requests
        .iter()
        .rposition(|r| r.failed)
        .unwrap_or_else(|| requests.len().saturating_sub(1))
}

/// Envoy's response flags of every hop, once each, in words: `upstream timeout (UT)`.
pub fn flags_in_words(request: &Request) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for hop in request.all_hops() {
        for flag in &hop.entry.flags {
            if seen.contains(&flag.code.as_str()) {
                continue;
            }
            seen.push(&flag.code);
            let words = flag.meaning.split(':').next().unwrap_or_default().trim();
            out.push(format!("{words} ({})", flag.code));
        }
    }
    out
}

/// One request in a line: `12:26:32  GET /productpage  503  31 ms  upstream timeout (UT)`.
pub fn request_headline(request: &Request) -> String {
    let time = request.start.get(11..19).unwrap_or(&request.start);
    let status = if request.status == 0 {
        "no response".to_owned()
    } else {
        request.status.to_string()
    };
    let took = request
        .duration_ms
        .map_or_else(|| "-".to_owned(), |d| format!("{d} ms"));
    let mut text = format!(
        "{time}  {} {}  {status}  {took}",
        request.method, request.path
    );
    let flags = flags_in_words(request);
    if !flags.is_empty() {
        text.push_str("  ");
        text.push_str(&flags.join(", "));
    }
    text
}

/// The explain view's content at `width` columns.
pub fn content(app: &App, width: usize) -> Content {
    let t = &app.theme;
    let mut c = Content::default();
    let Some(state) = &app.explain else {
        return c;
    };
    let plain = |text: String, style| wrap(&[Span::styled(text, style)], width, &[], &[]);
    if state.loading {
        let frame = SPINNER[usize::try_from(app.tick % 10).unwrap_or(0)];
        let text = if state.report.is_some() || state.error.is_some() {
            strings::EXPLAIN_READING_AGAIN
        } else {
            strings::EXPLAIN_READING
        };
        c.lines.push(Line::from(vec![
            Span::styled(frame, t.running),
            Span::raw(" "),
            Span::styled(text, t.dim),
        ]));
        if state.report.is_some() || state.error.is_some() {
            c.lines.push(Line::default());
        }
    }
    if let Some(error) = &state.error {
        c.lines.extend(plain(
            strings::explain_failed(error.trim_end_matches('.')),
            t.fail,
        ));
        c.lines.push(Line::default());
        c.lines
            .extend(plain(strings::EXPLAIN_TRY_AGAIN.into(), t.dim));
        return c;
    }
    let Some(report) = &state.report else {
        return c;
    };
    if let Some(notice) = &report.notice {
        c.lines.extend(plain(notice.clone(), t.warn));
        c.lines.push(Line::default());
        c.lines
            .extend(plain(strings::EXPLAIN_READ_AGAIN.into(), t.dim));
    } else {
        let rendered = explain::text::render(report);
        let summary = rendered.lines().next().unwrap_or_default().to_owned();
        c.lines.extend(plain(summary, t.dim));
        c.lines.push(Line::default());
        for (i, request) in report.requests.iter().enumerate() {
            let chosen = i == state.selected;
            let marker = if chosen { "▶ " } else { "  " };
            let style = match (chosen, request.failed) {
                (true, _) => t.selected,
                (false, true) => t.fail,
                (false, false) => ratatui::style::Style::new(),
            };
            let spans = vec![
                Span::styled(marker, t.accent),
                Span::styled(request_headline(request), style),
            ];
            if chosen {
                c.selected_row = Some(c.lines.len());
            }
            c.lines.push(Line::from(truncate_spans(spans, width)));
        }
        if let Some(request) = report.requests.get(state.selected) {
            c.lines.push(Line::default());
            c.hops_row = Some(c.lines.len());
            let heading =
                strings::explain_hops(state.selected + 1, report.requests.len(), &request.id);
            c.lines.extend(plain(heading, t.h2));
            let count = request.hops.len();
            for (i, hop) in request.hops.iter().enumerate() {
                hop_lines(app, hop, "", i + 1 == count, width, &mut c.lines);
            }
        }
    }
    for problem in &report.problems {
        if c.lines.last().is_some_and(|l| l.width() > 0) {
            c.lines.push(Line::default());
        }
        let first = [Span::styled("note: ", t.warn.bold())];
        let rest = [Span::raw("      ")];
        c.lines.extend(wrap(
            &[Span::styled(problem.clone(), t.warn)],
            width,
            &first,
            &rest,
        ));
    }
    c
}

/// One hop and the hops it caused, as the tree `meshwork explain` prints, wrapped so each
/// continuation keeps the tree's bars.
fn hop_lines(
    app: &App,
    hop: &Hop,
    prefix: &str,
    last: bool,
    width: usize,
    out: &mut Vec<Line<'static>>,
) {
    let t = &app.theme;
    let (branch, carry) = if last {
        ("└─ ", "   ")
    } else {
        ("├─ ", "│  ")
    };
    let child = format!("{prefix}{carry}");
    let style = if hop.failed() { t.fail.bold() } else { t.bold };
    let first = [Span::styled(format!("{prefix}{branch}"), t.dim)];
    let bar = if hop.hops.is_empty() { "  " } else { "│ " };
    let rest = [Span::styled(format!("{child}{bar}"), t.dim)];
    out.extend(wrap(
        &[Span::styled(explain::text::headline(hop), style)],
        width,
        &first,
        &rest,
    ));
    for detail in explain::text::details(hop) {
        let first = [Span::styled(format!("{child}{bar}"), t.dim)];
        let rest = [Span::styled(format!("{child}{bar}  "), t.dim)];
        let detail_style = if detail.starts_with("route:") {
            t.accent
        } else {
            ratatui::style::Style::new()
        };
        out.extend(wrap(
            &[Span::styled(detail, detail_style)],
            width,
            &first,
            &rest,
        ));
    }
    let count = hop.hops.len();
    for (i, next) in hop.hops.iter().enumerate() {
        hop_lines(app, next, &child, i + 1 == count, width, out);
    }
}

/// Programs whose use in an `exec` check means it sends requests through the mesh.
const TRAFFIC_TOOLS: [&str; 5] = ["curl", "wget", "fortio", "grpcurl", "http"];

/// Whether a check is about traffic — `http`, `envoy_stat`, or an `exec` that sends requests
/// (curl, wget, fortio…): its failures are worth explaining from the access logs.
pub fn checks_traffic(check: &Check) -> bool {
    match &check.spec {
        CheckSpec::Http(_) | CheckSpec::EnvoyStat(_) => true,
        CheckSpec::Exec(exec) => exec.command.iter().any(|arg| {
            arg.split(|c: char| c.is_whitespace() || matches!(c, '|' | ';' | '&' | '(' | '/'))
                .any(|word| TRAFFIC_TOOLS.contains(&word))
        }),
        _ => false,
    }
}

/// The namespace whose sidecars saw the traffic of a check that runs in a pod (exec,
/// envoy_stat); an http check's own requests are narrowed by [`why::query_for`].
fn pod_namespace(check: &Check) -> Option<String> {
    match &check.spec {
        CheckSpec::Exec(exec) => exec.pod.namespace.clone(),
        CheckSpec::EnvoyStat(stat) => stat.pod.namespace.clone(),
        _ => None,
    }
}

impl App {
    /// What the explain view reads: `meshwork explain`'s defaults, in the namespace of the
    /// step's traffic check (a failed one first) when it names one.
    fn explain_query(&self) -> Query {
        let mut query = Query::default();
        let Some((view, _, step)) = self.current() else {
            return query;
        };
        let failed = |i: &usize| {
            self.checks
                .get(&(view.lab, view.step))
                .and_then(|run| run.slots.get(*i)?.result.as_ref())
                .is_some_and(|r| !r.outcome.is_ok())
        };
        let traffic: Vec<usize> = (0..step.checks.len())
            .filter(|i| checks_traffic(&step.checks[*i]))
            .collect();
        let chosen = traffic
            .iter()
            .find(|i| failed(i))
            .or_else(|| traffic.first());
        // An http check's own requests: its namespace and its path (as `meshwork check` shows).
        if let Some(narrow) = chosen.and_then(|i| why::query_for(&step.checks[*i])) {
            query.namespace = narrow.namespace;
            query.path = narrow.path;
            return query;
        }
        query.namespace = chosen.and_then(|i| pod_namespace(&step.checks[*i]));
        query
    }

    /// Whether the step on screen has a traffic check (the key bar then offers `x`).
    pub(crate) fn step_checks_traffic(&self) -> bool {
        self.current()
            .is_some_and(|(_, _, step)| step.checks.iter().any(checks_traffic))
    }

    /// Opens the explain view and starts reading the access logs.
    pub(super) fn open_explain(&mut self) -> Option<Action> {
        // An answer about another target (before a switch) is not shown while reading this one.
        let here = self.ctx.target.describe();
        if let Some(state) = &mut self.explain
            && state.report.as_ref().is_some_and(|r| r.target != here)
        {
            state.report = None;
            state.error = None;
        }
        let action = self.start_explain();
        self.open_overlay(OverlayKind::Explain);
        Some(action)
    }

    /// Starts a read; the last report stays on screen until the new one arrives.
    fn start_explain(&mut self) -> Action {
        let id = self.next_explain;
        self.next_explain += 1;
        let state = self.explain.get_or_insert_with(Explain::default);
        state.id = id;
        state.loading = true;
        self.dirty = true;
        Action::Explain {
            id,
            query: self.explain_query(),
        }
    }

    /// A read finished: show it, unless a newer one was started since.
    pub(super) fn explained(&mut self, id: u64, result: Result<Box<Report>, String>) {
        let Some(state) = self.explain.as_mut().filter(|s| s.id == id && s.loading) else {
            return;
        };
        state.loading = false;
        match result {
            Ok(report) => {
                state.selected = default_selection(&report.requests);
                state.report = Some(report);
                state.error = None;
            }
            Err(reason) => {
                state.error = Some(reason);
                state.report = None;
            }
        }
        self.dirty = true;
        if self.explain_open() {
            self.rebuild_overlay();
            self.explain_follow(false);
        }
    }

    /// The explain view is the window on top.
    pub(super) fn explain_open(&self) -> bool {
        self.overlay
            .as_ref()
            .is_some_and(|o| o.kind == OverlayKind::Explain)
    }

    /// Whether the spinner turns.
    pub(super) fn explain_loading(&self) -> bool {
        self.explain_open() && self.explain.as_ref().is_some_and(|s| s.loading)
    }

    /// Keys in the explain view.
    pub(super) fn explain_command(&mut self, command: Command) -> Option<Action> {
        let n = self.explain.as_ref().map_or(0, |s| s.requests().len());
        let page = self.overlay_page();
        let select = |app: &mut App, to: usize| {
            if let Some(s) = app.explain.as_mut() {
                s.selected = to;
            }
            app.rebuild_overlay();
            app.explain_follow(false);
        };
        let current = self.explain.as_ref().map_or(0, |s| s.selected);
        match command {
            Command::Back => self.overlay = None,
            Command::Help => self.open_overlay(OverlayKind::Help),
            Command::Refresh => {
                let action = self.start_explain();
                self.rebuild_overlay();
                return Some(action);
            }
            Command::Up if n > 0 => select(self, current.saturating_sub(1)),
            Command::Down if n > 0 => select(self, (current + 1).min(n - 1)),
            Command::Top if n > 0 => select(self, 0),
            Command::Bottom if n > 0 => select(self, n - 1),
            Command::Open => self.explain_follow(true),
            Command::Up => self.scroll_overlay(-1),
            Command::Down => self.scroll_overlay(1),
            Command::PageUp => self.scroll_overlay(-isize::try_from(page).unwrap_or(1)),
            Command::PageDown => self.scroll_overlay(isize::try_from(page).unwrap_or(1)),
            _ => {}
        }
        None
    }

    /// Scrolls the window on top by `delta` rows.
    pub(super) fn scroll_overlay(&mut self, delta: isize) {
        let page = self.overlay_page();
        if let Some(o) = &mut self.overlay {
            let max = o.lines.len().saturating_sub(page);
            o.scroll = o.scroll.saturating_add_signed(delta).min(max);
        }
    }

    /// Keeps the chosen request's headline in view; with `hops`, brings its hops to the top.
    fn explain_follow(&mut self, hops: bool) {
        let width = usize::from(layout::padded_inner(layout::overlay(self.area, usize::MAX)).width);
        let c = content(self, width);
        let page = self.overlay_page();
        let Some(Overlay { scroll, lines, .. }) = &mut self.overlay else {
            return;
        };
        let max = lines.len().saturating_sub(page);
        if hops {
            if let Some(row) = c.hops_row {
                *scroll = row.min(max);
            }
            return;
        }
        if let Some(row) = c.selected_row {
            if row < *scroll {
                *scroll = row;
            } else if row >= *scroll + page {
                *scroll = (row + 1).saturating_sub(page);
            }
        }
        *scroll = (*scroll).min(max);
    }
}

#[cfg(test)]
mod tests;
