//! Runs parsed scripts: expansions, redirections, pipelines (their commands run concurrently,
//! joined by pipes), and-or lists, loops, and the builtins that change the shell itself (`cd`,
//! `export`, `exit`, `read`, …). Other commands are the container's programs
//! ([`super::programs`]).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::fs::{self, Fs};
use super::io::{Input, Interrupt, Io, Out, PIPE_CAPACITY};
use super::parse::{
    self, AndOr, Command, Connector, ParamOp, Part, Pipeline, Redir, RedirKind, Script, Word,
};
use super::programs::{self, Proc};
use crate::workloads::PodContext;

/// A boxed future borrowing the shell.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How deeply shells, substitutions and scripts may nest.
pub(crate) const MAX_DEPTH: usize = 48;

/// A shell variable.
#[derive(Clone, Debug)]
struct Var {
    name: String,
    value: String,
    exported: bool,
}

/// `break`/`continue` unwinding to the enclosing loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoopControl {
    Break(u32),
    Continue(u32),
}

/// One shell's state: variables, positional parameters, the last status, the directory.
#[derive(Clone, Debug)]
pub(crate) struct Shell<'a> {
    /// The container the shell runs in.
    pub ctx: &'a PodContext,
    /// The container's files.
    pub fs: Fs,
    vars: Vec<Var>,
    /// `$0`.
    pub arg0: String,
    /// `$1`, `$2`, ….
    pub args: Vec<String>,
    /// `$?`.
    pub status: i32,
    /// Set by `exit`: the shell ends with this code.
    pub exit: Option<i32>,
    /// The working directory.
    pub cwd: String,
    /// How deeply this shell is nested.
    pub depth: usize,
    /// Whether a terminal is attached.
    pub tty: bool,
    /// Ctrl-C for the commands this shell runs.
    pub interrupt: Interrupt,
    control: Option<LoopControl>,
    loops: u32,
    /// Where a command substitution's errors go while a command's words are expanded.
    err: Option<Out>,
}

impl<'a> Shell<'a> {
    /// A shell with the container's environment, in its home directory.
    pub(crate) fn new(
        ctx: &'a PodContext,
        env: &[(String, String)],
        cwd: &str,
        depth: usize,
    ) -> Self {
        let mut shell = Self {
            ctx,
            fs: Fs::of(ctx),
            vars: Vec::new(),
            arg0: "sh".into(),
            args: Vec::new(),
            status: 0,
            exit: None,
            cwd: cwd.to_owned(),
            depth,
            tty: false,
            interrupt: Interrupt::default(),
            control: None,
            loops: 0,
            err: None,
        };
        for (k, v) in env {
            shell.set_var(k, v.clone(), Some(true));
        }
        shell
    }

    /// A variable's value.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }

    /// Sets a variable, exporting it when `export` says so (keeps the flag when `None`).
    pub(crate) fn set_var(&mut self, name: &str, value: String, export: Option<bool>) {
        if let Some(v) = self.vars.iter_mut().find(|v| v.name == name) {
            v.value = value;
            if let Some(e) = export {
                v.exported = e;
            }
        } else {
            self.vars.push(Var {
                name: name.to_owned(),
                value,
                exported: export.unwrap_or(false),
            });
        }
    }

