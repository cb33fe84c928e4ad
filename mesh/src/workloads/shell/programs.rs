//! The programs on a container's `PATH`: `sh` itself, `curl`, `wget`, `fortio`, and the small
//! tools learners pipe through (`grep`, `head`, `wc`, `sort`, `uniq`, …). Each reads and writes
//! its [`Io`] and returns its exit status.

use std::time::Duration;

use regex::bytes::{Regex, RegexBuilder};

use super::fs::{self, Fs};
use super::interp::{BoxFuture, MAX_DEPTH, Shell};
use super::io::{Interrupt, Io, lines};
use crate::net::CLUSTER_DOMAIN;
use crate::workloads::PodContext;

/// Everything a program runs with.
pub(crate) struct Proc<'a> {
    /// The container.
    pub ctx: &'a PodContext,
    /// The environment (`KEY`, value).
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub cwd: String,
    /// The container's files.
    pub fs: Fs,
    /// The standard streams.
    pub io: Io,
    /// How deeply shells are nested.
    pub depth: usize,
    /// Whether a terminal is attached (`kubectl exec -t`).
    pub tty: bool,
    /// Ctrl-C on the terminal.
    pub interrupt: Interrupt,
}

impl Proc<'_> {
    /// An environment variable.
    pub(crate) fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A path made absolute against the working directory.
    pub(crate) fn path(&self, p: &str) -> String {
        fs::resolve(&self.cwd, p)
    }

    async fn err(&self, text: impl Into<String>) {
        let mut text = text.into();
        text.push('\n');
        self.io.stderr.print(text).await;
    }
}

/// The programs every container has, by name.
pub(crate) const PROGRAMS: &[&str] = &[
    "[", "basename", "cat", "curl", "date", "dirname", "echo", "egrep", "env", "false", "fgrep",
    "fortio", "getent", "grep", "head", "hostname", "id", "ls", "mkdir", "nslookup", "printenv",
    "printf", "pwd", "rm", "seq", "sh", "ash", "sleep", "sort", "tail", "tee", "test", "touch",
    "true", "uname", "uniq", "wc", "wget", "which", "whoami", AGENT,
];

/// Istio's agent (`pilot-agent request GET stats` in an istio-proxy container).
const AGENT: &str = "pilot-agent";

/// Directories programs are found in.
const BIN_DIRS: &[&str] = &["/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"];

/// The program `argv0` names (by basename; a path must be in a bin directory), if it exists.
pub(crate) fn lookup(argv0: &str) -> Option<&'static str> {
    let (dir, base) = match argv0.rfind('/') {
        Some(i) => (Some(&argv0[..i.max(1)]), &argv0[i + 1..]),
        None => (None, argv0),
    };
    if let Some(dir) = dir
        && !BIN_DIRS.contains(&fs::resolve("/", dir).as_str())
    {
        return None;
    }
    PROGRAMS.iter().copied().find(|p| *p == base)
}

/// Runs a program. `in_shell` chooses how an unknown command is reported (`sh: x: not found`,
/// or, for a command `kubectl exec` starts directly, the container runtime's message).
pub(crate) fn run<'a>(p: Proc<'a>, argv: Vec<String>, in_shell: bool) -> BoxFuture<'a, i32> {
    Box::pin(async move {
        let Some(name) = argv.first().map(String::as_str).and_then(lookup) else {
            let shown = argv.first().cloned().unwrap_or_default();
            if in_shell {
                p.err(format!("sh: {shown}: not found")).await;
            } else {
                p.err(format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{shown}\": executable file not found in $PATH: unknown"
                ))
                .await;
            }
            return 127;
        };
        let args = &argv[1..];
        match name {
            "sh" | "ash" => sh(p, args).await,
            "curl" => super::curl::curl(&p, args).await,
            "wget" => super::curl::wget(&p, args).await,
            "fortio" => {
                crate::workloads::fortio::command(
                    p.ctx,
                    args,
                    &p.io.stdout,
                    &p.io.stderr,
                    &p.interrupt,
                )
                .await
            }
            "sleep" => sleep(&p, args).await,
            "echo" => echo(&p, args).await,
            "printf" => printf(&p, args).await,
            "cat" => cat(&p, args).await,
            "grep" | "egrep" | "fgrep" => grep(&p, name, args).await,
            "head" | "tail" => head_tail(&p, name == "head", args).await,
            "wc" => wc(&p, args).await,
            "sort" => sort(&p, args).await,
            "uniq" => uniq(&p, args).await,
            "tee" => tee(&p, args).await,
            "true" => 0,
            "false" => 1,
            "seq" => seq(&p, args).await,
            "date" => date(&p, args).await,
            "env" => env(p, args).await,
            "printenv" => printenv(&p, args).await,
            "hostname" => {
                let text = if args.first().map(String::as_str) == Some("-i") {
                    p.ctx.ip.to_string()
                } else {
                    p.ctx.pod.clone()
                };
                p.io.stdout.print(format!("{text}\n")).await;
                0
            }
            "id" => {
                p.io.stdout
                    .print("uid=100(curl_user) gid=101(curl_group) groups=101(curl_group)\n")
                    .await;
                0
            }
            "whoami" => {
                p.io.stdout.print("curl_user\n").await;
                0
            }
            "uname" => uname(&p, args).await,
            "pwd" => {
                p.io.stdout.print(format!("{}\n", p.cwd)).await;
                0
            }
            "ls" => ls(&p, args).await,
            "mkdir" => mkdir(&p, args).await,
            "rm" => rm(&p, args).await,
            "touch" => touch(&p, args).await,
            "basename" | "dirname" => base_dir(&p, name == "basename", args).await,
            "which" => which(&p, args).await,
            "test" => test(&p, args).await,
            "[" => match args.split_last() {
                Some((last, rest)) if last == "]" => test(&p, rest).await,
                _ => {
                    p.err("sh: missing ]").await;
                    2
                }
            },
            "nslookup" => nslookup(&p, args).await,
            "getent" => getent(&p, args).await,
            "pilot-agent" => super::pilot_agent::run(&p, args).await,
            _ => 127,
        }
    })
}

