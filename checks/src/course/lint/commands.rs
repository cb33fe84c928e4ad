//! The commands a step tells the learner to type: split as a shell would, and checked against
//! what exists.
//!
//! [`split`] turns a command line into the simple commands a POSIX shell would run (quotes,
//! `$(…)` and backquote substitutions, pipes, `&&`, `||`, `;`, redirections, here-documents,
//! `for`/`if`/`while` keywords). [`kubectl`] judges a `kubectl …` command against the verbs
//! kubectl has and the ones the reference mesh serves (measured with the real kubectl against
//! it; see `/work/shared/notes/kubectl-api-surface.md`). A command's words after
//! `kubectl exec … --` stay arguments of kubectl: they run in the pod, not on the host.

use super::{LintIssue, MeshworkArgs, Severity};
use crate::content::Content;
use crate::course::Lab;
use crate::course::lines::LineIndex;
use crate::course::load::LoadError;
use crate::course::raw::{RawCommand, RawLab};
use crate::target::TargetKind;

/// What [`lint_lab`] found: problems, and the manifests the commands read.
#[derive(Debug, Default)]
pub struct Found {
    /// Commands that would fail for the learner.
    pub issues: Vec<LintIssue>,
    /// Content paths read with `-f manifests/…`, in the order they appear.
    pub manifests: Vec<String>,
}

/// Checks every command line of a lab's steps (shown commands, solutions, resets; each
/// target's variant): it splits as a shell would, kubectl verbs exist (on the reference
/// mesh: it serves them), `meshwork` arguments parse (when `meshwork` is given), there is no
/// bare `istioctl` for the reference mesh, and `-f manifests/…` files exist.
pub fn lint_lab(content: &Content, lab: &Lab, meshwork: Option<MeshworkArgs<'_>>) -> Found {
    let file = format!("labs/{}/lab.yaml", lab.folder);
    let mut found = Found::default();
    // The loader accepted the file, so it parses; the raw form tells `run:` from the variants.
    let Some(text) = content.text(&file) else {
        return found;
    };
    let Ok(raw) = serde_yaml::from_str::<RawLab>(text) else {
        return found;
    };
    let index = LineIndex::new(text);
    for (i, step) in raw.steps.iter().enumerate() {
        let lists = [
            ("commands", Some(&step.commands)),
            (
                "solution.commands",
                step.solution.as_ref().map(|s| &s.commands),
            ),
            ("reset.commands", step.reset.as_ref().map(|s| &s.commands)),
        ];
        for (list, commands) in lists {
            for (j, command) in commands.into_iter().flatten().enumerate() {
                for (key, line, targets) in variants(command) {
                    let field = format!("steps[{i}].{list}[{j}].{key}");
                    let messages =
                        judge(content, line, key, targets, meshwork, &mut found.manifests);
                    for message in messages {
                        found.issues.push(LintIssue {
                            severity: Severity::Error,
                            problem: LoadError {
                                file: file.clone(),
                                line: index.line(&field),
                                field: Some(field.clone()),
                                message,
                            },
                        });
                    }
                }
            }
        }
    }
    found
}

/// A command's lines with the key they are written under and the targets they run on.
fn variants(command: &RawCommand) -> Vec<(&'static str, &str, &'static [TargetKind])> {
    let mut out = Vec::new();
    if let Some(run) = &command.run {
        out.push((
            "run",
            run.as_str(),
            &[TargetKind::Cluster, TargetKind::Reference][..],
        ));
    }
    if let Some(cluster) = &command.cluster {
        out.push(("cluster", cluster.as_str(), &[TargetKind::Cluster][..]));
    }
    if let Some(reference) = &command.reference {
        out.push((
            "reference",
            reference.as_str(),
            &[TargetKind::Reference][..],
        ));
    }
    out
}