    /// The environment programs see.
    pub(crate) fn environment(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|v| v.exported)
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect()
    }

    fn proc(&self, io: Io, env: Vec<(String, String)>) -> Proc<'a> {
        Proc {
            ctx: self.ctx,
            env,
            cwd: self.cwd.clone(),
            fs: self.fs.clone(),
            io,
            depth: self.depth,
            tty: self.tty,
            interrupt: self.interrupt.clone(),
        }
    }

    /// Whether the script should stop (exit, break, continue).
    fn unwinding(&self) -> bool {
        self.exit.is_some() || self.control.is_some()
    }

    /// Runs a script; its status is the last command's.
    pub(crate) fn run_script<'s>(
        &'s mut self,
        script: &'s Script,
        io: &'s Io,
    ) -> BoxFuture<'s, i32> {
        Box::pin(async move {
            for item in &script.0 {
                if self.unwinding() {
                    break;
                }
                self.status = self.run_and_or(item, io).await;
            }
            self.status
        })
    }

    async fn run_and_or(&mut self, item: &AndOr, io: &Io) -> i32 {
        let mut status = self.run_pipeline(&item.first, io).await;
        for (connector, pipeline) in &item.rest {
            if self.unwinding() {
                break;
            }
            self.status = status;
            let run = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if run {
                status = self.run_pipeline(pipeline, io).await;
            }
        }
        status
    }

    async fn run_pipeline(&mut self, pipeline: &Pipeline, io: &Io) -> i32 {
        let status = if let [only] = pipeline.commands.as_slice() {
            self.run_command(only, io.clone()).await
        } else {
            let n = pipeline.commands.len();
            let mut ios = Vec::with_capacity(n);
            let mut stdin = io.stdin.clone();
            for i in 0..n {
                if i + 1 == n {
                    ios.push(Io {
                        stdin: stdin.clone(),
                        stdout: io.stdout.clone(),
                        stderr: io.stderr.clone(),
                    });
                } else {
                    let (out, next) = Out::pipe();
                    ios.push(Io {
                        stdin: stdin.clone(),
                        stdout: out,
                        stderr: io.stderr.clone(),
                    });
                    stdin = next;
                }
            }
            drop(stdin);
            let mut shells: Vec<Shell<'a>> = (0..n).map(|_| self.subshell()).collect();
            let runs = shells
                .iter_mut()
                .zip(&pipeline.commands)
                .zip(ios)
                .map(|((shell, command), io)| shell.run_command(command, io));
            let statuses = futures::future::join_all(runs).await;
            statuses.last().copied().unwrap_or(0)
        };
        tokio::task::yield_now().await;
        if pipeline.negate {
            i32::from(status == 0)
        } else {
            status
        }
    }

    /// A copy of this shell for a subshell or a pipeline element.
    fn subshell(&self) -> Self {
        let mut s = self.clone();
        s.control = None;
        s.exit = None;
        s.loops = 0;
        s.err = None;
        s
    }

    fn run_command<'s>(&'s mut self, command: &'s Command, io: Io) -> BoxFuture<'s, i32> {
        Box::pin(async move {
            match command {
                Command::Simple {
                    assigns,
                    words,
                    redirs,
                } => self.run_simple(assigns, words, redirs, io).await,
                Command::For {
                    var,
                    items,
                    body,
                    redirs,
                } => {
                    let Some((io, pending)) = self.redirect(redirs, io).await else {
                        return 1;
                    };
                    let items = match items {
                        Some(words) => {
                            self.err = Some(io.stderr.clone());
                            let mut all = Vec::new();
                            for w in words {
                                all.extend(self.expand(w).await);
                            }
                            self.err = None;
                            all
                        }
                        None => self.args.clone(),
                    };
                    let mut status = 0;
                    self.loops += 1;
                    for item in items {
                        self.set_var(var, item, None);
                        status = self.run_script(body, &io).await;
                        if self.loop_done() {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                    self.loops -= 1;
                    finish(io, pending).await;
                    status
                }
                Command::While {
                    until,
                    cond,
                    body,
                    redirs,
                } => {
                    let Some((io, pending)) = self.redirect(redirs, io).await else {
                        return 1;
                    };
                    let mut status = 0;
                    self.loops += 1;
                    loop {
                        let c = self.run_script(cond, &io).await;
                        if self.exit.is_some() || self.loop_done() || (c == 0) == *until {
                            break;
                        }
                        status = self.run_script(body, &io).await;
                        if self.loop_done() {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                    self.loops -= 1;
                    finish(io, pending).await;
                    status
                }
                Command::If {
                    branches,
                    otherwise,
                    redirs,
                } => {
                    let Some((io, pending)) = self.redirect(redirs, io).await else {
                        return 1;
                    };
                    let mut status = 0;
                    let mut taken = false;
                    for (cond, body) in branches {
                        let c = self.run_script(cond, &io).await;
                        if self.unwinding() {
                            taken = true;
                            break;
                        }
                        if c == 0 {
                            status = self.run_script(body, &io).await;
                            taken = true;
                            break;
                        }
                    }
                    if !taken && let Some(body) = otherwise {
                        status = self.run_script(body, &io).await;
                    }
                    finish(io, pending).await;
                    status
                }
                Command::Group {
                    body,
                    subshell,
                    redirs,
                } => {
                    let Some((io, pending)) = self.redirect(redirs, io).await else {
                        return 1;
                    };
                    let status = if *subshell {
                        let mut sub = self.subshell();
                        sub.run_script(body, &io).await
                    } else {
                        self.run_script(body, &io).await
                    };
                    finish(io, pending).await;
                    status
                }
            }
        })
    }

    /// After a loop body: consumes a `break`/`continue` meant for this loop; `true` to stop.
    fn loop_done(&mut self) -> bool {
        match self.control {
            Some(LoopControl::Break(n)) => {
                self.control = (n > 1).then(|| LoopControl::Break(n - 1));
                true
            }
            Some(LoopControl::Continue(n)) if n > 1 => {
                self.control = Some(LoopControl::Continue(n - 1));
                true
            }
            Some(LoopControl::Continue(_)) => {
                self.control = None;
                false
            }
            None => self.exit.is_some(),
        }
    }

    async fn run_simple(
        &mut self,
        assigns: &[(String, Word)],
        words: &[Word],
        redirs: &[Redir],
        io: Io,
    ) -> i32 {
        self.err = Some(io.stderr.clone());
        let mut argv = Vec::new();
        for w in words {
            argv.extend(self.expand(w).await);
        }
        let mut values = Vec::new();
        for (name, w) in assigns {
            let v = self.expand_joined(w).await;
            values.push((name.clone(), v));
        }
        self.err = None;
        let Some((io, pending)) = self.redirect(redirs, io).await else {
            return 1;
        };
        if argv.is_empty() {
            for (name, v) in values {
                self.set_var(&name, v, None);
            }
            finish(io, pending).await;
            // The status of an assignment with a substitution is the substitution's.
            return self.status;
        }
        let status = match self.builtin(&argv, &io).await {
            Some(status) => status,
            None => {
                let mut env = self.environment();
                for (name, v) in values {
                    env.retain(|(k, _)| *k != name);
                    env.push((name, v));
                }
                let proc = self.proc(io.clone(), env);
                programs::run(proc, argv, true).await
            }
        };
        finish(io, pending).await;
        status
    }

    /// The builtins that act on the shell itself; `None` for other commands.
    async fn builtin(&mut self, argv: &[String], io: &Io) -> Option<i32> {
        let args = &argv[1..];
        let err = |msg: String| {
            let stderr = io.stderr.clone();
            async move {
                stderr.print(format!("sh: {msg}\n")).await;
            }
        };
        let status = match argv[0].as_str() {
            ":" => 0,
            "exit" => {
                let code = match args.first() {
                    None => self.status,
                    Some(n) => match n.parse::<i64>() {
                        Ok(n) => i32::try_from(n.rem_euclid(256)).unwrap_or(0),
                        Err(_) => {
                            err(format!("exit: Illegal number: {n}")).await;
                            2
                        }
                    },
                };
                self.exit = Some(code);
                code
            }
            "cd" => {
                let target = match args.first().map(String::as_str) {
                    None | Some("~") => self.var("HOME").unwrap_or("/").to_owned(),
                    Some("-") => self.var("OLDPWD").unwrap_or("/").to_owned(),
                    Some(p) => p.to_owned(),
                };
                let path = fs::resolve(&self.cwd, &target);
                if self.fs.is_dir(&path) {
                    let old = std::mem::replace(&mut self.cwd, path.clone());
                    self.set_var("OLDPWD", old, None);
                    self.set_var("PWD", path, None);
                    0
                } else {
                    err(format!(
                        "cd: can't cd to {target}: No such file or directory"
                    ))
                    .await;
                    2
                }
            }
            "export" | "readonly" => {
                if args.is_empty() || args.first().map(String::as_str) == Some("-p") {
                    let mut out = String::new();
                    for (k, v) in self.environment() {
                        out.push_str(&format!("export {k}='{}'\n", v.replace('\'', "'\\''")));
                    }
                    io.stdout.print(out).await;
                    0
                } else {
                    let mut status = 0;
                    for a in args {
                        let (name, value) = match a.split_once('=') {
                            Some((n, v)) => (n, Some(v.to_owned())),
                            None => (a.as_str(), None),
                        };
                        if !parse::is_name(name) {
                            err(format!("export: bad variable name: {a}")).await;
                            status = 1;
                            continue;
                        }
                        let value = value
                            .or_else(|| self.var(name).map(str::to_owned))
                            .unwrap_or_default();
                        self.set_var(name, value, Some(true));
                    }
                    status
                }
            }
            "unset" => {
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    self.vars.retain(|v| v.name != *a);
                }
                0
            }
            "set" => {
                if let Some(i) = args.iter().position(|a| a == "--") {
                    self.args = args[i + 1..].to_vec();
                } else if args.is_empty() {
                    let mut out = String::new();
                    let mut vars: Vec<&Var> = self.vars.iter().collect();
                    vars.sort_by(|a, b| a.name.cmp(&b.name));
                    for v in vars {
                        out.push_str(&format!(
                            "{}='{}'\n",
                            v.name,
                            v.value.replace('\'', "'\\''")
                        ));
                    }
                    io.stdout.print(out).await;
                } else if !args[0].starts_with('-') && !args[0].starts_with('+') {
                    self.args = args.to_vec();
                }
                // Options (-e, -x, -o pipefail) are accepted and have no effect here.
                0
            }
            "shift" => {
                let n = args
                    .first()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(1);
                if n > self.args.len() {
                    err("shift: can't shift that many".into()).await;
                    1
                } else {
                    self.args.drain(..n);
                    0
                }
            }
            "break" | "continue" => {
                let n = args
                    .first()
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(1)
                    .max(1);
                if self.loops == 0 {
                    0
                } else {
                    let n = n.min(self.loops);
                    self.control = Some(if argv[0] == "break" {
                        LoopControl::Break(n)
                    } else {
                        LoopControl::Continue(n)
                    });
                    0
                }
            }
            "read" => {
                let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                match io.stdin.read_line().await {
                    None => 1,
                    Some(line) => {
                        let line = String::from_utf8_lossy(&line).into_owned();
                        let line = line.trim_end_matches('\r');
                        if names.is_empty() {
                            self.set_var("REPLY", line.to_owned(), None);
                        } else {
                            let mut rest = line.trim_start();
                            for (i, name) in names.iter().enumerate() {
                                let value = if i + 1 == names.len() {
                                    let v = rest.trim_end().to_owned();
                                    rest = "";
                                    v
                                } else {
                                    let (field, tail) =
                                        rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                                    rest = tail.trim_start();
                                    field.to_owned()
                                };
                                self.set_var(name, value, None);
                            }
                        }
                        0
                    }
                }
            }
            "." | "source" => {
                let Some(file) = args.first() else {
                    err(".: filename argument required".into()).await;
                    return Some(2);
                };
                let path = fs::resolve(&self.cwd, file);
                match self.fs.read(&path) {
                    Ok(data) => {
                        let text = String::from_utf8_lossy(&data).into_owned();
                        self.run_text(&text, io).await
                    }
                    Err(_) => {
                        err(format!(".: can't open '{file}'")).await;
                        2
                    }
                }
            }
            _ => return None,
        };
        Some(status)
    }

    /// Parses and runs script text, printing a syntax error as sh does (status 2).
    pub(crate) async fn run_text(&mut self, text: &str, io: &Io) -> i32 {
        if self.depth > MAX_DEPTH {
            io.stderr.print("sh: nesting too deep\n").await;
            return 2;
        }
        match parse::parse(text) {
            Ok(script) => self.run_script(&script, io).await,
            Err(e) => {
                io.stderr.print(format!("sh: {e}\n")).await;
                self.status = 2;
                2
            }
        }
    }

    /// Applies redirections to `io`; `None` after printing why one could not be made.
    async fn redirect(
        &mut self,
        redirs: &[Redir],
        mut io: Io,
    ) -> Option<(Io, Vec<JoinHandle<()>>)> {
        let mut pending = Vec::new();
        for r in redirs {
            let target = self.expand_joined(&r.target).await;
            match r.kind {
                RedirKind::DupOut => {
                    let source = match target.as_str() {
                        "1" => Some(io.stdout.clone()),
                        "2" => Some(io.stderr.clone()),
                        "-" => Some(Out::Null),
                        _ if r.fd > 2 => None,
                        "0" if r.fd == 0 => None,
                        other => {
                            io.stderr
                                .print(format!("sh: {other}: bad file descriptor\n"))
                                .await;
                            return None;
                        }
                    };
                    if let Some(out) = source {
                        match r.fd {
                            1 => io.stdout = out,
                            2 => io.stderr = out,
                            _ => {}
                        }
                    }
                }
                RedirKind::Read => {
                    let path = fs::resolve(&self.cwd, &target);
                    match self.fs.read(&path) {
                        Ok(data) if r.fd == 0 => io.stdin = Input::from_bytes(data),
                        Ok(_) => {}
                        Err(e) => {
                            io.stderr
                                .print(format!(
                                    "sh: can't open {target}: {}\n",
                                    lower(&e.to_string())
                                ))
                                .await;
                            return None;
                        }
                    }
                }
                RedirKind::Write | RedirKind::Append | RedirKind::Both => {
                    let out = match target.as_str() {
                        "/dev/null" => Out::Null,
                        "/dev/stdout" => io.stdout.clone(),
                        "/dev/stderr" => io.stderr.clone(),
                        _ => {
                            let path = fs::resolve(&self.cwd, &target);
                            let append = r.kind == RedirKind::Append;
                            if let Err(e) = self.fs.write(&path, &[], append) {
                                io.stderr
                                    .print(format!(
                                        "sh: can't create {target}: {}\n",
                                        lower(&e.to_string())
                                    ))
                                    .await;
                                return None;
                            }
                            let (tx, mut rx) = mpsc::channel::<Bytes>(PIPE_CAPACITY);
                            let fs = self.fs.clone();
                            pending.push(tokio::spawn(async move {
                                while let Some(chunk) = rx.recv().await {
                                    if fs.write(&path, &chunk, true).is_err() {
                                        break;
                                    }
                                }
                            }));
                            Out::Chan(tx)
                        }
                    };
                    match (r.kind, r.fd) {
                        (RedirKind::Both, _) => {
                            io.stdout = out.clone();
                            io.stderr = out;
                        }
                        (_, 1) => io.stdout = out,
                        (_, 2) => io.stderr = out,
                        _ => {}
                    }
                }
            }
        }
        Some((io, pending))
    }

    /// Expands a word into fields (splitting unquoted expansions on whitespace).
    pub(crate) fn expand<'s>(&'s mut self, word: &'s Word) -> BoxFuture<'s, Vec<String>> {
        Box::pin(async move {
            let mut fields = Vec::new();
            let mut current = String::new();
            let mut have = false;
            for (i, part) in word.0.iter().enumerate() {
                match part {
                    Part::Lit(s) => {
                        if i == 0 && (s == "~" || s.starts_with("~/")) {
                            current.push_str(self.var("HOME").unwrap_or("/"));
                            current.push_str(&s[1..]);
                        } else {
                            current.push_str(s);
                        }
                        have = true;
                    }
                    Part::Quoted(s) => {
                        current.push_str(s);
                        have = true;
                    }
                    Part::Param {
                        name,
                        quoted: true,
                        op: ParamOp::Plain,
                    } if name == "@" => {
                        for (j, arg) in self.args.clone().into_iter().enumerate() {
                            if j > 0 {
                                fields.push(std::mem::take(&mut current));
                            }
                            current.push_str(&arg);
                            have = true;
                        }
                    }
                    Part::Param { quoted, .. }
                    | Part::Subst { quoted, .. }
                    | Part::Arith { quoted, .. } => {
                        let value = self.expand_part(part).await;
                        if *quoted {
                            current.push_str(&value);
                            have = true;
                        } else {
                            split_into(&value, &mut fields, &mut current, &mut have);
                        }
                    }
                }
            }
            if have {
                fields.push(current);
            }
            fields
        })
    }

    /// Expands a word into one string (redirection targets, assignments).
    pub(crate) async fn expand_joined(&mut self, word: &Word) -> String {
        let mut out = String::new();
        for (i, part) in word.0.iter().enumerate() {
            match part {
                Part::Lit(s) if i == 0 && (s == "~" || s.starts_with("~/")) => {
                    out.push_str(self.var("HOME").unwrap_or("/"));
                    out.push_str(&s[1..]);
                }
                Part::Lit(s) | Part::Quoted(s) => out.push_str(s),
                other => out.push_str(&self.expand_part(other).await),
            }
        }
        out
    }

    fn expand_part<'s>(&'s mut self, part: &'s Part) -> BoxFuture<'s, String> {
        Box::pin(async move {
            match part {
                Part::Lit(s) | Part::Quoted(s) => s.clone(),
                Part::Param { name, op, .. } => {
                    let value = self.param(name);
                    match op {
                        ParamOp::Plain => value.unwrap_or_default(),
                        ParamOp::Length => value.unwrap_or_default().chars().count().to_string(),
                        ParamOp::Default { word, colon } => match value {
                            Some(v) if !(*colon && v.is_empty()) => v,
                            _ => self.expand_joined(word).await,
                        },
                        ParamOp::Assign { word, colon } => match value {
                            Some(v) if !(*colon && v.is_empty()) => v,
                            _ => {
                                let v = self.expand_joined(word).await;
                                if parse::is_name(name) {
                                    self.set_var(name, v.clone(), None);
                                }
                                v
                            }
                        },
                        ParamOp::Alternative { word, colon } => match value {
                            Some(v) if !(*colon && v.is_empty()) => self.expand_joined(word).await,
                            _ => String::new(),
                        },
                    }
                }
                Part::Subst { script, .. } => {
                    if self.depth > MAX_DEPTH {
                        return String::new();
                    }
                    let (tx, mut rx) = mpsc::channel::<Bytes>(PIPE_CAPACITY);
                    let mut sub = self.subshell();
                    sub.depth += 1;
                    let io = Io {
                        stdin: Input::none(),
                        stdout: Out::Chan(tx),
                        stderr: Out::Null,
                    };
                    // Errors of the substituted command still reach the user.
                    let io = Io {
                        stderr: self.stderr_hint(),
                        ..io
                    };
                    let collect = async {
                        let mut out = Vec::new();
                        while let Some(chunk) = rx.recv().await {
                            out.extend_from_slice(&chunk);
                        }
                        out
                    };
                    let run = async move {
                        let status = sub.run_script(script, &io).await;
                        drop(io);
                        status
                    };
                    let (status, out) = futures::join!(run, collect);
                    self.status = status;
                    let mut text = String::from_utf8_lossy(&out).into_owned();
                    while text.ends_with('\n') {
                        text.pop();
                    }
                    text
                }
                Part::Arith { expr, .. } => {
                    let result = super::arith::eval(expr, &|name| self.param(name));
                    match result {
                        Ok(n) => n.to_string(),
                        Err(e) => {
                            self.status = 2;
                            if let Some(err) = self.err.clone() {
                                err.print(format!("sh: arithmetic syntax error: {e}\n"))
                                    .await;
                            }
                            String::new()
                        }
                    }
                }
            }
        })
    }

    /// Where a command substitution's errors go: the shell's stderr if one is known.
    fn stderr_hint(&self) -> Out {
        self.err.clone().unwrap_or(Out::Null)
    }

    /// A parameter's value (`None` when unset).
    fn param(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.status.to_string()),
            "$" => Some("1".into()),
            "!" => Some(String::new()),
            "-" => Some(String::new()),
            "#" => Some(self.args.len().to_string()),
            "@" | "*" => Some(self.args.join(" ")),
            "0" => Some(self.arg0.clone()),
            n if n.len() == 1 && n.as_bytes()[0].is_ascii_digit() => {
                let i = usize::from(n.as_bytes()[0] - b'0');
                self.args.get(i - 1).cloned()
            }
            n => self.var(n).map(str::to_owned),
        }
    }
}

/// Splits an unquoted expansion's value into fields, joining its ends to the text around it.
fn split_into(value: &str, fields: &mut Vec<String>, current: &mut String, have: &mut bool) {
    if value.is_empty() {
        return;
    }
    let starts_blank = value.starts_with(|c: char| c.is_ascii_whitespace());
    let ends_blank = value.ends_with(|c: char| c.is_ascii_whitespace());
    let pieces: Vec<&str> = value.split_ascii_whitespace().collect();
    if starts_blank && *have {
        fields.push(std::mem::take(current));
        *have = false;
    }
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            fields.push(std::mem::take(current));
        }
        current.push_str(piece);
        *have = true;
    }
    if ends_blank && *have {
        fields.push(std::mem::take(current));
        *have = false;
    }
}

/// Closes a command's redirected outputs and waits until files hold everything written.
async fn finish(io: Io, pending: Vec<JoinHandle<()>>) {
    drop(io);
    for handle in pending {
        let _ = handle.await;
    }
}

/// An error text in the lower case busybox uses after a colon.
fn lower(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
