//! Finds where a field lives in a YAML file, so validation errors can name a line.
//!
//! serde reports lines for syntax and type errors itself; errors found after parsing (a
//! missing step file, two check kinds in one check) use this index instead. Paths are
//! written the way serde_yaml writes them: `steps[1].checks[0].resource.kind`.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Field path → 1-based line of the first document in a YAML text.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Indexes `text`; a text that does not parse gives an empty index.
    pub fn new(text: &str) -> Self {
        let mut builder = Builder::default();
        let _ = Parser::new_from_str(text).load(&mut builder, false);
        Self {
            lines: builder.lines,
        }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(&line) = self.lines.get(path) {
                return Some(line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { next: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
}

impl Builder {
    fn path(&self) -> String {
        let mut out = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Map { key: Some(k) } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Frame::Map { key: None } => {}
                Frame::Seq { next } => {
                    out.push_str(&format!("[{}]", next.saturating_sub(1)));
                }
            }
        }
        out
    }

    /// A node starts: if it is a map key, remember it; otherwise it is a value at the
    /// current path. Returns true when the node was a key.
    fn node(&mut self, scalar: Option<&str>, mark: Marker) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Map { key }) if key.is_none() => {
                *key = Some(scalar.unwrap_or_default().to_string());
                let path = self.path();
                self.lines.entry(path).or_insert(mark.line());
                true
            }
            Some(Frame::Seq { next }) => {
                *next += 1;
                let path = self.path();
                self.lines.entry(path).or_insert(mark.line());
                false
            }
            _ => false,
        }
    }

    /// A value finished: the enclosing map now expects a key.
    fn value_done(&mut self) {
        if let Some(Frame::Map { key }) = self.stack.last_mut() {
            *key = None;
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                let was_key = self.node(Some(&value), mark);
                if !was_key {
                    self.value_done();
                }
            }
            Event::Alias(_) => {
                let was_key = self.node(None, mark);
                if !was_key {
                    self.value_done();
                }
            }
            Event::MappingStart(..) => {
                self.node(None, mark);
                self.stack.push(Frame::Map { key: None });
            }
            Event::SequenceStart(..) => {
                self.node(None, mark);
                self.stack.push(Frame::Seq { next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
format_version: 1
id: demo
steps:
  - id: one
    checks:
      - id: a
        command:
          name: kubectl
      - id: b
        pods: {namespace: default}
  - id: two
";

    #[test]
    fn finds_lines_of_nested_fields() {
        let idx = LineIndex::new(TEXT);
        assert_eq!(idx.line("id"), Some(2));
        assert_eq!(idx.line("steps[0].id"), Some(4));
        assert_eq!(idx.line("steps[0].checks[0].command.name"), Some(8));
        assert_eq!(idx.line("steps[0].checks[1].pods.namespace"), Some(10));
        assert_eq!(idx.line("steps[1].id"), Some(11));
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let idx = LineIndex::new(TEXT);
        assert_eq!(idx.line("steps[0].checks[1].resource"), Some(9));
        assert_eq!(idx.line("nothing"), None);
    }
}
