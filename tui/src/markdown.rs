//! Step instructions: markdown rendered into wrapped, styled lines.
//!
//! Headings, paragraphs, bullet and numbered lists (nested), block quotes, emphasis, strong,
//! strikethrough, `inline code`, links (text followed by the url), images (alt text) and
//! fenced code blocks drawn in a box with their language. Output is pre-wrapped to a width so
//! callers know the exact height.

use crate::text::{self, wrap};
use crate::theme::Theme;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Renders `markdown` to lines at most `width` columns wide.
pub fn render(markdown: &str, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut r = Renderer::new(width, theme);
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.flush();
    while r.lines.last().is_some_and(|l| l.width() == 0) {
        r.lines.pop();
    }
    r.lines
}

/// Renders short markdown (a hint, a note) as spans for one wrapped paragraph.
///
/// Inline styles (code, emphasis, strong, links) are kept; block structure is flattened:
/// line breaks become spaces and blocks are joined by a space.
pub fn inline(markdown: &str, base: Style, theme: &Theme) -> Vec<Span<'static>> {
    let mut r = Renderer::new(usize::MAX, theme);
    r.styles = vec![base];
    for event in Parser::new_ext(markdown.trim(), Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => r.text(" "),
            Event::HardBreak => r.text(" "),
            Event::Start(
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::List(_)
                | Tag::Item
                | Tag::BlockQuote(_),
            )
            | Event::End(TagEnd::List(_) | TagEnd::BlockQuote(_)) => {}
            Event::Start(Tag::CodeBlock(_)) | Event::End(TagEnd::CodeBlock) => {}
            other => r.event(other),
        }
    }
    while r.inline.last().is_some_and(|s| s.content.trim().is_empty()) {
        r.inline.pop();
    }
    r.inline
}

/// Draws `body` lines in a box `width` columns wide, titles in the top border.
///
/// Lines longer than the box are wrapped (code must never be hidden).
pub fn boxed(
    body: &[String],
    width: usize,
    title_left: Option<(&str, Style)>,
    title_right: Option<(&str, Style)>,
    border: Style,
    content: Style,
) -> Vec<Line<'static>> {
    let width = width.max(4);
    let inner = width - 4;
    let mut top = vec![Span::styled("╭─", border)];
    let mut used = 2;
    if let Some((t, style)) = title_left {
        let t = text::truncate(&format!(" {t} "), inner);
        used += text::width(&t);
        top.push(Span::styled(t, style));
    }
    let right = title_right
        .map(|(t, style)| (format!(" {t} "), style))
        .filter(|(t, _)| used + text::width(t) + 2 <= width);
    let right_w = right.as_ref().map_or(0, |(t, _)| text::width(t));
    top.push(Span::styled(
        "─".repeat(width.saturating_sub(used + right_w + 2)),
        border,
    ));
    if let Some((t, style)) = right {
        top.push(Span::styled(t, style));
    }
    top.push(Span::styled("─╮", border));
    let mut lines = vec![Line::from(top)];
    for raw in body {
        let expanded = raw.replace('\t', "    ");
        for piece in text::hard_split(&expanded, inner) {
            let pad = inner.saturating_sub(text::width(&piece));
            lines.push(Line::from(vec![
                Span::styled("│ ", border),
                Span::styled(piece, content),
                Span::raw(" ".repeat(pad)),
                Span::styled(" │", border),
            ]));
        }
    }
    lines.push(Line::from(Span::styled(
        format!("╰{}╯", "─".repeat(width - 2)),
        border,
    )));
    lines
}

enum Container {
    Quote,
    Item { marker: String, used: bool },
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    lines: Vec<Line<'static>>,
    inline: Vec<Span<'static>>,
    styles: Vec<Style>,
    containers: Vec<Container>,
    /// Next number of each open list (`None`: bullets).
    lists: Vec<Option<u64>>,
    links: Vec<(String, usize)>,
    code: Option<(String, String)>,
    heading: Option<HeadingLevel>,
    blank_before_next: bool,
}