/// `sh [-c SCRIPT [NAME [ARG…]]] [FILE]`; with neither, commands are read from stdin.
pub(crate) fn sh<'a>(p: Proc<'a>, args: &'a [String]) -> BoxFuture<'a, i32> {
    Box::pin(async move {
        if p.depth > MAX_DEPTH {
            p.err("sh: nesting too deep").await;
            return 2;
        }
        let mut shell = Shell::new(p.ctx, &p.env, &p.cwd, p.depth + 1);
        shell.tty = p.tty;
        shell.interrupt = p.interrupt.clone();
        let mut i = 0;
        let mut command = None;
        while i < args.len() {
            let a = &args[i];
            if a == "-c" {
                let Some(script) = args.get(i + 1) else {
                    p.err("sh: -c requires an argument").await;
                    return 2;
                };
                command = Some(script.clone());
                i += 2;
                break;
            } else if a == "--" {
                i += 1;
                break;
            } else if a.starts_with('-') && a.len() > 1 {
                // -e, -x, -l, -i, combined forms: accepted, no effect (`-ec` runs a script).
                if a.contains('c') {
                    let Some(script) = args.get(i + 1) else {
                        p.err("sh: -c requires an argument").await;
                        return 2;
                    };
                    command = Some(script.clone());
                    i += 2;
                    break;
                }
                i += 1;
            } else {
                break;
            }
        }
        let rest = &args[i.min(args.len())..];
        if let Some(script) = command {
            if let Some((arg0, params)) = rest.split_first() {
                shell.arg0.clone_from(arg0);
                shell.args = params.to_vec();
            }
            let status = shell.run_text(&script, &p.io).await;
            return shell.exit.unwrap_or(status);
        }
        if let Some((file, params)) = rest.split_first() {
            let path = p.path(file);
            let Ok(data) = p.fs.read(&path) else {
                p.err(format!(
                    "sh: can't open '{file}': No such file or directory"
                ))
                .await;
                return 2;
            };
            shell.arg0.clone_from(file);
            shell.args = params.to_vec();
            let text = String::from_utf8_lossy(&data).into_owned();
            let status = shell.run_text(&text, &p.io).await;
            return shell.exit.unwrap_or(status);
        }
        super::interactive::run(&mut shell, &p.io, p.tty).await
    })
}

async fn sleep(p: &Proc<'_>, args: &[String]) -> i32 {
    if args.is_empty() {
        p.err("sleep: missing operand\nTry 'sleep --help' for more information.")
            .await;
        return 1;
    }
    let mut total = Duration::ZERO;
    for a in args {
        if a == "infinity" || a == "inf" {
            std::future::pending::<()>().await;
        }
        let (number, unit) = match a.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&a[..i], c),
            _ => (a.as_str(), 's'),
        };
        let factor = match unit {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => f64::NAN,
        };
        match number.parse::<f64>() {
            Ok(n) if n >= 0.0 && factor.is_finite() && (n * factor).is_finite() => {
                total += Duration::from_secs_f64((n * factor).min(1e12));
            }
            _ => {
                p.err(format!("sleep: invalid number '{a}'")).await;
                return 1;
            }
        }
    }
    tokio::time::sleep(total).await;
    0
}

async fn echo(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut newline = true;
    let mut escapes = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "neE".contains(c)) {
            for c in a[1..].chars() {
                match c {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            i += 1;
        } else {
            break;
        }
    }
    let mut text = args[i..].join(" ");
    if escapes {
        let (t, stop) = unescape(&text);
        text = t;
        if stop {
            newline = false;
        }
    }
    if newline {
        text.push('\n');
    }
    p.io.stdout.print(text).await;
    0
}

/// Backslash escapes of `echo -e` and `printf`; `true` when `\c` stopped output.
fn unescape(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('e') => out.push('\x1b'),
            Some('c') => return (out, true),
            Some('0') => {
                let mut n = 0u32;
                for _ in 0..3 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(n).unwrap_or('?'));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    (out, false)
}

/// The widest field `printf` pads to (a typo must not allocate gigabytes).
const MAX_WIDTH: usize = 65_536;