/// What is wrong with one command line; manifests it reads are added to `manifests`.
fn judge(
    content: &Content,
    line: &str,
    key: &str,
    targets: &[TargetKind],
    meshwork: Option<MeshworkArgs<'_>>,
    manifests: &mut Vec<String>,
) -> Vec<String> {
    let commands = match split(line) {
        Ok(commands) => commands,
        Err(e) => {
            return vec![format!(
                "`{}` is not a complete shell command: {e}",
                short(line)
            )];
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut push = |message: String| {
        if !out.contains(&message) {
            out.push(message);
        }
    };
    for words in &commands {
        let words: &[String] = match words.first().map(String::as_str) {
            Some("sudo" | "time" | "exec") => &words[1..],
            _ => words,
        };
        let Some(program) = words.first() else {
            continue;
        };
        let shown = short(&words.join(" "));
        match program.as_str() {
            "kubectl" => {
                for target in targets {
                    if let Some(why) = kubectl(&words[1..], *target) {
                        push(format!("`{shown}`: {why}"));
                    }
                }
            }
            "meshwork" => {
                if let Some(why) = meshwork.and_then(|parse| parse(&words[1..])) {
                    push(format!("`{shown}` is not a meshwork command: {why}"));
                }
            }
            "istioctl" if targets.contains(&TargetKind::Reference) => {
                let fix = if key == "run" {
                    "write the command as `cluster: istioctl …` and `reference: meshwork istioctl …` instead of `run:`"
                } else {
                    "write `meshwork istioctl …` for the reference mesh"
                };
                push(format!(
                    "`{shown}`: the reference mesh has no istioctl of its own; {fix}"
                ));
            }
            _ => {}
        }
        if matches!(program.as_str(), "kubectl" | "meshwork" | "istioctl") {
            for path in file_arguments(words) {
                let path = path
                    .trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_string();
                if !path.starts_with("manifests/") {
                    continue;
                }
                let files: Vec<String> = if content.contains(&path) {
                    vec![path.clone()]
                } else {
                    content
                        .paths_under(&path)
                        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
                        .map(str::to_string)
                        .collect()
                };
                if files.is_empty() {
                    push(format!(
                        "`{shown}`: `{path}` does not exist in the course content (manifests live under manifests/ at the content root)"
                    ));
                }
                for f in files {
                    if !manifests.contains(&f) {
                        manifests.push(f);
                    }
                }
            }
        }
    }
    out
}

/// A command line cut to a readable length for a message.
fn short(line: &str) -> String {
    let line = line.trim();
    let first = line.lines().next().unwrap_or_default();
    if first.chars().count() > 72 {
        format!("{}…", first.chars().take(71).collect::<String>())
    } else if first.len() < line.len() {
        format!("{first} …")
    } else {
        first.to_string()
    }
}

/// One simple command: its words after quotes are removed (a substitution stays as written,
/// `$(…)`), without leading `VAR=value` assignments and redirections.
pub type Words = Vec<String>;

/// Splits a command line into the simple commands a shell would run, substitutions first.
pub fn split(line: &str) -> Result<Vec<Words>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
    };
    let tokens = lexer.tokens(false)?;
    Ok(commands(tokens))
}

#[derive(Debug)]
enum Token {
    /// A word and the commands of the substitutions inside it.
    Word(String, Vec<Words>),
    /// `|`, `&&`, `;`, a newline, `(`, …: ends a simple command.
    Separator,
    /// `>`, `2>&1`'s `>&`, `<`, …: the next word is its target, not an argument.
    Redirect,
}

