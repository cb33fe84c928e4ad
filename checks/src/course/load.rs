//! Loads and validates a course from [`Content`].
//!
//! Every problem becomes a [`LoadError`] that names the file, the line and the field, in
//! the words a lab author needs to fix it. The loader collects all problems it can find
//! instead of stopping at the first.

use super::lines::LineIndex;
use super::raw::{self, FORMAT_VERSION, RawCheck, RawCommand, RawLab, RawSolution, RawStep};
use super::{
    Check, CheckSpec, CheckTest, ClusterCheck, Command, CommandCheck, Course, DEFAULT_TIMEOUT,
    Endpoint, ExecCheck, ExecExpect, FieldPath, HttpCheck, HttpExpect, HttpLogin, Lab,
    ManifestVerb, PodRef, PodsCheck, Presence, ResourceCheck, ServiceRef, Solution, Step, Version,
};
use crate::check::bookinfo::ReviewsVersion;
use crate::check::envoy_stat::Comparison;
use crate::check::expect::{
    DEFAULT_TOLERANCE, LatencyBand, ReviewsExpect, TextExpect, parse_duration, parse_percent,
};
use crate::content::Content;
use crate::target::TargetKind;
use serde_yaml::Value;
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
            .map(|r| Solution {
                manifest_verb: ManifestVerb::Delete,
                ..self.solution(&format!("{field}.reset"), r)
            })
            .unwrap_or_default();
        let environment = raw.lab_test.as_ref().and_then(|t| {
            let reason = t.environment.as_ref();
            match reason {
                Some(r) => self.non_empty(&format!("{field}.lab_test.environment"), r),
                None => self.err(
                    format!("{field}.lab_test"),
                    "write `environment: WHY` (the step checks the learner's machine), or drop lab_test",
                ),
            }
            reason.cloned()
        });
        Some(Step {
            id: raw.id.clone(),
            title: raw.title.clone(),
            body,
            commands,
            checks,
            hints: raw.hints.clone(),
            solution,
            reset,
            environment,
        })
    }

    fn check_test(&mut self, field: &str, raw: Option<&raw::RawCheckTest>) -> CheckTest {
        let Some(raw) = raw else {
            return CheckTest::default();
        };
        if raw.may_pass_before.is_none() && raw.may_pass_after_reset.is_none() {
            self.err(
                field,
                "write `may_pass_before: WHY` and/or `may_pass_after_reset: WHY`, or drop lab_test",
            );
        }
        for (name, reason) in [
            ("may_pass_before", &raw.may_pass_before),
            ("may_pass_after_reset", &raw.may_pass_after_reset),
        ] {
            if let Some(reason) = reason {
                self.non_empty(&format!("{field}.{name}"), reason);
            }
        }
        CheckTest {
            may_pass_before: raw.may_pass_before.clone(),
            may_pass_after_reset: raw.may_pass_after_reset.clone(),
        }
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
            manifest_verb: ManifestVerb::Apply,
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
            raw.http.as_ref().map(|_| "http"),
            raw.exec.as_ref().map(|_| "exec"),
            raw.envoy_stat.as_ref().map(|_| "envoy_stat"),
            raw.istio_config.as_ref().map(|_| "istio_config"),
            raw.mtls_matrix.as_ref().map(|_| "mtls_matrix"),
            raw.workload_identity.as_ref().map(|_| "workload_identity"),
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
                format!("a check needs exactly one of `command`, `cluster`, `resource`, `pods`, `http`, `exec`, `envoy_stat`, `istio_config`, `mtls_matrix`, `workload_identity` (found {found})"),
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
        } else if let Some(h) = &raw.http {
            CheckSpec::Http(self.http_check(&format!("{field}.http"), h)?)
        } else if let Some(e) = &raw.exec {
            CheckSpec::Exec(self.exec_check(&format!("{field}.exec"), e)?)
        } else if let Some(e) = &raw.envoy_stat {
            let parsed = crate::check::envoy_stat::EnvoyStatCheck::from_raw(e);
            CheckSpec::EnvoyStat(self.kind_check(&format!("{field}.envoy_stat"), parsed)?)
        } else if let Some(c) = &raw.istio_config {
            let parsed = crate::check::istio_config::IstioConfigCheck::from_raw(c);
            CheckSpec::IstioConfig(self.kind_check(&format!("{field}.istio_config"), parsed)?)
        } else if let Some(m) = &raw.mtls_matrix {
            match crate::check::mtls_matrix::MtlsMatrixCheck::from_raw(m) {
                Ok(check) => CheckSpec::MtlsMatrix(check),
                Err(problems) => {
                    for (sub, message) in problems {
                        self.err(format!("{field}.mtls_matrix{sub}"), message);
                    }
                    return None;
                }
            }
        } else if let Some(w) = &raw.workload_identity {
            let parsed = crate::check::workload_identity::WorkloadIdentityCheck::from_raw(w);
            CheckSpec::WorkloadIdentity(
                self.kind_check(&format!("{field}.workload_identity"), parsed)?,
            )
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
            lab_test: self.check_test(&format!("{field}.lab_test"), raw.lab_test.as_ref()),
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
            reports: raw.reports.clone(),
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

impl LabCtx<'_> {
    fn http_check(&mut self, field: &str, raw: &raw::RawHttpCheck) -> Option<HttpCheck> {
        let from = raw.from.as_ref().map(|f| {
            self.pod_ref(
                &format!("{field}.from.pod"),
                &f.pod,
                f.namespace.as_ref(),
                f.container.as_ref(),
            )
        });
        let endpoint = match (&raw.url, &raw.service, &raw.ingress) {
            (None, None, Some(path)) => {
                if !path.starts_with('/') {
                    self.err(
                        format!("{field}.ingress"),
                        format!("`{path}` must be a path starting with `/` (e.g. /productpage)"),
                    );
                }
                Endpoint::Ingress(path.clone())
            }
            (Some(url), None, None) => {
                self.url(&format!("{field}.url"), url, from.is_some());
                Endpoint::Url(url.clone())
            }
            (None, Some(s), None) => {
                let path = s.path.clone().unwrap_or_else(|| "/".to_string());
                if !path.starts_with('/') {
                    self.err(
                        format!("{field}.service.path"),
                        format!("`{path}` must start with `/` (e.g. /productpage)"),
                    );
                }
                if s.port == 0 {
                    self.err(
                        format!("{field}.service.port"),
                        "a port is between 1 and 65535",
                    );
                }
                if s.name.trim().is_empty() {
                    self.err(format!("{field}.service.name"), "must not be empty");
                }
                Endpoint::Service(ServiceRef {
                    name: s.name.clone(),
                    namespace: s.namespace.clone(),
                    port: s.port,
                    path,
                })
            }
            (None, None, None) => {
                self.err(
                    field,
                    "an http check needs `url:`, `service:` (a Service's name, namespace, port and path) or `ingress:` (a path on the ingress gateway)",
                );
                return None;
            }
            _ => {
                self.err(field, "write only one of `url:`, `service:` and `ingress:`");
                return None;
            }
        };
        let method = raw.method.clone().unwrap_or_else(|| "GET".to_string());
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_uppercase()) {
            self.err(
                format!("{field}.method"),
                format!("`{method}` is not an HTTP method (write e.g. GET, POST, DELETE)"),
            );
        }
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let f = format!("{field}.headers.{name}");
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.err(f, format!("`{name}` is not an HTTP header name"));
            } else if http::HeaderValue::from_str(value).is_err() {
                self.err(f, "the value must be one line of visible characters");
            } else {
                headers.push((name.clone(), value.clone()));
            }
        }
        let count = raw.count.unwrap_or(1);
        if !(1..=1000).contains(&count) {
            self.err(
                format!("{field}.count"),
                format!("{count} requests: send between 1 and 1000"),
            );
        }
        let expect = self.http_expect(&format!("{field}.expect"), raw.expect.as_ref(), count);
        let login = raw
            .login
            .as_ref()
            .map(|l| Box::new(self.login(&format!("{field}.login"), l)));
        if login.is_some()
            && let Some((name, _)) = headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        {
            self.err(
                format!("{field}.headers.{name}"),
                "the login's session cookies are sent as the Cookie header; drop this header, or drop `login:` and send the cookie yourself",
            );
        }
        Some(HttpCheck {
            endpoint,
            method,
            headers,
            body: raw.body.clone(),
            count,
            from,
            login,
            expect,
        })
    }

    fn login(&mut self, field: &str, raw: &raw::RawLogin) -> HttpLogin {
        if !raw.path.starts_with('/') {
            self.err(
                format!("{field}.path"),
                format!(
                    "`{}` must be a path starting with `/` on the check's own host and port (e.g. /login)",
                    raw.path
                ),
            );
        } else if raw.path.parse::<http::uri::PathAndQuery>().is_err() {
            self.err(
                format!("{field}.path"),
                format!("`{}` is not a URL path (e.g. /login)", raw.path),
            );
        }
        if raw.form.is_empty() {
            self.err(
                format!("{field}.form"),
                "a login needs the form's fields, e.g. `form: {username: jason}`",
            );
        }
        let mut form = Vec::new();
        for (name, value) in &raw.form {
            let text = match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            match text {
                _ if name.trim().is_empty() => {
                    self.err(format!("{field}.form"), "a form field needs a name");
                }
                Some(text) => form.push((name.clone(), text)),
                None => self.err(
                    format!("{field}.form.{name}"),
                    format!(
                        "`{}` is not a form value: write a text (username: jason)",
                        show(value)
                    ),
                ),
            }
        }
        HttpLogin {
            path: raw.path.clone(),
            form,
        }
    }

    fn status_counts(
        &mut self,
        field: &str,
        value: &Value,
        accepted: &[u16],
    ) -> Vec<(u16, Comparison)> {
        let Value::Mapping(map) = value else {
            self.err(
                field,
                format!(
                    "`{}` is not a table of counts: write e.g. `status_count: {{\"429\": \"> 0\"}}`",
                    show(value)
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, want) in map {
            let code = match key {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            }
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| (100..=599).contains(n));
            let Some(code) = code else {
                self.err(
                    field,
                    format!(
                        "`{}` is not a status code (between 100 and 599, e.g. \"429\")",
                        show(key)
                    ),
                );
                continue;
            };
            let f = format!("{field}.{code}");
            let text = match want {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => show(other),
            };
            let comparison = match Comparison::parse(&text) {
                Ok(c) => c,
                Err(e) => {
                    self.err(f, e.replace("a stat is", "a count is"));
                    continue;
                }
            };
            if !accepted.contains(&code) {
                self.err(
                    f,
                    format!(
                        "{code} is not an accepted status, so every {code} already fails the check; add it to `status` (e.g. status: [200, {code}])"
                    ),
                );
                continue;
            }
            if out.iter().any(|(c, _)| *c == code) {
                self.err(f, format!("{code} is counted twice; keep one expectation"));
                continue;
            }
            out.push((code, comparison));
        }
        out
    }

    fn url(&mut self, field: &str, url: &str, from_pod: bool) {
        let uri = match url.parse::<http::Uri>() {
            Ok(u) => u,
            Err(e) => {
                self.err(
                    field,
                    format!(
                        "`{url}` is not a URL ({e}); write e.g. http://127.0.0.1:30080/productpage"
                    ),
                );
                return;
            }
        };
        match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(_)) => {}
            (Some("https"), Some(_)) if from_pod => {}
            (Some("https"), Some(_)) => self.err(
                field,
                format!("`{url}`: requests from the host are plain http; send https requests from a pod (from:)"),
            ),
            _ => self.err(
                field,
                format!("`{url}` is not an http URL with a host (write e.g. http://httpbin:8000/get)"),
            ),
        }
    }

    fn pod_ref(
        &mut self,
        field: &str,
        pod: &str,
        namespace: Option<&String>,
        container: Option<&String>,
    ) -> PodRef {
        if pod.trim().is_empty() {
            self.err(
                field,
                "name a pod, or select one by labels (e.g. app=ratings)",
            );
        }
        PodRef {
            pod: pod.trim().to_string(),
            namespace: namespace.cloned(),
            container: container.cloned(),
        }
    }

    fn http_expect(
        &mut self,
        field: &str,
        raw: Option<&raw::RawHttpExpect>,
        count: u32,
    ) -> HttpExpect {
        let Some(raw) = raw else {
            return HttpExpect {
                status: vec![200],
                body: TextExpect::default(),
                reviews: None,
                latency: None,
                status_count: Vec::new(),
            };
        };
        let status = match &raw.status {
            None => vec![200],
            Some(v) => self.statuses(&format!("{field}.status"), v),
        };
        let body = raw
            .body
            .as_ref()
            .map(|b| self.text_expect(&format!("{field}.body"), b))
            .unwrap_or_default();
        let reviews = raw
            .bookinfo
            .as_ref()
            .and_then(|b| self.reviews(&format!("{field}.bookinfo.reviews"), &b.reviews, count));
        let latency = raw
            .latency
            .as_ref()
            .and_then(|l| self.latency(&format!("{field}.latency"), l));
        let status_count = raw
            .status_count
            .as_ref()
            .map(|v| self.status_counts(&format!("{field}.status_count"), v, &status))
            .unwrap_or_default();
        HttpExpect {
            status,
            body,
            reviews,
            latency,
            status_count,
        }
    }

    fn statuses(&mut self, field: &str, value: &Value) -> Vec<u16> {
        let one = |v: &Value| {
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..=599).contains(n))
        };
        let found: Option<Vec<u16>> = match value {
            Value::Sequence(items) if !items.is_empty() => items.iter().map(one).collect(),
            Value::Sequence(_) => None,
            other => one(other).map(|s| vec![s]),
        };
        found.unwrap_or_else(|| {
            self.err(
                field,
                format!(
                    "`{}` is not a status code: write one code (200) or a list ([200, 503]), each between 100 and 599",
                    show(value)
                ),
            );
            vec![200]
        })
    }

    fn strings(&mut self, field: &str, value: &Value) -> Vec<String> {
        let one = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let found: Option<Vec<String>> = match value {
            Value::Sequence(items) => items.iter().map(one).collect(),
            other => one(other).map(|s| vec![s]),
        };
        found.unwrap_or_else(|| {
            self.err(field, "write a text, or a list of texts");
            Vec::new()
        })
    }

    fn text_expect(&mut self, field: &str, raw: &raw::RawTextExpect) -> TextExpect {
        let contains = raw
            .contains
            .as_ref()
            .map(|v| self.strings(&format!("{field}.contains"), v))
            .unwrap_or_default();
        let not_contains = raw
            .not_contains
            .as_ref()
            .map(|v| self.strings(&format!("{field}.not_contains"), v))
            .unwrap_or_default();
        let patterns = raw
            .regex
            .as_ref()
            .map(|v| self.strings(&format!("{field}.regex"), v))
            .unwrap_or_default();
        let listed = matches!(raw.regex, Some(Value::Sequence(_)));
        let mut regex = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let f = if listed {
                format!("{field}.regex[{i}]")
            } else {
                format!("{field}.regex")
            };
            match regex::Regex::new(p) {
                Ok(re) => regex.push(re),
                Err(e) => {
                    let why = e.to_string();
                    let why = why.lines().last().unwrap_or_default().trim().to_string();
                    self.err(f, format!("`{p}` is not a regular expression: {why}"));
                }
            }
        }
        TextExpect {
            contains,
            not_contains,
            regex,
        }
    }

    fn reviews(&mut self, field: &str, value: &Value, count: u32) -> Option<ReviewsExpect> {
        let expect = match value {
            Value::String(s) => match s.trim() {
                "any" => ReviewsExpect::Any,
                "mix" => ReviewsExpect::Mix,
                other => match ReviewsVersion::parse(other) {
                    Some(v) => ReviewsExpect::Only(v),
                    None => {
                        self.err(
                            field,
                            format!(
                                "unknown reviews expectation `{other}`: write v1, v2, v3, any, mix,                                  or a distribution like {{v1: 50%, v3: 50%, tolerance: 10%}}"
                            ),
                        );
                        return None;
                    }
                },
            },
            Value::Mapping(map) => {
                let mut shares = Vec::new();
                let mut tolerance = DEFAULT_TOLERANCE;
                for (key, v) in map {
                    let key = key.as_str().unwrap_or_default();
                    let f = format!("{field}.{key}");
                    let Some(pct) = self.percent(&f, v) else {
                        continue;
                    };
                    match key {
                        "tolerance" => tolerance = pct,
                        k => match ReviewsVersion::parse(k) {
                            Some(version) => shares.push((version, pct)),
                            None => self.err(
                                f,
                                format!(
                                    "`{k}` is not a reviews version: write v1, v2, v3 or tolerance"
                                ),
                            ),
                        },
                    }
                }
                let sum: f64 = shares.iter().map(|(_, p)| p).sum();
                if shares.is_empty() || (sum - 100.0).abs() > 1.0 {
                    self.err(
                        field,
                        format!(
                            "the versions' shares add up to {} %, not 100 % (e.g. {{v1: 50%, v3: 50%}})",
                            crate::check::expect::trim(sum, 1)
                        ),
                    );
                }
                ReviewsExpect::Shares { shares, tolerance }
            }
            other => {
                self.err(
                    field,
                    format!(
                        "`{}` is not a reviews expectation: write v1, v2, v3, any, mix, or a distribution",
                        show(other)
                    ),
                );
                return None;
            }
        };
        if matches!(expect, ReviewsExpect::Mix | ReviewsExpect::Shares { .. }) && count == 1 {
            self.err(
                field,
                "a mix or distribution of versions needs more than one request: set `count` (e.g. 20)",
            );
        }
        Some(expect)
    }

    fn percent(&mut self, field: &str, value: &Value) -> Option<f64> {
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => show(other),
        };
        parse_percent(&text).map_err(|e| self.err(field, e)).ok()
    }

    fn duration(&mut self, field: &str, value: &Value) -> Option<std::time::Duration> {
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => show(other),
        };
        parse_duration(&text).map_err(|e| self.err(field, e)).ok()
    }

    fn latency(&mut self, field: &str, raw: &raw::RawLatency) -> Option<LatencyBand> {
        let min = raw
            .min
            .as_ref()
            .and_then(|v| self.duration(&format!("{field}.min"), v));
        let max = raw
            .max
            .as_ref()
            .and_then(|v| self.duration(&format!("{field}.max"), v));
        if raw.min.is_none() && raw.max.is_none() {
            self.err(
                field,
                "give `min`, `max` or both (e.g. {min: 0.9s, max: 1.5s})",
            );
            return None;
        }
        if let (Some(a), Some(b)) = (min, max)
            && a > b
        {
            self.err(field, "`min` is larger than `max`");
        }
        Some(LatencyBand { min, max })
    }

    /// A check kind validated by its own module: its problems (sub-field, message) become
    /// errors of this file.
    fn kind_check<T>(
        &mut self,
        field: &str,
        parsed: Result<T, Vec<(&'static str, String)>>,
    ) -> Option<T> {
        match parsed {
            Ok(check) => Some(check),
            Err(problems) => {
                for (sub, message) in problems {
                    self.err(format!("{field}{sub}"), message);
                }
                None
            }
        }
    }

    fn exec_check(&mut self, field: &str, raw: &raw::RawExecCheck) -> Option<ExecCheck> {
        let pod = self.pod_ref(
            &format!("{field}.pod"),
            &raw.pod,
            raw.namespace.as_ref(),
            raw.container.as_ref(),
        );
        let command = match (&raw.command, &raw.script) {
            (Some(argv), None) => {
                if argv.first().is_none_or(|p| p.trim().is_empty()) {
                    self.err(
                        format!("{field}.command"),
                        "give the program and its arguments, e.g. [curl, -sS, http://httpbin:8000/get]",
                    );
                }
                argv.clone()
            }
            (None, Some(script)) => {
                if script.trim().is_empty() {
                    self.err(format!("{field}.script"), "must not be empty");
                }
                vec!["sh".to_string(), "-c".to_string(), script.clone()]
            }
            (Some(_), Some(_)) => {
                self.err(field, "write either `command:` (an argv list) or `script:` (run with sh -c), not both");
                return None;
            }
            (None, None) => {
                self.err(
                    field,
                    "an exec check needs `command:` (an argv list) or `script:` (run with sh -c)",
                );
                return None;
            }
        };
        let mut expect = ExecExpect {
            exit_code: Some(0),
            ..ExecExpect::default()
        };
        if let Some(e) = &raw.expect {
            let f = format!("{field}.expect");
            expect.exit_code = match &e.exit_code {
                None => Some(0),
                Some(Value::String(s)) if s.trim() == "any" => None,
                Some(v) => {
                    match v
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .filter(|n| (0..=255).contains(n))
                    {
                        Some(code) => Some(code),
                        None => {
                            self.err(
                            format!("{f}.exit_code"),
                            format!("`{}` is not an exit code: write a number from 0 to 255, or `any`", show(v)),
                        );
                            Some(0)
                        }
                    }
                }
            };
            if let Some(t) = &e.stdout {
                expect.stdout = self.text_expect(&format!("{f}.stdout"), t);
            }
            if let Some(t) = &e.stderr {
                expect.stderr = self.text_expect(&format!("{f}.stderr"), t);
            }
        }
        Some(ExecCheck {
            pod,
            command,
            expect,
        })
    }
}

/// A YAML value on one line, for a message: `200`, `[200, 999]`, `{a: b}`.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Sequence(items) => {
            format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Mapping(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", show(k), show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(t) => show(&t.value),
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