async fn printf(p: &Proc<'_>, args: &[String]) -> i32 {
    let Some((format, mut rest)) = args.split_first() else {
        p.err("printf: usage: printf FORMAT [ARGUMENT...]").await;
        return 1;
    };
    let mut out = String::new();
    let mut status = 0;
    loop {
        let mut chars = format.chars().peekable();
        let mut consumed = false;
        while let Some(c) = chars.next() {
            if c == '\\' {
                let mut esc = String::from('\\');
                if let Some(n) = chars.next() {
                    esc.push(n);
                }
                let (t, stop) = unescape(&esc);
                out.push_str(&t);
                if stop {
                    p.io.stdout.print(out).await;
                    return status;
                }
                continue;
            }
            if c != '%' {
                out.push(c);
                continue;
            }
            let mut spec = String::new();
            while let Some(&n) = chars.peek() {
                if "-+ #0123456789.".contains(n) {
                    spec.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            let Some(conv) = chars.next() else {
                out.push('%');
                break;
            };
            if conv == '%' {
                out.push('%');
                continue;
            }
            let arg = rest.first().cloned();
            if !rest.is_empty() {
                rest = &rest[1..];
                consumed = true;
            }
            let arg = arg.unwrap_or_default();
            let left = spec.starts_with('-');
            let zero = spec.starts_with('0');
            let width: usize = spec
                .trim_start_matches(['-', '0', '+', ' ', '#'])
                .split('.')
                .next()
                .and_then(|w| w.parse().ok())
                .unwrap_or(0)
                .min(MAX_WIDTH);
            let text = match conv {
                's' => arg,
                'b' => unescape(&arg).0,
                'c' => arg.chars().next().map(String::from).unwrap_or_default(),
                'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                    let n = if arg.is_empty() {
                        Some(0)
                    } else {
                        arg.trim().parse::<i64>().ok()
                    };
                    let Some(n) = n else {
                        p.err(format!("printf: invalid number '{arg}'")).await;
                        status = 1;
                        continue;
                    };
                    match conv {
                        'x' => format!("{n:x}"),
                        'X' => format!("{n:X}"),
                        'o' => format!("{n:o}"),
                        _ => n.to_string(),
                    }
                }
                'f' | 'g' | 'e' => {
                    let n = arg.trim().parse::<f64>().unwrap_or(0.0);
                    let prec: usize = spec
                        .split('.')
                        .nth(1)
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(6)
                        .min(64);
                    format!("{n:.prec$}")
                }
                other => {
                    p.err(format!("printf: %{other}: invalid format")).await;
                    return 1;
                }
            };
            let pad = width.saturating_sub(text.chars().count());
            if left {
                out.push_str(&text);
                out.push_str(&" ".repeat(pad));
            } else if zero && conv != 's' {
                let (sign, digits) = text
                    .strip_prefix('-')
                    .map_or(("", text.as_str()), |d| ("-", d));
                out.push_str(sign);
                out.push_str(&"0".repeat(pad));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&text);
            }
        }
        if rest.is_empty() || !consumed {
            break;
        }
    }
    p.io.stdout.print(out).await;
    status
}

/// The contents of each operand (`-` or none: stdin), reporting missing files.
async fn inputs(p: &Proc<'_>, tool: &str, files: &[String]) -> (Vec<(String, Vec<u8>)>, i32) {
    let mut out = Vec::new();
    let mut status = 0;
    if files.is_empty() {
        out.push(("(standard input)".to_owned(), p.io.stdin.read_all().await));
    }
    for f in files {
        if f == "-" {
            out.push(("(standard input)".to_owned(), p.io.stdin.read_all().await));
            continue;
        }
        match p.fs.read(&p.path(f)) {
            Ok(data) => out.push((f.clone(), data)),
            Err(e) => {
                p.err(format!("{tool}: {f}: {e}")).await;
                status = if tool == "grep" { 2 } else { 1 };
            }
        }
    }
    (out, status)
}

async fn cat(p: &Proc<'_>, args: &[String]) -> i32 {
    let files: Vec<String> = args
        .iter()
        .filter(|a| *a == "-" || !a.starts_with('-'))
        .cloned()
        .collect();
    if files.is_empty() {
        // Stream stdin through (a pipe may never end).
        while let Some(chunk) = p.io.stdin.chunk().await {
            if !p.io.stdout.write(chunk).await {
                return 1;
            }
        }
        return 0;
    }
    let mut status = 0;
    for f in &files {
        if f == "-" {
            let data = p.io.stdin.read_all().await;
            p.io.stdout.write(data).await;
            continue;
        }
        match p.fs.read(&p.path(f)) {
            Ok(data) => {
                if !p.io.stdout.write(data).await {
                    return 1;
                }
            }
            Err(e) => {
                p.err(format!("cat: can't open '{f}': {e}")).await;
                status = 1;
            }
        }
    }
    status
}

/// grep's options.
#[derive(Default)]
struct GrepOptions {
    only: bool,
    ignore_case: bool,
    invert: bool,
    count: bool,
    quiet: bool,
    extended: bool,
    fixed: bool,
    number: bool,
    word: bool,
    names_only: bool,
    with_name: Option<bool>,
    patterns: Vec<String>,
}