impl<'t> Renderer<'t> {
    fn new(width: usize, theme: &'t Theme) -> Self {
        Self {
            theme,
            width: width.max(1),
            lines: Vec::new(),
            inline: Vec::new(),
            styles: vec![Style::new()],
            containers: Vec::new(),
            lists: Vec::new(),
            links: Vec::new(),
            code: None,
            heading: None,
            blank_before_next: false,
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, style: Style) {
        let s = self.style().patch(style);
        self.styles.push(s);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    /// Prefixes for the first and the following lines of a block at the current nesting.
    fn prefixes(&self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let mut first = Vec::new();
        let mut rest = Vec::new();
        let quote = self.theme.quote;
        for c in &self.containers {
            match c {
                Container::Quote => {
                    first.push(Span::styled("▌ ", quote));
                    rest.push(Span::styled("▌ ", quote));
                }
                Container::Item { marker, used } => {
                    let pad = " ".repeat(text::width(marker));
                    if *used {
                        first.push(Span::raw(pad.clone()));
                    } else {
                        first.push(Span::styled(marker.clone(), self.theme.accent));
                    }
                    rest.push(Span::raw(pad));
                }
            }
        }
        (first, rest)
    }

    fn mark_items_used(&mut self) {
        for c in &mut self.containers {
            if let Container::Item { used, .. } = c {
                *used = true;
            }
        }
    }

    /// Starts a block: a blank line first when the previous block asked for one.
    fn begin_block(&mut self) {
        self.flush();
        if self.blank_before_next && !self.lines.is_empty() {
            let (_, rest) = self.prefixes();
            let only_quotes: Vec<Span<'static>> = rest
                .into_iter()
                .filter(|s| s.content.trim() != "")
                .collect();
            self.lines.push(Line::from(only_quotes));
        }
        self.blank_before_next = false;
    }

    fn end_block(&mut self) {
        self.flush();
        self.blank_before_next = true;
    }

    /// Wraps the pending inline text into lines.
    fn flush(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.inline);
        let (first, rest) = self.prefixes();
        let mut lines = wrap(&spans, self.width, &first, &rest);
        if let Some(level) = self.heading
            && level == HeadingLevel::H1
        {
            let w = lines.iter().map(Line::width).max().unwrap_or(0);
            let (_, rest) = self.prefixes();
            let indent = text::line_width(&rest);
            let mut rule = rest;
            rule.push(Span::styled(
                "━".repeat(w.saturating_sub(indent)),
                self.theme.h1,
            ));
            lines.push(Line::from(rule));
        }
        self.lines.append(&mut lines);
        self.mark_items_used();
    }

    fn text(&mut self, t: &str) {
        let style = self.style();
        self.inline.push(Span::styled(t.to_string(), style));
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some((_, buf)) = &mut self.code {
            match event {
                Event::Text(t) => buf.push_str(&t),
                Event::End(TagEnd::CodeBlock) => self.end_code(),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let style = self.style().patch(self.theme.inline_code);
                self.inline.push(Span::styled(t.to_string(), style));
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.begin_block();
                let (first, _) = self.prefixes();
                let w = self.width.saturating_sub(text::line_width(&first));
                let mut spans = first;
                spans.push(Span::styled("─".repeat(w), self.theme.dim));
                self.lines.push(Line::from(spans));
                self.blank_before_next = true;
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::Html(h) | Event::InlineHtml(h) => {
                let h = h.trim();
                if !(h.starts_with("<!--") || h.is_empty()) {
                    let style = self.theme.dim;
                    self.inline.push(Span::styled(h.to_string(), style));
                }
            }
            Event::InlineMath(t) | Event::DisplayMath(t) | Event::FootnoteReference(t) => {
                self.text(&t);
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.begin_block(),
            Tag::Heading { level, .. } => {
                self.begin_block();
                self.heading = Some(level);
                let style = match level {
                    HeadingLevel::H1 => self.theme.h1,
                    HeadingLevel::H2 => self.theme.h2,
                    _ => self.theme.h3,
                };
                self.push_style(style);
            }
            Tag::BlockQuote(_) => {
                self.begin_block();
                self.containers.push(Container::Quote);
                self.push_style(self.theme.quote);
            }
            Tag::CodeBlock(kind) => {
                self.begin_block();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.begin_block();
                } else {
                    // A nested list ends the parent item's text.
                    self.flush();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => ["• ", "◦ ", "▪ "][(self.lists.len().saturating_sub(1)) % 3].to_string(),
                };
                self.containers.push(Container::Item {
                    marker,
                    used: false,
                });
            }
            Tag::Emphasis => self.push_style(Style::new().italic()),
            Tag::Strong => self.push_style(Style::new().bold()),
            Tag::Strikethrough => self.push_style(Style::new().crossed_out()),
            Tag::Link { dest_url, .. } => {
                let at = self.inline.len();
                self.links.push((dest_url.to_string(), at));
                self.push_style(self.theme.link);
            }
            Tag::Image { .. } => {
                self.text("[image: ");
                self.push_style(Style::new().italic());
            }
            Tag::HtmlBlock => self.begin_block(),
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Table(_)
            | Tag::TableHead
            | Tag::TableRow
            | Tag::TableCell
            | Tag::Superscript
            | Tag::Subscript
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_block(),
            TagEnd::Heading(_) => {
                self.end_block();
                self.heading = None;
                self.pop_style();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.containers.pop();
                self.pop_style();
                self.blank_before_next = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.blank_before_next = true;
                }
            }
            TagEnd::Item => {
                self.flush();
                self.containers.pop();
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link => {
                self.pop_style();
                if let Some((url, at)) = self.links.pop() {
                    let shown: String = self.inline[at.min(self.inline.len())..]
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect();
                    let bare = url.trim_start_matches("mailto:");
                    if shown.trim() != bare && !url.starts_with('#') {
                        let style = self.theme.dim;
                        self.inline.push(Span::styled(format!(" ({url})"), style));
                    }
                }
            }
            TagEnd::Image => {
                self.pop_style();
                self.text("]");
            }
            TagEnd::CodeBlock => self.end_code(),
            TagEnd::HtmlBlock => self.end_block(),
            _ => {}
        }
    }

    fn end_code(&mut self) {
        let Some((lang, code)) = self.code.take() else {
            return;
        };
        let (first, rest) = self.prefixes();
        let indent = text::line_width(&first);
        let body: Vec<String> = code
            .trim_end_matches('\n')
            .lines()
            .map(str::to_string)
            .collect();
        let title = (!lang.is_empty()).then_some((lang.as_str(), self.theme.dim));
        let boxed = boxed(
            &body,
            self.width.saturating_sub(indent),
            title,
            None,
            self.theme.code_border,
            self.theme.code,
        );
        for (i, line) in boxed.into_iter().enumerate() {
            let mut spans = if i == 0 { first.clone() } else { rest.clone() };
            spans.extend(line.spans);
            self.lines.push(Line::from(spans));
        }
        self.mark_items_used();
        self.blank_before_next = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    fn plain(md: &str, width: usize) -> Vec<String> {
        render(md, width, &Theme::new(true))
            .iter()
            .map(|l| l.to_string().trim_end().to_string())
            .collect()
    }

    #[test]
    fn paragraphs_wrap_and_are_separated_by_a_blank_line() {
        let out = plain(
            "One two three four five six.\nSeven.\n\nNext paragraph.",
            16,
        );
        assert_eq!(
            out,
            [
                "One two three",
                "four five six.",
                "Seven.",
                "",
                "Next paragraph."
            ]
        );
    }

    #[test]
    fn lists_get_markers_numbers_and_hanging_indents() {
        let md = "- first item is long enough to wrap\n- second\n  - nested\n\n1. one\n2. two\n";
        let out = plain(md, 20);
        assert_eq!(
            out,
            [
                "• first item is long",
                "  enough to wrap",
                "• second",
                "  ◦ nested",
                "",
                "1. one",
                "2. two",
            ]
        );
    }

    #[test]
    fn code_blocks_are_boxed_with_their_language_and_never_cut() {
        let md = "```yaml\nkind: VirtualService\nmetadata: {name: a-very-long-name}\n```\n";
        let out = plain(md, 24);
        assert_eq!(out[0], "╭─ yaml ───────────────╮");
        assert_eq!(out[1], "│ kind: VirtualService │");
        assert_eq!(out[2], "│ metadata: {name: a-v │");
        assert_eq!(out[3], "│ ery-long-name}       │");
        assert_eq!(out[4], "╰──────────────────────╯");
        let lines = render(md, 24, &Theme::new(true));
        assert_eq!(lines[1].spans[1].style, Theme::new(true).code);
    }

    #[test]
    fn inline_styles_links_and_headings() {
        let theme = Theme::new(true);
        let md = "# Title\n\nUse `kubectl` with *care*, **always**. See [the docs](https://istio.io/docs).";
        let lines = render(md, 80, &theme);
        let out: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(out[0], "Title");
        assert_eq!(out[1], "━━━━━");
        assert_eq!(
            out[3],
            "Use kubectl with care, always. See the docs (https://istio.io/docs)."
        );
        let style_of = |needle: &str| {
            lines[3]
                .spans
                .iter()
                .find(|s| s.content.contains(needle))
                .map(|s| s.style)
                .unwrap()
        };
        assert_eq!(style_of("kubectl"), theme.inline_code);
        assert!(style_of("care").add_modifier.contains(Modifier::ITALIC));
        assert!(style_of("always").add_modifier.contains(Modifier::BOLD));
        assert!(style_of("docs").add_modifier.contains(Modifier::UNDERLINED));
        assert_eq!(lines[0].spans[0].style, theme.h1);
    }

    #[test]
    fn autolinks_do_not_repeat_the_url_and_quotes_get_a_bar() {
        let out = plain("<https://istio.io>\n\n> careful\n> here", 40);
        assert_eq!(out, ["https://istio.io", "", "▌ careful here"]);
    }

    #[test]
    fn inline_markdown_keeps_code_and_flattens_lines() {
        let theme = Theme::new(true);
        let spans = inline(
            "Run `kubectl get nodes`.\nIt must *list* one.\n",
            theme.hint,
            &theme,
        );
        let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "Run kubectl get nodes. It must list one.");
        let code = spans
            .iter()
            .find(|s| s.content == "kubectl get nodes")
            .unwrap();
        assert_eq!(code.style, theme.hint.patch(theme.inline_code));
        let plain = spans.iter().find(|s| s.content.starts_with("Run")).unwrap();
        assert_eq!(plain.style, theme.hint);
    }

    #[test]
    fn nothing_breaks_at_tiny_widths() {
        let md = "# A heading\n\n- a list\n  ```\n  code\n  ```\n\n> quote with `code`";
        for w in 0..8 {
            let _ = render(md, w, &Theme::new(false));
        }
    }
}
