//! The shell language the built-in `sh` understands, parsed into a small syntax tree: words with
//! quotes and expansions (`$VAR`, `${VAR:-x}`, `$(cmd)`, `` `cmd` ``, `$((1+2))`), simple
//! commands with assignments and redirections, pipelines, `&&`/`||`, `;`/newline/`&` lists,
//! `for`/`while`/`until`/`if`, `{ …; }` and `( … )`.
//!
//! Errors read as busybox ash prints them (`syntax error: unexpected "done"`); an error at the
//! end of the input (an open quote, a `for` without `done`) is marked incomplete so that an
//! interactive shell asks for the next line instead.

use std::fmt;

/// A list of and-or lists, run one after the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Script(pub Vec<AndOr>);

/// Pipelines joined by `&&` and `||`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

/// How two pipelines of an and-or list are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connector {
    /// `&&`: run the next one if this one succeeded.
    And,
    /// `||`: run the next one if this one failed.
    Or,
}

/// Commands joined by `|`, optionally negated with `!`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pipeline {
    pub negate: bool,
    pub commands: Vec<Command>,
}

/// One command of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `A=1 prog arg… >file`.
    Simple {
        assigns: Vec<(String, Word)>,
        words: Vec<Word>,
        redirs: Vec<Redir>,
    },
    /// `for NAME [in WORD…]; do …; done`.
    For {
        var: String,
        items: Option<Vec<Word>>,
        body: Script,
        redirs: Vec<Redir>,
    },
    /// `while …; do …; done` (or `until`).
    While {
        until: bool,
        cond: Script,
        body: Script,
        redirs: Vec<Redir>,
    },
    /// `if …; then …; [elif …; then …;] [else …;] fi`.
    If {
        branches: Vec<(Script, Script)>,
        otherwise: Option<Script>,
        redirs: Vec<Redir>,
    },
    /// `{ …; }` or, with `subshell`, `( … )`.
    Group {
        body: Script,
        subshell: bool,
        redirs: Vec<Redir>,
    },
}

/// A redirection such as `2>&1` or `>>file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Redir {
    /// The descriptor redirected (1 for `>`, 0 for `<`).
    pub fd: u32,
    pub kind: RedirKind,
    pub target: Word,
}

/// What a redirection does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RedirKind {
    /// `>`: truncate and write.
    Write,
    /// `>>`: append.
    Append,
    /// `<`: read.
    Read,
    /// `>&N`: duplicate an output descriptor.
    DupOut,
    /// `&>`: stdout and stderr to a file.
    Both,
}

/// A word: literal and expanded pieces that form one or more fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Word(pub Vec<Part>);

/// A piece of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Unquoted text.
    Lit(String),
    /// Quoted text (no splitting, keeps an empty word alive).
    Quoted(String),
    /// `$name`, `${name…}`; `quoted` inside double quotes.
    Param {
        name: String,
        op: ParamOp,
        quoted: bool,
    },
    /// `$(…)` or `` `…` ``.
    Subst { script: Script, quoted: bool },
    /// `$((…))`: the expression text.
    Arith { expr: String, quoted: bool },
}

/// What `${…}` does with the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParamOp {
    /// The value.
    Plain,
    /// `${#name}`: its length.
    Length,
    /// `${name:-word}` (`colon`: also when empty) — the word when unset.
    Default { word: Word, colon: bool },
    /// `${name:=word}`: assign the word when unset.
    Assign { word: Word, colon: bool },
    /// `${name:+word}`: the word when set.
    Alternative { word: Word, colon: bool },
}

impl Word {
    /// The word's text when it is a plain unquoted literal.
    #[cfg(test)]
    pub(crate) fn literal(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

/// A syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The message after `sh: `.
    pub message: String,
    /// The input ended too early: more lines could complete it.
    pub incomplete: bool,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "syntax error: {}", self.message)
    }
}

/// How deeply constructs may nest before the parser gives up (keeps recursion bounded).
const MAX_DEPTH: usize = 100;