const GREP_USAGE: &str = "BusyBox v1.37.0 multi-call binary.\n\nUsage: grep [-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...";

async fn grep(p: &Proc<'_>, name: &str, args: &[String]) -> i32 {
    let mut o = GrepOptions {
        extended: name == "egrep",
        fixed: name == "fgrep",
        ..GrepOptions::default()
    };
    let mut files = Vec::new();
    let mut i = 0;
    let mut operands_only = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if operands_only || !a.starts_with('-') || a == "-" {
            files.push(a.clone());
            continue;
        }
        if a == "--" {
            operands_only = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long {
                "only-matching" => o.only = true,
                "ignore-case" => o.ignore_case = true,
                "invert-match" => o.invert = true,
                "count" => o.count = true,
                "quiet" | "silent" => o.quiet = true,
                "extended-regexp" => o.extended = true,
                "fixed-strings" => o.fixed = true,
                "line-number" => o.number = true,
                "word-regexp" => o.word = true,
                "color=never" | "color=auto" | "colour=never" => {}
                _ => {
                    p.err(format!("grep: unrecognized option '{a}'\n{GREP_USAGE}"))
                        .await;
                    return 2;
                }
            }
            continue;
        }
        let flags: Vec<char> = a[1..].chars().collect();
        for (j, f) in flags.iter().enumerate() {
            match f {
                'o' => o.only = true,
                'i' => o.ignore_case = true,
                'v' => o.invert = true,
                'c' => o.count = true,
                'q' | 's' => o.quiet |= *f == 'q',
                'E' => o.extended = true,
                'F' => o.fixed = true,
                'G' => o.extended = false,
                'n' => o.number = true,
                'w' => o.word = true,
                'l' => o.names_only = true,
                'h' => o.with_name = Some(false),
                'H' => o.with_name = Some(true),
                'e' => {
                    let rest: String = flags[j + 1..].iter().collect();
                    if rest.is_empty() {
                        let Some(pat) = args.get(i) else {
                            p.err("grep: option requires an argument -- 'e'").await;
                            return 2;
                        };
                        o.patterns.push(pat.clone());
                        i += 1;
                    } else {
                        o.patterns.push(rest);
                    }
                    break;
                }
                other => {
                    p.err(format!("grep: invalid option -- '{other}'")).await;
                    return 2;
                }
            }
        }
    }
    if o.patterns.is_empty() {
        if files.is_empty() {
            p.err(GREP_USAGE).await;
            return 2;
        }
        o.patterns.push(files.remove(0));
    }
    let sources: Vec<String> = o
        .patterns
        .iter()
        .map(|pat| {
            let core = if o.fixed {
                regex::escape(pat)
            } else if o.extended {
                pat.clone()
            } else {
                basic_to_extended(pat)
            };
            if o.word {
                format!(r"\b(?:{core})\b")
            } else {
                core
            }
        })
        .collect();
    let re = match RegexBuilder::new(&sources.join("|"))
        .case_insensitive(o.ignore_case)
        .build()
    {
        Ok(re) => re,
        Err(_) => {
            p.err(format!("grep: bad regex '{}'", o.patterns.join("|")))
                .await;
            return 2;
        }
    };
    let show_name = o.with_name.unwrap_or(files.len() > 1);
    let (sources, mut status) = inputs(p, "grep", &files).await;
    let mut matched_any = false;
    for (fname, data) in sources {
        let (found, stop) = grep_one(p, &o, &re, &fname, show_name, &data).await;
        matched_any |= found;
        if stop {
            return 0;
        }
    }
    if status == 0 {
        status = if matched_any { 0 } else { 1 };
    }
    status
}