/// Ends the word being read, if one started.
fn finish_word(out: &mut Vec<Token>, word: &mut String, subs: &mut Vec<Words>, started: &mut bool) {
    if std::mem::take(started) {
        out.push(Token::Word(std::mem::take(word), std::mem::take(subs)));
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// Tokens up to the end, or (inside `$(…)`) up to the closing `)`, which is consumed.
    fn tokens(&mut self, in_substitution: bool) -> Result<Vec<Token>, String> {
        let mut out = Vec::new();
        let mut word = String::new();
        let mut subs: Vec<Words> = Vec::new();
        let mut started = false;
        let mut heredocs: Vec<(String, bool)> = Vec::new();
        let mut depth = 0usize; // unquoted `(` opened inside this level
        macro_rules! end_word {
            () => {
                finish_word(&mut out, &mut word, &mut subs, &mut started)
            };
        }
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' => {
                    end_word!();
                    self.pos += 1;
                }
                '\n' => {
                    end_word!();
                    out.push(Token::Separator);
                    self.pos += 1;
                    for (delimiter, strip_tabs) in std::mem::take(&mut heredocs) {
                        self.skip_heredoc(&delimiter, strip_tabs)?;
                    }
                }
                '\\' => {
                    match self.peek(1) {
                        Some('\n') => {}
                        Some(next) => {
                            word.push(next);
                            started = true;
                        }
                        None => {}
                    }
                    self.pos += 2;
                }
                '\'' => {
                    self.pos += 1;
                    let start = self.pos;
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        self.pos += 1;
                    }
                    if self.peek(0).is_none() {
                        return Err("a single quote (') is never closed".into());
                    }
                    word.extend(&self.chars[start..self.pos]);
                    self.pos += 1;
                    started = true;
                }
                '"' => {
                    self.pos += 1;
                    self.double_quoted(&mut word, &mut subs)?;
                    started = true;
                }
                '$' | '`' => {
                    self.dollar_or_backquote(&mut word, &mut subs)?;
                    started = true;
                }
                '#' if !started => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                ')' if in_substitution && depth == 0 => {
                    end_word!();
                    self.pos += 1;
                    return Ok(out);
                }
                '(' | ')' => {
                    end_word!();
                    if c == '(' {
                        depth += 1;
                    } else {
                        depth = depth.saturating_sub(1);
                    }
                    out.push(Token::Separator);
                    self.pos += 1;
                }
                '|' | '&' | ';' => {
                    if c == '&' && self.peek(1) == Some('>') {
                        // `&>file`: both streams to a file.
                        end_word!();
                        self.pos += if self.peek(2) == Some('>') { 3 } else { 2 };
                        out.push(Token::Redirect);
                        continue;
                    }
                    end_word!();
                    self.pos += 1;
                    if matches!(self.peek(0), Some('|' | '&' | ';')) {
                        self.pos += 1;
                    }
                    out.push(Token::Separator);
                }
                '<' | '>' => {
                    // A word of digits just before is the redirected descriptor (`2>`).
                    if started && word.chars().all(|c| c.is_ascii_digit()) && !word.is_empty() {
                        word.clear();
                        subs.clear();
                        started = false;
                    } else {
                        end_word!();
                    }
                    if c == '<' && self.peek(1) == Some('<') && self.peek(2) != Some('<') {
                        self.pos += 2;
                        let strip_tabs = self.peek(0) == Some('-');
                        if strip_tabs {
                            self.pos += 1;
                        }
                        while matches!(self.peek(0), Some(' ' | '\t')) {
                            self.pos += 1;
                        }
                        let delimiter = self.heredoc_delimiter()?;
                        heredocs.push((delimiter, strip_tabs));
                        continue;
                    }
                    self.pos += 1;
                    while matches!(self.peek(0), Some('<' | '>' | '&' | '|')) {
                        self.pos += 1;
                    }
                    // `2>&1`, `>&2`: the target is a descriptor written right after.
                    if self.chars[self.pos - 1] == '&' {
                        while self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '-') {
                            self.pos += 1;
                        }
                        continue;
                    }
                    out.push(Token::Redirect);
                }
                _ => {
                    word.push(c);
                    started = true;
                    self.pos += 1;
                }
            }
        }
        if in_substitution {
            return Err("a `$(` is never closed with `)`".into());
        }
        end_word!();
        if let Some((delimiter, _)) = heredocs.first() {
            return Err(format!(
                "the here-document `<<{delimiter}` has no lines (its text and a closing `{delimiter}` line must follow)"
            ));
        }
        Ok(out)
    }

    /// Inside `"…"` (the opening quote consumed): `\` escapes and substitutions.
    fn double_quoted(&mut self, word: &mut String, subs: &mut Vec<Words>) -> Result<(), String> {
        loop {
            match self.peek(0) {
                None => return Err("a double quote (\") is never closed".into()),
                Some('"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => {
                    match self.peek(1) {
                        Some('\n') => {}
                        Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                        Some(c) => {
                            word.push('\\');
                            word.push(c);
                        }
                        None => return Err("a double quote (\") is never closed".into()),
                    }
                    self.pos += 2;
                }
                Some('$' | '`') => self.dollar_or_backquote(word, subs)?,
                Some(c) => {
                    word.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// At `$` or a backquote: a substitution (its commands go to `subs`), `${…}`, `$((…))`,
    /// or a plain `$NAME` kept as written.
    fn dollar_or_backquote(
        &mut self,
        word: &mut String,
        subs: &mut Vec<Words>,
    ) -> Result<(), String> {
        if self.peek(0) == Some('`') {
            self.pos += 1;
            let start = self.pos;
            while self.peek(0).is_some_and(|c| c != '`') {
                self.pos += 1;
            }
            if self.peek(0).is_none() {
                return Err("a backquote (`) is never closed".into());
            }
            let inner: String = self.chars[start..self.pos].iter().collect();
            self.pos += 1;
            subs.extend(split(&inner)?);
            word.push_str("`…`");
            return Ok(());
        }
        match (self.peek(1), self.peek(2)) {
            (Some('('), Some('(')) => {
                // Arithmetic: kept as written up to the matching `))`.
                let mut depth = 0usize;
                while let Some(c) = self.peek(0) {
                    word.push(c);
                    self.pos += 1;
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                }
                Err("a `$((` is never closed with `))`".into())
            }
            (Some('('), _) => {
                self.pos += 2;
                let tokens = self.tokens(true)?;
                subs.extend(commands(tokens));
                word.push_str("$(…)");
                Ok(())
            }
            (Some('{'), _) => {
                while let Some(c) = self.peek(0) {
                    word.push(c);
                    self.pos += 1;
                    if c == '}' {
                        return Ok(());
                    }
                }
                Err("a `${` is never closed with `}`".into())
            }
            _ => {
                word.push('$');
                self.pos += 1;
                Ok(())
            }
        }
    }

    /// The word after `<<`, quotes removed.
    fn heredoc_delimiter(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\n' | ';' | '|' | '&' | '<' | '>' | ')' => break,
                '\'' | '"' | '\\' => self.pos += 1,
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        if out.is_empty() {
            return Err("`<<` needs a delimiter word (e.g. `<<EOF`)".into());
        }
        Ok(out)
    }

    /// Skips a here-document's lines through the one that closes it.
    fn skip_heredoc(&mut self, delimiter: &str, strip_tabs: bool) -> Result<(), String> {
        while self.pos < self.chars.len() {
            let start = self.pos;
            while self.peek(0).is_some_and(|c| c != '\n') {
                self.pos += 1;
            }
            let line: String = self.chars[start..self.pos].iter().collect();
            self.pos += 1;
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line.as_str()
            };
            if line == delimiter {
                return Ok(());
            }
        }
        Err(format!(
            "the here-document is never closed by a `{delimiter}` line"
        ))
    }
}

/// Reserved words that start a compound command; the command after them is a simple one.
const LEADING_KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "fi", "done",
    "esac",
];

