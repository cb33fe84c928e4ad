//! `meshwork lint`: what the loader accepts but a learner would still trip over.
//!
//! The loader already rejects anything the program cannot use. Lint adds checks across
//! files: manifests parse as Kubernetes objects, a resource check's reference manifest holds
//! that very object, every file in a lab folder is used, steps have hints and commands.
//! For `http` checks (whose URLs, regexes, durations and percentages the loader has already
//! parsed) it warns about probes that load but would mislead: a distribution judged on too few
//! requests, a cluster-internal name requested from the learner's host.
//!
//! [`commands`] checks the command lines a step shows or runs (its `commands`, solution and
//! reset): kubectl verbs that exist (on the reference mesh: that it serves), `meshwork`
//! arguments that parse (through [`Options::meshwork`], which the binary fills in with its own
//! command-line parser), no bare `istioctl` for the reference mesh, and manifests read with
//! `-f manifests/…` that exist.

pub mod commands;

use super::load::LoadError;
use super::{CheckSpec, Course, Endpoint, HttpCheck};
use crate::check::expect::ReviewsExpect;
use crate::content::Content;
use crate::manifest;
use std::collections::BTreeSet;
use std::fmt;

/// How serious a lint finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The course works, but a learner is worse off.
    Warning,
    /// Something a learner would hit as a failure.
    Error,
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintIssue {
    /// Error or warning.
    pub severity: Severity,
    /// Where and what.
    pub problem: LoadError,
}

impl fmt::Display for LintIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{label}: {}", self.problem)
    }
}

fn issue(severity: Severity, file: String, field: Option<String>, message: String) -> LintIssue {
    LintIssue {
        severity,
        problem: LoadError {
            file,
            line: None,
            field,
            message,
        },
    }
}

/// Judges the arguments after `meshwork` in a command line: `None` when they parse, else why not.
pub type MeshworkArgs<'a> = &'a dyn Fn(&[String]) -> Option<String>;

/// What [`lint_with`] checks beyond the content itself.
#[derive(Default, Clone, Copy)]
pub struct Options<'a> {
    /// Parses `meshwork …` command lines (unchecked when `None`).
    pub meshwork: Option<MeshworkArgs<'a>>,
}

/// Lints a loaded course; findings are ordered by file.
pub fn lint(content: &Content, course: &Course) -> Vec<LintIssue> {
    lint_with(content, course, Options::default())
}