/// Greps one input; (whether a line matched, whether to stop at once for `-q`).
async fn grep_one(
    p: &Proc<'_>,
    o: &GrepOptions,
    re: &Regex,
    fname: &str,
    show_name: bool,
    data: &[u8],
) -> (bool, bool) {
    let prefix = if show_name {
        format!("{fname}:")
    } else {
        String::new()
    };
    let mut out = Vec::new();
    let mut count = 0usize;
    for (n, line) in lines(data).iter().enumerate() {
        let hit = re.is_match(line) != o.invert;
        if !hit {
            continue;
        }
        count += 1;
        if o.quiet {
            return (true, true);
        }
        if o.count || o.names_only {
            continue;
        }
        let lead = if o.number {
            format!("{prefix}{}:", n + 1)
        } else {
            prefix.clone()
        };
        if o.only && !o.invert {
            for m in re.find_iter(line).filter(|m| !m.as_bytes().is_empty()) {
                out.extend_from_slice(lead.as_bytes());
                out.extend_from_slice(m.as_bytes());
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(lead.as_bytes());
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    if o.names_only && count > 0 {
        out.extend_from_slice(format!("{fname}\n").as_bytes());
    } else if o.count {
        out.extend_from_slice(format!("{prefix}{count}\n").as_bytes());
    }
    p.io.stdout.write(out).await;
    (count > 0, false)
}

/// A POSIX basic regular expression in the regex crate's (extended) syntax.
fn basic_to_extended(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if in_class {
            if c == ']' {
                in_class = false;
            }
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => match chars.next() {
                Some(e @ ('(' | ')' | '{' | '}' | '|' | '+' | '?')) => out.push(e),
                Some('<' | '>') => out.push_str(r"\b"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push_str("\\\\"),
            },
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '*' if at_start => out.push_str("\\*"),
            '[' => {
                in_class = true;
                out.push('[');
                // `[]…]` and `[^]…]` keep their first `]` literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            _ => out.push(c),
        }
        at_start = c == '^' && out.len() == 1;
    }
    out
}

async fn head_tail(p: &Proc<'_>, head: bool, args: &[String]) -> i32 {
    let tool = if head { "head" } else { "tail" };
    let mut count: usize = 10;
    let mut from_start = false;
    let mut bytes = false;
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let value = if a == "-n" || a == "-c" {
            bytes = a == "-c";
            let Some(v) = args.get(i) else {
                p.err(format!(
                    "{tool}: option requires an argument -- '{}'",
                    &a[1..]
                ))
                .await;
                return 1;
            };
            i += 1;
            Some(v.clone())
        } else if let Some(v) = a.strip_prefix("-n") {
            Some(v.to_owned())
        } else if let Some(v) = a.strip_prefix("-c") {
            bytes = true;
            Some(v.to_owned())
        } else if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) {
            Some(a[1..].to_owned())
        } else {
            if a == "-f" || a == "-q" {
                continue;
            }
            files.push(a.clone());
            None
        };
        if let Some(v) = value {
            let v = if let Some(rest) = v.strip_prefix('+') {
                from_start = true;
                rest.to_owned()
            } else {
                v.trim_start_matches('-').to_owned()
            };
            match v.parse() {
                Ok(n) => count = n,
                Err(_) => {
                    p.err(format!("{tool}: invalid number '{v}'")).await;
                    return 1;
                }
            }
        }
    }
    if head && files.is_empty() && !bytes {
        // Stop reading once enough lines arrived (the writer sees a closed pipe).
        let mut out = Vec::new();
        let mut seen = 0;
        while seen < count {
            let Some(line) = p.io.stdin.read_line().await else {
                break;
            };
            out.extend_from_slice(&line);
            out.push(b'\n');
            seen += 1;
        }
        p.io.stdout.write(out).await;
        return 0;
    }
    let (sources, status) = inputs(p, tool, &files).await;
    for (_, data) in sources {
        let out: Vec<u8> = if bytes {
            if head {
                data.iter().take(count).copied().collect()
            } else {
                data[data.len().saturating_sub(count)..].to_vec()
            }
        } else {
            let all = lines(&data);
            let chosen: Vec<&[u8]> = if head {
                all.into_iter().take(count).collect()
            } else if from_start {
                all.into_iter().skip(count.saturating_sub(1)).collect()
            } else {
                let skip = all.len().saturating_sub(count);
                all.into_iter().skip(skip).collect()
            };
            let mut out = Vec::new();
            for l in chosen {
                out.extend_from_slice(l);
                out.push(b'\n');
            }
            out
        };
        p.io.stdout.write(out).await;
    }
    status
}

async fn wc(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut which = String::new();
    let mut files = Vec::new();
    for a in args {
        match a.strip_prefix('-') {
            Some(flags) if !flags.is_empty() => which.push_str(flags),
            _ => files.push(a.clone()),
        }
    }
    if which.is_empty() {
        which = "lwc".into();
    }
    let (sources, status) = inputs(p, "wc", &files).await;
    let mut out = String::new();
    for (name, data) in &sources {
        let mut cols = Vec::new();
        if which.contains('l') {
            cols.push(data.iter().filter(|b| **b == b'\n').count());
        }
        if which.contains('w') {
            cols.push(String::from_utf8_lossy(data).split_whitespace().count());
        }
        if which.contains('c') || which.contains('m') {
            cols.push(data.len());
        }
        let text = if cols.len() == 1 {
            cols[0].to_string()
        } else {
            cols.iter()
                .map(|c| format!("{c:>7}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if files.is_empty() {
            out.push_str(&format!("{text}\n"));
        } else {
            out.push_str(&format!("{text} {name}\n"));
        }
    }
    p.io.stdout.print(out).await;
    status
}

async fn sort(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut numeric = false;
    let mut reverse = false;
    let mut unique = false;
    let mut files = Vec::new();
    for a in args {
        match a.strip_prefix('-') {
            Some(flags) if !flags.is_empty() => {
                numeric |= flags.contains('n');
                reverse |= flags.contains('r');
                unique |= flags.contains('u');
            }
            _ => files.push(a.clone()),
        }
    }
    let (sources, status) = inputs(p, "sort", &files).await;
    let mut all: Vec<Vec<u8>> = Vec::new();
    for (_, data) in &sources {
        all.extend(lines(data).into_iter().map(<[u8]>::to_vec));
    }
    let key = |l: &[u8]| -> f64 {
        let s = String::from_utf8_lossy(l);
        let t = s.trim_start();
        let end = t
            .char_indices()
            .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-')))
            .map_or(t.len(), |(i, _)| i);
        t[..end].parse().unwrap_or(0.0)
    };
    if numeric {
        all.sort_by(|a, b| key(a).total_cmp(&key(b)).then_with(|| a.cmp(b)));
    } else {
        all.sort();
    }
    if reverse {
        all.reverse();
    }
    if unique {
        all.dedup();
    }
    let mut out = Vec::new();
    for l in all {
        out.extend_from_slice(&l);
        out.push(b'\n');
    }
    p.io.stdout.write(out).await;
    status
}

async fn uniq(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut count = false;
    let mut dups = false;
    let mut files = Vec::new();
    for a in args {
        match a.strip_prefix('-') {
            Some(flags) if !flags.is_empty() => {
                count |= flags.contains('c');
                dups |= flags.contains('d');
            }
            _ => files.push(a.clone()),
        }
    }
    let (sources, status) = inputs(p, "uniq", &files.into_iter().take(1).collect::<Vec<_>>()).await;
    let mut out = Vec::new();
    for (_, data) in &sources {
        let mut groups: Vec<(&[u8], usize)> = Vec::new();
        for l in lines(data) {
            match groups.last_mut() {
                Some((last, n)) if *last == l => *n += 1,
                _ => groups.push((l, 1)),
            }
        }
        for (l, n) in groups {
            if dups && n < 2 {
                continue;
            }
            if count {
                out.extend_from_slice(format!("{n:>7} ").as_bytes());
            }
            out.extend_from_slice(l);
            out.push(b'\n');
        }
    }
    p.io.stdout.write(out).await;
    status
}

async fn tee(p: &Proc<'_>, args: &[String]) -> i32 {
    let append = args.iter().any(|a| a == "-a");
    let files: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(|f| p.path(f))
        .collect();
    let mut status = 0;
    for f in &files {
        if let Err(e) = p.fs.write(f, &[], append) {
            p.err(format!("tee: {f}: {e}")).await;
            status = 1;
        }
    }
    while let Some(chunk) = p.io.stdin.chunk().await {
        for f in &files {
            let _ = p.fs.write(f, &chunk, true);
        }
        if !p.io.stdout.write(chunk).await {
            break;
        }
    }
    status
}

async fn seq(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut sep = "\n".to_owned();
    let mut nums = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "-s" {
            sep = args.get(i).cloned().unwrap_or_default();
            i += 1;
            continue;
        }
        match a.parse::<i64>() {
            Ok(n) => nums.push(n),
            Err(_) => {
                p.err(format!("seq: invalid number '{a}'")).await;
                return 1;
            }
        }
    }
    let (first, step, last) = match nums.as_slice() {
        [last] => (1, 1, *last),
        [first, last] => (*first, 1, *last),
        [first, step, last] if *step != 0 => (*first, *step, *last),
        _ => {
            p.err("Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST").await;
            return 1;
        }
    };
    let mut values = Vec::new();
    let mut n = first;
    while (step > 0 && n <= last) || (step < 0 && n >= last) {
        values.push(n.to_string());
        if values.len() > 1_000_000 {
            break;
        }
        n += step;
    }
    if values.is_empty() {
        return 0;
    }
    p.io.stdout.print(format!("{}\n", values.join(&sep))).await;
    0
}

async fn date(p: &Proc<'_>, args: &[String]) -> i32 {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let format = args
        .iter()
        .find_map(|a| a.strip_prefix('+'))
        .unwrap_or("%a %b %e %H:%M:%S %Z %Y");
    let text = match jiff::fmt::strtime::format(format, &now) {
        Ok(t) => t,
        Err(_) => {
            p.err(format!("date: invalid format '{format}'")).await;
            return 1;
        }
    };
    p.io.stdout.print(format!("{text}\n")).await;
    0
}

async fn env(mut p: Proc<'_>, args: &[String]) -> i32 {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "-i" || a == "-" {
            p.env.clear();
        } else if let Some(name) = a.strip_prefix("-u") {
            let name = if name.is_empty() {
                i += 1;
                args.get(i).cloned().unwrap_or_default()
            } else {
                name.to_owned()
            };
            p.env.retain(|(k, _)| *k != name);
        } else if let Some((k, v)) = a.split_once('=')
            && !k.is_empty()
        {
            p.env.retain(|(n, _)| n != k);
            p.env.push((k.to_owned(), v.to_owned()));
        } else {
            break;
        }
        i += 1;
    }
    if i < args.len() {
        let argv = args[i..].to_vec();
        if lookup(&argv[0]).is_none() {
            p.err(format!(
                "env: can't execute '{}': No such file or directory",
                argv[0]
            ))
            .await;
            return 127;
        }
        return run(p, argv, true).await;
    }
    let mut out = String::new();
    for (k, v) in &p.env {
        out.push_str(&format!("{k}={v}\n"));
    }
    p.io.stdout.print(out).await;
    0
}

async fn printenv(p: &Proc<'_>, args: &[String]) -> i32 {
    if args.is_empty() {
        let mut out = String::new();
        for (k, v) in &p.env {
            out.push_str(&format!("{k}={v}\n"));
        }
        p.io.stdout.print(out).await;
        return 0;
    }
    let mut status = 0;
    let mut out = String::new();
    for name in args {
        match p.env_var(name) {
            Some(v) => out.push_str(&format!("{v}\n")),
            None => status = 1,
        }
    }
    p.io.stdout.print(out).await;
    status
}

async fn uname(p: &Proc<'_>, args: &[String]) -> i32 {
    let all = args.iter().any(|a| a == "-a");
    let text = if all {
        format!("Linux {} 6.12.0 #1 SMP x86_64 Linux", p.ctx.pod)
    } else {
        let mut parts = Vec::new();
        for a in args {
            for f in a.trim_start_matches('-').chars() {
                parts.push(match f {
                    'n' => p.ctx.pod.clone(),
                    'r' => "6.12.0".to_owned(),
                    'm' => "x86_64".to_owned(),
                    _ => "Linux".to_owned(),
                });
            }
        }
        if parts.is_empty() {
            "Linux".to_owned()
        } else {
            parts.join(" ")
        }
    };
    p.io.stdout.print(format!("{text}\n")).await;
    0
}

async fn ls(p: &Proc<'_>, args: &[String]) -> i32 {
    let all = args.iter().any(|a| a.starts_with('-') && a.contains('a'));
    let long = args.iter().any(|a| a.starts_with('-') && a.contains('l'));
    let mut targets: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .cloned()
        .collect();
    if targets.is_empty() {
        targets.push(".".into());
    }
    let mut status = 0;
    let mut out = String::new();
    let many = targets.len() > 1;
    for t in &targets {
        let path = p.path(t);
        let entry = |name: &str, full: &str| -> String {
            if long {
                let size = p.fs.read(full).map_or(0, |d| d.len());
                let kind = if p.fs.is_dir(full) {
                    "drwxr-xr-x"
                } else {
                    "-rw-r--r--"
                };
                format!("{kind}    1 root     root     {size:>9} Jan  1 00:00 {name}\n")
            } else {
                format!("{name}\n")
            }
        };
        if let Some(names) = p.fs.list(&path) {
            if many {
                out.push_str(&format!("{t}:\n"));
            }
            for name in names.iter().filter(|n| all || !n.starts_with('.')) {
                let full = fs::resolve(&path, name);
                out.push_str(&entry(name, &full));
            }
        } else if p.fs.exists(&path) {
            out.push_str(&entry(t, &path));
        } else {
            p.err(format!("ls: {t}: No such file or directory")).await;
            status = 1;
        }
    }
    p.io.stdout.print(out).await;
    status
}

async fn mkdir(p: &Proc<'_>, args: &[String]) -> i32 {
    let parents = args.iter().any(|a| a == "-p");
    let mut status = 0;
    for d in args.iter().filter(|a| !a.starts_with('-')) {
        if let Err(e) = p.fs.mkdir(&p.path(d), parents) {
            p.err(format!("mkdir: can't create directory '{d}': {e}"))
                .await;
            status = 1;
        }
    }
    status
}

async fn rm(p: &Proc<'_>, args: &[String]) -> i32 {
    let force = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
    let mut status = 0;
    for f in args.iter().filter(|a| !a.starts_with('-')) {
        if let Err(e) = p.fs.remove(&p.path(f))
            && !(force && e == fs::FsError::NotFound)
        {
            p.err(format!("rm: can't remove '{f}': {e}")).await;
            status = 1;
        }
    }
    status
}

async fn touch(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut status = 0;
    for f in args.iter().filter(|a| !a.starts_with('-')) {
        if let Err(e) = p.fs.write(&p.path(f), &[], true) {
            p.err(format!("touch: {f}: {e}")).await;
            status = 1;
        }
    }
    status
}

async fn base_dir(p: &Proc<'_>, base: bool, args: &[String]) -> i32 {
    let Some(path) = args.first() else {
        p.err(if base {
            "basename: missing operand"
        } else {
            "dirname: missing operand"
        })
        .await;
        return 1;
    };
    let trimmed = path.trim_end_matches('/');
    let text = if base {
        let b = trimmed.rsplit('/').next().unwrap_or("");
        let b = if b.is_empty() { "/" } else { b };
        match args.get(1) {
            Some(suffix) if b != suffix => b.strip_suffix(suffix.as_str()).unwrap_or(b),
            _ => b,
        }
        .to_owned()
    } else {
        match trimmed.rfind('/') {
            Some(0) => "/".to_owned(),
            Some(i) => trimmed[..i].to_owned(),
            None if path.starts_with('/') => "/".to_owned(),
            None => ".".to_owned(),
        }
    };
    p.io.stdout.print(format!("{text}\n")).await;
    0
}

async fn which(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut status = 0;
    let mut out = String::new();
    for a in args {
        match lookup(a) {
            Some(name) => out.push_str(&format!("/usr/bin/{name}\n")),
            None => status = 1,
        }
    }
    p.io.stdout.print(out).await;
    status
}

async fn test(p: &Proc<'_>, args: &[String]) -> i32 {
    match eval_test(p, args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            p.err(format!("sh: {e}")).await;
            2
        }
    }
}