/// Groups tokens into simple commands (substitutions' commands first).
fn commands(tokens: Vec<Token>) -> Vec<Words> {
    let mut out = Vec::new();
    let mut current: Words = Vec::new();
    let mut redirect_next = false;
    let mut skip_rest = false;
    let flush = |current: &mut Words, out: &mut Vec<Words>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    for token in tokens {
        match token {
            Token::Separator => {
                flush(&mut current, &mut out);
                redirect_next = false;
                skip_rest = false;
            }
            Token::Redirect => redirect_next = true,
            Token::Word(text, subs) => {
                out.extend(subs);
                if std::mem::take(&mut redirect_next) || skip_rest {
                    continue;
                }
                if current.is_empty() {
                    if is_assignment(&text) || LEADING_KEYWORDS.contains(&text.as_str()) {
                        continue;
                    }
                    if matches!(text.as_str(), "for" | "case" | "select" | "function") {
                        // `for NAME in WORDS`: no command until the next separator.
                        skip_rest = true;
                        continue;
                    }
                }
                current.push(text);
            }
        }
    }
    flush(&mut current, &mut out);
    out
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// What the reference mesh does with one kubectl verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Works on both targets.
    Both,
    /// Works on a live cluster only; the reason the reference mesh cannot serve it.
    ClusterOnly(&'static str),
}

/// Every verb of kubectl 1.32 and what the reference mesh does with it (each one tried with
/// the real kubectl against the reference mesh).
pub const KUBECTL_VERBS: &[(&str, Support)] = &[
    ("annotate", Support::Both),
    ("api-resources", Support::Both),
    ("api-versions", Support::Both),
    ("apply", Support::Both),
    ("cluster-info", Support::Both),
    ("completion", Support::Both),
    ("config", Support::Both),
    ("cordon", Support::Both),
    ("create", Support::Both),
    ("delete", Support::Both),
    ("describe", Support::Both),
    ("diff", Support::Both),
    ("edit", Support::Both),
    ("events", Support::Both),
    ("exec", Support::Both),
    ("expose", Support::Both),
    ("get", Support::Both),
    ("help", Support::Both),
    ("kustomize", Support::Both),
    ("label", Support::Both),
    ("logs", Support::Both),
    ("options", Support::Both),
    ("patch", Support::Both),
    ("plugin", Support::Both),
    ("port-forward", Support::Both),
    ("proxy", Support::Both),
    ("replace", Support::Both),
    ("rollout", Support::Both),
    ("run", Support::Both),
    ("scale", Support::Both),
    ("set", Support::Both),
    ("taint", Support::Both),
    ("uncordon", Support::Both),
    ("version", Support::Both),
    ("wait", Support::Both),
    (
        "alpha",
        Support::ClusterOnly("kubectl's alpha commands are not served by the reference mesh"),
    ),
    (
        "attach",
        Support::ClusterOnly(
            "the reference mesh's containers are built-in workloads with no process to attach to; use `kubectl logs -f` or `kubectl exec`",
        ),
    ),
    (
        "auth",
        Support::ClusterOnly("the reference mesh has no authorization API (`auth can-i` gets 404)"),
    ),
    (
        "autoscale",
        Support::ClusterOnly(
            "the reference mesh has no HorizontalPodAutoscaler API; use `kubectl scale`",
        ),
    ),
    (
        "certificate",
        Support::ClusterOnly("the reference mesh has no CertificateSigningRequest API"),
    ),
    (
        "cp",
        Support::ClusterOnly(
            "kubectl cp runs `tar` in the container, which the reference mesh's built-in containers do not have; use `kubectl exec … -- cat FILE`",
        ),
    ),
    (
        "debug",
        Support::ClusterOnly("the reference mesh has no ephemeral containers; use `kubectl exec`"),
    ),
    (
        "drain",
        Support::ClusterOnly(
            "the reference mesh does not serve pod eviction; use `kubectl cordon` and delete pods",
        ),
    ),
    (
        "explain",
        Support::ClusterOnly(
            "the reference mesh publishes no OpenAPI schemas for built-in kinds; link the Kubernetes API reference instead",
        ),
    ),
    (
        "top",
        Support::ClusterOnly("the reference mesh has no metrics API"),
    ),
];

/// Subcommands of the verbs that have them; `None` for verbs without.
fn subcommands(verb: &str) -> Option<&'static [&'static str]> {
    Some(match verb {
        "rollout" => &["history", "pause", "restart", "resume", "status", "undo"],
        "config" => &[
            "current-context",
            "delete-cluster",
            "delete-context",
            "delete-user",
            "get-clusters",
            "get-contexts",
            "get-users",
            "rename-context",
            "set",
            "set-cluster",
            "set-context",
            "set-credentials",
            "unset",
            "use",
            "use-context",
            "view",
        ],
        "set" => &[
            "env",
            "image",
            "resources",
            "selector",
            "serviceaccount",
            "subject",
        ],
        "create" => &[
            "clusterrole",
            "clusterrolebinding",
            "configmap",
            "cm",
            "cronjob",
            "cj",
            "deployment",
            "deploy",
            "ingress",
            "ing",
            "job",
            "namespace",
            "ns",
            "poddisruptionbudget",
            "pdb",
            "priorityclass",
            "pc",
            "quota",
            "resourcequota",
            "role",
            "rolebinding",
            "secret",
            "service",
            "svc",
            "serviceaccount",
            "sa",
            "token",
        ],
        _ => return None,
    })
}