/// Lints a loaded course with `options`; findings are ordered by file.
pub fn lint_with(content: &Content, course: &Course, options: Options<'_>) -> Vec<LintIssue> {
    let mut issues = Vec::new();
    let mut used_manifests = BTreeSet::new();
    for lab in &course.labs {
        let file = format!("labs/{}/lab.yaml", lab.folder);
        let found = commands::lint_lab(content, lab, options.meshwork);
        issues.extend(found.issues);
        used_manifests.extend(found.manifests);
        let bodies: BTreeSet<String> = lab
            .steps
            .iter()
            .filter_map(|s| {
                // The loader resolved bodies; find the file each came from by content.
                content
                    .paths_under(&format!("labs/{}", lab.folder))
                    .find(|p| content.text(p) == Some(s.body.as_str()))
                    .map(str::to_string)
            })
            .collect();
        for path in content.paths_under(&format!("labs/{}", lab.folder)) {
            if path != file && !bodies.contains(path) {
                issues.push(issue(
                    Severity::Warning,
                    path.to_string(),
                    None,
                    "is not used by any step of the lab (reference it as a step body or remove it)"
                        .into(),
                ));
            }
        }
        for (i, step) in lab.steps.iter().enumerate() {
            let field = |f: &str| Some(format!("steps[{i}].{f}"));
            if step.hints.is_empty() {
                issues.push(issue(
                    Severity::Warning,
                    file.clone(),
                    field("hints"),
                    format!(
                        "step `{}` has no hints: a learner who is stuck gets no help",
                        step.id
                    ),
                ));
            }
            if step.commands.is_empty() {
                issues.push(issue(
                    Severity::Warning,
                    file.clone(),
                    field("commands"),
                    format!("step `{}` shows no commands to run", step.id),
                ));
            }
            used_manifests.extend(step.solution.manifests.iter().cloned());
            used_manifests.extend(step.reset.manifests.iter().cloned());
            for (j, check) in step.checks.iter().enumerate() {
                if let CheckSpec::Http(h) = &check.spec {
                    for message in http_warnings(h) {
                        issues.push(issue(
                            Severity::Warning,
                            file.clone(),
                            Some(format!("steps[{i}].checks[{j}].http")),
                            message,
                        ));
                    }
                }
                let CheckSpec::Resource(r) = &check.spec else {
                    continue;
                };
                let Some(reference) = &r.reference else {
                    continue;
                };
                used_manifests.insert(reference.clone());
                let Ok(objects) = manifest::objects(content, reference) else {
                    continue; // reported below, once per manifest
                };
                if manifest::find(
                    &objects,
                    &r.api_version,
                    &r.kind,
                    &r.name,
                    r.namespace.as_deref(),
                )
                .is_none()
                {
                    issues.push(issue(
                        Severity::Error,
                        file.clone(),
                        Some(format!("steps[{i}].checks[{j}].resource.reference")),
                        format!(
                            "{reference} holds no {} {} `{}`, so there is nothing to diff against",
                            r.api_version, r.kind, r.name
                        ),
                    ));
                }
            }
        }
    }
    let manifests: BTreeSet<String> = content
        .paths_under("manifests")
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
        .map(str::to_string)
        .chain(used_manifests)
        .collect();
    for path in manifests {
        if let Err(e) = manifest::objects(content, &path) {
            let line = manifest_error_line(content, &e);
            let mut found = issue(Severity::Error, path, None, e.to_string());
            found.problem.line = line;
            issues.push(found);
        }
    }
    issues.sort_by(|a, b| {
        (&a.problem.file, a.problem.line.unwrap_or(0))
            .cmp(&(&b.problem.file, b.problem.line.unwrap_or(0)))
    });
    issues
}

/// Every manifest the course uses (solutions, resets, resource checks' references, `-f
/// manifests/…` in commands), in the order the labs first use them.
pub fn used_manifests(content: &Content, course: &Course) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |path: &str| {
        if !out.iter().any(|p| p == path) {
            out.push(path.to_string());
        }
    };
    for lab in &course.labs {
        let from_commands = commands::lint_lab(content, lab, None).manifests;
        for step in &lab.steps {
            step.solution.manifests.iter().for_each(|m| add(m));
            for check in &step.checks {
                if let CheckSpec::Resource(r) = &check.spec
                    && let Some(reference) = &r.reference
                {
                    add(reference);
                }
            }
            step.reset.manifests.iter().for_each(|m| add(m));
        }
        from_commands.iter().for_each(|m| add(m));
    }
    out
}

/// The line in a manifest where a document that does not parse goes wrong: where YAML
/// says, else where the document starts.
fn manifest_error_line(content: &Content, error: &manifest::ManifestError) -> Option<usize> {
    let manifest::ManifestError::Document {
        path,
        document,
        message,
    } = error
    else {
        return None;
    };
    let text = content.text(path)?;
    // serde_yaml's message names the line in the whole file.
    let at_line = message
        .split_once("at line ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    Some(at_line.unwrap_or_else(|| document_start_line(text, *document)))
}

/// The 1-based line where the `document`th (1-based) YAML document of `text` starts (its
/// first line with content), counting documents as serde_yaml does.
fn document_start_line(text: &str, document: usize) -> usize {
    let mut current = 1;
    let mut opened = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            if opened {
                current += 1;
            }
            opened = true;
            continue;
        }
        let trimmed = line.trim_start();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            opened = true;
            if current == document {
                return i + 1;
            }
        }
    }
    1
}