fn eval_test(p: &Proc<'_>, args: &[String]) -> Result<bool, String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(i) = a.iter().position(|x| *x == "-o") {
        return Ok(eval_test(p, &args[..i])? || eval_test(p, &args[i + 1..])?);
    }
    if let Some(i) = a.iter().position(|x| *x == "-a") {
        return Ok(eval_test(p, &args[..i])? && eval_test(p, &args[i + 1..])?);
    }
    let int = |s: &str| -> Result<i64, String> {
        s.trim().parse().map_err(|_| format!("{s}: bad number"))
    };
    Ok(match a.as_slice() {
        [] => false,
        ["!", rest @ ..] => {
            !eval_test(p, &rest.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?
        }
        [s] => !s.is_empty(),
        ["-n", s] => !s.is_empty(),
        ["-z", s] => s.is_empty(),
        ["-e", f] => p.fs.exists(&p.path(f)),
        ["-f", f] => p.fs.read(&p.path(f)).is_ok(),
        ["-s", f] => p.fs.read(&p.path(f)).is_ok_and(|d| !d.is_empty()),
        ["-d", f] => p.fs.is_dir(&p.path(f)),
        ["-r" | "-w" | "-x", f] => p.fs.exists(&p.path(f)),
        [x, "=" | "==", y] => x == y,
        [x, "!=", y] => x != y,
        [x, "-eq", y] => int(x)? == int(y)?,
        [x, "-ne", y] => int(x)? != int(y)?,
        [x, "-lt", y] => int(x)? < int(y)?,
        [x, "-le", y] => int(x)? <= int(y)?,
        [x, "-gt", y] => int(x)? > int(y)?,
        [x, "-ge", y] => int(x)? >= int(y)?,
        [_, op, _] => return Err(format!("{op}: unknown operand")),
        _ => return Err("test: syntax error".into()),
    })
}