/// `kubectl create KIND` kinds the reference mesh decodes (kubectl sends them as protobuf).
const REFERENCE_CREATE: &[&str] = &[
    "configmap",
    "cm",
    "deployment",
    "deploy",
    "namespace",
    "ns",
    "secret",
    "serviceaccount",
    "sa",
];

/// kubectl's global flags that take a value as the next word.
const GLOBAL_FLAGS_WITH_VALUE: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--kubeconfig",
    "-s",
    "--server",
    "--cluster",
    "--user",
    "--token",
    "--as",
    "--as-group",
    "--as-uid",
    "--cache-dir",
    "--certificate-authority",
    "--client-certificate",
    "--client-key",
    "--request-timeout",
    "--tls-server-name",
    "-v",
    "--v",
    "--vmodule",
    "--log-file",
    "--username",
    "--password",
    "--profile",
    "--profile-output",
];

/// Flags of `kubectl create` that take a value as the next word (before the kind).
const CREATE_FLAGS_WITH_VALUE: &[&str] =
    &["-f", "--filename", "-o", "--output", "-l", "--selector"];

/// Judges `kubectl ARGS` (the words after `kubectl`) on a target: `None` when it exists there,
/// else what is wrong and what to write instead.
pub fn kubectl(args: &[String], target: TargetKind) -> Option<String> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        i += if GLOBAL_FLAGS_WITH_VALUE.contains(&arg.as_str()) {
            2
        } else {
            1
        };
    }
    let verb = args.get(i)?;
    let Some((_, support)) = KUBECTL_VERBS.iter().find(|(v, _)| v == verb) else {
        let known: Vec<&str> = KUBECTL_VERBS.iter().map(|(v, _)| *v).collect();
        return Some(format!(
            "kubectl has no command `{verb}`{}; see `kubectl help` for its commands",
            did_you_mean(verb, &known)
        ));
    };
    if let (TargetKind::Reference, Support::ClusterOnly(why)) = (target, support) {
        return Some(format!(
            "`kubectl {verb}` does not work on the reference mesh: {why} (or move the command to a `cluster:` variant)"
        ));
    }
    let subs = subcommands(verb)?;
    // The subcommand: the first word after the verb that is not a flag (or a flag's value).
    let mut j = i + 1;
    while let Some(arg) = args.get(j) {
        if !arg.starts_with('-') {
            break;
        }
        let takes_value = GLOBAL_FLAGS_WITH_VALUE.contains(&arg.as_str())
            || (verb == "create" && CREATE_FLAGS_WITH_VALUE.contains(&arg.as_str()));
        j += if takes_value { 2 } else { 1 };
    }
    let Some(sub) = args.get(j) else {
        return None; // `kubectl create -f x.yaml`, `kubectl config --help`
    };
    if verb == "create"
        && args[i + 1..j].iter().any(|a| {
            a == "-f" || a == "--filename" || a.starts_with("--filename=") || a.starts_with("-f=")
        })
    {
        return None;
    }
    if !subs.contains(&sub.as_str()) {
        return Some(format!(
            "`kubectl {verb}` has no subcommand `{sub}`{}; see `kubectl {verb} --help`",
            did_you_mean(sub, subs)
        ));
    }
    if verb == "create"
        && target == TargetKind::Reference
        && !REFERENCE_CREATE.contains(&sub.as_str())
    {
        return Some(format!(
            "`kubectl create {sub}` does not work on the reference mesh (kubectl sends the object as protobuf, which it reads only for namespaces, deployments, configmaps, secrets and service accounts); write the object in a manifest and `kubectl apply -f` it"
        ));
    }
    None
}