/// Fewest requests for a distribution to be judged fairly.
const MIN_FOR_DISTRIBUTION: u32 = 20;

/// What an `http` check gets wrong without being invalid.
fn http_warnings(check: &HttpCheck) -> Vec<String> {
    let mut out = Vec::new();
    if matches!(check.expect.reviews, Some(ReviewsExpect::Shares { .. }))
        && check.count < MIN_FOR_DISTRIBUTION
    {
        out.push(format!(
            "a distribution judged on {} requests passes or fails by chance; send at least {MIN_FOR_DISTRIBUTION} (count)",
            check.count
        ));
    }
    if let (None, Endpoint::Url(url)) = (&check.from, &check.endpoint)
        && let Some(host) = url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
        && !host.contains(['.', ':', '['])
        && host != "localhost"
    {
        out.push(format!(
            "`{host}` is a name inside the cluster, which the learner's host cannot resolve; \
             add `from:` to send the request from a pod, or use `service:` to go through its nodePort"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Origin;
    use crate::course::load::load;

    const LAB: &str = r#"format_version: 1
id: demo
title: Demo
summary: A demo.
steps:
  - id: one
    title: One
    body: 01-one.md
    checks:
      - id: vs
        title: VS exists
        resource:
          api_version: networking.istio.io/v1
          kind: VirtualService
          name: reviews
          reference: manifests/demo/vs.yaml
    solution:
      manifests: [manifests/demo/broken.yaml]
"#;

    #[test]
    fn http_probes_that_would_mislead_are_warned_about() {
        let lab = LAB.replace(
            "      - id: vs\n",
            "      - id: few\n        title: Few\n        http:\n          url: http://productpage:9080/productpage\n          count: 5\n          expect: {bookinfo: {reviews: {v1: 50%, v3: 50%}}}\n      - id: vs\n",
        );
        let content = Content::from_files(
            Origin::Embedded,
            [
                ("labs/00-demo/lab.yaml", lab.as_str()),
                ("labs/00-demo/01-one.md", "# One\n"),
                (
                    "manifests/demo/vs.yaml",
                    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\n",
                ),
                ("manifests/demo/broken.yaml", "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata: {name: x}\n"),
            ]
            .map(|(p, t)| (p, t.as_bytes().to_vec())),
        );
        let course = load(&content).unwrap();
        let found: Vec<String> = lint(&content, &course)
            .iter()
            .filter(|i| i.problem.field.as_deref() == Some("steps[0].checks[0].http"))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "warning: labs/00-demo/lab.yaml: field `steps[0].checks[0].http`: a distribution judged on 5 requests \
                 passes or fails by chance; send at least 20 (count)",
                "warning: labs/00-demo/lab.yaml: field `steps[0].checks[0].http`: `productpage` is a name inside the \
                 cluster, which the learner's host cannot resolve; add `from:` to send the request from a pod, or use \
                 `service:` to go through its nodePort",
            ]
        );
    }

    #[test]
    fn lint_finds_cross_file_problems() {
        let content = Content::from_files(
            Origin::Embedded,
            [
                ("labs/00-demo/lab.yaml", LAB),
                ("labs/00-demo/01-one.md", "# One\n"),
                ("labs/00-demo/notes.md", "stray\n"),
                (
                    "manifests/demo/vs.yaml",
                    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings}\n",
                ),
                ("manifests/demo/broken.yaml", "kind: [\n"),
            ]
            .map(|(p, t)| (p, t.as_bytes().to_vec())),
        );
        let course = load(&content).unwrap();
        let found: Vec<String> = lint(&content, &course)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "warning: labs/00-demo/lab.yaml: field `steps[0].hints`: step `one` has no hints: a learner who is stuck gets no help",
                "warning: labs/00-demo/lab.yaml: field `steps[0].commands`: step `one` shows no commands to run",
                "error: labs/00-demo/lab.yaml: field `steps[0].checks[0].resource.reference`: manifests/demo/vs.yaml holds \
                 no networking.istio.io/v1 VirtualService `reviews`, so there is nothing to diff against",
                "warning: labs/00-demo/notes.md: is not used by any step of the lab (reference it as a step body or remove it)",
                "error: manifests/demo/broken.yaml:2: manifests/demo/broken.yaml, document 1: not valid YAML: did not find \
                 expected node content at line 2 column 1, while parsing a flow node",
            ]
        );
    }

    #[test]
    fn a_broken_manifest_is_reported_at_its_line() {
        let text = "# two documents\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [\n";
        let content = Content::from_files(
            Origin::Embedded,
            [("manifests/demo/two.yaml", text.as_bytes().to_vec())],
        );
        let error = manifest::objects(&content, "manifests/demo/two.yaml").unwrap_err();
        assert_eq!(manifest_error_line(&content, &error), Some(8), "{error}");
        let missing_kind = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\napiVersion: v1\nmetadata: {name: b}\n";
        let content = Content::from_files(
            Origin::Embedded,
            [("manifests/demo/two.yaml", missing_kind.as_bytes().to_vec())],
        );
        let error = manifest::objects(&content, "manifests/demo/two.yaml").unwrap_err();
        assert_eq!(manifest_error_line(&content, &error), Some(6), "{error}");
    }

    #[test]
    fn commands_are_checked_with_file_line_and_field() {
        let lab = LAB.replace(
            "    solution:\n",
            "    commands:\n      - run: kubectl gte pods -n default\n      - reference: meshwork mesh upp\n        cluster: istioctl x\n      - run: istioctl proxy-status | grep SYNCED\n    solution:\n      commands:\n        - reference: kubectl top pods && kubectl apply -f manifests/demo/missing.yaml\n",
        );
        let content = Content::from_files(
            Origin::Embedded,
            [
                ("labs/00-demo/lab.yaml", lab.as_str()),
                ("labs/00-demo/01-one.md", "# One\n"),
                (
                    "manifests/demo/vs.yaml",
                    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\n",
                ),
                ("manifests/demo/broken.yaml", "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata: {name: x}\n"),
            ]
            .map(|(p, t)| (p, t.as_bytes().to_vec())),
        );
        let course = load(&content).unwrap();
        let meshwork = |args: &[String]| {
            (args.first().map(String::as_str) != Some("istioctl")
                && args.get(1).map(String::as_str) == Some("upp"))
            .then(|| "unrecognized subcommand 'upp'".to_string())
        };
        let options = Options {
            meshwork: Some(&meshwork),
        };
        let found: Vec<String> = lint_with(&content, &course, options)
            .iter()
            .filter(|i| {
                i.problem
                    .field
                    .as_deref()
                    .is_some_and(|f| f.contains("commands["))
            })
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "error: labs/00-demo/lab.yaml:18: field `steps[0].commands[0].run`: `kubectl gte pods -n default`: kubectl has no \
                 command `gte` (did you mean `get`?); see `kubectl help` for its commands",
                "error: labs/00-demo/lab.yaml:19: field `steps[0].commands[1].reference`: `meshwork mesh upp` is not a meshwork \
                 command: unrecognized subcommand 'upp'",
                "error: labs/00-demo/lab.yaml:21: field `steps[0].commands[2].run`: `istioctl proxy-status`: the reference mesh \
                 has no istioctl of its own; write the command as `cluster: istioctl …` and `reference: meshwork istioctl …` \
                 instead of `run:`",
                "error: labs/00-demo/lab.yaml:24: field `steps[0].solution.commands[0].reference`: `kubectl top pods`: \
                 `kubectl top` does not work on the reference mesh: the reference mesh has no metrics API (or move the \
                 command to a `cluster:` variant)",
                "error: labs/00-demo/lab.yaml:24: field `steps[0].solution.commands[0].reference`: `kubectl apply -f \
                 manifests/demo/missing.yaml`: `manifests/demo/missing.yaml` does not exist in the course content \
                 (manifests live under manifests/ at the content root)",
            ]
        );
    }
}
