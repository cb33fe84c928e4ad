//! Text measuring and wrapping for styled spans.
//!
//! The UI wraps text itself (instead of letting `Paragraph` do it) so it knows exactly how
//! many rows a document takes: scrolling can then be clamped, and list items and check
//! messages can have hanging indents.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display width of a string, in terminal columns.
pub fn width(s: &str) -> usize {
    s.width()
}

/// Display width of a line's spans.
pub fn line_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// Cuts `s` to at most `max` columns, ending with `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// Cuts a list of spans to at most `max` columns (with `…`), keeping styles.
pub fn truncate_spans(spans: Vec<Span<'static>>, max: usize) -> Vec<Span<'static>> {
    if line_width(&spans) <= max {
        return spans;
    }
    let mut out = Vec::new();
    let mut left = max;
    for span in spans {
        let w = span.content.width();
        if w < left {
            left -= w;
            out.push(span);
        } else {
            let cut = truncate(&format!("{}…", span.content), left);
            // `truncate` on "text…" keeps as much text as fits plus the ellipsis.
            out.push(Span::styled(cut, span.style));
            break;
        }
    }
    out
}

/// Splits `s` into pieces of at most `max` columns (at least one char each).
pub fn hard_split(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > max && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            used = 0;
        }
        cur.push(ch);
        used += w;
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// A word: styled pieces with no whitespace between them.
type Word = Vec<(String, Style)>;

enum Token {
    Word(Word),
    Space(Style),
    Break,
}

fn tokenize(spans: &[Span<'_>]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word: Word = Vec::new();
    let flush = |word: &mut Word, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    for span in spans {
        let mut piece = String::new();
        for ch in span.content.chars() {
            if ch == '\n' || ch.is_whitespace() {
                if !piece.is_empty() {
                    word.push((std::mem::take(&mut piece), span.style));
                }
                flush(&mut word, &mut tokens);
                if ch == '\n' {
                    tokens.push(Token::Break);
                } else if !matches!(tokens.last(), Some(Token::Space(_))) {
                    tokens.push(Token::Space(span.style));
                }
            } else {
                piece.push(ch);
            }
        }
        if !piece.is_empty() {
            word.push((piece, span.style));
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// Wraps styled spans into lines of at most `width` columns.
///
/// `first` prefixes the first line and `rest` every following one (a hanging indent).
/// Whitespace runs collapse to one space; `\n` forces a break. Words wider than a line are
/// split. Always returns at least one line.
pub fn wrap(
    spans: &[Span<'_>],
    width: usize,
    first: &[Span<'static>],
    rest: &[Span<'static>],
) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut cur: Vec<Span<'static>> = first.to_vec();
    let mut used = line_width(first);
    let mut at_start = true;
    let mut pending_space: Option<Style> = None;
    let new_line = |lines: &mut Vec<Line<'static>>, cur: &mut Vec<Span<'static>>| {
        lines.push(Line::from(std::mem::replace(cur, rest.to_vec())));
        line_width(rest)
    };
    for token in tokenize(spans) {
        match token {
            Token::Break => {
                used = new_line(&mut lines, &mut cur);
                at_start = true;
                pending_space = None;
            }
            Token::Space(style) => {
                if !at_start {
                    pending_space = Some(style);
                }
            }
            Token::Word(word) => {
                let w: usize = word.iter().map(|(t, _)| t.width()).sum();
                if !at_start && used + 1 + w > width {
                    used = new_line(&mut lines, &mut cur);
                    pending_space = None;
                }
                if let Some(style) = pending_space.take() {
                    cur.push(Span::styled(" ", style));
                    used += 1;
                }
                let avail = width.saturating_sub(used);
                if w <= avail {
                    for (text, style) in word {
                        cur.push(Span::styled(text, style));
                    }
                    used += w;
                } else {
                    // Longer than a line: split it wherever the line is full.
                    for (text, style) in word {
                        let mut text = text.as_str();
                        while !text.is_empty() {
                            let avail = width.saturating_sub(used);
                            if avail == 0 {
                                used = new_line(&mut lines, &mut cur);
                                if width <= used {
                                    // No room even after the indent: give up on the indent.
                                    cur.clear();
                                    used = 0;
                                }
                                continue;
                            }
                            let head = hard_split(text, avail).swap_remove(0);
                            used += head.width();
                            text = &text[head.len()..];
                            cur.push(Span::styled(head, style));
                        }
                    }
                }
                at_start = false;
            }
        }
    }
    lines.push(Line::from(cur));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn wraps_at_word_boundaries_with_a_hanging_indent() {
        let spans = [Span::raw("the quick brown fox jumps over the lazy dog")];
        let lines = wrap(&spans, 16, &[Span::raw("• ")], &[Span::raw("  ")]);
        assert_eq!(
            plain(&lines),
            [
                "• the quick",
                "  brown fox",
                "  jumps over the",
                "  lazy dog"
            ]
        );
        assert!(lines.iter().all(|l| l.width() <= 16));
    }

    #[test]
    fn keeps_styles_and_does_not_break_inside_a_styled_word() {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let spans = [
            Span::raw("aaaa "),
            Span::styled("bold", bold),
            Span::raw(", rest"),
        ];
        let lines = wrap(&spans, 9, &[], &[]);
        assert_eq!(plain(&lines), ["aaaa", "bold,", "rest"]);
        assert_eq!(lines[1].spans[0].style, bold);
    }

    #[test]
    fn splits_words_longer_than_a_line_and_honours_forced_breaks() {
        let spans = [Span::raw("x abcdefghij\nend")];
        let lines = wrap(&spans, 4, &[], &[]);
        assert_eq!(plain(&lines), ["x", "abcd", "efgh", "ij", "end"]);
    }

    #[test]
    fn survives_zero_width() {
        let lines = wrap(
            &[Span::raw("hello world")],
            0,
            &[Span::raw("> ")],
            &[Span::raw("  ")],
        );
        assert!(!lines.is_empty());
        assert!(plain(&lines).concat().contains("hello"));
    }

    #[test]
    fn truncates_with_an_ellipsis() {
        assert_eq!(truncate("Request routing", 8), "Request…");
        assert_eq!(truncate("short", 8), "short");
        assert_eq!(truncate("abc", 0), "");
        let spans = truncate_spans(vec![Span::raw("abc"), Span::raw("defgh")], 6);
        assert_eq!(Line::from(spans).to_string(), "abcde…");
    }
}