/// The fully qualified name a resolver would answer for `name` asked from namespace `ns`.
fn qualified(name: &str, ns: &str) -> String {
    let name = name.trim_end_matches('.');
    let suffix = format!(".svc.{CLUSTER_DOMAIN}");
    if name.ends_with(&suffix) || name.parse::<std::net::IpAddr>().is_ok() {
        name.to_owned()
    } else if name.ends_with(".svc") {
        format!("{name}.{CLUSTER_DOMAIN}")
    } else if name.contains('.') {
        format!("{name}{suffix}")
    } else {
        format!("{name}.{ns}{suffix}")
    }
}

async fn nslookup(p: &Proc<'_>, args: &[String]) -> i32 {
    let Some(name) = args.iter().find(|a| !a.starts_with('-')) else {
        p.err("Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]")
            .await;
        return 1;
    };
    let fqdn = qualified(name, &p.ctx.namespace);
    let mut out = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n".to_owned();
    match p.ctx.network.resolve(&p.ctx.origin(), name) {
        Ok(ip) => {
            out.push_str(&format!("Name:\t{fqdn}\nAddress: {ip}\n\n"));
            p.io.stdout.print(out).await;
            0
        }
        Err(_) => {
            out.push_str(&format!("** server can't find {fqdn}: NXDOMAIN\n\n"));
            p.io.stdout.print(out).await;
            1
        }
    }
}

