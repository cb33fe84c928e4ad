//! Markdown as plain text for the terminal (`meshwork show`).
//!
//! Faithful rather than clever: the author's line breaks are kept, headings are underlined,
//! list items get `•` or their number, code blocks are indented by four spaces, inline code
//! keeps its backticks, emphasis markers are dropped and a link shows its address after its
//! text.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

/// Renders markdown as readable plain text, ending with one newline (empty input: empty).
pub fn markdown_to_text(markdown: &str) -> String {
    let mut w = Writer::default();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(tag) => w.start(tag),
            Event::End(tag) => w.end(tag),
            Event::Text(t) => w.text(&t),
            Event::Code(c) => {
                w.text("`");
                w.text(&c);
                w.text("`");
            }
            Event::SoftBreak | Event::HardBreak => w.newline(),
            Event::Rule => {
                w.block();
                w.text("────────");
                w.end_line();
            }
            Event::Html(h) | Event::InlineHtml(h) => w.text(&h),
            Event::TaskListMarker(done) => w.text(if done { "[x] " } else { "[ ] " }),
            _ => {}
        }
    }
    w.finish()
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Prefix of each nesting level (list item continuation, quote bar, code indent).
    indent: Vec<String>,
    /// Replaces the innermost prefix on the next line written (a list item's marker).
    marker: Option<String>,
    /// Something other than a line end has been written on the current line.
    mid_line: bool,
    /// The last line written is a blank separator.
    blank: bool,
    /// Next number of each open list (`None`: bullets).
    lists: Vec<Option<u64>>,
    /// Open links: destination and where their text starts in `out`.
    links: Vec<(String, usize)>,
    /// Where the open heading's text starts in `out`.
    heading: Option<usize>,
}

impl Writer {
    fn prefix(&mut self) {
        let marker = self.marker.take();
        let innermost = self.indent.len().saturating_sub(1);
        for (i, prefix) in self.indent.iter().enumerate() {
            match &marker {
                Some(marker) if i == innermost => self.out.push_str(marker),
                _ => self.out.push_str(prefix),
            }
        }
    }

    fn text(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if line.is_empty() {
                continue;
            }
            if !self.mid_line {
                self.prefix();
                self.mid_line = true;
            }
            self.blank = false;
            self.out.push_str(line);
        }
    }

    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
        self.mid_line = false;
    }

    fn end_line(&mut self) {
        if self.mid_line {
            self.newline();
        }
    }

    /// Starts a block: a blank line after whatever came before, except right after a marker.
    fn block(&mut self) {
        if self.marker.is_some() {
            return;
        }
        self.end_line();
        if !self.out.is_empty() && !self.blank {
            let bar: String = self.indent.concat();
            self.out.push_str(bar.trim_end());
            self.out.push('\n');
            self.blank = true;
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.block(),
            Tag::Heading { .. } => {
                self.block();
                self.heading = Some(self.out.len());
            }
            Tag::BlockQuote(_) => {
                self.block();
                self.indent.push("│ ".into());
            }
            Tag::CodeBlock(_) => {
                self.block();
                self.indent.push("    ".into());
            }
            Tag::List(first) => {
                if self.lists.is_empty() {
                    self.block();
                } else {
                    self.end_line();
                }
                self.lists.push(first);
            }
            Tag::Item => {
                self.end_line();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".to_string(),
                };
                self.indent.push(" ".repeat(marker.chars().count()));
                self.marker = Some(marker);
            }
            Tag::Link { dest_url, .. } => self.links.push((dest_url.to_string(), self.out.len())),
            Tag::Image { .. } => self.text("[image: "),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_line(),
            TagEnd::Heading(level) => {
                if let Some(start) = self.heading.take() {
                    let width = self.out[start..].trim().chars().count();
                    self.end_line();
                    let rule = match level {
                        HeadingLevel::H1 => Some('='),
                        HeadingLevel::H2 => Some('-'),
                        _ => None,
                    };
                    if let Some(rule) = rule {
                        self.text(&rule.to_string().repeat(width));
                        self.end_line();
                    }
                }
            }
            TagEnd::BlockQuote(_) | TagEnd::CodeBlock => {
                self.end_line();
                self.indent.pop();
            }
            TagEnd::List(_) => {
                self.end_line();
                self.lists.pop();
            }
            TagEnd::Item => {
                self.end_line();
                self.indent.pop();
                self.marker = None;
            }
            TagEnd::Link => {
                if let Some((dest, start)) = self.links.pop() {
                    let shown = self.out.get(start..).unwrap_or_default().trim().to_string();
                    let plain = dest.strip_prefix("mailto:").unwrap_or(&dest);
                    if !dest.is_empty() && !dest.starts_with('#') && shown != plain {
                        self.text(&format!(" ({dest})"));
                    }
                }
            }
            TagEnd::Image => self.text("]"),
            _ => {}
        }
    }

    fn finish(mut self) -> String {
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::markdown_to_text;

    #[test]
    fn headings_paragraphs_and_inline_markup() {
        let md = "# Check your tools\n\nYou need **kubectl** and *optionally*\n`istioctl`, see [the docs](https://istio.io/latest/docs/).\n\n## Next\n\nGo on.\n";
        assert_eq!(
            markdown_to_text(md),
            "Check your tools\n================\n\nYou need kubectl and optionally\n`istioctl`, see the docs (https://istio.io/latest/docs/).\n\nNext\n----\n\nGo on.\n"
        );
    }

    #[test]
    fn lists_nest_and_number() {
        let md = "Steps:\n\n1. first\n2. second\n   - a\n   - b\n3. third\n";
        assert_eq!(
            markdown_to_text(md),
            "Steps:\n\n1. first\n2. second\n   • a\n   • b\n3. third\n"
        );
    }

    #[test]
    fn code_blocks_are_indented_and_keep_blank_lines() {
        let md = "Run:\n\n```sh\nkubectl get nodes\n\nkubectl version\n```\n\nThen look.\n";
        assert_eq!(
            markdown_to_text(md),
            "Run:\n\n    kubectl get nodes\n\n    kubectl version\n\nThen look.\n"
        );
    }

    #[test]
    fn quotes_get_a_bar_and_links_to_themselves_are_not_repeated() {
        let md = "> Note: see <https://kind.sigs.k8s.io>\n> twice.\n";
        assert_eq!(
            markdown_to_text(md),
            "│ Note: see https://kind.sigs.k8s.io\n│ twice.\n"
        );
    }

    #[test]
    fn empty_input_gives_empty_output() {
        assert_eq!(markdown_to_text(""), "");
        assert_eq!(markdown_to_text("\n\n"), "");
    }
}
