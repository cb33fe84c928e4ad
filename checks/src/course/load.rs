//! Loads and validates a course from [`Content`].
//!
//! Every problem becomes a [`LoadError`] that names the file, the line and the field, in
//! the words a lab author needs to fix it. The loader collects all problems it can find
//! instead of stopping at the first.

use super::lines::LineIndex;
use super::raw::{self, FORMAT_VERSION, RawCheck, RawCommand, RawLab, RawSolution, RawStep};
use super::{
    Check, CheckSpec, ClusterCheck, Command, CommandCheck, Course, DEFAULT_TIMEOUT, FieldPath, Lab,
    PodsCheck, Presence, ResourceCheck, Solution, Step, Version,
};
use crate::content::Content;
use crate::target::TargetKind;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

/// One problem in the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Content path of the file (`labs/00-prerequisites/lab.yaml`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Field path (`steps[0].checks[1].command.name`), when it is about a field.
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All problems found while loading, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Loads every `labs/NN-slug/lab.yaml` of `content` and validates the whole course.
pub fn load(content: &Content) -> Result<Course, LoadErrors> {
    let mut errors = Vec::new();
    let mut labs = Vec::new();
    let mut folders: Vec<&str> = content
        .paths_under("labs")
        .filter_map(|p| p.strip_prefix("labs/")?.split_once('/').map(|(f, _)| f))
        .collect();
    folders.dedup();
    if folders.is_empty() {
        errors.push(LoadError {
            file: "labs".into(),
            line: None,
            field: None,
            message: format!(
                "{} has no labs (expected labs/NN-slug/lab.yaml)",
                content.origin()
            ),
        });
    }
    for folder in folders {
        let mut ctx = LabCtx::new(content, folder);
        if let Some(lab) = ctx.lab() {
            labs.push(lab);
        }
        errors.append(&mut ctx.errors);
    }
    labs.sort_by_key(|l: &Lab| l.number);
    cross_lab_checks(&labs, &mut errors);
    if errors.is_empty() {
        Ok(Course { labs })
    } else {
        Err(LoadErrors(errors))
    }
}

fn cross_lab_checks(labs: &[Lab], errors: &mut Vec<LoadError>) {
    let mut seen_numbers = BTreeMap::new();
    let mut seen_ids = BTreeMap::new();
    for lab in labs {
        let file = format!("labs/{}/lab.yaml", lab.folder);
        if let Some(other) = seen_numbers.insert(lab.number, &lab.folder) {
            errors.push(LoadError {
                file: file.clone(),
                line: None,
                field: None,
                message: format!("lab number {:02} is also used by labs/{other}", lab.number),
            });
        }
        if let Some(other) = seen_ids.insert(lab.id.as_str(), &lab.folder) {
            errors.push(LoadError {
                file: file.clone(),
                line: None,
                field: Some("id".into()),
                message: format!("lab id `{}` is also used by labs/{other}", lab.id),
            });
        }
    }
    for lab in labs {
        for (i, pre) in lab.prerequisites.iter().enumerate() {
            match labs.iter().find(|l| &l.id == pre) {
                None => errors.push(LoadError {
                    file: format!("labs/{}/lab.yaml", lab.folder),
                    line: None,
                    field: Some(format!("prerequisites[{i}]")),
                    message: format!("no lab has id `{pre}`"),
                }),
                Some(p) if p.number >= lab.number => errors.push(LoadError {
                    file: format!("labs/{}/lab.yaml", lab.folder),
                    line: None,
                    field: Some(format!("prerequisites[{i}]")),
                    message: format!(
                        "`{pre}` is lab {:02}, which comes after this lab; a prerequisite must come earlier",
                        p.number
                    ),
                }),
                Some(_) => {}
            }
        }
    }
}

struct LabCtx<'a> {
    content: &'a Content,
    folder: &'a str,
    file: String,
    index: LineIndex,
    errors: Vec<LoadError>,
}