/// ` (did you mean `x`?)` for the nearest of `known` within two edits, else nothing.
pub fn did_you_mean(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The manifest paths a command reads with `-f`/`--filename` (`-f -` and URLs left out).
pub fn file_arguments(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = words.iter();
    while let Some(w) = iter.next() {
        let value = match w.as_str() {
            "-f" | "--filename" => iter.next().cloned(),
            _ => w
                .strip_prefix("--filename=")
                .or_else(|| w.strip_prefix("-f="))
                .map(str::to_string),
        };
        if let Some(v) = value
            && v != "-"
            && !v.contains("://")
        {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        split(line).unwrap()
    }

    fn w(parts: &[&str]) -> Vec<String> {
        parts.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn quotes_pipes_and_lists_split_like_a_shell() {
        assert_eq!(
            words(
                r#"kubectl exec deploy/x -c curl -- curl -sS -w '%{http_code}\n' "a b" | grep -o "<title>.*</title>" && echo ok; meshwork mesh up"#
            ),
            [
                w(&[
                    "kubectl",
                    "exec",
                    "deploy/x",
                    "-c",
                    "curl",
                    "--",
                    "curl",
                    "-sS",
                    "-w",
                    "%{http_code}\\n",
                    "a b"
                ]),
                w(&["grep", "-o", "<title>.*</title>"]),
                w(&["echo", "ok"]),
                w(&["meshwork", "mesh", "up"]),
            ]
        );
    }

    #[test]
    fn substitutions_are_commands_of_their_own() {
        assert_eq!(
            words(
                r#"meshwork istioctl proxy-config secret "$(kubectl get pod -l app=httpbin -o jsonpath='{.items[0].metadata.name}')" -n x"#
            ),
            [
                w(&[
                    "kubectl",
                    "get",
                    "pod",
                    "-l",
                    "app=httpbin",
                    "-o",
                    "jsonpath={.items[0].metadata.name}"
                ]),
                w(&[
                    "meshwork",
                    "istioctl",
                    "proxy-config",
                    "secret",
                    "$(…)",
                    "-n",
                    "x"
                ]),
            ]
        );
        assert_eq!(
            words("export PATH=\"$PWD/$(ls -d istio-*/ | head -1)bin:$PATH\""),
            [
                w(&["ls", "-d", "istio-*/"]),
                w(&["head", "-1"]),
                w(&["export", "PATH=$PWD/$(…)bin:$PATH"])
            ]
        );
        assert_eq!(
            words("echo `kubectl version`"),
            [w(&["kubectl", "version"]), w(&["echo", "`…`"])]
        );
        assert_eq!(
            words("echo $((1 + 2)) ${HOME}"),
            [w(&["echo", "$((1 + 2))", "${HOME}"])]
        );
    }

    #[test]
    fn keywords_assignments_redirections_and_heredocs_are_not_commands() {
        assert_eq!(
            words("for i in 1 2 3; do KUBECONFIG=x kubectl get pods >/dev/null 2>&1; done"),
            [w(&["kubectl", "get", "pods"])]
        );
        assert_eq!(
            words("if kubectl get ns foo 2> /dev/null; then echo yes; fi # done"),
            [w(&["kubectl", "get", "ns", "foo"]), w(&["echo", "yes"])]
        );
        assert_eq!(
            words("kubectl apply -f - <<EOF\napiVersion: v1\nkind: Namespace\nEOF\nkubectl get ns"),
            [
                w(&["kubectl", "apply", "-f", "-"]),
                w(&["kubectl", "get", "ns"])
            ]
        );
        assert_eq!(
            words("kubectl get pods \\\n  -n istio-system"),
            [w(&["kubectl", "get", "pods", "-n", "istio-system"])]
        );
    }

    #[test]
    fn unbalanced_quotes_are_reported() {
        assert!(split("echo 'oops").unwrap_err().contains("single quote"));
        assert!(split("echo \"oops").unwrap_err().contains("double quote"));
        assert!(
            split("echo $(kubectl get pods")
                .unwrap_err()
                .contains("`$(`")
        );
        assert!(split("cat <<EOF").unwrap_err().contains("here-document"));
    }

    #[test]
    fn kubectl_verbs_are_judged_per_target() {
        let judge = |line: &str, target| kubectl(&words(line)[0][1..], target);
        assert_eq!(judge("kubectl -n x get pods", TargetKind::Reference), None);
        assert_eq!(
            judge(
                "kubectl --context kind-x rollout status deploy/a",
                TargetKind::Reference
            ),
            None
        );
        assert_eq!(
            judge("kubectl create namespace foo", TargetKind::Reference),
            None
        );
        assert_eq!(
            judge("kubectl create -f manifests/a.yaml", TargetKind::Reference),
            None
        );
        assert_eq!(judge("kubectl", TargetKind::Reference), None);
        assert_eq!(
            judge("kubectl gte pods", TargetKind::Cluster).unwrap(),
            "kubectl has no command `gte` (did you mean `get`?); see `kubectl help` for its commands"
        );
        assert!(judge("kubectl top pods", TargetKind::Cluster).is_none());
        assert!(
            judge("kubectl top pods", TargetKind::Reference)
                .unwrap()
                .starts_with("`kubectl top` does not work on the reference mesh: the reference mesh has no metrics API")
        );
        assert_eq!(
            judge("kubectl rollout statsu deploy/a", TargetKind::Cluster).unwrap(),
            "`kubectl rollout` has no subcommand `statsu` (did you mean `status`?); see `kubectl rollout --help`"
        );
        assert!(
            judge(
                "kubectl create service clusterip a --tcp=80",
                TargetKind::Cluster
            )
            .is_none()
        );
        assert!(
            judge(
                "kubectl create service clusterip a --tcp=80",
                TargetKind::Reference
            )
            .unwrap()
            .contains("write the object in a manifest")
        );
        // What follows `exec … --` runs in the pod: it is not a kubectl verb.
        assert_eq!(
            judge(
                "kubectl exec deploy/a -- kubectl gte",
                TargetKind::Reference
            ),
            None
        );
    }

    #[test]
    fn every_verb_is_listed_once() {
        let mut verbs: Vec<&str> = KUBECTL_VERBS.iter().map(|(v, _)| *v).collect();
        verbs.sort_unstable();
        let n = verbs.len();
        verbs.dedup();
        assert_eq!(verbs.len(), n);
    }

    #[test]
    fn file_arguments_name_local_manifests() {
        assert_eq!(
            file_arguments(&w(&[
                "kubectl",
                "apply",
                "-f",
                "manifests/a.yaml",
                "--filename=manifests/b.yaml",
                "-f",
                "-",
                "-f",
                "https://x/y.yaml"
            ])),
            ["manifests/a.yaml", "manifests/b.yaml"]
        );
    }
}
