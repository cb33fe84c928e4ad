//! `meshwork lint`: what the loader accepts but a learner would still trip over.
//!
//! The loader already rejects anything the program cannot use. Lint adds checks across
//! files: manifests parse as Kubernetes objects, a resource check's reference manifest holds
//! that very object, every file in a lab folder is used, steps have hints and commands.
//! For `http` checks (whose URLs, regexes, durations and percentages the loader has already
//! parsed) it warns about probes that load but would mislead: a distribution judged on too few
//! requests, a cluster-internal name requested from the learner's host.

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

/// Lints a loaded course; findings are ordered by file.
pub fn lint(content: &Content, course: &Course) -> Vec<LintIssue> {
    let mut issues = Vec::new();
    let mut used_manifests = BTreeSet::new();
    for lab in &course.labs {
        let file = format!("labs/{}/lab.yaml", lab.folder);
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
            issues.push(issue(Severity::Error, path, None, e.to_string()));
        }
    }
    issues
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
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].starts_with("warning: labs/00-demo/notes.md: is not used by any step"));
        assert!(found[1].contains("field `steps[0].hints`: step `one` has no hints"));
        assert!(found[2].contains("field `steps[0].commands`: step `one` shows no commands"));
        assert!(found[3].starts_with(
            "error: labs/00-demo/lab.yaml: field `steps[0].checks[0].resource.reference`: manifests/demo/vs.yaml holds no networking.istio.io/v1 VirtualService `reviews`"
        ));
        assert!(
            found[4].starts_with(
                "error: manifests/demo/broken.yaml: manifests/demo/broken.yaml, document 1:"
            ),
            "{}",
            found[4]
        );
    }
}