/// Parses a whole script.
pub(crate) fn parse(source: &str) -> Result<Script, ParseError> {
    let mut p = Parser {
        chars: source.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let script = p.list(&[])?;
    p.skip_blank();
    match p.peek() {
        None => Ok(script),
        Some(_) => Err(p.unexpected()),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

const RESERVED_END: &[&str] = &["do", "done", "then", "fi", "elif", "else", "}"];

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            incomplete: false,
        }
    }

    fn eof_error(&self, expecting: &str) -> ParseError {
        ParseError {
            message: format!("unexpected end of file (expecting \"{expecting}\")"),
            incomplete: true,
        }
    }

    /// The error for whatever stands at the current position.
    fn unexpected(&self) -> ParseError {
        match self.peek() {
            None => ParseError {
                message: "unexpected end of file".into(),
                incomplete: true,
            },
            Some('\n') => self.error("unexpected newline"),
            Some(_) => {
                let token = self
                    .operator()
                    .map(str::to_owned)
                    .or_else(|| self.peek_word_text())
                    .unwrap_or_default();
                self.error(format!("unexpected \"{token}\""))
            }
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        Ok(())
    }

    /// Skips spaces, tabs, line continuations and comments (not newlines).
    fn skip_blank(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                Some('#') => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn skip_blank_and_newlines(&mut self) {
        loop {
            self.skip_blank();
            if self.peek() == Some('\n') {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    /// The operator at the current position, if any.
    fn operator(&self) -> Option<&'static str> {
        const OPS: &[&str] = &[
            "&&", "||", ";;", ">>", ">&", "<&", "&>", ">|", ";", "&", "|", "(", ")", "<", ">",
        ];
        OPS.iter().copied().find(|op| self.starts_with(op))
    }

    /// The text of the plain word at the current position (for reserved words and messages).
    fn peek_word_text(&self) -> Option<String> {
        let mut end = self.pos;
        while let Some(c) = self.chars.get(end) {
            if is_meta(*c) || matches!(c, '\'' | '"' | '\\' | '$' | '`') {
                break;
            }
            end += 1;
        }
        if end == self.pos {
            return None;
        }
        // A word continuing with quotes or expansions is not a reserved word.
        if let Some(c) = self.chars.get(end)
            && matches!(c, '\'' | '"' | '\\' | '$' | '`')
        {
            return None;
        }
        Some(self.chars[self.pos..end].iter().collect())
    }

    fn at_reserved(&self, words: &[&str]) -> Option<String> {
        let text = self.peek_word_text()?;
        words.contains(&text.as_str()).then_some(text)
    }

    fn expect_reserved(&mut self, word: &str) -> Result<(), ParseError> {
        self.skip_blank_and_newlines();
        match self.peek_word_text() {
            Some(w) if w == word => {
                self.pos += w.chars().count();
                Ok(())
            }
            _ if self.peek().is_none() => Err(self.eof_error(word)),
            _ => Err(self.unexpected()),
        }
    }

    /// A list up to the end, a `)` or one of the reserved words that close a construct.
    fn list(&mut self, closers: &[&str]) -> Result<Script, ParseError> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_blank_and_newlines();
            if self.peek().is_none()
                || self.peek() == Some(')')
                || self.at_reserved(RESERVED_END).is_some()
            {
                break;
            }
            if matches!(self.operator(), Some(";" | "&" | ";;" | "&&" | "||" | "|")) {
                return Err(self.unexpected());
            }
            items.push(self.and_or()?);
            self.skip_blank();
            match self.operator() {
                Some(";" | "&") => self.pos += 1,
                _ if self.peek() == Some('\n') => self.pos += 1,
                _ => break,
            }
        }
        let _ = closers;
        self.depth -= 1;
        Ok(Script(items))
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            self.skip_blank();
            let connector = match self.operator() {
                Some("&&") => Connector::And,
                Some("||") => Connector::Or,
                _ => break,
            };
            self.pos += 2;
            self.skip_blank_and_newlines();
            if self.peek().is_none() {
                return Err(ParseError {
                    message: "unexpected end of file".into(),
                    incomplete: true,
                });
            }
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        self.skip_blank();
        let mut negate = false;
        if self.peek() == Some('!') && matches!(self.peek_at(1), Some(' ' | '\t')) {
            negate = true;
            self.pos += 1;
            self.skip_blank();
        }
        let mut commands = vec![self.command()?];
        loop {
            self.skip_blank();
            if self.operator() != Some("|") {
                break;
            }
            self.pos += 1;
            self.skip_blank_and_newlines();
            if self.peek().is_none() {
                return Err(ParseError {
                    message: "unexpected end of file".into(),
                    incomplete: true,
                });
            }
            commands.push(self.command()?);
        }
        Ok(Pipeline { negate, commands })
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        self.skip_blank();
        if self.peek() == Some('(') {
            self.pos += 1;
            self.enter()?;
            let body = self.list(&[")"])?;
            self.depth -= 1;
            self.skip_blank_and_newlines();
            match self.peek() {
                Some(')') => self.pos += 1,
                None => return Err(self.eof_error(")")),
                Some(_) => return Err(self.unexpected()),
            }
            let redirs = self.trailing_redirs()?;
            return Ok(Command::Group {
                body,
                subshell: true,
                redirs,
            });
        }
        match self.peek_word_text().as_deref() {
            Some("for") => {
                self.pos += 3;
                self.enter()?;
                let c = self.for_loop();
                self.depth -= 1;
                c
            }
            Some(w @ ("while" | "until")) => {
                let until = w == "until";
                self.pos += w.len();
                self.enter()?;
                let cond = self.list(&["do"])?;
                self.expect_reserved("do")?;
                let body = self.list(&["done"])?;
                self.expect_reserved("done")?;
                self.depth -= 1;
                let redirs = self.trailing_redirs()?;
                Ok(Command::While {
                    until,
                    cond,
                    body,
                    redirs,
                })
            }
            Some("if") => {
                self.pos += 2;
                self.enter()?;
                let c = self.if_clause();
                self.depth -= 1;
                c
            }
            Some("{") => {
                self.pos += 1;
                self.enter()?;
                let body = self.list(&["}"])?;
                self.expect_reserved("}")?;
                self.depth -= 1;
                let redirs = self.trailing_redirs()?;
                Ok(Command::Group {
                    body,
                    subshell: false,
                    redirs,
                })
            }
            Some(w) if RESERVED_END.contains(&w) => Err(self.unexpected()),
            _ => self.simple(),
        }
    }

    fn for_loop(&mut self) -> Result<Command, ParseError> {
        self.skip_blank();
        let var = match self.peek_word_text() {
            Some(name) if is_name(&name) => name,
            Some(name) => return Err(self.error(format!("bad for loop variable \"{name}\""))),
            None if self.peek().is_none() => return Err(self.eof_error("do")),
            None => return Err(self.unexpected()),
        };
        self.pos += var.chars().count();
        self.skip_blank();
        let mut items = None;
        if self.at_reserved(&["in"]).is_some() {
            self.pos += 2;
            let mut list = Vec::new();
            loop {
                self.skip_blank();
                match self.peek() {
                    None => return Err(self.eof_error("do")),
                    Some('\n' | ';') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) if is_meta(c) => return Err(self.unexpected()),
                    Some(_) => {
                        let word = self.word(false)?;
                        list.push(word);
                    }
                }
            }
            items = Some(list);
        } else if self.peek() == Some(';') {
            self.pos += 1;
        }
        self.expect_reserved("do")?;
        let body = self.list(&["done"])?;
        self.expect_reserved("done")?;
        let redirs = self.trailing_redirs()?;
        Ok(Command::For {
            var,
            items,
            body,
            redirs,
        })
    }

    fn if_clause(&mut self) -> Result<Command, ParseError> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.list(&["then"])?;
            self.expect_reserved("then")?;
            let body = self.list(&["elif", "else", "fi"])?;
            branches.push((cond, body));
            self.skip_blank_and_newlines();
            match self.peek_word_text().as_deref() {
                Some("elif") => self.pos += 4,
                Some("else") => {
                    self.pos += 4;
                    otherwise = Some(self.list(&["fi"])?);
                    self.expect_reserved("fi")?;
                    break;
                }
                Some("fi") => {
                    self.pos += 2;
                    break;
                }
                _ if self.peek().is_none() => return Err(self.eof_error("fi")),
                _ => return Err(self.unexpected()),
            }
        }
        let redirs = self.trailing_redirs()?;
        Ok(Command::If {
            branches,
            otherwise,
            redirs,
        })
    }

    /// Redirections after a compound command (`done > file`).
    fn trailing_redirs(&mut self) -> Result<Vec<Redir>, ParseError> {
        let mut redirs = Vec::new();
        loop {
            self.skip_blank();
            match self.redir()? {
                Some(r) => redirs.push(r),
                None => return Ok(redirs),
            }
        }
    }

    /// A redirection at the current position, if there is one.
    fn redir(&mut self) -> Result<Option<Redir>, ParseError> {
        let start = self.pos;
        let mut digits = String::new();
        while let Some(c) = self.peek()
            && c.is_ascii_digit()
        {
            digits.push(c);
            self.pos += 1;
        }
        let op = self.operator();
        let (kind, default_fd, len) = match op {
            Some(">>") => (RedirKind::Append, 1, 2),
            Some(">&") => (RedirKind::DupOut, 1, 2),
            Some(">|") => (RedirKind::Write, 1, 2),
            Some("&>") if digits.is_empty() => (RedirKind::Both, 1, 2),
            Some(">") => (RedirKind::Write, 1, 1),
            Some("<") if self.peek_at(1) == Some('<') => {
                return Err(self.error("here-documents are not supported by this shell"));
            }
            Some("<") => (RedirKind::Read, 0, 1),
            Some("<&") => (RedirKind::DupOut, 0, 2),
            _ => {
                self.pos = start;
                return Ok(None);
            }
        };
        self.pos += len;
        let fd = if digits.is_empty() {
            default_fd
        } else {
            digits
                .parse()
                .map_err(|_| self.error(format!("bad file descriptor \"{digits}\"")))?
        };
        self.skip_blank();
        match self.peek() {
            None => {
                return Err(ParseError {
                    message: "unexpected end of file".into(),
                    incomplete: false,
                });
            }
            Some(c) if is_meta(c) => return Err(self.unexpected()),
            Some(_) => {}
        }
        let target = self.word(false)?;
        Ok(Some(Redir { fd, kind, target }))
    }

    fn simple(&mut self) -> Result<Command, ParseError> {
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        let mut redirs = Vec::new();
        loop {
            self.skip_blank();
            if let Some(r) = self.redir()? {
                redirs.push(r);
                continue;
            }
            match self.peek() {
                None => break,
                Some(c) if is_meta(c) => break,
                Some(_) => {}
            }
            let word = self.word(false)?;
            if words.is_empty()
                && let Some((name, value)) = split_assignment(&word)
            {
                assigns.push((name, value));
                continue;
            }
            words.push(word);
        }
        if assigns.is_empty() && words.is_empty() && redirs.is_empty() {
            return Err(self.unexpected());
        }
        Ok(Command::Simple {
            assigns,
            words,
            redirs,
        })
    }

    /// A word up to the next unquoted metacharacter (or, inside `${…}`, the closing brace).
    fn word(&mut self, in_brace: bool) -> Result<Word, ParseError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        while let Some(c) = self.peek() {
            if in_brace && c == '}' {
                break;
            }
            if !in_brace && is_meta(c) {
                break;
            }
            match c {
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(e) => {
                            flush(&mut lit, &mut parts);
                            parts.push(Part::Quoted(e.to_string()));
                            self.pos += 1;
                        }
                        None => lit.push('\\'),
                    }
                }
                '\'' => {
                    self.pos += 1;
                    let mut text = String::new();
                    loop {
                        match self.peek() {
                            None => {
                                return Err(ParseError {
                                    message: "unterminated quoted string".into(),
                                    incomplete: true,
                                });
                            }
                            Some('\'') => {
                                self.pos += 1;
                                break;
                            }
                            Some(ch) => {
                                text.push(ch);
                                self.pos += 1;
                            }
                        }
                    }
                    flush(&mut lit, &mut parts);
                    parts.push(Part::Quoted(text));
                }
                '"' => {
                    self.pos += 1;
                    flush(&mut lit, &mut parts);
                    self.double_quoted(&mut parts)?;
                }
                '$' => {
                    if let Some(part) = self.dollar(false)? {
                        flush(&mut lit, &mut parts);
                        parts.push(part);
                    } else {
                        lit.push('$');
                    }
                }
                '`' => {
                    flush(&mut lit, &mut parts);
                    let script = self.backtick()?;
                    parts.push(Part::Subst {
                        script,
                        quoted: false,
                    });
                }
                _ => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Word(parts))
    }

    /// The inside of `"…"` (the opening quote consumed).
    fn double_quoted(&mut self, parts: &mut Vec<Part>) -> Result<(), ParseError> {
        let mut text = String::new();
        // An empty "" still makes a (empty) field.
        let mut pushed_any = false;
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        message: "unterminated quoted string".into(),
                        incomplete: true,
                    });
                }
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(e @ ('$' | '`' | '"' | '\\')) => {
                            text.push(e);
                            self.pos += 1;
                        }
                        _ => text.push('\\'),
                    }
                }
                Some('$') => {
                    if let Some(part) = self.dollar(true)? {
                        if !text.is_empty() {
                            parts.push(Part::Quoted(std::mem::take(&mut text)));
                        }
                        parts.push(part);
                        pushed_any = true;
                    } else {
                        text.push('$');
                    }
                }
                Some('`') => {
                    if !text.is_empty() {
                        parts.push(Part::Quoted(std::mem::take(&mut text)));
                    }
                    let script = self.backtick()?;
                    parts.push(Part::Subst {
                        script,
                        quoted: true,
                    });
                    pushed_any = true;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() || !pushed_any {
            parts.push(Part::Quoted(text));
        }
        Ok(())
    }

    /// An expansion at a `$`; `None` (with the `$` consumed) when it is a literal dollar.
    fn dollar(&mut self, quoted: bool) -> Result<Option<Part>, ParseError> {
        self.pos += 1;
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.pos += 2;
                let mut depth = 0usize;
                let mut expr = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.eof_error("))")),
                        Some(')') if depth == 0 && self.peek_at(1) == Some(')') => {
                            self.pos += 2;
                            break;
                        }
                        Some(c) => {
                            if c == '(' {
                                depth += 1;
                            } else if c == ')' {
                                depth = depth.saturating_sub(1);
                            }
                            expr.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Some(Part::Arith { expr, quoted }))
            }
            Some('(') => {
                self.pos += 1;
                self.enter()?;
                let script = self.list(&[")"])?;
                self.depth -= 1;
                self.skip_blank_and_newlines();
                match self.peek() {
                    Some(')') => self.pos += 1,
                    None => return Err(self.eof_error(")")),
                    Some(_) => return Err(self.unexpected()),
                }
                Ok(Some(Part::Subst { script, quoted }))
            }
            Some('{') => {
                self.pos += 1;
                self.enter()?;
                let part = self.braced(quoted);
                self.depth -= 1;
                part.map(Some)
            }
            Some(c) if "?$#@*!-0123456789".contains(c) => {
                self.pos += 1;
                Ok(Some(Part::Param {
                    name: c.to_string(),
                    op: ParamOp::Plain,
                    quoted,
                }))
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let mut name = String::new();
                while let Some(c) = self.peek()
                    && (c == '_' || c.is_ascii_alphanumeric())
                {
                    name.push(c);
                    self.pos += 1;
                }
                Ok(Some(Part::Param {
                    name,
                    op: ParamOp::Plain,
                    quoted,
                }))
            }
            _ => Ok(None),
        }
    }

    /// `${…}` after the brace.
    fn braced(&mut self, quoted: bool) -> Result<Part, ParseError> {
        let length = self.peek() == Some('#') && self.peek_at(1) != Some('}');
        if length {
            self.pos += 1;
        }
        let mut name = String::new();
        if let Some(c) = self.peek()
            && "?$#@*!-0123456789".contains(c)
        {
            name.push(c);
            self.pos += 1;
        } else {
            while let Some(c) = self.peek()
                && (c == '_' || c.is_ascii_alphanumeric())
            {
                name.push(c);
                self.pos += 1;
            }
        }
        if name.is_empty() {
            return Err(self.error("bad substitution"));
        }
        let op = if length {
            ParamOp::Length
        } else {
            let colon = self.peek() == Some(':');
            if colon {
                self.pos += 1;
            }
            match self.peek() {
                Some('}') if !colon => ParamOp::Plain,
                Some(c @ ('-' | '=' | '+')) => {
                    self.pos += 1;
                    let word = self.word(true)?;
                    match c {
                        '-' => ParamOp::Default { word, colon },
                        '=' => ParamOp::Assign { word, colon },
                        _ => ParamOp::Alternative { word, colon },
                    }
                }
                None => return Err(self.eof_error("}")),
                Some(_) => return Err(self.error("bad substitution")),
            }
        };
        match self.peek() {
            Some('}') => self.pos += 1,
            None => return Err(self.eof_error("}")),
            Some(_) => return Err(self.error("bad substitution")),
        }
        Ok(Part::Param { name, op, quoted })
    }

    /// `` `…` `` (at the opening backtick): its inside parsed as a script.
    fn backtick(&mut self) -> Result<Script, ParseError> {
        self.pos += 1;
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        message: "unterminated quoted string".into(),
                        incomplete: true,
                    });
                }
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') if matches!(self.peek_at(1), Some('`' | '\\' | '$')) => {
                    if let Some(c) = self.peek_at(1) {
                        inner.push(c);
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    inner.push(c);
                    self.pos += 1;
                }
            }
        }
        self.enter()?;
        let mut sub = Parser {
            chars: inner.chars().collect(),
            pos: 0,
            depth: self.depth,
        };
        let script = sub.list(&[])?;
        sub.skip_blank_and_newlines();
        if sub.peek().is_some() {
            return Err(sub.unexpected());
        }
        self.depth -= 1;
        Ok(script)
    }
}

/// Characters that end an unquoted word.
fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

/// Whether `s` is a valid variable name.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `NAME=value` at the start of a simple command.
fn split_assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = word.0.first() else {
        return None;
    };
    let (name, rest) = first.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_owned()));
    }
    parts.extend(word.0.iter().skip(1).cloned());
    Some((name.to_owned(), Word(parts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple_words(script: &Script) -> Vec<Vec<Part>> {
        match &script.0[0].first.commands[0] {
            Command::Simple { words, .. } => words.iter().map(|w| w.0.clone()).collect(),
            other => panic!("not simple: {other:?}"),
        }
    }

    #[test]
    fn quotes_make_single_words() {
        let s = parse(r#"grep -o "<title>.*</title>" 'a b'"#).unwrap();
        let words = simple_words(&s);
        assert_eq!(words.len(), 4);
        assert_eq!(words[2], vec![Part::Quoted("<title>.*</title>".into())]);
        assert_eq!(words[3], vec![Part::Quoted("a b".into())]);
    }

    #[test]
    fn pipelines_and_lists() {
        let s = parse("curl -s x | grep y && echo ok || echo no; echo end").unwrap();
        assert_eq!(s.0.len(), 2);
        assert_eq!(s.0[0].first.commands.len(), 2);
        assert_eq!(s.0[0].rest.len(), 2);
        assert_eq!(s.0[0].rest[1].0, Connector::Or);
    }

    #[test]
    fn redirections_with_descriptors() {
        let s = parse("curl x >/dev/null 2>&1").unwrap();
        let Command::Simple { redirs, .. } = &s.0[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(redirs.len(), 2);
        assert_eq!(redirs[0].fd, 1);
        assert_eq!(redirs[0].kind, RedirKind::Write);
        assert_eq!(redirs[1].fd, 2);
        assert_eq!(redirs[1].kind, RedirKind::DupOut);
        assert_eq!(redirs[1].target.literal(), Some("1"));
    }

    #[test]
    fn loops_and_conditionals() {
        let s = parse("for i in 1 2 3; do echo $i; done").unwrap();
        assert!(
            matches!(&s.0[0].first.commands[0], Command::For { items: Some(i), .. } if i.len() == 3)
        );
        let s = parse("while false\ndo\n echo x\ndone").unwrap();
        assert!(matches!(
            &s.0[0].first.commands[0],
            Command::While { until: false, .. }
        ));
        let s = parse("if true; then echo a; elif false; then echo b; else echo c; fi").unwrap();
        assert!(
            matches!(&s.0[0].first.commands[0], Command::If { branches, otherwise: Some(_), .. } if branches.len() == 2)
        );
    }

    #[test]
    fn command_substitution_nests() {
        let s = parse(r#"echo "$(echo "$(hostname)")" `echo b`"#).unwrap();
        let words = simple_words(&s);
        assert!(matches!(&words[1][0], Part::Subst { quoted: true, .. }));
        assert!(matches!(&words[2][0], Part::Subst { quoted: false, .. }));
    }

    #[test]
    fn errors_read_like_ash() {
        let e = parse("echo 'open").unwrap_err();
        assert_eq!(e.to_string(), "syntax error: unterminated quoted string");
        assert!(e.incomplete);
        let e = parse("for i in a; do echo").unwrap_err();
        assert_eq!(
            e.to_string(),
            "syntax error: unexpected end of file (expecting \"done\")"
        );
        assert!(e.incomplete);
        let e = parse("echo a; done").unwrap_err();
        assert_eq!(e.to_string(), "syntax error: unexpected \"done\"");
        assert!(!e.incomplete);
        let e = parse("| grep x").unwrap_err();
        assert_eq!(e.to_string(), "syntax error: unexpected \"|\"");
        let e = parse("echo >").unwrap_err();
        assert!(e.to_string().starts_with("syntax error: unexpected"));
    }

    #[test]
    fn assignments_before_commands() {
        let s = parse("A=1 B=\"x y\" env").unwrap();
        let Command::Simple { assigns, words, .. } = &s.0[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(assigns.len(), 2);
        assert_eq!(words.len(), 1);
    }

    /// Random bytes never panic the parser; it answers with a script or an error.
    #[test]
    fn random_input_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<char> = "ab $(){}[]'\"`\\|&;<>!#=-+:*?\n\t0129forwhiledoneifthenfi"
            .chars()
            .collect();
        for _ in 0..20_000 {
            let len = usize::try_from(next() % 40).unwrap();
            let s: String = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 7 == 0 {
                        char::from_u32(u32::try_from(r % 0x800).unwrap()).unwrap_or('x')
                    } else {
                        alphabet[usize::try_from(r % alphabet.len() as u64).unwrap()]
                    }
                })
                .collect();
            let _ = parse(&s);
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = "$(".repeat(10_000);
        assert!(parse(&deep).is_err());
        let deep = "(".repeat(10_000);
        assert!(parse(&deep).is_err());
    }
}