async fn getent(p: &Proc<'_>, args: &[String]) -> i32 {
    match args {
        [db, names @ ..] if db == "hosts" || db == "ahosts" => {
            let mut status = 0;
            let mut out = String::new();
            for name in names {
                match p.ctx.network.resolve(&p.ctx.origin(), name) {
                    Ok(ip) => {
                        out.push_str(&format!("{ip:<15} {}\n", qualified(name, &p.ctx.namespace)));
                    }
                    Err(_) => status = 2,
                }
            }
            p.io.stdout.print(out).await;
            status
        }
        [db, ..] => {
            p.err(format!("Unknown database: {db}")).await;
            1
        }
        [] => {
            p.err("getent: wrong number of arguments").await;
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_regexes_translate() {
        assert_eq!(basic_to_extended("<title>.*</title>"), "<title>.*</title>");
        assert_eq!(basic_to_extended("a+b"), r"a\+b");
        assert_eq!(basic_to_extended(r"\(ab\)\{2\}"), "(ab){2}");
        assert_eq!(basic_to_extended("*x"), r"\*x");
        assert_eq!(basic_to_extended("[]a]"), r"[\]a]");
        assert!(regex::Regex::new(&basic_to_extended("reviews-v[0-9]*")).is_ok());
    }

    #[test]
    fn programs_are_found_by_basename_in_bin_dirs() {
        assert_eq!(lookup("/bin/sleep"), Some("sleep"));
        assert_eq!(lookup("/usr/bin/curl"), Some("curl"));
        assert_eq!(lookup("curl"), Some("curl"));
        assert_eq!(lookup("/opt/curl"), None);
        assert_eq!(lookup("bash"), None);
    }

    #[test]
    fn names_qualify_like_a_pod_resolver() {
        assert_eq!(
            qualified("httpbin", "default"),
            "httpbin.default.svc.cluster.local"
        );
        assert_eq!(
            qualified("httpbin.foo", "default"),
            "httpbin.foo.svc.cluster.local"
        );
        assert_eq!(qualified("a.b.svc", "x"), "a.b.svc.cluster.local");
    }
}