impl<'a> LabCtx<'a> {
    fn new(content: &'a Content, folder: &'a str) -> Self {
        Self {
            content,
            folder,
            file: format!("labs/{folder}/lab.yaml"),
            index: LineIndex::default(),
            errors: Vec::new(),
        }
    }

    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let line = self.index.line(&field);
        self.errors.push(LoadError {
            file: self.file.clone(),
            line,
            field: (!field.is_empty()).then_some(field),
            message: message.into(),
        });
    }

    fn lab(&mut self) -> Option<Lab> {
        let Some((number, slug)) = parse_folder(self.folder) else {
            self.err(
                "",
                format!(
                    "lab folder `{}` must be named NN-slug, e.g. 05-request-routing",
                    self.folder
                ),
            );
            return None;
        };
        let Some(text) = self.content.text(&self.file) else {
            let message = if self.content.contains(&self.file) {
                "is not valid UTF-8"
            } else {
                "is missing: every lab folder needs a lab.yaml"
            };
            self.err("", message);
            return None;
        };
        self.index = LineIndex::new(text);
        let raw: RawLab = match serde_yaml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                self.errors.push(serde_error(&self.file, &e));
                return None;
            }
        };
        if raw.format_version != FORMAT_VERSION {
            self.err(
                "format_version",
                format!(
                    "format_version {} is not supported; this meshwork reads format_version {FORMAT_VERSION}",
                    raw.format_version
                ),
            );
            return None;
        }
        if raw.id != slug {
            self.err(
                "id",
                format!(
                    "id `{}` does not match the folder name `{}` (expected `{slug}`)",
                    raw.id, self.folder
                ),
            );
        }
        self.non_empty("title", &raw.title);
        self.non_empty("summary", &raw.summary);
        if raw.steps.is_empty() {
            self.err("steps", "a lab needs at least one step");
        }
        let mut step_ids = HashSet::new();
        let steps = raw
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let field = format!("steps[{i}]");
                if !step_ids.insert(s.id.clone()) {
                    self.err(
                        format!("{field}.id"),
                        format!("step id `{}` is used twice in this lab", s.id),
                    );
                }
                self.step(&field, s)
            })
            .collect();
        Some(Lab {
            number,
            id: raw.id,
            folder: self.folder.to_string(),
            title: raw.title,
            summary: raw.summary.trim().to_string(),
            minutes: raw.minutes,
            prerequisites: raw.prerequisites,
            uses: raw.uses,
            steps,
        })
    }

    fn non_empty(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.err(field, "must not be empty");
        }
    }

    fn step(&mut self, field: &str, raw: &RawStep) -> Option<Step> {
        self.slug(&format!("{field}.id"), &raw.id);
        self.non_empty(&format!("{field}.title"), &raw.title);
        let body_path = format!("labs/{}/{}", self.folder, raw.body);
        let body = match self.content.text(&body_path) {
            Some(text) => text.to_string(),
            None => {
                self.err(
                    format!("{field}.body"),
                    format!(
                        "step file `{}` does not exist in labs/{}/",
                        raw.body, self.folder
                    ),
                );
                String::new()
            }
        };
        let commands = raw
            .commands
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.command(&format!("{field}.commands[{i}]"), c))
            .collect();
        if raw.checks.is_empty() {
            self.err(
                format!("{field}.checks"),
                "every step needs at least one check",
            );
        }
        let mut check_ids = HashSet::new();
        let checks = raw
            .checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let f = format!("{field}.checks[{i}]");
                if !check_ids.insert(c.id.clone()) {
                    self.err(
                        format!("{f}.id"),
                        format!("check id `{}` is used twice in this step", c.id),
                    );
                }
                self.check(&f, c)
            })
            .collect();
        for (i, hint) in raw.hints.iter().enumerate() {
            self.non_empty(&format!("{field}.hints[{i}]"), hint);
        }
        let solution = match &raw.solution {
            Some(s) => self.solution(&format!("{field}.solution"), s),
            None => {
                self.err(
                    format!("{field}.solution"),
                    "every step needs a solution (manifests to apply and/or commands)",
                );
                Solution::default()
            }
        };
        if solution.manifests.is_empty() && solution.commands.is_empty() && raw.solution.is_some() {
            self.err(
                format!("{field}.solution"),
                "a solution needs manifests or commands, not only text",
            );
        }
        let reset = raw
            .reset
            .as_ref()
            .map(|r| self.solution(&format!("{field}.reset"), r))
            .unwrap_or_default();
        Some(Step {
            id: raw.id.clone(),
            title: raw.title.clone(),
            body,
            commands,
            checks,
            hints: raw.hints.clone(),
            solution,
            reset,
        })
    }

    fn slug(&mut self, field: &str, id: &str) {
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            self.err(
                field,
                format!("`{id}` is not a valid id: use lowercase letters, digits and `-`"),
            );
        }
    }

    fn command(&mut self, field: &str, raw: &RawCommand) -> Option<Command> {
        let (cluster, reference) = match (&raw.run, &raw.cluster, &raw.reference) {
            (Some(run), None, None) => (Some(run.clone()), Some(run.clone())),
            (Some(_), _, _) => {
                self.err(
                    field,
                    "write either `run:` (same on every target) or `cluster:`/`reference:`, not both",
                );
                return None;
            }
            (None, None, None) => {
                self.err(
                    field,
                    "a command needs `run:`, or `cluster:` and/or `reference:`",
                );
                return None;
            }
            (None, c, r) => (c.clone(), r.clone()),
        };
        Some(Command {
            note: raw.note.clone(),
            cluster,
            reference,
        })
    }

    fn solution(&mut self, field: &str, raw: &RawSolution) -> Solution {
        for (i, m) in raw.manifests.iter().enumerate() {
            if !self.content.contains(m) {
                self.err(
                    format!("{field}.manifests[{i}]"),
                    format!("manifest `{m}` does not exist (paths start at the content root, e.g. manifests/…)"),
                );
            }
        }
        let commands = raw
            .commands
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.command(&format!("{field}.commands[{i}]"), c))
            .collect();
        Solution {
            text: raw.text.clone(),
            manifests: raw.manifests.clone(),
            commands,
        }
    }

    fn check(&mut self, field: &str, raw: &RawCheck) -> Option<Check> {
        self.slug(&format!("{field}.id"), &raw.id);
        self.non_empty(&format!("{field}.title"), &raw.title);
        let only = match raw.only.as_deref() {
            None => None,
            Some("cluster") => Some(TargetKind::Cluster),
            Some("reference") => Some(TargetKind::Reference),
            Some(other) => {
                self.err(
                    format!("{field}.only"),
                    format!("unknown target `{other}`: write `cluster` or `reference`"),
                );
                None
            }
        };
        let timeout = match raw.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) if t > 0.0 && t <= 600.0 => Duration::from_secs_f64(t),
            Some(t) => {
                self.err(
                    format!("{field}.timeout"),
                    format!("{t} is not a timeout in seconds between 0 and 600"),
                );
                DEFAULT_TIMEOUT
            }
        };
        let kinds: Vec<&str> = [
            raw.command.as_ref().map(|_| "command"),
            raw.cluster.as_ref().map(|_| "cluster"),
            raw.resource.as_ref().map(|_| "resource"),
            raw.pods.as_ref().map(|_| "pods"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() != 1 {
            let found = if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(" and ")
            };
            self.err(
                field,
                format!("a check needs exactly one of `command`, `cluster`, `resource`, `pods` (found {found})"),
            );
            return None;
        }
        let spec = if let Some(c) = &raw.command {
            CheckSpec::Command(self.command_check(&format!("{field}.command"), c))
        } else if let Some(c) = &raw.cluster {
            CheckSpec::Cluster(self.cluster_check(&format!("{field}.cluster"), c))
        } else if let Some(r) = &raw.resource {
            CheckSpec::Resource(self.resource_check(&format!("{field}.resource"), r))
        } else if let Some(p) = &raw.pods {
            CheckSpec::Pods(self.pods_check(&format!("{field}.pods"), p))
        } else {
            return None;
        };
        Some(Check {
            id: raw.id.clone(),
            title: raw.title.clone(),
            only,
            timeout,
            hint: raw.hint.clone(),
            spec,
        })
    }

    fn version(&mut self, field: &str, text: Option<&String>) -> Option<Version> {
        let text = text?;
        let v = Version::parse(text);
        if v.is_none() {
            self.err(
                field,
                format!("`{text}` is not a version (write e.g. 1.29 or 1.32.4)"),
            );
        }
        v
    }

    fn command_check(&mut self, field: &str, raw: &raw::RawCommandCheck) -> CommandCheck {
        if raw.name.trim().is_empty() || raw.name.contains('/') {
            self.err(
                format!("{field}.name"),
                "give the program's name as found on PATH, e.g. kubectl",
            );
        }
        CommandCheck {
            name: raw.name.clone(),
            version_args: raw
                .version_args
                .clone()
                .unwrap_or_else(|| vec!["--version".to_string()]),
            min_version: self.version(&format!("{field}.min_version"), raw.min_version.as_ref()),
            required: raw.required.unwrap_or(true),
            install: raw.install.clone(),
        }
    }

    fn cluster_check(&mut self, field: &str, raw: &raw::RawClusterCheck) -> ClusterCheck {
        for (name, value) in [
            ("recommended_memory_gib", raw.recommended_memory_gib),
            ("recommended_cpus", raw.recommended_cpus),
        ] {
            if value.is_some_and(|v| v <= 0.0 || !v.is_finite()) {
                self.err(format!("{field}.{name}"), "must be a positive number");
            }
        }
        ClusterCheck {
            min_version: self.version(&format!("{field}.min_version"), raw.min_version.as_ref()),
            min_ready_nodes: raw.min_ready_nodes.unwrap_or(1),
            recommended_memory_gib: raw.recommended_memory_gib,
            recommended_cpus: raw.recommended_cpus,
        }
    }

    fn resource_check(&mut self, field: &str, raw: &raw::RawResourceCheck) -> ResourceCheck {
        if raw.api_version.is_empty() || raw.api_version.split('/').count() > 2 {
            self.err(
                format!("{field}.api_version"),
                format!(
                    "`{}` is not an apiVersion (write v1 or group/version)",
                    raw.api_version
                ),
            );
        }
        let expect = match raw.expect.as_deref() {
            None | Some("present") => Presence::Present,
            Some("absent") => Presence::Absent,
            Some(other) => {
                self.err(
                    format!("{field}.expect"),
                    format!("unknown expectation `{other}`: write `present` or `absent`"),
                );
                Presence::Present
            }
        };
        if expect == Presence::Absent && !raw.fields.is_empty() {
            self.err(
                format!("{field}.fields"),
                "an absent object has no fields to check",
            );
        }
        let mut fields = Vec::new();
        for (path, value) in &raw.fields {
            let f = format!("{field}.fields.{path}");
            match (FieldPath::parse(path), serde_json::to_value(value)) {
                (Ok(p), Ok(v)) => fields.push((p, v)),
                (Err(e), _) => self.err(f, e),
                (_, Err(e)) => self.err(f, format!("value cannot be compared: {e}")),
            }
        }
        if let Some(r) = &raw.reference
            && !self.content.contains(r)
        {
            self.err(
                format!("{field}.reference"),
                format!("manifest `{r}` does not exist (paths start at the content root, e.g. manifests/…)"),
            );
        }
        ResourceCheck {
            api_version: raw.api_version.clone(),
            kind: raw.kind.clone(),
            name: raw.name.clone(),
            namespace: raw.namespace.clone(),
            expect,
            fields,
            reference: raw.reference.clone(),
        }
    }

    fn pods_check(&mut self, field: &str, raw: &raw::RawPodsCheck) -> PodsCheck {
        if raw.containers == Some(0) {
            self.err(
                format!("{field}.containers"),
                "a pod has at least one container",
            );
        }
        PodsCheck {
            namespace: raw.namespace.clone(),
            selector: raw.selector.clone().unwrap_or_default(),
            min_count: raw.min_count.unwrap_or(1),
            ready: raw.ready.unwrap_or(true),
            containers: raw.containers,
            has_container: raw.has_container.clone(),
            lacks_container: raw.lacks_container.clone(),
        }
    }
}

/// `05-request-routing` → (5, "request-routing").
fn parse_folder(folder: &str) -> Option<(u32, &str)> {
    let (num, slug) = folder.split_once('-')?;
    (num.len() == 2 && num.chars().all(|c| c.is_ascii_digit()) && !slug.is_empty())
        .then(|| Some((num.parse().ok()?, slug)))
        .flatten()
}

/// A serde_yaml error as a [`LoadError`]: its path becomes the field, its location the line.
fn serde_error(file: &str, e: &serde_yaml::Error) -> LoadError {
    let text = e.to_string();
    // serde_yaml writes "path: message at line L column C".
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let (field, message) = match text.split_once(": ") {
        Some((path, msg)) if !path.contains(' ') => (Some(path.to_string()), msg.to_string()),
        _ => (None, text),
    };
    LoadError {
        file: file.to_string(),
        line: e.location().map(|l| l.line()),
        field,
        message,
    }
}
